package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
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

// backchannel records the logout tokens Hydra sends to a client's
// backchannel_logout_uri.
type backchannel struct {
	mu     sync.Mutex
	tokens []map[string]any // the tokens' claims
	srv    *httptest.Server
}

func newBackchannel(t *testing.T) *backchannel {
	bc := &backchannel{}
	bc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		bc.mu.Lock()
		bc.tokens = append(bc.tokens, jwtClaims(t, r.PostForm.Get("logout_token")))
		bc.mu.Unlock()
	}))
	t.Cleanup(bc.srv.Close)
	return bc
}

// sids are the sessions Hydra said were logged out.
func (bc *backchannel) sids() []string {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	var out []string
	for _, c := range bc.tokens {
		if s, _ := c["sid"].(string); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// waitSid waits for a logout token naming sid.
func (bc *backchannel) waitSid(t *testing.T, sid string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range bc.sids() {
			if s == sid {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no back-channel logout for sid %s (got %v)", sid, bc.sids())
}

func jwtClaims(t *testing.T, raw string) map[string]any {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Errorf("not a JWT: %q", raw)
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Error(err)
		return nil
	}
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	return c
}

// signIn runs the authorization-code flow for c in browser b, which is
// signed in to Hera already, allowing consent if asked, and returns the
// tokens and the ID token's claims.
func (c *rp) signIn(b *webtest.Browser) (*oauth2.Token, map[string]any) {
	c.t.Helper()
	p, verifier := c.start(b)
	if p.URL.Path == "/consent" {
		p = b.Submit(p.Form("decision", "allow"), "decision", "allow", map[string]string{"remember": "true"})
	}
	q := c.callback(p)
	tok, err := c.cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		c.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	claims := jwtClaims(c.t, raw)
	claims["_raw"] = raw
	return tok, claims
}

// refresh reports whether Hydra still honours the refresh token; on
// success *tok becomes the new token (Hydra rotates refresh tokens).
func (c *rp) refresh(tok *oauth2.Token) error {
	n, err := c.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err == nil {
		*tok = *n
	}
	return err
}

// promptNone asks for a code without any page: what an app's silent
// renewal does.
func (c *rp) promptNone(b *webtest.Browser) url.Values {
	c.t.Helper()
	p, _ := c.start(b, oauth2.SetAuthURLParam("prompt", "none"))
	return c.callback(p)
}

// kratosAdmin sends one admin API request.
func kratosAdmin(t *testing.T, e *heraEnv, method, path string, body any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.Kratos.AdminURL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSingleSignOut: signing out of Hera, or being signed out from another
// browser, or by an administrator, ends the apps' single sign-on; Hydra's
// remembered login is checked against Kratos, never trusted alone.
func TestSingleSignOut(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true}, "HERA_PRIVILEGED_SESSION_MAX_AGE=5s")
	bc := newBackchannel(t)
	app := newRP(t, e, "sso-app", map[string]any{"backchannel_logout_uri": bc.srv.URL + "/bc"})

	// newUser registers in a fresh browser, signs in to the app there, and
	// returns the browser, identity, tokens and the ID token's sid.
	newUser := func(t *testing.T, prefix string) (b *webtest.Browser, email, id string, tok *oauth2.Token, sid string) {
		t.Helper()
		email = newEmail(prefix)
		b = webtest.New(t, e.HeraURL)
		register(t, b, email, password)
		id = identityID(t, b, e)
		tok, claims := app.signIn(b)
		if claims["sub"] != id {
			t.Fatalf("sub %v, want %s", claims["sub"], id)
		}
		sid, _ = claims["sid"].(string)
		if sid == "" {
			t.Fatalf("ID token without sid: %v", claims)
		}
		// Hydra remembers the login: a silent renewal works.
		if q := app.promptNone(b); q.Get("code") == "" {
			t.Fatalf("prompt=none before sign-out: %v", q)
		}
		return b, email, id, tok, sid
	}

	t.Run("signing out of Hera ends the single sign-on", func(t *testing.T) {
		b, _, _, _, sid := newUser(t, "sso-out")
		logout(t, b)
		if b.Get("/").Contains("signed in as") {
			t.Fatal("still signed in to Hera")
		}
		bc.waitSid(t, sid) // Hydra told the app
		if q := app.promptNone(b); q.Get("error") != "login_required" {
			t.Errorf("prompt=none after sign-out: %v", q)
		}
		p, _ := app.start(b)
		mustPath(t, p, "/login")
	})

	t.Run("a session revoked from another browser must sign in again", func(t *testing.T) {
		b1, email, _, _, sid := newUser(t, "sso-revoke")
		b2 := webtest.New(t, e.HeraURL)
		login(t, b2, email, password)
		app.signIn(b2)
		p := b2.Get("/sessions")
		mustPath(t, p, "/sessions")
		var revoke *webtest.Form
		for _, f := range p.Forms() {
			if strings.HasSuffix(f.Action, "/revoke") && strings.HasPrefix(f.Action, "/sessions/") && !strings.Contains(f.Action, "others") {
				revoke = f
			}
		}
		if revoke == nil {
			t.Fatalf("no other session to revoke: %s", p.Text())
		}
		p = b2.SubmitAt(revoke, revoke.Action, nil)
		mustPath(t, p, "/sessions")
		bc.waitSid(t, sid)
		if q := app.promptNone(b1); q.Get("error") != "login_required" {
			t.Errorf("prompt=none in the revoked browser: %v", q)
		}
		p, _ = app.start(b1)
		mustPath(t, p, "/login")
		// The browser that revoked is still signed in to the app.
		if q := app.promptNone(b2); q.Get("code") == "" {
			t.Errorf("prompt=none in the browser that stayed: %v", q)
		}
	})

	t.Run("signing out the other sessions ends their single sign-on", func(t *testing.T) {
		b1, email, _, _, sid := newUser(t, "sso-others")
		b2 := webtest.New(t, e.HeraURL)
		login(t, b2, email, password)
		p := b2.Get("/sessions")
		f := p.FormByAction("/sessions/revoke-others")
		if f == nil {
			t.Fatalf("no sign-out-others form: %s", p.Text())
		}
		mustPath(t, b2.SubmitAt(f, f.Action, nil), "/sessions")
		bc.waitSid(t, sid)
		if q := app.promptNone(b1); q.Get("error") != "login_required" {
			t.Errorf("prompt=none in the signed-out browser: %v", q)
		}
	})

	t.Run("skip without a Kratos session is refused", func(t *testing.T) {
		// An administrator ends the sessions behind Hera's back: Hydra
		// still remembers the login.
		b, _, id, _, _ := newUser(t, "sso-admin")
		if st := kratosAdmin(t, e, http.MethodDelete, "/admin/identities/"+id+"/sessions", nil); st != http.StatusNoContent {
			t.Fatalf("revoke sessions: %d", st)
		}
		if q := app.promptNone(b); q.Get("error") != "login_required" {
			t.Errorf("prompt=none: %v", q)
		}
		p, _ := app.start(b)
		mustPath(t, p, "/login")
	})

	t.Run("skip with another account's Kratos session gives that account's tokens, not the remembered one's", func(t *testing.T) {
		b, _, idA, _, _ := newUser(t, "sso-switch-a")
		if st := kratosAdmin(t, e, http.MethodDelete, "/admin/identities/"+idA+"/sessions", nil); st != http.StatusNoContent {
			t.Fatalf("revoke sessions: %d", st)
		}
		emailB := newEmail("sso-switch-b")
		register(t, b, emailB, password)
		idB := identityID(t, b, e)
		_, claims := app.signIn(b)
		if claims["sub"] != idB {
			t.Fatalf("tokens for %v, want the signed-in %s (remembered: %s)", claims["sub"], idB, idA)
		}
	})

	t.Run("a deactivated identity gets no login and no refreshed tokens", func(t *testing.T) {
		b, _, id, tok, _ := newUser(t, "sso-inactive")
		if err := app.refresh(tok); err != nil {
			t.Fatalf("refresh while active: %v", err)
		}
		patch := []map[string]any{{"op": "replace", "path": "/state", "value": "inactive"}}
		if st := kratosAdmin(t, e, http.MethodPatch, "/admin/identities/"+id, patch); st != http.StatusOK {
			t.Fatalf("deactivate: %d", st)
		}
		err := app.refresh(tok)
		if err == nil || !strings.Contains(err.Error(), "access_denied") {
			t.Errorf("refresh of a deactivated identity: %v, want access_denied", err)
		}
		if q := app.promptNone(b); q.Get("error") != "login_required" {
			t.Errorf("prompt=none: %v", q)
		}
		p, _ := app.start(b)
		mustPath(t, p, "/login")
		patch[0]["value"] = "active"
		if st := kratosAdmin(t, e, http.MethodPatch, "/admin/identities/"+id, patch); st != http.StatusOK {
			t.Fatalf("reactivate: %d", st)
		}
		if err := app.refresh(tok); err != nil {
			t.Errorf("refresh after reactivation: %v", err)
		}
	})

	t.Run("the token hook wants Hydra's secret", func(t *testing.T) {
		body := `{"session":{"id_token":{"subject":"00000000-0000-0000-0000-000000000000"}},"request":{"grant_types":["refresh_token"]}}`
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + e.TokenHookSecret + "x"} {
			req, _ := http.NewRequest(http.MethodPost, e.HeraURL+"/oauth2/token-hook", strings.NewReader(body))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("auth %q: %d", auth, res.StatusCode)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, e.HeraURL+"/oauth2/token-hook", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.TokenHookSecret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("unknown identity: %d, want 403", res.StatusCode)
		}
	})
}

// TestLogoutChallengeBoundToBrowser: a logout_challenge is acted on only in
// the browser of the account it is for, so a link cannot sign a victim out
// of their session with someone else's challenge.
func TestLogoutChallengeBoundToBrowser(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true})
	// The client skips the confirmation: the riskiest path.
	app := newRP(t, e, "no-confirm", map[string]any{"skip_logout_consent": true})

	signedIn := func(prefix string) (*webtest.Browser, map[string]any) {
		b := webtest.New(t, e.HeraURL)
		register(t, b, newEmail(prefix), password)
		_, claims := app.signIn(b)
		return b, claims
	}
	// The attacker starts an RP-initiated logout of their own session and
	// stops at Hera's URL.
	attacker, claims := signedIn("attacker")
	attacker.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), e.HeraURL+"/logout") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	q := url.Values{"id_token_hint": {claims["_raw"].(string)}}
	p := attacker.Get(e.Hydra.PublicURL + "/oauth2/sessions/logout?" + q.Encode())
	loc := p.Header.Get("Location")
	if !strings.HasPrefix(loc, e.HeraURL+"/logout?logout_challenge=") {
		t.Fatalf("no logout challenge: %d %s", p.Status, loc)
	}
	attacker.Client.CheckRedirect = nil

	victim, _ := signedIn("victim")
	p = victim.Get(loc)
	if p.Status != http.StatusConflict || !p.Contains("for another account") {
		t.Errorf("victim opening the attacker's challenge: %d %s", p.Status, p.Text())
	}
	ch, _ := url.Parse(loc)
	for _, confirm := range []string{"yes", "no"} {
		p = victim.Post("/logout", url.Values{"logout_challenge": {ch.Query().Get("logout_challenge")}, "confirm": {confirm}})
		if p.Status != http.StatusConflict {
			t.Errorf("victim posting the attacker's challenge (confirm=%s): %d %s", confirm, p.Status, p.Text())
		}
	}
	if !victim.Get("/").Contains("signed in as") {
		t.Fatal("the victim was signed out")
	}
	if q := app.promptNone(victim); q.Get("code") == "" {
		t.Errorf("the victim's single sign-on ended: %v", q)
	}

	stranger := webtest.New(t, e.HeraURL)
	p = stranger.Get(loc)
	if p.Status != http.StatusOK || !p.Contains("You're signed out") {
		t.Errorf("a browser without a session: %d %s", p.Status, p.Text())
	}

	// The challenge still works for its own browser.
	p = attacker.Get(loc)
	if !strings.HasPrefix(p.URL.String(), e.HeraURL+"/") || attacker.Get("/").Contains("signed in as") {
		t.Errorf("own logout: at %s: %s", p.URL, p.Text())
	}
}

