package kratos_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web"
)

// upstream is a stand-in for Kratos's public (or admin) API that records
// every request it receives. Two paths answer with a redirect into the admin
// API, so the test can see whether the proxy follows redirects.
type upstream struct {
	srv *httptest.Server

	mu  sync.Mutex
	got []seenRequest
}

// seenRequest is what the upstream received.
type seenRequest struct {
	Method  string
	URI     string // request-target as sent
	Path    string // escaped path
	Host    string
	Header  http.Header
	BodyLen int
	BodyErr error
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.got = append(u.got, seenRequest{Method: r.Method, URI: r.RequestURI, Path: r.URL.EscapedPath(), Host: r.Host,
			Header: r.Header.Clone(), BodyLen: int(n), BodyErr: err})
		u.mu.Unlock()
		switch r.URL.Path {
		case "/self-service/registration/browser":
			// Kratos (or something pretending to be it) sends the client
			// into the admin API: the proxy must pass this on, not follow.
			w.Header().Set("Location", u.srv.URL+"/admin/identities")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		case "/self-service/recovery/browser":
			w.Header().Set("Location", "/admin/identities?page_size=1000")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"upstream":"ok"}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.got = nil
}

func (u *upstream) seen() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.got)
}

func (u *upstream) url(t *testing.T) *url.URL {
	p, err := url.Parse(u.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proxyTarget is a server under attack: the bare proxy or a whole Hera.
type proxyTarget struct {
	name string
	addr string // host:port
	// submits counts RouteSubmit hand-offs (bare proxy only).
	submits func() int
	// hera: the whole server, where Go's ServeMux cleans paths (and may
	// redirect) before the proxy sees them.
	hera bool
}

// newBareProxy serves kratos.NewProxy alone, as Hera configures it, with the
// TCP peer as client IP.
func newBareProxy(t *testing.T, up *upstream) *proxyTarget {
	var mu sync.Mutex
	submits := 0
	p, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream: up.url(t),
		Prefix:   "/api/kratos",
		Timeout:  5 * time.Second,
		MaxBody:  64 << 10,
		Logger:   slog.New(slog.DiscardHandler),
		ClientIP: func(r *http.Request) string {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			return host
		},
		Submit: func(w http.ResponseWriter, r *http.Request, kind kratos.Kind) {
			mu.Lock()
			submits++
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted) // "guarded pipeline", not Kratos
		},
		Refuse: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "refused", http.StatusNotFound) },
		Fail:   func(w http.ResponseWriter, r *http.Request, status int) { http.Error(w, "failed", status) },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &proxyTarget{name: "proxy", addr: srv.Listener.Addr().String(), submits: func() int {
		mu.Lock()
		defer mu.Unlock()
		return submits
	}}
}

