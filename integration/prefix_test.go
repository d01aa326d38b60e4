package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// ownURLs returns every link, form action, script and style sheet of a
// page that points at the page's own host, as paths.
func ownURLs(p *webtest.Page) []string {
	var out []string
	for _, n := range p.Find(func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		for _, a := range n.Attr {
			switch a.Key {
			case "href", "action", "src", "formaction":
			default:
				continue
			}
			u, err := p.URL.Parse(a.Val)
			if err != nil || a.Val == "" || strings.HasPrefix(a.Val, "#") || strings.HasPrefix(a.Val, "data:") || u.Host != p.URL.Host {
				continue
			}
			out = append(out, u.Path)
		}
	}
	return out
}

// TestPathPrefix serves Hera under /auth (HERA_PUBLIC_URL=http://…/auth,
// Kratos and Hydra configured with it): sign-up, sign-in, settings, the
// language switcher, sign-out and an OAuth2 sign-in all stay below /auth,
// and so do every link, form and cookie on the way.
func TestPathPrefix(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true, PathPrefix: "/auth"})
	if !strings.HasSuffix(e.HeraURL, "/auth") {
		t.Fatalf("HeraURL %s", e.HeraURL)
	}
	root := strings.TrimSuffix(e.HeraURL, "/auth")
	b := webtest.New(t, e.HeraURL)
	under := func(p *webtest.Page, path string) {
		t.Helper()
		if p.URL.Path != "/auth"+path || p.Status != http.StatusOK {
			t.Fatalf("at %s (status %d), want /auth%s\nalerts: %v\n%s", p.URL, p.Status, path, p.Alerts(), p.Text())
		}
		for _, u := range ownURLs(p) {
			if !strings.HasPrefix(u, "/auth/") {
				t.Errorf("%s links to %s, outside /auth/", p.URL.Path, u)
			}
		}
	}
	email := newEmail("prefix")

	p := b.Get("/registration")
	under(p, "/registration")
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{
		"traits.email": email, "traits.name.first": "Ada", "traits.name.last": "Lovelace",
	})
	under(p, "/registration")
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": password})
	under(p, "/verification")

	p = b.Get("/")
	under(p, "/")
	if !p.Contains(email) {
		t.Fatalf("not signed in: %s", p.Text())
	}
	p = b.Get("/settings")
	under(p, "/settings")
	p = b.Get("/sessions")
	under(p, "/sessions")

	// A second session, from another browser: /sessions lists it with its
	// own revoke form, whose action stays below /auth too (under checks
	// every form), and revoking it there ends it.
	other := webtest.New(t, e.HeraURL)
	op := other.Get("/login")
	under(op, "/login")
	op = other.Submit(op.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	under(op, "/")
	p = b.Get("/sessions")
	under(p, "/sessions")
	var revoke *webtest.Form
	for _, f := range p.Forms() {
		if strings.HasSuffix(f.Action, "/revoke") {
			revoke = f
		}
	}
	if revoke == nil {
		t.Fatalf("/sessions shows no revoke form for the other session:\n%s", p.Text())
	}
	p = b.Submit(revoke, "", "", nil)
	under(p, "/sessions")
	if !p.Contains("The session was signed out.") || !p.Contains("No other active sessions.") {
		t.Errorf("after revoking the other session: %s", p.Text())
	}
	if op = other.Get("/"); op.Contains(email) {
		t.Errorf("the revoked session is still signed in: %s", op.Text())
	}

	// The language switcher comes back to the page, below /auth.
	p = b.Get("/language?lang=de&next=" + url.QueryEscape("/sessions"))
	under(p, "/sessions")
	if !p.Contains("Aktive Sitzungen") {
		t.Errorf("language not switched: %s", p.Text())
	}
	b.Get("/language?lang=en&next=/")

	// Hera's own cookies are scoped to /auth.
	base, _ := url.Parse(e.HeraURL + "/")
	for _, c := range b.Jar.Cookies(base) {
		if strings.HasPrefix(c.Name, "hera_") {
			if other, _ := url.Parse(root + "/elsewhere"); len(b.Jar.Cookies(other)) > 0 {
				for _, o := range b.Jar.Cookies(other) {
					if o.Name == c.Name {
						t.Errorf("cookie %s is sent outside /auth", c.Name)
					}
				}
			}
		}
	}

	p = b.Get("/logout")
	under(p, "/logout")
	p = b.Submit(p.Form("confirm", "yes"), "confirm", "yes", nil)
	under(p, "/login")
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	under(p, "/")

	// Outside the prefix: nothing of Hera's but the health checks.
	for path, want := range map[string]int{
		"/health/alive":      http.StatusOK,
		"/auth/health/alive": http.StatusOK,
		"/login":             http.StatusNotFound,
		// The proxy's refusals hold below the prefix too.
		"/auth/api/kratos/admin/identities":        http.StatusNotFound,
		"/auth/api/kratos/%2e%2e/admin/identities": http.StatusNotFound,
		"/auth/api/kratos/sessions/whoami":         http.StatusUnauthorized,
		"/api/kratos/sessions/whoami":              http.StatusNotFound,
	} {
		res, err := http.Get(root + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(root + "/auth")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/auth/" {
		t.Errorf("GET /auth: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}

	t.Run("OAuth2 sign-in under the prefix", func(t *testing.T) {
		app := newRP(t, e, "app", nil)
		b := webtest.New(t, e.HeraURL)
		p, verifier := app.start(b, oauth2.SetAuthURLParam("login_hint", email))
		under(p, "/login")
		p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": password})
		under(p, "/consent")
		p = b.Submit(p.Form("decision", "allow"), "decision", "allow", nil)
		if claims := app.exchange(app.callback(p), verifier); claims["email"] != email {
			t.Errorf("claims %v", claims)
		}
	})
}
