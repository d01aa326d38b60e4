package kratos

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Route is what the proxy does with a request.
type Route int

// Routes.
const (
	// RouteRefuse: not a public Kratos route Hera forwards.
	RouteRefuse Route = iota
	// RouteForward: forwarded to Kratos as it is.
	RouteForward
	// RouteSubmit: a self-service submission; it must go through Hera's
	// pre/post checks, like Hera's own forms.
	RouteSubmit
	// RouteContinue: a GET on a flow's submit endpoint, which continues a
	// flow from a link (verification code links, recovery link tokens,
	// settings after re-authentication). Kratos reads such a GET's query
	// as a submission, so only those links' parameters may pass.
	RouteContinue
)

// RouteOf decides what happens to a request for path (the escaped path
// below the proxy prefix, e.g. "/self-service/login/browser"). Anything
// that is not exactly an allowed, clean path is refused: no percent-escapes,
// backslashes, empty, "." or ".." segments.
func RouteOf(method, path string) (Route, Kind) {
	if !cleanPath(path) {
		return RouteRefuse, ""
	}
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	read := method == http.MethodGet || method == http.MethodHead
	switch {
	case seg[0] == "sessions":
		// The session's own API (FrontendApi): whoami, list, revoke one or
		// the others, and the native social sign-in's token exchange.
		// They authenticate with the session and guess nothing.
		switch {
		case len(seg) == 1 && (read || method == http.MethodDelete):
			return RouteForward, ""
		case len(seg) == 2 && (seg[1] == "whoami" || seg[1] == "token-exchange") && read:
			return RouteForward, ""
		case len(seg) == 2 && method == http.MethodDelete && uuidLike(seg[1]):
			return RouteForward, ""
		}
		return RouteRefuse, ""
	case seg[0] == "schemas" && len(seg) <= 2 && read:
		return RouteForward, ""
	case len(seg) == 3 && seg[0] == ".well-known" && seg[1] == "ory" && seg[2] == "webauthn.js" && read:
		return RouteForward, ""
	case seg[0] != "self-service":
		return RouteRefuse, ""
	}
	// /self-service/...
	switch len(seg) {
	case 2:
		if seg[1] == "errors" && read {
			return RouteForward, ""
		}
		if seg[1] == "logout" && read { // the logout URL with its token
			return RouteForward, ""
		}
		if k, ok := ParseKind(seg[1]); ok {
			if method == http.MethodPost {
				return RouteSubmit, k
			}
			// GET continues a flow: verification and recovery links from
			// e-mails, settings after re-authentication.
			if read {
				return RouteContinue, k
			}
		}
	case 3:
		if seg[1] == "logout" && ((seg[2] == "browser" && read) || (seg[2] == "api" && method == http.MethodDelete)) {
			return RouteForward, ""
		}
		if k, ok := ParseKind(seg[1]); ok && read && (seg[2] == "browser" || seg[2] == "api" || seg[2] == "flows") {
			return RouteForward, k
		}
	case 4, 5:
		// Social sign-in callbacks; some providers POST (form_post).
		// Providers with "pkce: force" call back without the provider's
		// ID in the path.
		if seg[1] == "methods" && seg[2] == "oidc" && seg[3] == "callback" && (len(seg) == 4 || seg[4] != "") &&
			(read || method == http.MethodPost) {
			return RouteForward, ""
		}
	}
	return RouteRefuse, ""
}

// uuidLike reports whether s is a UUID in its canonical form (Kratos's
// session IDs).
func uuidLike(s string) bool { return len(s) == 36 && uuid.Validate(s) == nil }

// SessionOp is a forwarded request that ends Kratos sessions: whoever
// keeps state about those sessions (single sign-on to apps) must end it
// too, whichever way the client signed out.
type SessionOp int

