package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// TestProxyReturnToAgainstKratos: Kratos checks return_to by raw prefix, so
// with Hera's URL on its allowlist it accepts Hera's URL followed by
// "/../../evil". Through Hera's /api/kratos/ proxy the same request is
// refused before Kratos sees it, on flow creation and on logout, while an
// allowed return_to still gets Kratos's redirect. A redirect Kratos answers
// to an address Hera does not allow (here Kratos's logout
// after.default_browser_return_url) is replaced by Hera's error page, and
// the logout still happens.
func TestProxyReturnToAgainstKratos(t *testing.T) {
	const elsewhere = "http://elsewhere.invalid/bye"
	e := startHera(t, stacktest.Options{
		KratosEnv: []string{"SELFSERVICE_FLOWS_LOGOUT_AFTER_DEFAULT_BROWSER_RETURN_URL=" + elsewhere},
	})
	attack := e.HeraURL + "/account/../../evil"
	noFollow := &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(t *testing.T, c *http.Client, target, accept string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", accept)
		res, err := c.Do(req)
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
	loginFlow := e.HeraURL + "/login?flow="

	t.Run("Kratos alone accepts the dot segments", func(t *testing.T) {
		res, body := get(t, noFollow, e.Kratos.PublicURL+"/self-service/login/browser?return_to="+url.QueryEscape(attack), "text/html")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), loginFlow) {
			t.Fatalf("Kratos answered %d Location %q, want its 303 to a login flow (its prefix check passes %q)\n%s",
				res.StatusCode, res.Header.Get("Location"), attack, body)
		}
	})

	t.Run("Hera refuses them before Kratos", func(t *testing.T) {
		for _, path := range []string{"/api/kratos/self-service/login/browser", "/api/kratos/self-service/registration/browser", "/api/kratos/self-service/login/api"} {
			res, body := get(t, noFollow, e.HeraURL+path+"?return_to="+url.QueryEscape(attack), "text/html")
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
				t.Fatalf("%s: %d Location %q, want Hera's 400", path, res.StatusCode, res.Header.Get("Location"))
			}
			if strings.HasSuffix(path, "/api") {
				// An API flow's endpoint answers JSON, as Kratos's does,
				// whatever Accept says: Kratos's error shape, Hera's id.
				if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
					!strings.Contains(body, `"id":"hera_bad_request"`) || !strings.Contains(body, `"code":400`) ||
					res.Header.Get("X-Request-Id") == "" {
					t.Fatalf("%s: not Hera's JSON error: %s %s", path, res.Header.Get("Content-Type"), body)
				}
				continue
			}
			if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Something went wrong") ||
				res.Header.Get("X-Request-Id") == "" {
				t.Fatalf("%s: not Hera's error page: %s %s", path, res.Header.Get("Content-Type"), body)
			}
		}
		logs := e.logs.String()
		if !strings.Contains(logs, `"msg":"kratos proxy refused a return_to"`) {
			t.Fatal("refusal not logged")
		}
		if strings.Contains(logs, "evil") {
			t.Fatal("the refused return_to was logged")
		}
	})

	t.Run("an allowed return_to still reaches Kratos", func(t *testing.T) {
		res, body := get(t, noFollow, e.HeraURL+"/api/kratos/self-service/login/browser?return_to="+url.QueryEscape(e.HeraURL+"/settings"), "text/html")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), loginFlow) {
			t.Fatalf("%d Location %q, want Kratos's 303 to a login flow\n%s", res.StatusCode, res.Header.Get("Location"), body)
		}
	})

	signedIn := func(t *testing.T, b *webtest.Browser) bool {
		t.Helper()
		res, _ := get(t, b.Client, e.HeraURL+"/api/kratos/sessions/whoami", "application/json")
		return res.StatusCode == http.StatusOK
	}
	logoutURL := func(t *testing.T, b *webtest.Browser) string {
		t.Helper()
		res, body := get(t, b.Client, e.HeraURL+"/api/kratos/self-service/logout/browser", "application/json")
		var lf struct {
			LogoutURL string `json:"logout_url"`
		}
		if err := json.Unmarshal([]byte(body), &lf); err != nil || res.StatusCode != http.StatusOK ||
			!strings.HasPrefix(lf.LogoutURL, e.HeraURL+"/api/kratos/self-service/logout?token=") {
			t.Fatalf("logout flow: %d %s (%v)", res.StatusCode, body, err)
		}
		return lf.LogoutURL
	}

	t.Run("logout with a refused return_to", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		register(t, b, newEmail("proxy-rt"), password)
		if !signedIn(t, b) {
			t.Fatal("not signed in after registration")
		}
		p := b.Get("/api/kratos/self-service/logout/browser?return_to=" + url.QueryEscape(attack))
		if p.Status != http.StatusBadRequest || len(b.Hops) != 0 {
			t.Fatalf("logout/browser: %d at %s, want Hera's 400", p.Status, p.URL)
		}
		lo := logoutURL(t, b)
		p = b.Get(lo + "&return_to=" + url.QueryEscape(attack))
		if p.Status != http.StatusBadRequest || len(b.Hops) != 0 {
			t.Fatalf("logout: %d at %s, want Hera's 400", p.Status, p.URL)
		}
		if !signedIn(t, b) {
			t.Fatal("signed out although the logout was refused")
		}

		// Without return_to Kratos sends the browser to its logout
		// default, which is not on Hera's allowlist: Hera's error page
		// instead, and Kratos's cookie still ends the session.
		p = b.Get(lo)
		if p.URL.String() != e.HeraURL+"/error?reason=redirect" || p.Status != http.StatusBadRequest ||
			!p.Contains("We could not send you on") {
			t.Fatalf("logout: at %s (%d), hops %v, want Hera's redirect error page\n%s", p.URL, p.Status, b.Hops, p.Text())
		}
		if signedIn(t, b) {
			t.Fatal("still signed in: Kratos's cookie was lost")
		}
		if !strings.Contains(e.logs.String(), `"msg":"kratos proxy refused a redirect"`) || strings.Contains(e.logs.String(), "elsewhere") {
			t.Fatal("the refused redirect was not logged, or logged with its address")
		}
	})

	t.Run("logout with an allowed return_to", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		register(t, b, newEmail("proxy-rt-ok"), password)
		lo := logoutURL(t, b)
		res, _ := get(t, noFollowJar(b), lo+"&return_to="+url.QueryEscape(e.HeraURL+"/login"), "text/html")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != e.HeraURL+"/login" {
			t.Fatalf("%d Location %q, want Kratos's 303 to the return_to", res.StatusCode, res.Header.Get("Location"))
		}
		if signedIn(t, b) {
			t.Fatal("still signed in")
		}
	})
}

// noFollowJar is b's cookie jar in a client that does not follow redirects.
func noFollowJar(b *webtest.Browser) *http.Client {
	return &http.Client{
		Jar:           b.Jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
