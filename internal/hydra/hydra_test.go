//go:build integration

package hydra_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/hydra"
)

// TestAgainstHydra drives real Hydra v2.3 through the admin client, playing
// the browser, the relying party and the login/consent UI.
func TestAgainstHydra(t *testing.T) {
	w := startWorld(t)
	ctx := context.Background()
	rp := w.rp

	t.Run("Ready", func(t *testing.T) {
		if err := w.hydra.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("GetClient", func(t *testing.T) {
		cl, err := w.hydra.GetClient(ctx, rp.id)
		if err != nil {
			t.Fatal(err)
		}
		if cl.ClientID != rp.id || cl.ClientName != "Example App" || !slices.Contains(cl.RedirectURIs, rp.redirectURI) {
			t.Errorf("client = %+v", cl)
		}
		if _, err := w.hydra.GetClient(ctx, "no-such-client"); !hydra.IsNotFound(err) || hydra.IsUnavailable(err) {
			t.Errorf("unknown client: %v", err)
		}
	})

	t.Run("LoginConsentCode", func(t *testing.T) {
		b := newBrowser(t)
		ar, loc := rp.authorize(b, url.Values{
			"login_hint":  {"alice@example.com"},
			"ui_locales":  {"de-CH de en"},
			"prompt":      {"login consent"},
			"max_age":     {"300"},
			"acr_values":  {"aal2 aal1"},
			"display":     {"popup"},
			"audience":    {rp.audience},
			"extra_param": {"kept"},
		})
		lc := rp.challenge(t, loc, "/login", "login_challenge")

		lr, err := w.hydra.GetLoginRequest(ctx, lc)
		if err != nil {
			t.Fatal(err)
		}
		if lr.Challenge != lc || lr.Skip || lr.Subject != "" || lr.SessionID == "" {
			t.Errorf("challenge/skip/subject/session_id = %q %v %q %q", lr.Challenge, lr.Skip, lr.Subject, lr.SessionID)
		}
		c := lr.Client
		if c == nil || c.ClientID != rp.id || c.ClientName != "Example App" || c.DisplayName() != "Example App" ||
			c.LogoURI != "https://app.example.com/logo.png" || c.PolicyURI != "https://app.example.com/privacy" ||
			c.TosURI != "https://app.example.com/terms" || c.ClientURI != "https://app.example.com" || c.SkipConsent {
			t.Errorf("client = %+v", c)
		}
		var md map[string]any
		if err := json.Unmarshal(c.Metadata, &md); err != nil || md["first_party"] != true {
			t.Errorf("metadata = %s (%v)", c.Metadata, err)
		}
		if !slices.Equal(lr.RequestedScope, []string{"openid", "offline_access", "email"}) {
			t.Errorf("requested_scope = %q", lr.RequestedScope)
		}
		if !slices.Equal(lr.RequestedAccessTokenAudience, []string{rp.audience}) {
			t.Errorf("requested_access_token_audience = %q", lr.RequestedAccessTokenAudience)
		}
		oc := lr.OIDCContext
		if oc == nil || oc.LoginHint != "alice@example.com" || lr.LoginHint() != "alice@example.com" ||
			!slices.Equal(oc.UILocales, []string{"de-CH", "de", "en"}) || !slices.Equal(lr.UILocales(), oc.UILocales) ||
			!slices.Equal(oc.ACRValues, []string{"aal2", "aal1"}) || oc.Display != "popup" {
			t.Errorf("oidc_context = %+v", oc)
		}
		if !strings.HasPrefix(lr.RequestURL, rp.public+"/oauth2/auth?") {
			t.Errorf("request_url = %q", lr.RequestURL)
		}
		if !slices.Equal(lr.Prompt(), []string{"login", "consent"}) || !lr.HasPrompt("login") || lr.HasPrompt("none") {
			t.Errorf("Prompt = %q", lr.Prompt())
		}
		if d, ok := lr.MaxAge(); !ok || d != 5*time.Minute {
			t.Errorf("MaxAge = %v, %v", d, ok)
		}
		if lr.AuthParams().Get("extra_param") != "kept" || lr.AuthParams().Get("state") != ar.state {
			t.Errorf("AuthParams = %v", lr.AuthParams())
		}

		next, err := w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{
			Subject:                   "user-1",
			ACR:                       "aal1",
			AMR:                       []string{"pwd"},
			IdentityProviderSessionID: "kratos-session-1",
			Context:                   map[string]any{"from": "login"},
		})
		if err != nil {
			t.Fatal(err)
		}
		nu, _ := url.Parse(next)
		if !strings.HasPrefix(next, rp.public+"/oauth2/auth?") || nu.Query().Get("login_verifier") == "" {
			t.Errorf("accept login redirect_to = %q", next)
		}

		cc := rp.challenge(t, b.redirect(next), "/consent", "consent_challenge")
		cr, err := w.hydra.GetConsentRequest(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		if cr.Challenge != cc || cr.Skip || cr.Subject != "user-1" || cr.Client == nil || cr.Client.ClientID != rp.id {
			t.Errorf("consent request = %+v", cr)
		}
		if !slices.Equal(cr.RequestedScope, lr.RequestedScope) || !slices.Equal(cr.RequestedAccessTokenAudience, []string{rp.audience}) {
			t.Errorf("consent scope/audience = %q %q", cr.RequestedScope, cr.RequestedAccessTokenAudience)
		}
		if cr.LoginSessionID != lr.SessionID || cr.ACR != "aal1" || !slices.Equal(cr.AMR, []string{"pwd"}) {
			t.Errorf("login_session_id/acr/amr = %q %q %q", cr.LoginSessionID, cr.ACR, cr.AMR)
		}
		if cr.OIDCContext == nil || cr.OIDCContext.LoginHint != "alice@example.com" || cr.RequestURL != lr.RequestURL {
			t.Errorf("consent oidc_context/request_url = %+v %q", cr.OIDCContext, cr.RequestURL)
		}
		if !cr.HasPrompt("consent") {
			t.Errorf("consent Prompt = %q", cr.Prompt())
		}
		if string(cr.Context) != `{"from":"login"}` {
			t.Errorf("consent context = %s, want AcceptLogin's", cr.Context)
		}

		next, err = w.hydra.AcceptConsent(ctx, cc, hydra.AcceptConsent{
			GrantScope:               cr.RequestedScope,
			GrantAccessTokenAudience: cr.RequestedAccessTokenAudience,
			Session: hydra.ConsentSession{
				IDToken:     map[string]any{"email": "alice@example.com", "email_verified": true},
				AccessToken: map[string]any{"roles": []string{"reader"}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if nu, _ := url.Parse(next); !strings.HasPrefix(next, rp.public+"/oauth2/auth?") || nu.Query().Get("consent_verifier") == "" {
			t.Errorf("accept consent redirect_to = %q", next)
		}
		q := rp.callback(t, b.redirect(next), ar)
		if q.Get("code") == "" || q.Get("error") != "" {
			t.Fatalf("callback = %v", q)
		}
		tk := rp.exchange(t, q.Get("code"), ar)
		if tk.AccessToken == "" || tk.RefreshToken == "" || tk.IDToken == "" {
			t.Errorf("tokens = %+v", tk)
		}
		claims := rp.verifyJWT(t, tk.IDToken)
		if claims["sub"] != "user-1" || claims["email"] != "alice@example.com" || claims["email_verified"] != true ||
			claims["nonce"] != ar.nonce || claims["acr"] != "aal1" || claims["sid"] != lr.SessionID ||
			claims["iss"] != rp.public+"/" || !audHas(claims["aud"], rp.id) {
			t.Errorf("ID token claims = %v", claims)
		}
		if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
			t.Errorf("amr = %v", claims["amr"])
		}

		// After use: v2.3 challenges are self-contained encrypted flows, so
		// Hydra cannot tell they were used. Getting and accepting them again
		// succeeds (never 410); only the consent verifier is single-use.
		if _, err := w.hydra.GetLoginRequest(ctx, lc); err != nil {
			t.Errorf("GetLoginRequest after use: %v", err)
		}
		if _, err := w.hydra.GetConsentRequest(ctx, cc); err != nil {
			t.Errorf("GetConsentRequest after use: %v", err)
		}
		again, err := w.hydra.AcceptConsent(ctx, cc, hydra.AcceptConsent{GrantScope: []string{"openid"}})
		if err != nil {
			t.Fatalf("AcceptConsent after use: %v", err)
		}
		if q := rp.callback(t, b.redirect(again), ar); q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("replayed consent verifier: %v", q)
		}
	})

	t.Run("DoubleSubmittedLogin", func(t *testing.T) {
		// A double-submitted login form: Hera accepts the challenge twice
		// (Hydra allows it) and the browser follows only the last answer.
		b := newBrowser(t)
		ar, loc := rp.authorize(b, nil)
		lc := rp.challenge(t, loc, "/login", "login_challenge")
		var next string
		for range 2 {
			var err error
			if next, err = w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{Subject: "user-10"}); err != nil {
				t.Fatal(err)
			}
		}
		cc := rp.challenge(t, b.redirect(next), "/consent", "consent_challenge")
		next, err := w.hydra.AcceptConsent(ctx, cc, hydra.AcceptConsent{GrantScope: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		if q := rp.callback(t, b.redirect(next), ar); q.Get("code") == "" {
			t.Errorf("callback = %v", q)
		}
	})

	t.Run("RejectLogin", func(t *testing.T) {
		b := newBrowser(t)
		ar, loc := rp.authorize(b, nil)
		lc := rp.challenge(t, loc, "/login", "login_challenge")
		next, err := w.hydra.RejectLogin(ctx, lc, hydra.Reject{
			Error: "access_denied", ErrorDescription: "The resource owner denied the request", ErrorHint: "User cancelled.",
		})
		if err != nil {
			t.Fatal(err)
		}
		q := rp.callback(t, b.redirect(next), ar)
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("callback = %v", q)
		}
		if !strings.HasPrefix(q.Get("error_description"), "The resource owner denied the request") || !strings.Contains(q.Get("error_description"), "User cancelled.") {
			t.Errorf("error_description = %q", q.Get("error_description"))
		}
	})

	t.Run("RejectConsent", func(t *testing.T) {
		b := newBrowser(t)
		ar, loc := rp.authorize(b, nil)
		lc := rp.challenge(t, loc, "/login", "login_challenge")
		next, err := w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{Subject: "user-2"})
		if err != nil {
			t.Fatal(err)
		}
		cc := rp.challenge(t, b.redirect(next), "/consent", "consent_challenge")
		next, err = w.hydra.RejectConsent(ctx, cc, hydra.Reject{Error: "access_denied", ErrorDescription: "Consent refused"})
		if err != nil {
			t.Fatal(err)
		}
		q := rp.callback(t, b.redirect(next), ar)
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("callback = %v", q)
		}
		if q.Get("error_description") != "Consent refused" {
			t.Errorf("error_description = %q", q.Get("error_description"))
		}
	})

	t.Run("UnknownChallenge", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"GetLoginRequest": func() error { _, err := w.hydra.GetLoginRequest(ctx, "nonsense"); return err },
			"AcceptLogin": func() error {
				_, err := w.hydra.AcceptLogin(ctx, "nonsense", hydra.AcceptLogin{Subject: "x"})
				return err
			},
			"RejectLogin":       func() error { _, err := w.hydra.RejectLogin(ctx, "nonsense", hydra.Reject{}); return err },
			"GetConsentRequest": func() error { _, err := w.hydra.GetConsentRequest(ctx, "nonsense"); return err },
			"AcceptConsent":     func() error { _, err := w.hydra.AcceptConsent(ctx, "nonsense", hydra.AcceptConsent{}); return err },
			"GetLogoutRequest":  func() error { _, err := w.hydra.GetLogoutRequest(ctx, "nonsense"); return err },
			"AcceptLogout":      func() error { _, err := w.hydra.AcceptLogout(ctx, "nonsense"); return err },
			"RejectLogout":      func() error { return w.hydra.RejectLogout(ctx, "nonsense") },
		} {
			err := call()
			e, _ := hydra.AsError(err)
			if e == nil || e.Status != 404 || !hydra.IsInvalidChallenge(err) || hydra.IsUnavailable(err) {
				t.Errorf("%s: err = %v, want an invalid-challenge answer", name, err)
			}
		}
	})

	t.Run("RememberedLogin", func(t *testing.T) {
		b := newBrowser(t)
		_, first, _ := w.signIn(t, b, loginOpts{subject: "user-3", remember: true, rememberConsent: true})

		// Second run in the same browser: Hydra remembers both.
		ar, loc := rp.authorize(b, nil)
		lc := rp.challenge(t, loc, "/login", "login_challenge")
		lr, err := w.hydra.GetLoginRequest(ctx, lc)
		if err != nil {
			t.Fatal(err)
		}
		if !lr.Skip || lr.Subject != "user-3" || lr.SessionID != first.SessionID {
			t.Fatalf("second login: skip=%v subject=%q sid=%q (first %q)", lr.Skip, lr.Subject, lr.SessionID, first.SessionID)
		}
		next, err := w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{Subject: lr.Subject})
		if err != nil {
			t.Fatal(err)
		}
		cc := rp.challenge(t, b.redirect(next), "/consent", "consent_challenge")
		cr, err := w.hydra.GetConsentRequest(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		if !cr.Skip {
			t.Errorf("second consent: skip = false")
		}
		next, err = w.hydra.AcceptConsent(ctx, cc, hydra.AcceptConsent{GrantScope: cr.RequestedScope})
		if err != nil {
			t.Fatal(err)
		}
		if q := rp.callback(t, b.redirect(next), ar); q.Get("code") == "" {
			t.Errorf("callback = %v", q)
		}

		// prompt=login forces the login UI although Hydra remembers.
		_, loc = rp.authorize(b, url.Values{"prompt": {"login"}})
		lr, err = w.hydra.GetLoginRequest(ctx, rp.challenge(t, loc, "/login", "login_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if lr.Skip || lr.Subject != "" {
			t.Errorf("prompt=login: skip=%v subject=%q", lr.Skip, lr.Subject)
		}

		// max_age=0 likewise.
		_, loc = rp.authorize(b, url.Values{"max_age": {"0"}})
		lr, err = w.hydra.GetLoginRequest(ctx, rp.challenge(t, loc, "/login", "login_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if lr.Skip {
			t.Errorf("max_age=0: skip = true")
		}

		// prompt=none with a remembered session still visits the login UI,
		// with skip.
		_, loc = rp.authorize(b, url.Values{"prompt": {"none"}})
		lr, err = w.hydra.GetLoginRequest(ctx, rp.challenge(t, loc, "/login", "login_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if !lr.Skip || !lr.HasPrompt("none") {
			t.Errorf("prompt=none: skip=%v prompt=%q", lr.Skip, lr.Prompt())
		}

		// prompt=consent asks for consent although it was remembered.
		_, loc = rp.authorize(b, url.Values{"prompt": {"consent"}})
		lc = rp.challenge(t, loc, "/login", "login_challenge")
		next, err = w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{Subject: "user-3"})
		if err != nil {
			t.Fatal(err)
		}
		cr, err = w.hydra.GetConsentRequest(ctx, rp.challenge(t, b.redirect(next), "/consent", "consent_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if cr.Skip {
			t.Errorf("prompt=consent: consent skip = true")
		}

		// Accepting a skipped login as someone else: Hydra answers with the
		// original request URL plus prompt=login.
		_, loc = rp.authorize(b, nil)
		lc = rp.challenge(t, loc, "/login", "login_challenge")
		next, err = w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{Subject: "someone-else"})
		if err != nil {
			t.Fatal(err)
		}
		nu, _ := url.Parse(next)
		if nu.Query().Get("prompt") != "login" || nu.Query().Get("login_verifier") != "" || !strings.HasPrefix(next, rp.public+"/oauth2/auth?") {
			t.Errorf("subject mismatch redirect_to = %q", next)
		}
	})

	t.Run("PromptNoneWithoutSession", func(t *testing.T) {
		b := newBrowser(t)
		ar, loc := rp.authorize(b, url.Values{"prompt": {"none"}})
		q := rp.callback(t, loc, ar)
		if q.Get("error") != "login_required" {
			t.Errorf("callback = %v", q)
		}
	})

	t.Run("RevokeLoginSessions", func(t *testing.T) {
		b := newBrowser(t)
		w.signIn(t, b, loginOpts{subject: "user-4", remember: true})
		if err := w.hydra.RevokeLoginSessions(ctx, "user-4"); err != nil {
			t.Fatal(err)
		}
		_, loc := rp.authorize(b, nil)
		lr, err := w.hydra.GetLoginRequest(ctx, rp.challenge(t, loc, "/login", "login_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if lr.Skip {
			t.Error("skip after RevokeLoginSessions")
		}
		if err := w.hydra.RevokeLoginSessions(ctx, "nobody"); err != nil {
			t.Errorf("unknown subject: %v", err)
		}
	})

	t.Run("RevokeLoginSessionBySID", func(t *testing.T) {
		b := newBrowser(t)
		_, lr, _ := w.signIn(t, b, loginOpts{subject: "user-5", remember: true})
		if err := w.hydra.RevokeLoginSession(ctx, lr.SessionID); err != nil {
			t.Fatal(err)
		}
		_, loc := rp.authorize(b, nil)
		lr, err := w.hydra.GetLoginRequest(ctx, rp.challenge(t, loc, "/login", "login_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if lr.Skip {
			t.Error("skip after RevokeLoginSession")
		}
		if err := w.hydra.RevokeLoginSession(ctx, "no-such-sid"); err != nil {
			t.Errorf("unknown sid: %v", err)
		}
	})

	t.Run("RevokeConsentSessions", func(t *testing.T) {
		b := newBrowser(t)
		w.signIn(t, b, loginOpts{subject: "user-6", remember: true, rememberConsent: true})
		if err := w.hydra.RevokeConsentSessions(ctx, "user-6", rp.id); err != nil {
			t.Fatal(err)
		}
		_, loc := rp.authorize(b, nil)
		lc := rp.challenge(t, loc, "/login", "login_challenge")
		next, err := w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{Subject: "user-6"})
		if err != nil {
			t.Fatal(err)
		}
		cr, err := w.hydra.GetConsentRequest(ctx, rp.challenge(t, b.redirect(next), "/consent", "consent_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if cr.Skip {
			t.Error("consent skip after RevokeConsentSessions")
		}
	})

	t.Run("RPInitiatedLogout", func(t *testing.T) {
		b := newBrowser(t)
		tk, lr, _ := w.signIn(t, b, loginOpts{subject: "user-7", remember: true})
		q := url.Values{"id_token_hint": {tk.IDToken}, "post_logout_redirect_uri": {rp.postLogout}, "state": {"bye"}}
		loc := b.redirect(rp.public + "/oauth2/sessions/logout?" + q.Encode())
		ch := rp.challenge(t, loc, "/logout", "logout_challenge")

		out, err := w.hydra.GetLogoutRequest(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if out.Challenge != ch || out.Subject != "user-7" || out.SessionID != lr.SessionID || !out.RPInitiated ||
			out.Client == nil || out.Client.ClientID != rp.id || !strings.Contains(out.RequestURL, "/oauth2/sessions/logout") {
			t.Errorf("logout request = %+v", out)
		}
		next, err := w.hydra.AcceptLogout(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if nu, _ := url.Parse(next); !strings.HasPrefix(next, rp.public+"/oauth2/sessions/logout?") || nu.Query().Get("logout_verifier") == "" {
			t.Errorf("accept logout redirect_to = %q", next)
		}
		loc = b.redirect(next)
		if strings.Split(loc.String(), "?")[0] != rp.postLogout || loc.Query().Get("state") != "bye" {
			t.Errorf("after logout: %s", loc)
		}

		_, err = w.hydra.GetLogoutRequest(ctx, ch)
		if e, ok := hydra.AsError(err); !ok || !hydra.IsGone(err) || !hydra.IsInvalidChallenge(err) || e.RedirectTo == "" {
			t.Errorf("used logout request: %v", err)
		}

		// The Hydra session is gone.
		_, loc = rp.authorize(b, nil)
		lr2, err := w.hydra.GetLoginRequest(ctx, rp.challenge(t, loc, "/login", "login_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if lr2.Skip {
			t.Error("skip after logout")
		}
	})

	t.Run("RejectLogout", func(t *testing.T) {
		b := newBrowser(t)
		tk, _, _ := w.signIn(t, b, loginOpts{subject: "user-8", remember: true})
		loc := b.redirect(rp.public + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {tk.IDToken}}.Encode())
		ch := rp.challenge(t, loc, "/logout", "logout_challenge")
		if err := w.hydra.RejectLogout(ctx, ch); err != nil {
			t.Fatal(err)
		}
		if _, err := w.hydra.GetLogoutRequest(ctx, ch); !hydra.IsNotFound(err) {
			t.Errorf("rejected logout request: %v", err)
		}
		// Still signed in at Hydra.
		_, loc = rp.authorize(b, nil)
		lr, err := w.hydra.GetLoginRequest(ctx, rp.challenge(t, loc, "/login", "login_challenge"))
		if err != nil {
			t.Fatal(err)
		}
		if !lr.Skip {
			t.Error("no skip after rejected logout")
		}
	})

	t.Run("LogoutWithoutRememberedSession", func(t *testing.T) {
		b := newBrowser(t)
		tk, _, _ := w.signIn(t, b, loginOpts{subject: "user-9"})
		q := url.Values{"id_token_hint": {tk.IDToken}, "post_logout_redirect_uri": {rp.postLogout}}
		loc := b.redirect(rp.public + "/oauth2/sessions/logout?" + q.Encode())
		if strings.Split(loc.String(), "?")[0] != rp.postLogout {
			t.Errorf("went to %s, want straight to %s", loc, rp.postLogout)
		}
	})
}

func audHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		for _, x := range a {
			if x == id {
				return true
			}
		}
	}
	return false
}

// TestExpiredChallenge shows what an expired login challenge looks like: a
// 401 request_unauthorized, not a 404 or 410.
func TestExpiredChallenge(t *testing.T) {
	w := startHydraWithEnv(t, "TTL_LOGIN_CONSENT_REQUEST=1s")
	ctx := context.Background()
	b := newBrowser(t)
	_, loc := w.rp.authorize(b, nil)
	lc := w.rp.challenge(t, loc, "/login", "login_challenge")
	if _, err := w.hydra.GetLoginRequest(ctx, lc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	_, err := w.hydra.GetLoginRequest(ctx, lc)
	e, ok := hydra.AsError(err)
	if !ok || e.Status != 401 || e.Name != "request_unauthorized" || !hydra.IsInvalidChallenge(err) || hydra.IsUnavailable(err) {
		t.Fatalf("expired challenge: %v", err)
	}
	if _, err := w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{Subject: "u"}); !hydra.IsInvalidChallenge(err) {
		t.Errorf("accepting an expired challenge: %v", err)
	}
}
