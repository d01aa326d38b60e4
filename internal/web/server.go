// Package web is Hera's HTTP surface: the server, its routes, middleware and
// page handlers.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/device"
	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/redirect"
)

// redirectChecked sends the browser to target if the allowlist allows it;
// otherwise it explains and logs.
func (s *server) redirectChecked(w http.ResponseWriter, r *http.Request, target string) {
	if abs, ok := s.redirects.Allowed(target); ok {
		http.Redirect(w, r, abs, http.StatusSeeOther)
		return
	}
	s.Logger.WarnContext(r.Context(), "redirect refused", "path", r.URL.Path)
	s.redirectRefused(w, r)
}

// readier is anything whose readiness /health/ready reports.
type readier interface {
	Ready(ctx context.Context) error
}

// kratosAPI is what the handlers need of Kratos.
type kratosAPI interface {
	readier
	GetFlow(ctx context.Context, kind kratos.Kind, id string, b kratos.Browser) (*kratos.Flow, error)
	GetFlowJSON(ctx context.Context, kind kratos.Kind, id string, b kratos.Browser) ([]byte, error)
	CreateBrowserFlow(ctx context.Context, kind kratos.Kind, q url.Values, b kratos.Browser) (*kratos.Flow, []string, error)
	Submit(ctx context.Context, kind kratos.Kind, flowID string, body []byte, contentType string, b kratos.Browser) (*kratos.Response, error)
	Whoami(ctx context.Context, b kratos.Browser) (*kratos.Session, error)
	ListSessions(ctx context.Context, b kratos.Browser) ([]kratos.Session, error)
	RevokeSession(ctx context.Context, id string, b kratos.Browser) error
	RevokeOtherSessions(ctx context.Context, b kratos.Browser) error
	LogoutURL(ctx context.Context, returnTo string, b kratos.Browser) (string, error)
	GetError(ctx context.Context, id string) (*kratos.ErrorFlow, error)
	GetIdentity(ctx context.Context, id string) (*kratos.Identity, error)
	IdentitySessions(ctx context.Context, id string) ([]kratos.Session, bool, error)
	Logout(ctx context.Context, b kratos.Browser) ([]string, error)
	AddressTraits(ctx context.Context) ([]string, error)
	Schemas(ctx context.Context) (map[string]kratos.SchemaTraits, error)
	SetIdentityState(ctx context.Context, id, state string) error
	DeleteIdentity(ctx context.Context, id string) error
}

// Deps is what the server needs. Hydra nil switches OAuth2 off; Guard nil
// means no pre/post checks on submissions.
type Deps struct {
	Logger  *slog.Logger
	Options Options
	Kratos  kratosAPI
	Hydra   hydraAPI
	Guard   Guard
	// Captcha, when set, is rendered on the flow pages that need it.
	Captcha *Captcha
	// Lockout, when set, is the lockout store's readiness.
	Lockout readier
	// Metrics, when set, observes every request and upstream call.
	Metrics metricsObserver
	// Tracing, when set, makes a span of every request and of every call
	// through the Kratos proxy (nil: tracing off, nothing wrapped).
	Tracing tracer
	// Links, when set, records which Hydra login session each Kratos
	// session signed in to apps with, so that signing out ends it.
	Links sessionLinks
	// Activity, when set, keeps each account's events under
	// ActivityPolicy (/activity shows them, the export hands them over);
	// Outbox, when set, queues alert mails.
	Activity       activity.Store
	ActivityPolicy activity.Policy
	Outbox         outbox.Queue
	// Events, when set, records the account's events: what Hera saw of
	// the client behind each submission, its own account actions, and
	// Kratos's web hooks (with Options.Kratos.WebhookSecret).
	Events eventRecorder
	// Devices, when set, checks device cookies for sign-ins that named no
	// account (passkeys, social sign-in) and issues them one; the account
	// pages tell from them which browser is this one.
	Devices deviceCookies
	// Now is the clock of the account's activity and export (a test
	// seam; nil: time.Now).
	Now func() time.Time
	// ProxyTransport, when set, wraps the Kratos proxy's transport
	// innermost (a test seam of the composition root).
	ProxyTransport func(http.RoundTripper) http.RoundTripper
}

