// Package proxytest is the /api/kratos/ proxy's attack table and its
// tools: an upstream that records what reaches it, raw requests written
// byte for byte, and the check of one row against one target. The table
// runs against the bare proxy (internal/kratos) and against a whole Hera
// (internal/web), and seeds the proxy's fuzz tests.
package proxytest

import (
	"bufio"
	"fmt"
	"io"
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
)

// upstream is a stand-in for Kratos's public (or admin) API that records
// every request it receives. Two paths answer with a redirect into the admin
// API, so the test can see whether the proxy follows redirects.
type Upstream struct {
	// Srv is the running server.
	Srv *httptest.Server

	mu  sync.Mutex
	got []SeenRequest
}

// SeenRequest is what the upstream received.
type SeenRequest struct {
	Method  string
	URI     string // request-target as sent
	Path    string // escaped path
	Host    string
	Header  http.Header
	BodyLen int
	BodyErr error
}

func NewUpstream(t *testing.T) *Upstream {
	u := &Upstream{}
	u.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.got = append(u.got, SeenRequest{Method: r.Method, URI: r.RequestURI, Path: r.URL.EscapedPath(), Host: r.Host,
			Header: r.Header.Clone(), BodyLen: int(n), BodyErr: err})
		u.mu.Unlock()
		switch r.URL.Path {
		case "/self-service/registration/browser":
			// Kratos (or something pretending to be it) sends the client
			// into the admin API: the proxy must pass this on, not follow.
			w.Header().Set("Location", u.Srv.URL+"/admin/identities")
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
	t.Cleanup(u.Srv.Close)
	return u
}

func (u *Upstream) Reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.got = nil
}

func (u *Upstream) Seen() []SeenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.got)
}