// The requests that end sessions.
const (
	// OpLogout is the browser's logout URL, GET /self-service/logout?token=:
	// it ends the session of the request's cookie.
	OpLogout SessionOp = iota + 1
	// OpLogoutAPI is DELETE /self-service/logout/api: it ends the session
	// whose token its JSON body names.
	OpLogoutAPI
	// OpRevokeSession is DELETE /sessions/{id}: one of the caller's other
	// sessions.
	OpRevokeSession
	// OpRevokeOthers is DELETE /sessions: all the caller's sessions but
	// the current one.
	OpRevokeOthers
)

// sessionOp names what a forwarded request for path ends, if anything; arg
// is the session ID of OpRevokeSession.
func sessionOp(method, path string) (op SessionOp, arg string) {
	switch {
	case method == http.MethodGet && path == "/self-service/logout":
		return OpLogout, ""
	case method == http.MethodDelete && path == "/self-service/logout/api":
		return OpLogoutAPI, ""
	case method == http.MethodDelete && path == "/sessions":
		return OpRevokeOthers, ""
	case method == http.MethodDelete && strings.HasPrefix(path, "/sessions/"):
		return OpRevokeSession, strings.TrimPrefix(path, "/sessions/")
	}
	return 0, ""
}

// cleanPath accepts only plain absolute paths made of safe characters.
func cleanPath(p string) bool {
	if len(p) < 2 || p[0] != '/' || len(p) > 512 {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '/' || c == '-' || c == '_' || c == '.':
		default:
			return false // %, \, ;, :, spaces, control and non-ASCII bytes
		}
	}
	return true
}

// spoofable are headers a client could use to lie about its address or the
// request's origin; they are dropped and set from what Hera knows.
func spoofable() []string {
	return []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip",
		"X-Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Original-Url", "X-Rewrite-Url",
		"X-Http-Method-Override", "X-Method-Override", "X-Original-Forwarded-For"}
}

// traceHeaders carry a trace context (W3C Trace Context and Baggage). A
// browser's are dropped: Kratos must not join a trace a client picked.
// The transport Hera wraps the proxy's in (tracing) sets Hera's own.
func traceHeaders() []string {
	return []string{"Traceparent", "Tracestate", "Baggage"}
}

// statusClientClosed is nginx's status for a request whose client closed
// the connection before the answer (logged, counted, never seen).
const statusClientClosed = 499

// ProxyConfig configures NewProxy.
type ProxyConfig struct {
	Upstream *url.URL // Kratos public API
	Prefix   string   // e.g. /api/kratos
	Timeout  time.Duration
	MaxBody  int64
	Logger   *slog.Logger
	// ClientIP returns the real client address of a request.
	ClientIP func(*http.Request) string
	// Submit handles RouteSubmit requests (Hera's guarded submit pipeline).
	Submit func(w http.ResponseWriter, r *http.Request, kind Kind)
	// Refuse answers refused requests; Fail answers upstream failures
	// (status 502 or 504).
	Refuse func(w http.ResponseWriter, r *http.Request)
	Fail   func(w http.ResponseWriter, r *http.Request, status int)
	// WrapTransport, if set, wraps the upstream transport (metrics,
	// tracing). It sees the request after the browser's trace headers are
	// dropped, so it may set Hera's.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// KeepCookie, if set, says which of the client's cookies reach Kratos
	// (Hera's own stay behind: Kratos refuses API flows that carry any).
	KeepCookie func(name string) bool
	// CheckRedirect, if set, says whether a browser may be sent to target:
	// Kratos checks return_to by raw prefix only, so Hera checks it too.
	CheckRedirect func(target string) bool
	// RedirectRefused is where the browser goes instead of a Location from
	// Kratos that CheckRedirect refuses (absolute, on Hera; required with it).
	RedirectRefused string
	// EndingSessions, if set, is called before a request that ends Kratos
	// sessions is forwarded (op; arg: OpRevokeSession's session ID, or
	// OpLogoutAPI's body), and returns what to call with Kratos's status
	// once Kratos answered (nil: nothing).
	EndingSessions func(r *http.Request, op SessionOp, arg string) (done func(status int))
	// SessionCookie is the name of Kratos's session cookie, for
	// IssuedSession.
	SessionCookie string
	// IssuedSession, if set, is called when Kratos's answer to a forwarded
	// request for path sets a session cookie (handle: its canonical value),
	// before the answer goes to the client; the cookies it returns are set
	// with the answer (Hera's own: a device cookie).
	IssuedSession func(r *http.Request, path, handle string) []*http.Cookie
}