// metricsObserver is what the server needs of the metrics.
type metricsObserver interface {
	Middleware(http.Handler) http.Handler
	Transport(upstream string, rt http.RoundTripper) http.RoundTripper
}

// tracer is what the server needs of tracing (package tracing).
type tracer interface {
	// Middleware makes the server span; it must wrap the mux (or handlers
	// that pass the request on unchanged) to learn the route's pattern.
	Middleware(next http.Handler, trustParent func(*http.Request) bool) http.Handler
	// Transport makes client spans and carries the trace to Kratos.
	Transport(peer string, rt http.RoundTripper) http.RoundTripper
}

// server is the handlers' shared state, built once.
type server struct {
	Deps
	render    *renderer
	brand     *brandFiles
	catalog   *i18n.Catalog
	proxy     http.Handler
	redirects *redirect.Allowlist
	// submits bounds the submissions waiting on Kratos at once.
	submits *slots
	// flowTypes remembers which flows are API flows.
	flowTypes *flowTypes
	// typedSeal seals the typed-identifier cookie.
	typedSeal *sealer
	// kratosPrefix is the browser-facing URL of the Kratos proxy, e.g.
	// http://localhost:4455/api/kratos
	kratosPrefix string
}

// NewServer returns Hera's root handler.
func NewServer(d Deps) (http.Handler, error) {
	if d.Logger == nil || d.Options.PublicURL == nil || d.Options.Kratos.PublicURL == nil || d.Kratos == nil {
		return nil, errors.New("web: logger, public URLs and kratos are required")
	}
	if d.Guard == nil {
		d.Guard = noGuard{}
	}
	rd := &renderer{log: d.Logger}
	cat, err := i18n.Load(d.Options.LocalesDir)
	if err != nil {
		if d.Options.LocalesDir != "" {
			err = fmt.Errorf("locale files (HERA_LOCALES_DIR):\n%w", err)
		}
		return nil, err
	}
	for _, w := range cat.Warnings() {
		d.Logger.Warn("locale entry ignored", "reason", w)
	}
	if l := d.Options.DefaultLanguage; l != "" && !slices.Contains(cat.Languages(), l) {
		return nil, fmt.Errorf("web: default language %q: not in the catalog (%s)", l, strings.Join(cat.Languages(), ", "))
	}
	rd.base = strings.TrimSuffix(d.Options.PublicURL.Path, "/")
	brand, files, err := loadBrand(d.Options.Brand, rd.base)
	if err != nil {
		return nil, err
	}
	rd.brand = brand
	allow, err := redirect.New(d.Options.PublicURL, d.Options.AllowedReturnURLs)
	if err != nil {
		return nil, err
	}
	rd.cat = cat
	seal, err := newSealer(d.Options.CookieSecret, typedCookie)
	if err != nil {
		return nil, err
	}
	s := &server{Deps: d, render: rd, brand: files, typedSeal: seal, catalog: cat, redirects: allow, kratosPrefix: d.Options.PublicURL.String() + apiPrefix,
		submits: newSlots(d.Options.Kratos.MaxSubmissions, d.Options.Kratos.SubmissionWait), flowTypes: newFlowTypes(flowTypesKept)}
	proxy, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream:       d.Options.Kratos.PublicURL,
		Prefix:         rd.base + apiPrefix,
		Timeout:        d.Options.Kratos.Timeout,
		MaxBody:        d.Options.MaxBodyBytes,
		Logger:         d.Logger,
		ClientIP:       s.clientIP,
		Submit:         s.submit,
		Refuse:         s.proxyRefused,
		Fail:           s.proxyFailed,
		EndingSessions: s.endingSessions,
		SessionCookie:  d.Options.Kratos.SessionCookie,
		IssuedSession:  s.issuedSession,
		KeepCookie:     kratosCookie,
		CheckRedirect: func(t string) bool {
			_, ok := s.redirects.Allowed(t)
			return ok
		},
		RedirectRefused: strings.TrimSuffix(d.Options.PublicURL.String(), "/") + "/error?reason=redirect",
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			if d.ProxyTransport != nil {
				rt = d.ProxyTransport(rt)
			}
			if d.Metrics != nil {
				rt = d.Metrics.Transport("kratos_proxy", rt)
			}
			if d.Tracing != nil {
				rt = d.Tracing.Transport("kratos", rt)
			}
			return rt
		},
	})
	if err != nil {
		return nil, err
	}
	s.proxy = proxy
	rd.translator = func(r *http.Request) translator { return s.translator(r) }
	rd.langs = langSwitcher(s.catalog)

	mux := http.NewServeMux()
	addRoutes(mux, s)
	var h http.Handler = mux
	if d.Metrics != nil {
		h = d.Metrics.Middleware(h)
	}
	h = recoverPanics(d.Logger, h)
	if d.Tracing != nil {
		// Inside securityHeaders, which hands on a new request: the
		// tracing middleware must see the one the mux gets.
		h = d.Tracing.Middleware(h, s.fromTrustedProxy)
	}
	h = securityHeaders(d.Options.PublicURL.Scheme == "https", h)
	h = logRequests(d.Logger, h)
	h = withRequestID(h)
	return h, nil
}

