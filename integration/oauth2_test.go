package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
	"golang.org/x/oauth2"
)

// rp is a relying party: an OAuth2 client registered in Hydra with its
// callback served locally.
type rp struct {
	t      *testing.T
	cfg    oauth2.Config
	hydra  string
	mu     sync.Mutex
	got    []url.Values // callback queries
	server *httptest.Server
}

func newRP(t *testing.T, e *heraEnv, id string, extra map[string]any) *rp {
	t.Helper()
	c := &rp{t: t, hydra: e.Hydra.PublicURL}
	c.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.got = append(c.got, r.URL.Query())
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("callback " + r.URL.Path))
	}))
	t.Cleanup(c.server.Close)
	e.CreateClient(t, id, c.server.URL+"/callback", extra)
	c.cfg = oauth2.Config{
		ClientID: id, ClientSecret: "secret-" + id,
		Endpoint: oauth2.Endpoint{AuthURL: c.hydra + "/oauth2/auth", TokenURL: c.hydra + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: c.server.URL + "/callback",
		Scopes:      []string{"openid", "offline_access", "email", "profile"},
	}
	return c
}

// start begins an authorization-code request with PKCE and returns the page
// the browser lands on, and the verifier.
func (c *rp) start(b *webtest.Browser, params ...oauth2.AuthCodeOption) (*webtest.Page, string) {
	c.t.Helper()
	verifier := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, params...)
	return b.Get(c.cfg.AuthCodeURL("state-1234567890", opts...)), verifier
}

// callback returns the query the client received last, or fails.
func (c *rp) callback(p *webtest.Page) url.Values {
	c.t.Helper()
	if !strings.HasPrefix(p.URL.String(), c.server.URL+"/callback") {
		c.t.Fatalf("not at the client's callback but %s (status %d): %s", p.URL, p.Status, p.Text())
	}
	return p.URL.Query()
}

// exchange trades the code for tokens and returns the ID token's claims.
func (c *rp) exchange(q url.Values, verifier string) map[string]any {
	c.t.Helper()
	if q.Get("state") != "state-1234567890" {
		c.t.Fatalf("state %q", q.Get("state"))
	}
	tok, err := c.cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		c.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		c.t.Fatalf("id_token %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		c.t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		c.t.Fatal(err)
	}
	claims["_raw"] = raw
	return claims
}

func identityID(t *testing.T, b *webtest.Browser, e *heraEnv) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.Kratos.PublicURL+"/sessions/whoami", nil)
	u, _ := url.Parse(e.HeraURL)
	for _, c := range b.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s struct {
		Identity struct{ ID string } `json:"identity"`
	}
	_ = json.NewDecoder(res.Body).Decode(&s)
	if s.Identity.ID == "" {
		t.Fatalf("no session (%d)", res.StatusCode)
	}
	return s.Identity.ID
}