// hooksKey carries a forwarded request's hooks from ServeHTTP to
// modifyResponse, which sees only the outgoing request.
type hooksKey struct{}

type hooks struct {
	in   *http.Request
	path string // below the prefix
	done func(status int)
}

// Proxy forwards the public Kratos routes browsers need, cookies intact in
// both directions, and never follows Kratos's redirects.
type Proxy struct {
	cfg     ProxyConfig
	rp      *httputil.ReverseProxy
	answers sync.Pool // *[]byte, see sizeBody
}

// NewProxy returns the /api/kratos/ proxy.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.ClientIP == nil || cfg.Submit == nil || cfg.Refuse == nil || cfg.Fail == nil || cfg.Logger == nil {
		return nil, errors.New("kratos: proxy config incomplete")
	}
	if cfg.Timeout <= 0 || cfg.MaxBody <= 0 {
		return nil, errors.New("kratos: proxy timeout and body limit must be positive")
	}
	if cfg.CheckRedirect != nil && cfg.RedirectRefused == "" {
		return nil, errors.New("kratos: proxy redirect check needs RedirectRefused")
	}
	up := cfg.Upstream
	p := &Proxy{cfg: cfg}
	var transport http.RoundTripper = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
	}
	if cfg.WrapTransport != nil {
		transport = cfg.WrapTransport(transport)
	}
	drop := append(spoofable(), traceHeaders()...)
	p.rp = &httputil.ReverseProxy{
		// Copy buffers are reused: ReverseProxy otherwise allocates 32 KiB
		// for every answer it forwards.
		BufferPool: &bufferPool{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			rest := strings.TrimPrefix(pr.In.URL.EscapedPath(), cfg.Prefix)
			pr.Out.URL.Scheme = up.Scheme
			pr.Out.URL.Host = up.Host
			pr.Out.URL.Path = up.Path + rest
			pr.Out.URL.RawPath = ""
			pr.Out.Host = up.Host
			for _, h := range drop {
				pr.Out.Header.Del(h)
			}
			if cfg.KeepCookie != nil && pr.In.Header.Get("Cookie") != "" {
				if c := CanonicalCookie(pr.In.Cookies(), cfg.KeepCookie); c != "" {
					pr.Out.Header.Set("Cookie", c)
				} else {
					pr.Out.Header.Del("Cookie")
				}
			}
			ip := cfg.ClientIP(pr.In)
			pr.Out.Header.Set("X-Forwarded-For", ip)
			pr.Out.Header.Set("True-Client-IP", ip)
		},
		Transport:      transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled) {
				// The browser went away: nothing failed, nobody reads an
				// answer.
				cfg.Logger.InfoContext(r.Context(), "client went away", "path", r.URL.Path, "err", err)
				w.WriteHeader(statusClientClosed)
				return
			}
			status := http.StatusBadGateway
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				status = http.StatusGatewayTimeout
			}
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			cfg.Logger.ErrorContext(r.Context(), "kratos proxy", "path", r.URL.Path, "status", status, "err", err)
			cfg.Fail(w, r, status)
		},
	}
	return p, nil
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), p.cfg.Prefix)
	if !ok {
		p.cfg.Refuse(w, r)
		return
	}
	route, kind := RouteOf(r.Method, rest)
	switch route {
	case RouteSubmit:
		p.cfg.Submit(w, r, kind)
	case RouteContinue:
		if !continueQuery(kind, r.URL.RawQuery) {
			p.cfg.Logger.InfoContext(r.Context(), "kratos proxy refused a flow link", "path", r.URL.Path)
			p.cfg.Fail(w, r, http.StatusBadRequest)
			return
		}
		// A recovery link signs the browser in: the hooks see the session.
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hooksKey{}, &hooks{in: r, path: rest})))
	case RouteForward:
		op, arg := sessionOp(r.Method, rest)
		if op == OpLogoutAPI {
			// The body names the session: read it (bounded) to look it up.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBody))
			if err != nil {
				p.cfg.Fail(w, r, http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
			arg = string(body)
		}
		h := &hooks{in: r, path: rest}
		if op != 0 && p.cfg.EndingSessions != nil {
			h.done = p.cfg.EndingSessions(r, op, arg)
		}
		r = r.WithContext(context.WithValue(r.Context(), hooksKey{}, h))
		if p.cfg.CheckRedirect != nil && !p.returnToAllowed(rest, r.URL.RawQuery) {
			p.cfg.Logger.InfoContext(r.Context(), "kratos proxy refused a return_to", "path", r.URL.Path)
			p.cfg.Fail(w, r, http.StatusBadRequest)
			return
		}
		if r.ContentLength > p.cfg.MaxBody {
			p.cfg.Fail(w, r, http.StatusRequestEntityTooLarge)
			return
		}
		if r.ContentLength < 0 {
			// A body of unknown length (chunked) is read within the limit
			// before anything goes to Kratos: an oversized one gets 413
			// and reaches nobody.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBody))
			if err != nil {
				status := http.StatusBadRequest
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					status = http.StatusRequestEntityTooLarge
				}
				p.cfg.Fail(w, r, status)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
		} else if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, p.cfg.MaxBody)
		}
		p.rp.ServeHTTP(w, r)
	default:
		p.cfg.Logger.InfoContext(r.Context(), "kratos proxy refused", "method", r.Method, "path", r.URL.Path)
		p.cfg.Refuse(w, r)
	}
}