func (u *Upstream) URL(t *testing.T) *url.URL {
	p, err := url.Parse(u.Srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Target is a server under attack: the bare proxy or a whole Hera.
type Target struct {
	Name string
	Addr string // host:port
	// Submits counts RouteSubmit hand-offs (bare proxy only).
	Submits func() int
	// Hera: the whole server, where Go's ServeMux cleans paths (and may
	// redirect) before the proxy sees them.
	Hera bool
}

// RawResponse is one answer read off the wire.
type RawResponse struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// SendRaw writes req byte for byte (no client-side normalisation of the
// path, headers or framing) and reads every response the server sends
// before closing the connection.
func SendRaw(t *testing.T, addr, req string) []RawResponse {
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
	var out []RawResponse
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
		out = append(out, RawResponse{Status: res.StatusCode, Header: res.Header, Body: string(b), Location: res.Header.Get("Location")})
		if res.Close {
			return out
		}
	}
}

// attack is one row of the table.
type Attack struct {
	Name string
	// Raw is the whole request; "{host}" is replaced by the target's address.
	Raw string
	// OnlyBare / OnlyHera restrict the row to one kind of target.
	OnlyBare, OnlyHera bool
	// Forwarded rows must reach the upstream exactly once, with what Check
	// says removed or replaced; all other rows must never reach it.
	Forwarded bool
	Check     func(res []RawResponse, got []SeenRequest) error
	// Status, if set, is the status a refused row must answer.
	Status int
}

// RawReq builds a request with the given request-target and extra header
// lines (each "Name: value").
func RawReq(method, target string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: {host}\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// RawBody builds a request with a body, sent exactly as given (framing
// headers included).
func RawBody(method, target string, body string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// SpoofCheck expects exactly one forwarded request whose client-address
// headers are Hera's own (want) and whose other spoofable headers are gone.
func SpoofCheck(want string, gone ...string) func([]RawResponse, []SeenRequest) error {
	return func(res []RawResponse, got []SeenRequest) error {
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

const SpoofIP = "203.0.113.66"

// SpoofableHeaders are the client-address and routing headers Hera must
// never pass on from a client.
func SpoofableHeaders() []string {
	return []string{"Forwarded", "X-Real-Ip", "Cf-Connecting-Ip", "X-Forwarded-Host", "X-Forwarded-Proto",
		"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip",
		"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Method-Override", "X-Original-Forwarded-For"}
}

// Attacks is the attack table; upstreamHost is the upstream's
// host:port, which the proxy must send as Host.
func Attacks(upstreamHost func() string) []Attack {
	allSpoofable := SpoofableHeaders()
	big := strings.Repeat("a", 64<<10+1)
	chunk := strconv.FormatInt(int64(len(big)), 16) + "\r\n" + big + "\r\n0\r\n\r\n"
	smuggled := "0\r\n\r\nGET /admin/identities HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	longPath := "/api/kratos/self-service/login/browser" + strings.Repeat("/a", 300)

	return []Attack{
		// The admin API and routes Kratos has but browsers never need.
		{Name: "admin identities", Raw: RawReq("GET", "/api/kratos/admin/identities")},
		{Name: "admin identities, POST", Raw: RawBody("POST", "/api/kratos/admin/identities", `{"traits":{}}`, "Content-Type: application/json", "Content-Length: 13")},
		{Name: "admin health", Raw: RawReq("GET", "/api/kratos/admin/health/ready")},
		{Name: "Admin in other case", Raw: RawReq("GET", "/api/kratos/Admin/identities")},
		// The session's own API is forwarded (listing, revoking), but not
		// reading one session by ID, which Kratos's FrontendApi lacks, nor
		// revoking anything that is not a session ID.
		{Name: "one session by id", Raw: RawReq("GET", "/api/kratos/sessions/9f425a8d-7efc-4768-8f23-7647a74fdf13")},
		{Name: "revoke a session that is no id", Raw: RawReq("DELETE", "/api/kratos/sessions/whoami")},
		{Name: "revoke with a dot segment", Raw: RawReq("DELETE", "/api/kratos/sessions/../admin/identities")},
		{Name: "sessions, POST", Raw: RawBody("POST", "/api/kratos/sessions", `{}`, "Content-Type: application/json", "Content-Length: 2")},
		{Name: "identities", Raw: RawReq("GET", "/api/kratos/identities")},
		{Name: "health ready", Raw: RawReq("GET", "/api/kratos/health/ready")},
		{Name: "health alive", Raw: RawReq("GET", "/api/kratos/health/alive")},
		{Name: "version", Raw: RawReq("GET", "/api/kratos/version")},
		{Name: "metrics", Raw: RawReq("GET", "/api/kratos/metrics/prometheus")},
		{Name: "courier messages", Raw: RawReq("GET", "/api/kratos/admin/courier/messages")},
		{Name: "prefix without slash", Raw: RawReq("GET", "/api/kratosadmin/identities")},
		{Name: "prefix only", Raw: RawReq("GET", "/api/kratos")},
		{Name: "schemas too deep", Raw: RawReq("GET", "/api/kratos/schemas/a/b")},

		// Path tricks.
		{Name: "dot-dot", Raw: RawReq("GET", "/api/kratos/self-service/../admin/identities")},
		{Name: "dot-dot to the root", Raw: RawReq("GET", "/api/kratos/../../admin/identities")},
		{Name: "%2e%2e", Raw: RawReq("GET", "/api/kratos/self-service/%2e%2e/admin/identities")},
		{Name: "%2E%2E", Raw: RawReq("GET", "/api/kratos/self-service/%2E%2E/admin/identities")},
		{Name: ".%2e", Raw: RawReq("GET", "/api/kratos/self-service/.%2e/admin/identities")},
		{Name: "%252e double-encoded", Raw: RawReq("GET", "/api/kratos/self-service/%252e%252e/admin/identities")},
		{Name: "%2f encoded slash", Raw: RawReq("GET", "/api/kratos/self-service%2f..%2fadmin%2fidentities")},
		{Name: "%2f inside an allowed path", Raw: RawReq("GET", "/api/kratos/self-service/login%2fbrowser")},
		{Name: "%5c encoded backslash", Raw: RawReq("GET", "/api/kratos/self-service%5c..%5cadmin/identities")},
		{Name: "double slash before admin", Raw: RawReq("GET", "/api/kratos//admin/identities")},
		{Name: "double slash in an allowed path", Raw: RawReq("GET", "/api/kratos/self-service//login/browser")},
		{Name: "trailing slash", Raw: RawReq("GET", "/api/kratos/sessions/whoami/")},
		{Name: "backslash", Raw: RawReq("GET", `/api/kratos/self-service\..\admin\identities`)},
		{Name: "backslash in an allowed path", Raw: RawReq("GET", `/api/kratos/self-service/login\browser`)},
		{Name: "semicolon path parameter", Raw: RawReq("GET", "/api/kratos/sessions/whoami;/../../admin/identities")},
		{Name: "semicolon matrix parameter", Raw: RawReq("GET", "/api/kratos/self-service/login/browser;jsessionid=x")},
		{Name: "%00 encoded null", Raw: RawReq("GET", "/api/kratos/self-service/login/browser%00/../../admin")},
		{Name: "raw null byte", Raw: RawReq("GET", "/api/kratos/self-service/login/browser\x00/../../../admin/identities")},
		{Name: "raw control character", Raw: RawReq("GET", "/api/kratos/sessions/whoami\x01")},
		{Name: "unicode fullwidth dots (raw UTF-8)", Raw: RawReq("GET", "/api/kratos/self-service/\uff0e\uff0e/admin/identities")},
		{Name: "unicode one-dot leaders (encoded)", Raw: RawReq("GET", "/api/kratos/self-service/%E2%80%A4%E2%80%A4/admin/identities")},
		{Name: "overlong UTF-8 dot", Raw: RawReq("GET", "/api/kratos/self-service/%C0%AE%C0%AE/admin/identities")},
		{Name: "over-long path", Raw: RawReq("GET", longPath)},
		{Name: "over-long segment", Raw: RawReq("GET", "/api/kratos/schemas/"+strings.Repeat("x", 600))},
		{Name: "self-service dot-dot to sessions listing", Raw: RawReq("GET", "/api/kratos/self-service/../sessions")},
		{Name: ".well-known escape", Raw: RawReq("GET", "/api/kratos/.well-known/ory/../../admin/identities")},
		{Name: "absolute-form target to the admin port", Raw: RawReq("GET", "http://127.0.0.1:4434/admin/identities")},
		{Name: "absolute-form target with the prefix", Raw: RawReq("GET", "http://evil.example/api/kratos/admin/identities")},
		{Name: "authority-form CONNECT", Raw: RawReq("CONNECT", "127.0.0.1:4434")},

		// Methods Kratos's public routes accept but browsers have no use for.
		{Name: "PUT on a flow start", Raw: RawBody("PUT", "/api/kratos/self-service/login/browser", "{}", "Content-Length: 2")},
		{Name: "DELETE on a flow", Raw: RawReq("DELETE", "/api/kratos/self-service/login/flows?id=x")},
		{Name: "PATCH on whoami", Raw: RawBody("PATCH", "/api/kratos/sessions/whoami", "{}", "Content-Length: 2")},
		{Name: "POST on whoami", Raw: RawBody("POST", "/api/kratos/sessions/whoami", "{}", "Content-Length: 2")},
		{Name: "TRACE", Raw: RawReq("TRACE", "/api/kratos/sessions/whoami")},
		{Name: "CONNECT with a path", Raw: RawReq("CONNECT", "/api/kratos/sessions/whoami")},
		{Name: "OPTIONS", Raw: RawReq("OPTIONS", "/api/kratos/sessions/whoami")},
		{Name: "DELETE logout/browser", Raw: RawReq("DELETE", "/api/kratos/self-service/logout/browser")},
		{Name: "made-up method", Raw: RawReq("PROPFIND", "/api/kratos/sessions/whoami")},

		// A direct post to Kratos's own submit endpoint goes to Hera's
		// guarded pipeline, never straight to Kratos.
		{Name: "direct submit to Kratos", OnlyBare: true, Status: http.StatusAccepted,
			Raw: RawBody("POST", "/api/kratos/self-service/login?flow=9f425a8d-7efc-4768-8f23-7647a74fdf13",
				"identifier=a&password=b&method=password", "Content-Type: application/x-www-form-urlencoded", "Content-Length: 39")},

		// Bodies over the 64 KiB limit: 413, and nothing reaches Kratos.
		{Name: "body over 64 KiB (Content-Length)", Status: http.StatusRequestEntityTooLarge,
			Raw: RawBody("POST", "/api/kratos/self-service/methods/oidc/callback/google", big,
				"Content-Type: application/x-www-form-urlencoded", "Content-Length: "+strconv.Itoa(len(big)))},
		{Name: "body over 64 KiB (chunked)", Status: http.StatusRequestEntityTooLarge,
			Raw: RawBody("POST", "/api/kratos/self-service/methods/oidc/callback/google", chunk,
				"Content-Type: application/x-www-form-urlencoded", "Transfer-Encoding: chunked")},
		{Name: "submission body over 64 KiB (chunked)", OnlyHera: true, Status: http.StatusRequestEntityTooLarge,
			Raw: RawBody("POST", "/api/kratos/self-service/login?flow=9f425a8d-7efc-4768-8f23-7647a74fdf13", chunk,
				"Content-Type: application/x-www-form-urlencoded", "Transfer-Encoding: chunked", "Sec-Fetch-Site: same-origin")},

		// Request smuggling: a second request hidden in the first one's
		// body must never reach Kratos's admin API.
		{Name: "CL.TE smuggling into /admin", Forwarded: true,
			Raw: "POST /api/kratos/self-service/methods/oidc/callback/google HTTP/1.1\r\nHost: {host}\r\n" +
				"Content-Length: " + strconv.Itoa(len(smuggled)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled,
			Check: func(res []RawResponse, got []SeenRequest) error {
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
		{Name: "upstream 307 to absolute /admin", Forwarded: true, OnlyBare: true, Raw: RawReq("GET", "/api/kratos/self-service/registration/browser"),
			Check: func(res []RawResponse, got []SeenRequest) error {
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
		{Name: "upstream 307 to absolute /admin, Location refused", Forwarded: true, OnlyHera: true, Raw: RawReq("GET", "/api/kratos/self-service/registration/browser"),
			Check: func(res []RawResponse, got []SeenRequest) error {
				if len(got) != 1 {
					return fmt.Errorf("upstream saw %d requests, want exactly 1 (redirect followed?)", len(got))
				}
				if res[0].Status != http.StatusTemporaryRedirect || res[0].Location != "http://localhost:4455/error?reason=redirect" {
					return fmt.Errorf("client got %d Location %q, want Hera's error page", res[0].Status, res[0].Location)
				}
				return nil
			}},
		{Name: "upstream 307 to relative /admin", Forwarded: true, Raw: RawReq("GET", "/api/kratos/self-service/recovery/browser"),
			Check: func(res []RawResponse, got []SeenRequest) error {
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
		{Name: "X-Forwarded-For", Forwarded: true, Raw: RawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+SpoofIP),
			Check: SpoofCheck("127.0.0.1")},
		{Name: "X-Forwarded-For twice", Forwarded: true, Raw: RawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+SpoofIP, "x-forwarded-for: 198.51.100.1, "+SpoofIP),
			Check: SpoofCheck("127.0.0.1")},
		{Name: "Forwarded", Forwarded: true, Raw: RawReq("GET", "/api/kratos/sessions/whoami", "Forwarded: for="+SpoofIP+";host=evil.example;proto=https"),
			Check: SpoofCheck("127.0.0.1", "Forwarded")},
		{Name: "X-Real-IP", Forwarded: true, Raw: RawReq("GET", "/api/kratos/sessions/whoami", "X-Real-IP: "+SpoofIP),
			Check: SpoofCheck("127.0.0.1", "X-Real-Ip")},
		{Name: "True-Client-IP", Forwarded: true, Raw: RawReq("GET", "/api/kratos/sessions/whoami", "True-Client-IP: "+SpoofIP),
			Check: SpoofCheck("127.0.0.1")},
		{Name: "CF-Connecting-IP", Forwarded: true, Raw: RawReq("GET", "/api/kratos/sessions/whoami", "CF-Connecting-IP: "+SpoofIP),
			Check: SpoofCheck("127.0.0.1", "Cf-Connecting-Ip")},
		{Name: "X-Forwarded-Host and Proto", Forwarded: true,
			Raw:   RawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https", "X-Forwarded-Port: 443", "X-Forwarded-Prefix: /evil"),
			Check: SpoofCheck("127.0.0.1", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix")},
		{Name: "other client-IP headers", Forwarded: true,
			Raw:   RawReq("GET", "/api/kratos/sessions/whoami", "X-Client-IP: "+SpoofIP, "X-Cluster-Client-IP: "+SpoofIP, "Fastly-Client-IP: "+SpoofIP, "X-Original-Forwarded-For: "+SpoofIP),
			Check: SpoofCheck("127.0.0.1", "X-Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip", "X-Original-Forwarded-For")},
		{Name: "X-Original-URL / X-Rewrite-URL to /admin", Forwarded: true,
			Raw:   RawReq("GET", "/api/kratos/sessions/whoami", "X-Original-URL: /admin/identities", "X-Rewrite-URL: /admin/identities"),
			Check: SpoofCheck("127.0.0.1", "X-Original-Url", "X-Rewrite-Url")},
		{Name: "method override headers", Forwarded: true,
			Raw:   RawReq("GET", "/api/kratos/sessions/whoami", "X-HTTP-Method-Override: DELETE", "X-Method-Override: DELETE"),
			Check: SpoofCheck("127.0.0.1", "X-Http-Method-Override", "X-Method-Override")},
		{Name: "Connection header naming Hera's own headers", Forwarded: true,
			Raw:   "GET /api/kratos/sessions/whoami HTTP/1.1\r\nHost: {host}\r\nConnection: close, X-Forwarded-For, True-Client-IP\r\nX-Real-IP: " + SpoofIP + "\r\n\r\n",
			Check: SpoofCheck("127.0.0.1", "X-Real-Ip")},
		{Name: "Host header of the admin API", Forwarded: true,
			Raw: "GET /api/kratos/sessions/whoami HTTP/1.1\r\nHost: 127.0.0.1:4434\r\nConnection: close\r\n\r\n",
			Check: func(res []RawResponse, got []SeenRequest) error {
				if err := SpoofCheck("127.0.0.1")(res, got); err != nil {
					return err
				}
				if want := upstreamHost(); got[0].Host != want {
					return fmt.Errorf("upstream Host %q, want %q", got[0].Host, want)
				}
				return nil
			}},
		{Name: "all spoofable headers at once", Forwarded: true,
			Raw: RawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+SpoofIP, "Forwarded: for="+SpoofIP, "X-Real-IP: "+SpoofIP,
				"True-Client-IP: "+SpoofIP, "CF-Connecting-IP: "+SpoofIP, "X-Forwarded-Host: evil.example"),
			Check: SpoofCheck("127.0.0.1", allSpoofable...)},
	}

}

// Run sends one row to one target and says why it was not defended.
func Run(t *testing.T, tg *Target, up, admin *Upstream, a Attack) error {
	t.Helper()
	up.Reset()
	admin.Reset()
	submitsBefore := 0
	if tg.Submits != nil {
		submitsBefore = tg.Submits()
	}
	raw := strings.ReplaceAll(a.Raw, "{host}", tg.Addr)
	res := SendRaw(t, tg.Addr, raw)
	// Go's ServeMux (inside Hera) answers unclean paths with a redirect to
	// the cleaned path; a browser would follow it, so we do too.
	for hop := 0; tg.Hera && !a.Forwarded && hop < 3 && len(up.Seen()) == 0; hop++ {
		last := res[len(res)-1]
		if last.Status != http.StatusMovedPermanently && last.Status != http.StatusTemporaryRedirect && last.Status != http.StatusPermanentRedirect {
			break
		}
		loc, err := url.Parse(last.Location)
		if err != nil || (loc.Host != "" && loc.Host != tg.Addr) {
			break
		}
		res = append(res, SendRaw(t, tg.Addr, RawReq("GET", loc.RequestURI()))...)
	}
	// Give a request that is still streaming to the upstream a moment to
	// show up there.
	time.Sleep(20 * time.Millisecond)
	got := up.Seen()
	if n := len(admin.Seen()); n > 0 {
		return fmt.Errorf("the Kratos admin API received %d requests: %+v", n, admin.Seen())
	}
	if a.Forwarded {
		return a.Check(res, got)
	}
	if len(got) > 0 {
		return fmt.Errorf("reached the upstream (%d requests, first %s %s with %d body bytes, body error %v); client got %d",
			len(got), got[0].Method, got[0].URI, got[0].BodyLen, got[0].BodyErr, res[len(res)-1].Status)
	}
	last := res[len(res)-1]
	switch {
	case a.Status != 0 && last.Status != a.Status:
		return fmt.Errorf("status %d, want %d", last.Status, a.Status)
	case a.Status == 0 && last.Status < 400:
		return fmt.Errorf("status %d, want a refusal (4xx)", last.Status)
	}
	if a.Status == http.StatusAccepted && tg.Submits() != submitsBefore+1 {
		return fmt.Errorf("not handed to the submit pipeline")
	}
	return nil
}