// flowTypesKept is how many flows' types Hera remembers (a few hundred KB).
const flowTypesKept = 1 << 14

// apiPrefix is where the Kratos proxy and Hera's submit endpoints live.
const apiPrefix = "/api/kratos"

// browser is what Hera passes on to Kratos from a browser's request.
func (s *server) browser(r *http.Request) kratos.Browser {
	return kratos.Browser{Cookie: r.Header.Get("Cookie"), UserAgent: r.UserAgent(), ClientIP: s.clientIP(r)}
}

// submitter is what a submission carries besides its body, read once.
type submitter struct {
	// browser is what Kratos gets: the Cookie header as net/http parses it
	// (each cookie once, the first of its name, Hera's own left out) and
	// the session token, if Kratos will read one, so that Kratos judges the
	// session and cookies the guard keyed on, whatever odd syntax the
	// client sent.
	browser kratos.Browser
	// session is the session handle Kratos will read ("" if none).
	session string
	cookies []*http.Cookie
}

func (s *server) submitter(r *http.Request) submitter {
	cookies := r.Cookies()
	handle, token := kratos.SessionHandle(r.Header, cookies, s.Options.Kratos.SessionCookie)
	b := kratos.Browser{Cookie: kratos.CanonicalCookie(cookies, kratosCookie), UserAgent: r.UserAgent(), ClientIP: s.clientIP(r)}
	if token {
		b.SessionToken = handle
	}
	return submitter{browser: b, session: handle, cookies: cookies}
}

// kratosCookie reports whether a cookie is forwarded to Kratos: Hera's own
// (the language, the restart guard, device cookies, the passkey offer's
// "not now") stay with Hera.
func kratosCookie(name string) bool {
	return name != langCookie && name != restartCookie && name != passkeyOfferCookie && !strings.HasPrefix(name, device.NamePrefix)
}

// fromTrustedProxy reports whether the request's TCP peer is one of the
// trusted reverse proxies, whose traceparent may then parent Hera's spans.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && isTrusted(a.Unmap(), s.Options.TrustedProxies)
}

// now is the time by the server's clock.
func (s *server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *server) clientIP(r *http.Request) string {
	return clientIP(r, s.Options.TrustedProxies)
}
