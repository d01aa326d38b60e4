package kratos_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/redirect"
)

const refusedURL = "http://hera.test/error?reason=redirect"

// logBuffer collects log lines from the proxy's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// redirectRig is a proxy with Hera's redirect checks in front of a stand-in
// Kratos that counts its calls. The stand-in answers with the status
// (?status=) and Location headers (?loc=, repeatable) it is asked for, and
// sets two cookies, as Kratos does on logout and after sign-in.
type redirectRig struct {
	hera   *httptest.Server
	calls  atomic.Int64
	logs   *logBuffer
	client *http.Client
}

func newRedirectRig(t *testing.T, check bool) *redirectRig {
	t.Helper()
	rig := &redirectRig{logs: &logBuffer{}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.calls.Add(1)
		q := r.URL.Query()
		for _, l := range q["loc"] {
			w.Header().Add("Location", l)
		}
		w.Header().Add("Set-Cookie", "ory_kratos_session=fresh; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "csrf_token_x=new; Path=/; HttpOnly")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		status := http.StatusOK
		if s := q.Get("status"); s != "" {
			status = atoi(t, s)
		}
		w.WriteHeader(status)
		if status != http.StatusNotModified {
			// Like http.Redirect: the body links the Location.
			_, _ = io.WriteString(w, `<a href="`+q.Get("loc")+`">here</a> upstream-body`)
		}
	}))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	base, _ := url.Parse("http://hera.test")
	allow, err := redirect.New(base, []string{"https://app.example/dashboard"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := kratos.ProxyConfig{
		Upstream: upURL, Prefix: "/api/kratos", Timeout: 5 * time.Second, MaxBody: 64 << 10,
		Logger:   slog.New(slog.NewJSONHandler(rig.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ClientIP: func(*http.Request) string { return "127.0.0.1" },
		Submit:   func(w http.ResponseWriter, _ *http.Request, _ kratos.Kind) { w.WriteHeader(http.StatusTeapot) },
		Refuse:   func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		Fail:     func(w http.ResponseWriter, _ *http.Request, status int) { http.Error(w, "hera error page", status) },
	}
	if check {
		cfg.CheckRedirect = func(t string) bool { _, ok := allow.Allowed(t); return ok }
		cfg.RedirectRefused = refusedURL
	}
	p, err := kratos.NewProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rig.hera = httptest.NewServer(p)
	t.Cleanup(rig.hera.Close)
	rig.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return rig
}

func atoi(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad number %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// get sends GET for target (path and raw query, sent byte for byte) and
// returns the answer with its body read.
func (rig *redirectRig) get(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rig.hera.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rig.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// redirectPaths are the forwarded endpoints whose return_to Kratos follows:
// flow creation and logout.
func redirectPaths() []string {
	var paths []string
	for _, k := range []string{"login", "registration", "recovery", "verification", "settings"} {
		paths = append(paths, "/self-service/"+k+"/browser", "/self-service/"+k+"/api")
	}
	return append(paths, "/self-service/logout/browser", "/self-service/logout")
}

// withQuery joins a path and a raw query; logout with its token carries the
// token first.
func withQuery(path, raw string) string {
	if path == "/self-service/logout" {
		if raw == "" {
			return "/api/kratos" + path + "?token=abc"
		}
		return "/api/kratos" + path + "?token=abc&" + raw
	}
	if raw == "" {
		return "/api/kratos" + path
	}
	return "/api/kratos" + path + "?" + raw
}

func rt(v string) string { return "return_to=" + url.QueryEscape(v) }

// TestProxyReturnToChecked: on every flow-creation and logout endpoint, a
// return_to the allowlist refuses — or two of them, or a query Kratos
// would read differently — is answered 400 by Hera and never reaches
// Kratos; allowed, empty and absent ones are forwarded.
func TestProxyReturnToChecked(t *testing.T) {
	rig := newRedirectRig(t, true)
	allowed := map[string]string{
		"Hera":                   rt("http://hera.test/settings"),
		"Hera root":              rt("http://hera.test/"),
		"Hera with query":        rt("http://hera.test/login?login_challenge=abc&hera_return=1"),
		"allowed application":    rt("https://app.example/dashboard/reports?x=1"),
		"empty (Kratos ignores)": "return_to=",
		"absent":                 "",
		"other parameters":       "refresh=true&aal=aal2&" + rt("http://hera.test/"),
	}
	refused := map[string]string{
		"dot segments":                  rt("http://hera.test/account/../../evil"),
		"dot segments, raw":             "return_to=http://hera.test/account/../../evil",
		"%2e%2e in the query":           "return_to=http://hera.test/account/%2e%2e/%2e%2e/evil",
		"%2e%2e in the URL":             rt("http://hera.test/account/%2e%2e/%2e%2e/evil"),
		"encoded slash":                 rt("https://app.example/dashboard%2f..%2fadmin"),
		"other host":                    rt("https://evil.example/"),
		"scheme-relative":               rt("//evil.example/x"),
		"scheme-relative, raw":          "return_to=//evil.example/x",
		"backslash":                     rt("/\\evil.example"),
		"path prefix, no boundary":      rt("https://app.example/dashboard-evil"),
		"application dot segments":      rt("https://app.example/dashboard/../admin"),
		"user info":                     rt("http://hera.test@evil.example/"),
		"scheme downgrade":              rt("http://app.example/dashboard"),
		"javascript":                    rt("javascript:alert(1)"),
		"relative path":                 rt("/settings"),
		"duplicate, both allowed":       rt("http://hera.test/") + "&" + rt("http://hera.test/settings"),
		"duplicate, empty then evil":    "return_to=&" + rt("https://evil.example/"),
		"duplicate, encoded name":       rt("http://hera.test/") + "&return%5Fto=" + url.QueryEscape("https://evil.example/"),
		"unparsable query":              rt("http://hera.test/") + "&x=%zz",
		"semicolon separator":           "x=1;" + rt("https://evil.example/"),
		"unparsable, evil first":        rt("https://evil.example/") + "&%zz",
		"space in target":               "return_to=http://hera.test/+/evil.example",
		"control character":             rt("http://hera.test/\n/evil"),
		"only the encoded name is evil": "return%5fto=" + url.QueryEscape("https://evil.example/"),
	}
	for _, path := range redirectPaths() {
		for name, raw := range allowed {
			before := rig.calls.Load()
			res, _ := rig.get(t, withQuery(path, raw))
			if res.StatusCode != http.StatusOK || rig.calls.Load() != before+1 {
				t.Errorf("%s %s: status %d, Kratos called %d times; want it forwarded", path, name, res.StatusCode, rig.calls.Load()-before)
			}
		}
		rig.logs.take()
		for name, raw := range refused {
			before := rig.calls.Load()
			res, body := rig.get(t, withQuery(path, raw))
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "hera error page") {
				t.Errorf("%s %s: status %d %q, want Hera's 400", path, name, res.StatusCode, body)
			}
			if n := rig.calls.Load() - before; n != 0 {
				t.Errorf("%s %s: Kratos called %d times", path, name, n)
			}
			logs := rig.logs.take()
			if !strings.Contains(logs, `"msg":"kratos proxy refused a return_to"`) || !strings.Contains(logs, `"path":"/api/kratos`+path+`"`) {
				t.Errorf("%s %s: log %q", path, name, logs)
			}
			if strings.Contains(logs, "evil") || strings.Contains(logs, "token=") || strings.Contains(logs, "return_to=") {
				t.Errorf("%s %s: the query was logged: %s", path, name, logs)
			}
		}
	}
}

// TestProxyAfterVerificationReturnTo: a registration's
// after_verification_return_to becomes the return_to of the verification
// that follows, so it is held to the same check there; elsewhere Kratos
// ignores it.
func TestProxyAfterVerificationReturnTo(t *testing.T) {
	rig := newRedirectRig(t, true)
	for _, c := range []struct {
		target string
		sent   bool
	}{
		{"/api/kratos/self-service/registration/browser?after_verification_return_to=" + url.QueryEscape("http://hera.test/welcome"), true},
		{"/api/kratos/self-service/registration/api?after_verification_return_to=", true},
		{"/api/kratos/self-service/registration/browser?after_verification_return_to=" + url.QueryEscape("http://hera.test/a/../../evil"), false},
		{"/api/kratos/self-service/registration/api?after_verification_return_to=" + url.QueryEscape("https://evil.example/"), false},
		{"/api/kratos/self-service/registration/browser?" + rt("http://hera.test/") + "&after_verification_return_to=a&after_verification_return_to=b", false},
		{"/api/kratos/self-service/login/browser?after_verification_return_to=" + url.QueryEscape("https://evil.example/"), true},
	} {
		before := rig.calls.Load()
		res, _ := rig.get(t, c.target)
		sent := rig.calls.Load() == before+1
		if sent != c.sent || (!c.sent && res.StatusCode != http.StatusBadRequest) {
			t.Errorf("%s: status %d, forwarded %v; want forwarded %v", c.target, res.StatusCode, sent, c.sent)
		}
	}
}

// TestProxyReturnToOnlyWhereKratosFollowsIt: endpoints that do not create a
// flow or log out pass their query on as before (Kratos does not redirect
// to a return_to there).
func TestProxyReturnToOnlyWhereKratosFollowsIt(t *testing.T) {
	rig := newRedirectRig(t, true)
	evil := rt("https://evil.example/")
	for _, target := range []string{
		"/api/kratos/sessions/whoami?" + evil,
		"/api/kratos/self-service/login/flows?id=x&" + evil,
		"/api/kratos/self-service/errors?id=x&" + evil,
	} {
		before := rig.calls.Load()
		res, _ := rig.get(t, target)
		if res.StatusCode != http.StatusOK || rig.calls.Load() != before+1 {
			t.Errorf("%s: status %d, want it forwarded", target, res.StatusCode)
		}
	}
	// Flow links (RouteContinue) already refuse any return_to.
	before := rig.calls.Load()
	if res, _ := rig.get(t, "/api/kratos/self-service/verification?flow=x&"+evil); res.StatusCode != http.StatusBadRequest || rig.calls.Load() != before {
		t.Errorf("flow link with return_to: status %d", res.StatusCode)
	}
}

// TestProxyLocationChecked: a redirect Kratos answers goes to the browser
// only if the allowlist allows it (a relative one resolved as the browser
// would); otherwise the browser is sent to Hera's error page, with the
// status and Kratos's cookies kept and the body that linked the refused
// address dropped. Other answers are untouched.
func TestProxyLocationChecked(t *testing.T) {
	rig := newRedirectRig(t, true)
	const page = "/api/kratos/self-service/login/browser"
	ask := func(status string, locs ...string) string {
		q := url.Values{"status": {status}, "loc": locs}
		return page + "?" + q.Encode()
	}
	for _, c := range []struct {
		name    string
		target  string
		status  int
		want    string // Location the browser gets
		refused bool
	}{
		{"allowed on Hera", ask("303", "http://hera.test/login?flow=1"), 303, "http://hera.test/login?flow=1", false},
		{"allowed application", ask("303", "https://app.example/dashboard/x?y=1"), 303, "https://app.example/dashboard/x?y=1", false},
		{"relative path on Hera", ask("303", "/login?flow=1"), 303, "/login?flow=1", false},
		{"path-relative, resolved against the request", ask("303", "../recovery/browser"), 303, "../recovery/browser", false},
		{"query-relative", ask("302", "?flow=1"), 302, "?flow=1", false},
		{"other host", ask("303", "https://evil.example/"), 303, refusedURL, true},
		{"dot segments", ask("303", "http://hera.test/account/../../evil"), 303, refusedURL, true},
		{"%2e%2e", ask("303", "http://hera.test/account/%2e%2e/evil"), 303, refusedURL, true},
		{"application without boundary", ask("303", "https://app.example/dashboard-evil"), 303, refusedURL, true},
		{"scheme-relative", ask("303", "//evil.example/x"), 303, refusedURL, true},
		{"backslash", ask("303", "/\\evil.example"), 303, refusedURL, true},
		{"javascript", ask("303", "javascript:alert(1)"), 303, refusedURL, true},
		{"307 kept", ask("307", "https://evil.example/"), 307, refusedURL, true},
		{"two Locations", ask("303", "http://hera.test/", "https://evil.example/"), 303, refusedURL, true},
	} {
		rig.logs.take()
		res, body := rig.get(t, c.target)
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, res.StatusCode, c.status)
		}
		if got := res.Header.Values("Location"); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: Location %q, want %q", c.name, got, c.want)
		}
		if n := len(res.Cookies()); n != 2 {
			t.Errorf("%s: %d cookies, want Kratos's 2", c.name, n)
		}
		logs := rig.logs.take()
		if c.refused {
			if body != "" || strings.Contains(body, "evil") {
				t.Errorf("%s: body %q, want none", c.name, body)
			}
			if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, `"msg":"kratos proxy refused a redirect"`) ||
				!strings.Contains(logs, `"path":"`+page+`"`) {
				t.Errorf("%s: log %q", c.name, logs)
			}
			if strings.Contains(logs, "evil") || strings.Contains(logs, "loc=") {
				t.Errorf("%s: the Location or query was logged: %s", c.name, logs)
			}
		} else {
			if !strings.Contains(body, "upstream-body") {
				t.Errorf("%s: body %q, want Kratos's", c.name, body)
			}
			if strings.Contains(logs, "refused") {
				t.Errorf("%s: logged a refusal: %s", c.name, logs)
			}
		}
	}

	// Answers that are not redirects are left alone, Location and all.
	for _, status := range []string{"200", "201", "400"} {
		res, body := rig.get(t, ask(status, "https://evil.example/"))
		if res.Header.Get("Location") != "https://evil.example/" || !strings.Contains(body, "upstream-body") {
			t.Errorf("%s: Location %q body %q, want them untouched", status, res.Header.Get("Location"), body)
		}
	}
	// A 304 carries no Location: nothing to check.
	res, _ := rig.get(t, page+"?status=304")
	if res.StatusCode != http.StatusNotModified || res.Header.Get("Location") != "" {
		t.Errorf("304: status %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestProxyWithoutRedirectCheck: with no CheckRedirect the proxy forwards
// return_to and passes Location on as it did.
func TestProxyWithoutRedirectCheck(t *testing.T) {
	rig := newRedirectRig(t, false)
	res, _ := rig.get(t, "/api/kratos/self-service/login/browser?"+rt("https://evil.example/")+"&status=303&loc="+url.QueryEscape("https://evil.example/"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://evil.example/" || rig.calls.Load() != 1 {
		t.Fatalf("status %d Location %q calls %d", res.StatusCode, res.Header.Get("Location"), rig.calls.Load())
	}
	_, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream: &url.URL{Scheme: "http", Host: "kratos"}, Prefix: "/api/kratos", Timeout: time.Second, MaxBody: 1,
		Logger: slog.New(slog.DiscardHandler), ClientIP: func(*http.Request) string { return "" },
		Submit: func(http.ResponseWriter, *http.Request, kratos.Kind) {}, Refuse: func(http.ResponseWriter, *http.Request) {},
		Fail:          func(http.ResponseWriter, *http.Request, int) {},
		CheckRedirect: func(string) bool { return true },
	})
	if err == nil {
		t.Fatal("CheckRedirect without RedirectRefused accepted")
	}
}
