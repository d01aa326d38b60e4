package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// kratosSessionID is the ID of the Kratos session b's cookies carry, asked
// of Kratos itself.
func kratosSessionID(t *testing.T, b *webtest.Browser, e *heraEnv) string {
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
		ID string `json:"id"`
	}
	_ = json.NewDecoder(res.Body).Decode(&s)
	if s.ID == "" {
		t.Fatalf("no session (%d)", res.StatusCode)
	}
	return s.ID
}

// apiCall sends one request through Hera's /api/kratos/ proxy in browser b
// (its cookies), as an SDK running in the page does: JSON asked for, no
// redirect followed.
func apiCall(t *testing.T, b *webtest.Browser, method, path string, body io.Reader, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, b.Base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw), res.Header
}

// heraRefusal reports whether an answer is Hera's own refusal of a proxy
// route, not Kratos's answer.
func heraRefusal(status int, body string) bool {
	return status == http.StatusNotFound && (strings.Contains(body, "hera_not_found") || strings.Contains(body, "<html"))
}

// TestSingleSignOutThroughKratosAPI: signing out, or revoking sessions,
// through Kratos's own API behind Hera's /api/kratos/ proxy (what Ory's
// SDKs, SPAs and native apps do) ends the apps' single sign-on exactly as
// Hera's /logout and /sessions pages do (issue 23 defect 6, issue 27).
//
// Before the change the proxy forwarded the logout URL untouched, and
// refused GET/DELETE /sessions, DELETE /sessions/{id} and
// /sessions/token-exchange (404): the back-channel waits below timed out
// (Hydra kept the login, prompt=none still gave codes) and the session API
// calls got Hera's 404. "Revoking someone else's session" covers a defect
// of the first version of the change: it ended the sign-on of any session
// ID Kratos answered 204 for, and Kratos does so for any ID.
func TestSingleSignOutThroughKratosAPI(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true})
	bc := newBackchannel(t)
	app := newRP(t, e, "sso-api-app", map[string]any{"backchannel_logout_uri": bc.srv.URL + "/bc"})

	// signedIn signs b in to the app and returns the ID token's sid, once
	// Hydra remembers the login (a silent renewal works).
	signedIn := func(t *testing.T, b *webtest.Browser) string {
		t.Helper()
		_, claims := app.signIn(b)
		sid, _ := claims["sid"].(string)
		if sid == "" {
			t.Fatalf("ID token without sid: %v", claims)
		}
		if q := app.promptNone(b); q.Get("code") == "" {
			t.Fatalf("prompt=none before sign-out: %v", q)
		}
		return sid
	}
	// logoutURL is what GET /self-service/logout/browser hands an SDK.
	logoutURL := func(t *testing.T, b *webtest.Browser) string {
		t.Helper()
		st, body, _ := apiCall(t, b, http.MethodGet, "/api/kratos/self-service/logout/browser", nil, nil)
		var l struct {
			URL   string `json:"logout_url"`
			Token string `json:"logout_token"`
		}
		if err := json.Unmarshal([]byte(body), &l); st != http.StatusOK || err != nil || l.Token == "" {
			t.Fatalf("logout/browser: %d %s", st, body)
		}
		if !strings.HasPrefix(l.URL, e.HeraURL+"/api/kratos/self-service/logout?") {
			t.Fatalf("logout_url %q is not behind Hera's proxy", l.URL)
		}
		return l.URL
	}
	whoamiStatus := func(t *testing.T, b *webtest.Browser) int {
		t.Helper()
		st, _, _ := apiCall(t, b, http.MethodGet, "/api/kratos/sessions/whoami", nil, nil)
		return st
	}

	t.Run("the browser's Kratos logout URL ends the single sign-on", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		register(t, b, newEmail("api-logout"), password)
		sid := signedIn(t, b)
		u := logoutURL(t, b)
		// The browser follows the URL, as the SDK's redirect makes it.
		p := b.Get(u)
		if p.Status != http.StatusOK {
			t.Fatalf("logout URL: %d at %s", p.Status, p.URL)
		}
		if st := whoamiStatus(t, b); st != http.StatusUnauthorized {
			t.Fatalf("Kratos session after logout: whoami %d, want 401", st)
		}
		bc.waitSid(t, sid) // defect 6: Hydra was never told
		if q := app.promptNone(b); q.Get("error") != "login_required" {
			t.Errorf("prompt=none after the Kratos logout: %v", q)
		}
	})

	t.Run("a logout URL with a wrong token ends nothing", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		register(t, b, newEmail("api-badtoken"), password)
		sid := signedIn(t, b)
		good, _ := url.Parse(logoutURL(t, b))
		q := good.Query()
		q.Set("token", strings.Repeat("x", len(q.Get("token"))))
		good.RawQuery = q.Encode()
		b.Get(good.String())
		if st := whoamiStatus(t, b); st != http.StatusOK {
			t.Fatalf("whoami after a refused logout: %d, want 200", st)
		}
		// The clean-up runs before the proxy answers: had it ended the
		// Hydra login, the silent renewal would fail now.
		if qq := app.promptNone(b); qq.Get("code") == "" {
			t.Errorf("prompt=none after a refused logout: %v", qq)
		}
		// And no back-channel call comes for it (a short, bounded wait).
		for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if slices.Contains(bc.sids(), sid) {
				t.Fatalf("back-channel logout for sid %s after a refused logout", sid)
			}
		}
	})

	t.Run("revoking another session, then the others, through the session API", func(t *testing.T) {
		email := newEmail("api-revoke")
		b1 := webtest.New(t, e.HeraURL)
		register(t, b1, email, password)
		sid1 := signedIn(t, b1)
		b2 := webtest.New(t, e.HeraURL)
		login(t, b2, email, password)
		sid2 := signedIn(t, b2)
		b3 := webtest.New(t, e.HeraURL)
		login(t, b3, email, password)
		sid3 := signedIn(t, b3)
		k1, k3 := kratosSessionID(t, b1, e), kratosSessionID(t, b3, e)

		// The session API is forwarded: Kratos lists b2's other sessions.
		st, body, _ := apiCall(t, b2, http.MethodGet, "/api/kratos/sessions", nil, nil)
		var list []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(body), &list); st != http.StatusOK || err != nil {
			t.Fatalf("GET /api/kratos/sessions: %d %s", st, body)
		}
		var ids []string
		for _, s := range list {
			ids = append(ids, s.ID)
		}
		if !slices.Contains(ids, k1) || !slices.Contains(ids, k3) {
			t.Fatalf("sessions listed %v, want %s and %s among them", ids, k1, k3)
		}

		// b2 revokes b1's session.
		st, body, _ = apiCall(t, b2, http.MethodDelete, "/api/kratos/sessions/"+k1, nil, nil)
		if st != http.StatusNoContent {
			t.Fatalf("DELETE /api/kratos/sessions/{id}: %d %s", st, body)
		}
		bc.waitSid(t, sid1)
		if q := app.promptNone(b1); q.Get("error") != "login_required" {
			t.Errorf("prompt=none in the revoked browser: %v", q)
		}
		if q := app.promptNone(b2); q.Get("code") == "" {
			t.Errorf("prompt=none in the browser that revoked: %v", q)
		}

		// b2 signs out every other session: b3's.
		st, body, _ = apiCall(t, b2, http.MethodDelete, "/api/kratos/sessions", nil, nil)
		if st != http.StatusOK {
			t.Fatalf("DELETE /api/kratos/sessions: %d %s", st, body)
		}
		bc.waitSid(t, sid3)
		if q := app.promptNone(b3); q.Get("error") != "login_required" {
			t.Errorf("prompt=none in a signed-out browser: %v", q)
		}
		if slices.Contains(bc.sids(), sid2) {
			t.Error("the browser that signed the others out was signed out of the app")
		}
		if q := app.promptNone(b2); q.Get("code") == "" {
			t.Errorf("prompt=none in the browser that stayed: %v", q)
		}
	})

	t.Run("revoking someone else's session ends nothing", func(t *testing.T) {
		// Kratos v1.3.1 answers 204 to DELETE /sessions/{id} for any ID and
		// revokes only the caller's own sessions; Hera must not take that
		// 204 as the end of the victim's session (an attacker who learnt a
		// session ID would sign its owner out of every app).
		victim := webtest.New(t, e.HeraURL)
		register(t, victim, newEmail("api-victim"), password)
		sid := signedIn(t, victim)
		attacker := webtest.New(t, e.HeraURL)
		register(t, attacker, newEmail("api-attacker"), password)
		victimSession := kratosSessionID(t, victim, e)
		st, body, _ := apiCall(t, attacker, http.MethodDelete, "/api/kratos/sessions/"+victimSession, nil, nil)
		if heraRefusal(st, body) {
			t.Errorf("revoking another identity's session: %d %s, want Kratos's answer", st, body)
		}
		// The same through Hera's own sessions page.
		attacker.Post("/sessions/"+victimSession+"/revoke", url.Values{})
		if whoamiStatus(t, victim) != http.StatusOK {
			t.Fatal("the victim's Kratos session ended")
		}
		if q := app.promptNone(victim); q.Get("code") == "" || slices.Contains(bc.sids(), sid) {
			t.Errorf("the victim's single sign-on ended: %v", q)
		}
	})

	t.Run("a native app's session token signs out through logout/api", func(t *testing.T) {
		// Hydra logins are linked to browser (cookie) sessions only, so no
		// app sign-on ends here; this checks that the proxy, which now
		// reads this body to find the session, still hands it to Kratos
		// whole, and ends no one else's single sign-on.
		email := newEmail("api-native")
		b := webtest.New(t, e.HeraURL)
		register(t, b, email, password)
		sid := signedIn(t, b)

		native := webtest.New(t, e.HeraURL)
		st, body, _ := apiCall(t, native, http.MethodGet, "/api/kratos/self-service/login/api", nil, nil)
		var flow struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(body), &flow); st != http.StatusOK || err != nil || flow.ID == "" {
			t.Fatalf("login/api: %d %s", st, body)
		}
		sub, _ := json.Marshal(map[string]string{"method": "password", "identifier": email, "password": password})
		st, body, _ = apiCall(t, native, http.MethodPost, "/api/kratos/self-service/login?flow="+flow.ID, strings.NewReader(string(sub)), nil)
		var answer struct {
			Token   string `json:"session_token"`
			Session struct {
				ID string `json:"id"`
			} `json:"session"`
		}
		if err := json.Unmarshal([]byte(body), &answer); st != http.StatusOK || err != nil || answer.Token == "" {
			t.Fatalf("API sign-in: %d %s", st, body)
		}
		tokenHeader := map[string]string{"X-Session-Token": answer.Token}
		if st, body, _ := apiCall(t, native, http.MethodGet, "/api/kratos/sessions/whoami", nil, tokenHeader); st != http.StatusOK {
			t.Fatalf("whoami with the token: %d %s", st, body)
		}
		// GET /sessions with the token lists the browser's session.
		if st, body, _ := apiCall(t, native, http.MethodGet, "/api/kratos/sessions", nil, tokenHeader); st != http.StatusOK ||
			!strings.Contains(body, kratosSessionID(t, b, e)) {
			t.Errorf("sessions listed for the token: %d %s", st, body)
		}
		st, body, _ = apiCall(t, native, http.MethodDelete, "/api/kratos/self-service/logout/api",
			strings.NewReader(`{"session_token":"`+answer.Token+`"}`), nil)
		if st != http.StatusNoContent {
			t.Fatalf("logout/api: %d %s", st, body)
		}
		if st, _, _ := apiCall(t, native, http.MethodGet, "/api/kratos/sessions/whoami", nil, tokenHeader); st != http.StatusUnauthorized {
			t.Errorf("whoami after logout/api: %d, want 401", st)
		}
		if q := app.promptNone(b); q.Get("code") == "" || slices.Contains(bc.sids(), sid) {
			t.Errorf("the browser's single sign-on ended with the native session: %v", q)
		}
	})

	t.Run("the native social sign-in's token exchange is forwarded", func(t *testing.T) {
		native := webtest.New(t, e.HeraURL)
		st, body, _ := apiCall(t, native, http.MethodGet, "/api/kratos/sessions/token-exchange?init_code=x&return_to_code=y", nil, nil)
		if heraRefusal(st, body) || !strings.Contains(body, `"error"`) {
			t.Errorf("token-exchange: %d %s, want Kratos's own answer", st, body)
		}
	})
}