func TestOAuth2(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true}, "HERA_OAUTH2_TRUSTED_CLIENTS=trusted-app")
	app := newRP(t, e, "app", nil)

	// A user with an account, signed out.
	email := newEmail("oauth")
	b := webtest.New(t, e.HeraURL)
	register(t, b, email, password)
	sub := identityID(t, b, e)
	logout(t, b)

	t.Run("authorization code: login, consent, tokens", func(t *testing.T) {
		p, verifier := app.start(b, oauth2.SetAuthURLParam("login_hint", email))
		mustPath(t, p, "/login")
		if !p.Contains("to continue to App app") {
			t.Errorf("login page does not name the client: %s", p.Text())
		}
		f := p.Form("method", "password")
		if f.Fields.Get("identifier") != email {
			t.Errorf("login_hint not pre-filled: %q", f.Fields.Get("identifier"))
		}
		p = b.Submit(f, "method", "password", map[string]string{"password": password})
		mustPath(t, p, "/consent")
		for _, want := range []string{"App app", "See your email address", "See your name", "Privacy policy", "Remember my decision"} {
			if !p.Contains(want) {
				t.Errorf("consent page lacks %q: %s", want, p.Text())
			}
		}
		p = b.Submit(p.Form("decision", "allow"), "decision", "allow", nil)
		claims := app.exchange(app.callback(p), verifier)
		if claims["sub"] != sub {
			t.Errorf("sub %v, want %s", claims["sub"], sub)
		}
		if claims["email"] != email || claims["email_verified"] != false || claims["name"] != "Ada Lovelace" ||
			claims["given_name"] != "Ada" || claims["family_name"] != "Lovelace" {
			t.Errorf("claims %v", claims)
		}
		amr, _ := claims["amr"].([]any)
		if len(amr) == 0 || amr[0] != "pwd" {
			t.Errorf("amr %v", claims["amr"])
		}
	})

	t.Run("remembered login and consent skip both screens", func(t *testing.T) {
		p, verifier := app.start(b)
		claims := app.exchange(app.callback(p), verifier)
		if claims["sub"] != sub || claims["email"] != email {
			t.Errorf("claims %v", claims)
		}
	})

	t.Run("unticked scope is not granted", func(t *testing.T) {
		other := newRP(t, e, "picky", nil)
		p, verifier := other.start(b)
		mustPath(t, p, "/consent")
		f := p.Form("decision", "allow")
		f.Fields.Del("scope")
		f.Fields.Add("scope", "email")
		f.Fields.Add("scope", "admin") // never requested: ignored
		p = b.Submit(f, "decision", "allow", nil)
		claims := other.exchange(other.callback(p), verifier)
		if claims["email"] != email || claims["name"] != nil {
			t.Errorf("claims %v: want email only", claims)
		}
	})

	t.Run("trusted client skips consent", func(t *testing.T) {
		trusted := newRP(t, e, "trusted-app", nil)
		p, verifier := trusted.start(b)
		claims := trusted.exchange(trusted.callback(p), verifier)
		if claims["sub"] != sub {
			t.Errorf("claims %v", claims)
		}
	})

	t.Run("client with skip_consent skips consent", func(t *testing.T) {
		first := newRP(t, e, "first-party", map[string]any{"skip_consent": true})
		p, _ := first.start(b)
		if q := first.callback(p); q.Get("code") == "" {
			t.Errorf("no code: %v", q)
		}
	})

	t.Run("deny gives access_denied", func(t *testing.T) {
		denied := newRP(t, e, "denied", nil)
		p, _ := denied.start(b)
		mustPath(t, p, "/consent")
		p = b.Submit(p.Form("decision", "deny"), "decision", "deny", nil)
		if q := denied.callback(p); q.Get("error") != "access_denied" {
			t.Errorf("callback %v", q)
		}
	})

	t.Run("prompt=login forces re-authentication", func(t *testing.T) {
		p, verifier := app.start(b, oauth2.SetAuthURLParam("prompt", "login"))
		mustPath(t, p, "/login")
		if !p.Contains("Confirm it's you") {
			t.Fatalf("not a re-authentication: %s", p.Text())
		}
		p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
		claims := app.exchange(app.callback(p), verifier)
		if claims["sub"] != sub {
			t.Errorf("claims %v", claims)
		}
	})

	t.Run("max_age honoured", func(t *testing.T) {
		time.Sleep(2 * time.Second)
		p, _ := app.start(b, oauth2.SetAuthURLParam("max_age", "1"))
		mustPath(t, p, "/login")
		p, _ = app.start(b, oauth2.SetAuthURLParam("max_age", "3600"))
		app.callback(p)
	})

	t.Run("ui_locales picks the language, before the user's own choice", func(t *testing.T) {
		nb := webtest.New(t, e.HeraURL)
		// The switcher remembers French…
		p := nb.Get("/language?lang=fr&next=" + url.QueryEscape("/login"))
		if !strings.Contains(p.Body, `<html lang="fr"`) {
			t.Fatalf("switcher: %s", p.Text())
		}
		// …but the OAuth2 request asks for German.
		p, _ = app.start(nb, oauth2.SetAuthURLParam("ui_locales", "de-CH de"))
		mustPath(t, p, "/login")
		if !strings.Contains(p.Body, `<html lang="de"`) || !p.Contains("Anmelden") {
			t.Fatalf("not German: %s", p.Text())
		}
	})

	t.Run("prompt=none without a session gives login_required", func(t *testing.T) {
		stranger := webtest.New(t, e.HeraURL)
		p, _ := app.start(stranger, oauth2.SetAuthURLParam("prompt", "none"))
		if q := app.callback(p); q.Get("error") != "login_required" {
			t.Errorf("callback %v", q)
		}
	})

	t.Run("a login that detours through registration returns to the OAuth2 flow", func(t *testing.T) {
		nb := webtest.New(t, e.HeraURL)
		p, verifier := app.start(nb)
		mustPath(t, p, "/login")
		var signup string
		for _, a := range p.Find(func(n *htmlNode) bool {
			return n.Data == "a" && strings.Contains(webtest.TextOf(n), "Create an account")
		}) {
			signup = webtest.Attr(a, "href")
		}
		if signup == "" {
			t.Fatal("no sign-up link")
		}
		p = nb.Get(signup)
		mustPath(t, p, "/registration")
		if !p.Contains("App app") {
			t.Errorf("registration page does not name the client: %s", p.Text())
		}
		newcomer := newEmail("detour")
		p = nb.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{"traits.email": newcomer})
		p = nb.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": password})
		// Kratos shows verification first; its Continue leads back.
		mustPath(t, p, "/verification")
		code := e.WaitCode(t, 0, newcomer, "verification")
		p = nb.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
		var cont string
		for _, a := range p.Find(func(n *htmlNode) bool { return n.Data == "a" }) {
			if strings.Contains(webtest.Attr(a, "href"), "login_challenge") {
				cont = webtest.Attr(a, "href")
			}
		}
		if cont == "" {
			t.Fatalf("verification done page has no way back to the OAuth2 flow: %s", p.Text())
		}
		p = nb.Get(cont)
		mustPath(t, p, "/consent")
		p = nb.Submit(p.Form("decision", "allow"), "decision", "allow", nil)
		claims := app.exchange(app.callback(p), verifier)
		if claims["email"] != newcomer {
			t.Errorf("claims %v", claims)
		}
	})

	t.Run("RP-initiated logout ends Hydra and Kratos sessions", func(t *testing.T) {
		p, verifier := app.start(b)
		claims := app.exchange(app.callback(p), verifier)
		q := url.Values{"id_token_hint": {claims["_raw"].(string)}, "post_logout_redirect_uri": {app.server.URL + "/logged-out"}, "state": {"bye-12345678"}}
		p = b.Get(e.Hydra.PublicURL + "/oauth2/sessions/logout?" + q.Encode())
		mustPath(t, p, "/logout")
		if !p.Contains("App app") {
			t.Errorf("logout page does not name the client: %s", p.Text())
		}
		p = b.Submit(p.Form("confirm", "yes"), "confirm", "yes", nil)
		if !strings.HasPrefix(p.URL.String(), app.server.URL+"/logged-out") {
			t.Fatalf("after logout at %s: %s", p.URL, p.Text())
		}
		if b.Get("/").Contains(email) {
			t.Error("Kratos session survived")
		}
		p, _ = app.start(b)
		mustPath(t, p, "/login") // Hydra forgot the login too
	})
}

// TestOAuth2HydraDown: Hydra unreachable gives the generic error page with
// the request ID, not a hang or a stack trace.
func TestOAuth2HydraDown(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true})
	if err := e.Hydra.Stop(); err != nil {
		t.Fatal(err)
	}
	b := webtest.New(t, e.HeraURL)
	p := b.Get("/login?login_challenge=abc")
	if id := p.Header.Get("X-Request-Id"); p.Status != http.StatusBadGateway || id == "" || !p.Contains("quote request ID "+id) {
		t.Fatalf("status %d: %s", p.Status, p.Text())
	}
	p = b.Get("/oauth2/error?error=invalid_client&error_description=x")
	if p.Status != http.StatusBadRequest || !p.Contains("not registered correctly") {
		t.Fatalf("error page %d: %s", p.Status, p.Text())
	}
}