// TestConnectedApps: the user sees the apps they allowed and can remove
// one, whose refresh token then stops working.
func TestConnectedApps(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true})
	one := newRP(t, e, "app-one", map[string]any{"logo_uri": "https://app.example.com/logo.png"})
	two := newRP(t, e, "app-two", nil)
	b := webtest.New(t, e.HeraURL)

	p := b.Get("/apps")
	mustPath(t, p, "/login") // signed out: sign in first

	register(t, b, newEmail("apps"), password)
	p = b.Get("/apps")
	mustPath(t, p, "/apps")
	if !p.Contains("No app has access") {
		t.Errorf("empty list: %s", p.Text())
	}
	if !b.Get("/").Contains("Connected apps") {
		t.Error("welcome page does not link the connected apps")
	}
	tokOne, _ := one.signIn(b)
	tokTwo, _ := two.signIn(b)

	p = b.Get("/apps")
	for _, want := range []string{"App app-one", "App app-two", "See your email address", "Remove access"} {
		if !p.Contains(want) {
			t.Errorf("apps page lacks %q: %s", want, p.Text())
		}
	}
	if !strings.Contains(p.Body, `src="https://app.example.com/logo.png"`) {
		t.Error("logo not shown")
	}

	// A cross-site form post is refused.
	req, _ := http.NewRequest(http.MethodPost, e.HeraURL+"/apps/remove", strings.NewReader("client_id=app-one"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := b.Do(req); p.Status != http.StatusForbidden {
		t.Errorf("cross-site removal: %d", p.Status)
	}
	if err := one.refresh(tokOne); err != nil {
		t.Fatalf("refresh before removal: %v", err)
	}

	var remove *webtest.Form
	for _, f := range p.Forms() {
		if f.Action == "/apps/remove" && f.Fields.Get("client_id") == "app-one" {
			remove = f
		}
	}
	if remove == nil {
		t.Fatalf("no remove form for app-one: %s", p.Text())
	}
	p = b.SubmitAt(remove, remove.Action, nil)
	mustPath(t, p, "/apps")
	if !p.Contains("access was removed") || p.Contains("App app-one") || !p.Contains("App app-two") {
		t.Errorf("after removal: %s", p.Text())
	}
	if err := one.refresh(tokOne); err == nil {
		t.Error("the removed app's refresh token still works")
	}
	if err := two.refresh(tokTwo); err != nil {
		t.Errorf("the other app's refresh token: %v", err)
	}
	// The removed app must ask again.
	p, _ = one.start(b)
	mustPath(t, p, "/consent")
}

// TestDeleteAccount: deletion needs a recent sign-in and a typed
// confirmation, removes the identity and every app's tokens, and a second
// attempt gets a clear page.
func TestDeleteAccount(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true}, "HERA_PRIVILEGED_SESSION_MAX_AGE=4s")
	app := newRP(t, e, "doomed-app", nil)
	b := webtest.New(t, e.HeraURL)
	email := newEmail("delete")
	register(t, b, email, password)
	id := identityID(t, b, e)
	tok, _ := app.signIn(b)

	p := b.Get("/settings")
	if !p.Contains("Delete my account") || !p.Contains("Connected apps") {
		t.Errorf("settings page lacks the account links: %s", p.Text())
	}
	p = b.Get("/settings/delete")
	mustPath(t, p, "/settings/delete")
	f := p.FormByAction("/settings/delete")
	if f == nil {
		t.Fatalf("no deletion form: %s", p.Text())
	}
	// A wrong confirmation deletes nothing.
	p = b.SubmitAt(f, f.Action, map[string]string{"confirm": "yes please"})
	if p.Status != http.StatusBadRequest || !p.Contains("Nothing was deleted") {
		t.Errorf("wrong confirmation: %d %s", p.Status, p.Text())
	}
	if st := kratosAdmin(t, e, http.MethodGet, "/admin/identities/"+id, nil); st != http.StatusOK {
		t.Fatalf("identity after a wrong confirmation: %d", st)
	}
	// Another site cannot post the deletion for the user.
	req, _ := http.NewRequest(http.MethodPost, e.HeraURL+"/settings/delete", strings.NewReader("confirm=delete"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	if p := b.Do(req); p.Status != http.StatusForbidden {
		t.Errorf("cross-site deletion: %d", p.Status)
	}
	if st := kratosAdmin(t, e, http.MethodGet, "/admin/identities/"+id, nil); st != http.StatusOK {
		t.Fatalf("identity after a cross-site post: %d", st)
	}

	// An old sign-in must be confirmed first.
	time.Sleep(5 * time.Second)
	p = b.Get("/settings/delete")
	mustPath(t, p, "/login")
	if !p.Contains("Confirm it's you") {
		t.Fatalf("not a re-authentication: %s", p.Text())
	}
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	mustPath(t, p, "/settings/delete")

	p = b.SubmitAt(p.FormByAction("/settings/delete"), "/settings/delete", map[string]string{"confirm": " Delete "})
	mustPath(t, p, "/goodbye")
	if !p.Contains("Your account was deleted") {
		t.Errorf("goodbye page: %s", p.Text())
	}
	if st := kratosAdmin(t, e, http.MethodGet, "/admin/identities/"+id, nil); st != http.StatusNotFound {
		t.Errorf("identity after deletion: %d", st)
	}
	if err := app.refresh(tok); err == nil {
		t.Error("the app's refresh token survived the deletion")
	}
	if !strings.Contains(e.logs.String(), `"audit":"account_deleted"`) || strings.Contains(e.logs.String(), `"msg":"account deleted","audit":"account_deleted","id"`) {
		t.Error("no audit line")
	}
	if strings.Contains(e.logs.String(), email) {
		t.Error("the log names the deleted user")
	}

	// A second attempt (another tab, the back button) gets a clear page.
	p = b.Post("/settings/delete", url.Values{"confirm": {"delete"}})
	if p.Status != http.StatusUnauthorized || !p.Contains("You're not signed in") {
		t.Errorf("second deletion: %d %s", p.Status, p.Text())
	}
	// The deleted account cannot sign in.
	p = login(t, b, email, password)
	if !p.Contains("credentials are invalid") {
		t.Errorf("sign-in after deletion: %s", p.Text())
	}
}