// newHeraTarget serves a whole Hera (web.NewServer) in front of up; admin
// is where its Kratos admin API is (which nothing here may reach).
func newHeraTarget(t *testing.T, name string, up, admin *upstream, extra map[string]string) *proxyTarget {
	env := map[string]string{
		"HERA_PUBLIC_URL":   "http://localhost:4455",
		"KRATOS_PUBLIC_URL": up.srv.URL,
		"KRATOS_ADMIN_URL":  admin.srv.URL,
		"KRATOS_TIMEOUT":    "5s",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kratos.NewClient(cfg.Kratos.PublicURL, cfg.Kratos.AdminURL, cfg.Kratos.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: web.OptionsFrom(cfg), Kratos: kc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = cfg.HTTP.MaxHeaderBytes
	srv.Start()
	t.Cleanup(srv.Close)
	return &proxyTarget{name: name, addr: srv.Listener.Addr().String(), hera: true}
}

// rawResponse is one answer read off the wire.
type rawResponse struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// sendRaw writes req byte for byte (no client-side normalisation of the
// path, headers or framing) and reads every response the server sends
// before closing the connection.
func sendRaw(t *testing.T, addr, req string) []rawResponse {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []rawResponse
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			if len(out) == 0 {
				t.Fatalf("no response to %.80q: %v", req, err)
			}
			return out
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		out = append(out, rawResponse{Status: res.StatusCode, Header: res.Header, Body: string(b), Location: res.Header.Get("Location")})
		if res.Close {
			return out
		}
	}
}

// attack is one row of the table.
type attack struct {
	name string
	// raw is the whole request; "{host}" is replaced by the target's address.
	raw string
	// onlyBare / onlyHera restrict the row to one kind of target.
	onlyBare, onlyHera bool
	// forwarded rows must reach the upstream exactly once, with what check
	// says removed or replaced; all other rows must never reach it.
	forwarded bool
	check     func(res []rawResponse, got []seenRequest) error
	// status, if set, is the status a refused row must answer.
	status int
}

// rawReq builds a request with the given request-target and extra header
// lines (each "Name: value").
func rawReq(method, target string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: {host}\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// rawBody builds a request with a body, sent exactly as given (framing
// headers included).
func rawBody(method, target string, body string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// spoofCheck expects exactly one forwarded request whose client-address
// headers are Hera's own (want) and whose other spoofable headers are gone.
func spoofCheck(want string, gone ...string) func([]rawResponse, []seenRequest) error {
	return func(res []rawResponse, got []seenRequest) error {
		if len(got) != 1 {
			return fmt.Errorf("upstream saw %d requests, want 1", len(got))
		}
		h := got[0].Header
		if v := h.Values("X-Forwarded-For"); len(v) != 1 || v[0] != want {
			return fmt.Errorf("upstream X-Forwarded-For %q, want [%s]", v, want)
		}
		if v := h.Values("True-Client-Ip"); len(v) != 1 || v[0] != want {
			return fmt.Errorf("upstream True-Client-IP %q, want [%s]", v, want)
		}
		for _, name := range gone {
			if v := h.Values(name); len(v) > 0 {
				return fmt.Errorf("upstream received client-sent %s: %q", name, v)
			}
		}
		if got[0].Method != http.MethodGet || got[0].Path != "/sessions/whoami" {
			return fmt.Errorf("upstream got %s %s", got[0].Method, got[0].Path)
		}
		return nil
	}
}

const spoofIP = "203.0.113.66"

// TestProxyAttackTable sends hostile paths, methods, headers, bodies and
// upstream redirects through the real proxy (bare, and inside a whole Hera)
// in front of an upstream that records what reaches it.
func TestProxyAttackTable(t *testing.T) {
	up := newUpstream(t)
	admin := newUpstream(t) // Kratos's admin API: nothing may ever reach it
	targets := []*proxyTarget{
		newBareProxy(t, up),
		newHeraTarget(t, "hera", up, admin, nil),
	}
	trusted := newHeraTarget(t, "hera-trusted-proxy", up, admin, map[string]string{"HERA_TRUSTED_PROXIES": "127.0.0.0/8"})

	attacks := proxyAttacks(func() string { return up.url(t).Host })
	allSpoofable := spoofableHeaders()

	// A row counts as refused when the attack failed: the request never
	// reached Kratos, or (forwarded rows) reached it exactly once with the
	// hostile part removed and nothing followed.
	tried, refused, blocked := 0, 0, 0
	for _, a := range attacks {
		for _, tg := range targets {
			if (a.onlyBare && tg.hera) || (a.onlyHera && !tg.hera) {
				continue
			}
			tried++
			if err := runAttack(t, tg, up, admin, a); err != nil {
				t.Errorf("%s via %s: %v", a.name, tg.name, err)
				continue
			}
			refused++
			if !a.forwarded {
				blocked++
			}
		}
	}

	// Behind a trusted proxy, X-Forwarded-For is believed (its right-most
	// untrusted hop) and every other client-address header still goes.
	for _, a := range []attack{
		{name: "trusted proxy: X-Forwarded-For believed", forwarded: true,
			raw:   rawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: 198.51.100.1, "+spoofIP),
			check: spoofCheck(spoofIP)},
		{name: "trusted proxy: other address headers still stripped", forwarded: true,
			raw: rawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+spoofIP, "Forwarded: for=198.51.100.9", "X-Real-IP: 198.51.100.9",
				"CF-Connecting-IP: 198.51.100.9", "True-Client-IP: 198.51.100.9", "X-Forwarded-Host: evil.example"),
			check: spoofCheck(spoofIP, allSpoofable...)},
	} {
		tried++
		if err := runAttack(t, trusted, up, admin, a); err != nil {
			t.Errorf("%s via %s: %v", a.name, trusted.name, err)
			continue
		}
		refused++
	}

	t.Logf("proxy attack table: %d tried, %d refused", tried, refused)
	t.Logf("(%d rows against the bare proxy and a whole Hera; %d never reached Kratos, %d reached it once with the hostile part stripped)",
		len(attacks), blocked, refused-blocked)
	if tried < 25 {
		t.Errorf("attack table too small: %d rows", tried)
	}
	if refused != tried {
		t.Errorf("%d of %d attacks got through", tried-refused, tried)
	}
}

// spoofableHeaders are the client-address and routing headers Hera must
// never pass on from a client.
func spoofableHeaders() []string {
	return []string{"Forwarded", "X-Real-Ip", "Cf-Connecting-Ip", "X-Forwarded-Host", "X-Forwarded-Proto",
		"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip",
		"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Method-Override", "X-Original-Forwarded-For"}
}

// proxyAttacks is the attack table; upstreamHost is the upstream's
// host:port, which the proxy must send as Host.
func proxyAttacks(upstreamHost func() string) []attack {
	allSpoofable := spoofableHeaders()
	big := strings.Repeat("a", 64<<10+1)
	chunk := strconv.FormatInt(int64(len(big)), 16) + "\r\n" + big + "\r\n0\r\n\r\n"
	smuggled := "0\r\n\r\nGET /admin/identities HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	longPath := "/api/kratos/self-service/login/browser" + strings.Repeat("/a", 300)

	return []attack{
		// The admin API and routes Kratos has but browsers never need.
		{name: "admin identities", raw: rawReq("GET", "/api/kratos/admin/identities")},
		{name: "admin identities, POST", raw: rawBody("POST", "/api/kratos/admin/identities", `{"traits":{}}`, "Content-Type: application/json", "Content-Length: 13")},
		{name: "admin health", raw: rawReq("GET", "/api/kratos/admin/health/ready")},
		{name: "Admin in other case", raw: rawReq("GET", "/api/kratos/Admin/identities")},
		// The session's own API is forwarded (listing, revoking), but not
		// reading one session by ID, which Kratos's FrontendApi lacks, nor
		// revoking anything that is not a session ID.
		{name: "one session by id", raw: rawReq("GET", "/api/kratos/sessions/9f425a8d-7efc-4768-8f23-7647a74fdf13")},
		{name: "revoke a session that is no id", raw: rawReq("DELETE", "/api/kratos/sessions/whoami")},
		{name: "revoke with a dot segment", raw: rawReq("DELETE", "/api/kratos/sessions/../admin/identities")},
		{name: "sessions, POST", raw: rawBody("POST", "/api/kratos/sessions", `{}`, "Content-Type: application/json", "Content-Length: 2")},
		{name: "identities", raw: rawReq("GET", "/api/kratos/identities")},
		{name: "health ready", raw: rawReq("GET", "/api/kratos/health/ready")},
		{name: "health alive", raw: rawReq("GET", "/api/kratos/health/alive")},
		{name: "version", raw: rawReq("GET", "/api/kratos/version")},
		{name: "metrics", raw: rawReq("GET", "/api/kratos/metrics/prometheus")},
		{name: "courier messages", raw: rawReq("GET", "/api/kratos/admin/courier/messages")},
		{name: "prefix without slash", raw: rawReq("GET", "/api/kratosadmin/identities")},
		{name: "prefix only", raw: rawReq("GET", "/api/kratos")},
		{name: "schemas too deep", raw: rawReq("GET", "/api/kratos/schemas/a/b")},

		// Path tricks.
		{name: "dot-dot", raw: rawReq("GET", "/api/kratos/self-service/../admin/identities")},
		{name: "dot-dot to the root", raw: rawReq("GET", "/api/kratos/../../admin/identities")},
		{name: "%2e%2e", raw: rawReq("GET", "/api/kratos/self-service/%2e%2e/admin/identities")},
		{name: "%2E%2E", raw: rawReq("GET", "/api/kratos/self-service/%2E%2E/admin/identities")},
		{name: ".%2e", raw: rawReq("GET", "/api/kratos/self-service/.%2e/admin/identities")},
		{name: "%252e double-encoded", raw: rawReq("GET", "/api/kratos/self-service/%252e%252e/admin/identities")},
		{name: "%2f encoded slash", raw: rawReq("GET", "/api/kratos/self-service%2f..%2fadmin%2fidentities")},
		{name: "%2f inside an allowed path", raw: rawReq("GET", "/api/kratos/self-service/login%2fbrowser")},
		{name: "%5c encoded backslash", raw: rawReq("GET", "/api/kratos/self-service%5c..%5cadmin/identities")},
		{name: "double slash before admin", raw: rawReq("GET", "/api/kratos//admin/identities")},
		{name: "double slash in an allowed path", raw: rawReq("GET", "/api/kratos/self-service//login/browser")},
		{name: "trailing slash", raw: rawReq("GET", "/api/kratos/sessions/whoami/")},
		{name: "backslash", raw: rawReq("GET", `/api/kratos/self-service\..\admin\identities`)},
		{name: "backslash in an allowed path", raw: rawReq("GET", `/api/kratos/self-service/login\browser`)},
		{name: "semicolon path parameter", raw: rawReq("GET", "/api/kratos/sessions/whoami;/../../admin/identities")},
		{name: "semicolon matrix parameter", raw: rawReq("GET", "/api/kratos/self-service/login/browser;jsessionid=x")},
		{name: "%00 encoded null", raw: rawReq("GET", "/api/kratos/self-service/login/browser%00/../../admin")},
		{name: "raw null byte", raw: rawReq("GET", "/api/kratos/self-service/login/browser\x00/../../../admin/identities")},
		{name: "raw control character", raw: rawReq("GET", "/api/kratos/sessions/whoami\x01")},
		{name: "unicode fullwidth dots (raw UTF-8)", raw: rawReq("GET", "/api/kratos/self-service/\uff0e\uff0e/admin/identities")},
		{name: "unicode one-dot leaders (encoded)", raw: rawReq("GET", "/api/kratos/self-service/%E2%80%A4%E2%80%A4/admin/identities")},
		{name: "overlong UTF-8 dot", raw: rawReq("GET", "/api/kratos/self-service/%C0%AE%C0%AE/admin/identities")},
		{name: "over-long path", raw: rawReq("GET", longPath)},
		{name: "over-long segment", raw: rawReq("GET", "/api/kratos/schemas/"+strings.Repeat("x", 600))},
		{name: "self-service dot-dot to sessions listing", raw: rawReq("GET", "/api/kratos/self-service/../sessions")},
		{name: ".well-known escape", raw: rawReq("GET", "/api/kratos/.well-known/ory/../../admin/identities")},
		{name: "absolute-form target to the admin port", raw: rawReq("GET", "http://127.0.0.1:4434/admin/identities")},
		{name: "absolute-form target with the prefix", raw: rawReq("GET", "http://evil.example/api/kratos/admin/identities")},
		{name: "authority-form CONNECT", raw: rawReq("CONNECT", "127.0.0.1:4434")},

		// Methods Kratos's public routes accept but browsers have no use for.
		{name: "PUT on a flow start", raw: rawBody("PUT", "/api/kratos/self-service/login/browser", "{}", "Content-Length: 2")},
		{name: "DELETE on a flow", raw: rawReq("DELETE", "/api/kratos/self-service/login/flows?id=x")},
		{name: "PATCH on whoami", raw: rawBody("PATCH", "/api/kratos/sessions/whoami", "{}", "Content-Length: 2")},
		{name: "POST on whoami", raw: rawBody("POST", "/api/kratos/sessions/whoami", "{}", "Content-Length: 2")},
		{name: "TRACE", raw: rawReq("TRACE", "/api/kratos/sessions/whoami")},
		{name: "CONNECT with a path", raw: rawReq("CONNECT", "/api/kratos/sessions/whoami")},
		{name: "OPTIONS", raw: rawReq("OPTIONS", "/api/kratos/sessions/whoami")},
		{name: "DELETE logout/browser", raw: rawReq("DELETE", "/api/kratos/self-service/logout/browser")},
		{name: "made-up method", raw: rawReq("PROPFIND", "/api/kratos/sessions/whoami")},

		// A direct post to Kratos's own submit endpoint goes to Hera's
		// guarded pipeline, never straight to Kratos.
		{name: "direct submit to Kratos", onlyBare: true, status: http.StatusAccepted,
			raw: rawBody("POST", "/api/kratos/self-service/login?flow=9f425a8d-7efc-4768-8f23-7647a74fdf13",
				"identifier=a&password=b&method=password", "Content-Type: application/x-www-form-urlencoded", "Content-Length: 39")},

		// Bodies over the 64 KiB limit: 413, and nothing reaches Kratos.
		{name: "body over 64 KiB (Content-Length)", status: http.StatusRequestEntityTooLarge,
			raw: rawBody("POST", "/api/kratos/self-service/methods/oidc/callback/google", big,
				"Content-Type: application/x-www-form-urlencoded", "Content-Length: "+strconv.Itoa(len(big)))},
		{name: "body over 64 KiB (chunked)", status: http.StatusRequestEntityTooLarge,
			raw: rawBody("POST", "/api/kratos/self-service/methods/oidc/callback/google", chunk,
				"Content-Type: application/x-www-form-urlencoded", "Transfer-Encoding: chunked")},
		{name: "submission body over 64 KiB (chunked)", onlyHera: true, status: http.StatusRequestEntityTooLarge,
			raw: rawBody("POST", "/api/kratos/self-service/login?flow=9f425a8d-7efc-4768-8f23-7647a74fdf13", chunk,
				"Content-Type: application/x-www-form-urlencoded", "Transfer-Encoding: chunked", "Sec-Fetch-Site: same-origin")},

		// Request smuggling: a second request hidden in the first one's
		// body must never reach Kratos's admin API.
		{name: "CL.TE smuggling into /admin", forwarded: true,
			raw: "POST /api/kratos/self-service/methods/oidc/callback/google HTTP/1.1\r\nHost: {host}\r\n" +
				"Content-Length: " + strconv.Itoa(len(smuggled)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled,
			check: func(res []rawResponse, got []seenRequest) error {
				// Go reads the chunked framing; the hidden request is then
				// a request of its own, to Hera, which refuses it.
				if len(res) == 2 && res[1].Status < 400 {
					return fmt.Errorf("hidden request answered %d", res[1].Status)
				}
				for _, g := range got {
					if strings.Contains(g.Path, "admin") || g.BodyLen > 0 {
						return fmt.Errorf("smuggled request reached upstream: %s %s (%d body bytes)", g.Method, g.URI, g.BodyLen)
					}
				}
				return nil
			}},

		// Kratos redirecting into its admin API: passed to the client,
		// never followed.
		{name: "upstream 307 to absolute /admin", forwarded: true, onlyBare: true, raw: rawReq("GET", "/api/kratos/self-service/registration/browser"),
			check: func(res []rawResponse, got []seenRequest) error {
				if len(got) != 1 {
					return fmt.Errorf("upstream saw %d requests, want exactly 1 (redirect followed?)", len(got))
				}
				if res[0].Status != http.StatusTemporaryRedirect || !strings.HasSuffix(res[0].Location, "/admin/identities") {
					return fmt.Errorf("client got %d Location %q, want Kratos's 307", res[0].Status, res[0].Location)
				}
				return nil
			}},
		// Hera checks the Location against its allowlist: Kratos's host is
		// not on it, so the browser goes to Hera's error page instead.
		{name: "upstream 307 to absolute /admin, Location refused", forwarded: true, onlyHera: true, raw: rawReq("GET", "/api/kratos/self-service/registration/browser"),
			check: func(res []rawResponse, got []seenRequest) error {
				if len(got) != 1 {
					return fmt.Errorf("upstream saw %d requests, want exactly 1 (redirect followed?)", len(got))
				}
				if res[0].Status != http.StatusTemporaryRedirect || res[0].Location != "http://localhost:4455/error?reason=redirect" {
					return fmt.Errorf("client got %d Location %q, want Hera's error page", res[0].Status, res[0].Location)
				}
				return nil
			}},
		{name: "upstream 307 to relative /admin", forwarded: true, raw: rawReq("GET", "/api/kratos/self-service/recovery/browser"),
			check: func(res []rawResponse, got []seenRequest) error {
				if len(got) != 1 {
					return fmt.Errorf("upstream saw %d requests, want exactly 1 (redirect followed?)", len(got))
				}
				if res[0].Status != http.StatusTemporaryRedirect || res[0].Location != "/admin/identities?page_size=1000" {
					return fmt.Errorf("client got %d Location %q, want Kratos's 307", res[0].Status, res[0].Location)
				}
				return nil
			}},

		// Client-sent address and routing headers: stripped, and the real
		// peer (127.0.0.1) put in their place.
		{name: "X-Forwarded-For", forwarded: true, raw: rawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+spoofIP),
			check: spoofCheck("127.0.0.1")},
		{name: "X-Forwarded-For twice", forwarded: true, raw: rawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+spoofIP, "x-forwarded-for: 198.51.100.1, "+spoofIP),
			check: spoofCheck("127.0.0.1")},
		{name: "Forwarded", forwarded: true, raw: rawReq("GET", "/api/kratos/sessions/whoami", "Forwarded: for="+spoofIP+";host=evil.example;proto=https"),
			check: spoofCheck("127.0.0.1", "Forwarded")},
		{name: "X-Real-IP", forwarded: true, raw: rawReq("GET", "/api/kratos/sessions/whoami", "X-Real-IP: "+spoofIP),
			check: spoofCheck("127.0.0.1", "X-Real-Ip")},
		{name: "True-Client-IP", forwarded: true, raw: rawReq("GET", "/api/kratos/sessions/whoami", "True-Client-IP: "+spoofIP),
			check: spoofCheck("127.0.0.1")},
		{name: "CF-Connecting-IP", forwarded: true, raw: rawReq("GET", "/api/kratos/sessions/whoami", "CF-Connecting-IP: "+spoofIP),
			check: spoofCheck("127.0.0.1", "Cf-Connecting-Ip")},
		{name: "X-Forwarded-Host and Proto", forwarded: true,
			raw:   rawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https", "X-Forwarded-Port: 443", "X-Forwarded-Prefix: /evil"),
			check: spoofCheck("127.0.0.1", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix")},
		{name: "other client-IP headers", forwarded: true,
			raw:   rawReq("GET", "/api/kratos/sessions/whoami", "X-Client-IP: "+spoofIP, "X-Cluster-Client-IP: "+spoofIP, "Fastly-Client-IP: "+spoofIP, "X-Original-Forwarded-For: "+spoofIP),
			check: spoofCheck("127.0.0.1", "X-Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Original-Forwarded-For")},
		{name: "X-Original-URL / X-Rewrite-URL to /admin", forwarded: true,
			raw:   rawReq("GET", "/api/kratos/sessions/whoami", "X-Original-URL: /admin/identities", "X-Rewrite-URL: /admin/identities"),
			check: spoofCheck("127.0.0.1", "X-Original-Url", "X-Rewrite-Url")},
		{name: "method override headers", forwarded: true,
			raw:   rawReq("GET", "/api/kratos/sessions/whoami", "X-HTTP-Method-Override: DELETE", "X-Method-Override: DELETE"),
			check: spoofCheck("127.0.0.1", "X-Http-Method-Override", "X-Method-Override")},
		{name: "Connection header naming Hera's own headers", forwarded: true,
			raw:   "GET /api/kratos/sessions/whoami HTTP/1.1\r\nHost: {host}\r\nConnection: close, X-Forwarded-For, True-Client-IP\r\nX-Real-IP: " + spoofIP + "\r\n\r\n",
			check: spoofCheck("127.0.0.1", "X-Real-Ip")},
		{name: "Host header of the admin API", forwarded: true,
			raw: "GET /api/kratos/sessions/whoami HTTP/1.1\r\nHost: 127.0.0.1:4434\r\nConnection: close\r\n\r\n",
			check: func(res []rawResponse, got []seenRequest) error {
				if err := spoofCheck("127.0.0.1")(res, got); err != nil {
					return err
				}
				if want := upstreamHost(); got[0].Host != want {
					return fmt.Errorf("upstream Host %q, want %q", got[0].Host, want)
				}
				return nil
			}},
		{name: "all spoofable headers at once", forwarded: true,
			raw: rawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+spoofIP, "Forwarded: for="+spoofIP, "X-Real-IP: "+spoofIP,
				"True-Client-IP: "+spoofIP, "CF-Connecting-IP: "+spoofIP, "X-Forwarded-Host: evil.example"),
			check: spoofCheck("127.0.0.1", allSpoofable...)},
	}

}

// runAttack sends one row to one target and says why it was not defended.
func runAttack(t *testing.T, tg *proxyTarget, up, admin *upstream, a attack) error {
	t.Helper()
	up.reset()
	admin.reset()
	submitsBefore := 0
	if tg.submits != nil {
		submitsBefore = tg.submits()
	}
	raw := strings.ReplaceAll(a.raw, "{host}", tg.addr)
	res := sendRaw(t, tg.addr, raw)
	// Go's ServeMux (inside Hera) answers unclean paths with a redirect to
	// the cleaned path; a browser would follow it, so we do too.
	for hop := 0; tg.hera && !a.forwarded && hop < 3 && len(up.seen()) == 0; hop++ {
		last := res[len(res)-1]
		if last.Status != http.StatusMovedPermanently && last.Status != http.StatusTemporaryRedirect && last.Status != http.StatusPermanentRedirect {
			break
		}
		loc, err := url.Parse(last.Location)
		if err != nil || (loc.Host != "" && loc.Host != tg.addr) {
			break
		}
		res = append(res, sendRaw(t, tg.addr, rawReq("GET", loc.RequestURI()))...)
	}
	// Give a request that is still streaming to the upstream a moment to
	// show up there.
	time.Sleep(20 * time.Millisecond)
	got := up.seen()
	if n := len(admin.seen()); n > 0 {
		return fmt.Errorf("Kratos's admin API received %d requests: %+v", n, admin.seen())
	}
	if a.forwarded {
		return a.check(res, got)
	}
	if len(got) > 0 {
		return fmt.Errorf("reached the upstream (%d requests, first %s %s with %d body bytes, body error %v); client got %d",
			len(got), got[0].Method, got[0].URI, got[0].BodyLen, got[0].BodyErr, res[len(res)-1].Status)
	}
	last := res[len(res)-1]
	switch {
	case a.status != 0 && last.Status != a.status:
		return fmt.Errorf("status %d, want %d", last.Status, a.status)
	case a.status == 0 && last.Status < 400:
		return fmt.Errorf("status %d, want a refusal (4xx)", last.Status)
	}
	if a.status == http.StatusAccepted && tg.submits() != submitsBefore+1 {
		return fmt.Errorf("not handed to the submit pipeline")
	}
	return nil
}