// continueQuery reports whether a GET on a flow's submit endpoint carries
// only what a link from Kratos carries: the flow, and a verification code
// or a recovery/verification link token, each once. Anything else would
// make Kratos submit on the GET's behalf past the guard: "email" on a
// verification flow sends a mail.
func continueQuery(kind Kind, raw string) bool {
	q, err := url.ParseQuery(raw)
	if err != nil || len(q["flow"]) != 1 {
		return false
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return false
		}
		switch {
		case k == "flow":
		case k == "code" && kind == Verification:
		case k == "token" && (kind == Recovery || kind == Verification):
		default:
			return false
		}
	}
	return true
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// bufferedAnswer bounds the answers sizeBody reads ahead.
const bufferedAnswer = 64 << 10

// sizeBody gives a small answer of unknown length (Kratos sends its JSON
// chunked) a Content-Length. ReverseProxy flushes an answer of unknown
// length after every read, a write to the browser each time; a sized one
// is sent in one go. An answer that does not end within bufferedAnswer
// bytes streams on as it came, nothing lost. Buffers are reused once
// ReverseProxy has closed the body.
func (p *Proxy) sizeBody(res *http.Response) error {
	if res.ContentLength >= 0 || res.Body == nil || res.Body == http.NoBody {
		return nil
	}
	bp, _ := p.answers.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 8<<10)
		bp = &b
	}
	buf, complete, err := readUpTo(res.Body, (*bp)[:0], bufferedAnswer)
	if err != nil {
		return err
	}
	if complete {
		_ = res.Body.Close()
		*bp = buf
		res.Body = &pooledBody{Reader: bytes.NewReader(buf), put: func() { p.answers.Put(bp) }}
		res.ContentLength = int64(len(buf))
		res.TransferEncoding = nil
		res.Header.Set("Content-Length", strconv.Itoa(len(buf)))
		return nil
	}
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), res.Body), res.Body}
	return nil
}

// pooledBody is a buffered answer whose buffer goes back to the pool when
// the body is closed.
type pooledBody struct {
	*bytes.Reader
	put func()
}

func (b *pooledBody) Close() error {
	if b.put != nil {
		b.put()
		b.put = nil
	}
	return nil
}
