package main

// A native app's journey through Hera's proxy: API flows, the session
// carried in X-Session-Token (or Authorization: Bearer), never a cookie.
// Every self-service POST below goes through Hera's guarded submit, which
// must hand the token on to Kratos for the second factor and for settings
// to work at all.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/webtest"
)

// nativeWhoami is the part of a Kratos session the journey checks.
type nativeWhoami struct {
	AAL      string `json:"authenticator_assurance_level"`
	Identity struct {
		Traits struct {
			Email string `json:"email"`
			Name  struct {
				First string `json:"first"`
				Last  string `json:"last"`
			} `json:"name"`
		} `json:"traits"`
	} `json:"identity"`
}

// apiSignIn signs in with a password through an API login flow and returns
// the session token.
func apiSignIn(c *client, email, password string) string {
	c.t.Helper()
	a := passwordPost(c, c.apiFlow("login"), "json", "identifier", email, password)
	var out struct {
		Token string `json:"session_token"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil || a.status != http.StatusOK || out.Token == "" {
		c.t.Fatalf("API sign-in: %d %s", a.status, a.body)
	}
	return out.Token
}

// flowWith starts an API flow (path below /api/kratos) carrying the given
// headers and returns its ID.
func flowWith(c *client, path string, h http.Header) string {
	c.t.Helper()
	a := c.do("GET", "/api/kratos"+path, "", "", h)
	var f struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(a.body, &f); err != nil || a.status != http.StatusOK || f.ID == "" {
		c.t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	return f.ID
}

// whoami reads the session the headers carry; the status is returned too.
func whoami(c *client, h http.Header) (int, nativeWhoami) {
	c.t.Helper()
	a := c.do("GET", "/api/kratos/sessions/whoami", "", "", h)
	var s nativeWhoami
	if a.status == http.StatusOK {
		if err := json.Unmarshal(a.body, &s); err != nil {
			c.t.Fatalf("whoami: %v: %s", err, a.body)
		}
	}
	return a.status, s
}

// settingsPost submits a JSON body to a settings flow through the proxy.
func settingsPost(c *client, flow string, body any, h http.Header) answer {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do("POST", "/api/kratos/self-service/settings?flow="+flow, "application/json", string(b), h)
}

// settingsSaved reports that Kratos saved a settings submission.
func settingsSaved(a answer) bool {
	var f struct {
		State string `json:"state"`
	}
	return a.status == http.StatusOK && json.Unmarshal(a.body, &f) == nil && f.State == "success"
}

func profile(email, first, last string) map[string]any {
	return map[string]any{"method": "profile", "traits": map[string]any{
		"email": email, "name": map[string]string{"first": first, "last": last}}}
}

// TestNativeAppJourney: password, then TOTP, then settings (profile and
// password), all as an API client through Hera's URL. Kratos judges the
// session the token names, so the token must survive Hera's guarded
// submit; without it the second factor and every settings change fail.
func TestNativeAppJourney(t *testing.T) {
	start := time.Now()
	e, _ := guardedStack(t, nil)
	email := "native-app@example.com"
	secret := enrolTOTP(t, e.HeraURL, email) // signs up with rightPassword
	t.Logf("stack and enrolment: %s", time.Since(start).Round(time.Millisecond))

	c := newClient(t, e.HeraURL)
	c.c.Jar = nil // a native app keeps no cookies: only its headers carry the session

	token := apiSignIn(c, email, rightPassword)
	tok := http.Header{"X-Session-Token": {token}}

	if !t.Run("second factor", func(t *testing.T) {
		c.t = t
		// AAL1 only: whoami (required_aal: highest_available) refuses it.
		if st, _ := whoami(c, tok); st != http.StatusForbidden {
			t.Fatalf("whoami before the second factor: %d, want 403", st)
		}
		flow := flowWith(c, "/self-service/login/api?aal=aal2", tok)
		// Kratos v1.3.1 keeps no record of used TOTP codes (pquerna/otp,
		// skew 1): the code of the enrolment's window is still good.
		code, err := webtest.TOTP(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		a := c.do("POST", "/api/kratos/self-service/login?flow="+flow, "application/json",
			`{"method":"totp","totp_code":"`+code+`"}`, tok)
		if a.status != http.StatusOK {
			t.Fatalf("TOTP step: %d %s", a.status, a.body)
		}
		if st, s := whoami(c, tok); st != http.StatusOK || s.AAL != "aal2" {
			t.Fatalf("after the TOTP step: whoami %d, AAL %q, want 200 aal2", st, s.AAL)
		}
	}) {
		t.FailNow()
	}

	t.Run("settings profile", func(t *testing.T) {
		c.t = t
		flow := flowWith(c, "/self-service/settings/api", tok)
		if a := settingsPost(c, flow, profile(email, "Ada", "Native"), tok); !settingsSaved(a) {
			t.Fatalf("profile change: %d %s", a.status, a.body)
		}
		if _, s := whoami(c, tok); s.Identity.Traits.Name.First != "Ada" || s.Identity.Traits.Name.Last != "Native" {
			t.Fatalf("profile change not visible: %+v", s.Identity.Traits)
		}
	})

	t.Run("settings refused without the session", func(t *testing.T) {
		c.t = t
		// Kratos refuses a settings flow to a client without its session,
		// and its submissions too: those cannot send a code, so they must
		// not spend the named address's send quota (3 per window) — or
		// anyone could stop a victim's recovery codes with them.
		const wrong = "ory_st_notarealsessiontoken0000000"
		victim := "native-victim-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com"
		password := map[string]any{"method": "password", "password": "not the owner's choice 99"}
		flow := flowWith(c, "/self-service/settings/api", tok)
		for _, tc := range []struct {
			name string
			h    http.Header
			body map[string]any
		}{
			{"no token", nil, profile(victim, "Mallory", "NoToken")},
			{"no token", nil, profile(victim, "Mallory", "NoToken")},
			{"wrong token", http.Header{"X-Session-Token": {wrong}}, profile(victim, "Mallory", "Wrong")},
			{"wrong token", http.Header{"X-Session-Token": {wrong}}, profile(victim, "Mallory", "Wrong")},
			{"wrong bearer", http.Header{"Authorization": {"Bearer " + wrong}}, profile(victim, "Mallory", "Bearer")},
			{"no token", nil, password},
			{"wrong token", http.Header{"X-Session-Token": {wrong}}, password},
			{"wrong bearer", http.Header{"Authorization": {"Bearer " + wrong}}, password},
		} {
			if a := settingsPost(c, flow, tc.body, tc.h); a.status != http.StatusUnauthorized {
				t.Errorf("%s, %s: %d %s, want 401 from Kratos", tc.name, tc.body["method"], a.status, a.body)
			}
		}
		if _, s := whoami(c, tok); s.Identity.Traits.Name.First == "Mallory" {
			t.Fatalf("a refused change was saved: %+v", s.Identity.Traits)
		}
		apiSignIn(c, email, rightPassword) // the password is unchanged
		// The victim's quota is whole: a recovery code is still sent.
		rf := c.apiFlow("recovery")
		b, _ := json.Marshal(map[string]string{"method": "code", "email": victim})
		if a := c.do("POST", "/api/kratos/self-service/recovery?flow="+rf, "application/json", string(b), nil); a.status != http.StatusOK {
			t.Errorf("recovery for an address named in refused settings changes: %d %s", a.status, a.body)
		}
	})

	t.Run("token wins over junk cookies", func(t *testing.T) {
		c.t = t
		// Cookies Kratos ignores on API flows (Cloudflare's) and Hera's
		// own (which Hera does not forward), junk values all: the
		// submission is judged on the token. Kratos reads X-Session-Token first, and so must
		// Hera's guard and what Hera forwards.
		junk := "__cf_bm=junk; _cfuvid=junk; cf_clearance=junk; hera_lang=en; hera_device_0=junk; hera_flow_restart=junk"
		for i, h := range []http.Header{
			{"X-Session-Token": {token}, "Cookie": {junk}},
			{"Authorization": {"Bearer " + token}, "Cookie": {junk}},
		} {
			last := []string{"Cookied", "BearerCookied"}[i]
			flow := flowWith(c, "/self-service/settings/api", h)
			if a := settingsPost(c, flow, profile(email, "Ada", last), h); !settingsSaved(a) {
				t.Fatalf("profile change with %v: %d %s", h, a.status, a.body)
			}
			if _, s := whoami(c, tok); s.Identity.Traits.Name.Last != last {
				t.Fatalf("profile change with %v not visible: %+v", h, s.Identity.Traits)
			}
		}
		// Any other cookie, a session cookie above all, makes Kratos take
		// the request for a browser's and refuse it on an API flow
		// (4000001); Hera passes that on. (With a bearer token and a junk
		// session cookie Kratos itself would fall back to the bearer
		// before refusing; Hera keys on the cookie and forwards no token,
		// so Kratos answers 401 there: refused either way.)
		flow := flowWith(c, "/self-service/settings/api", tok)
		for _, h := range []http.Header{
			{"X-Session-Token": {token}, "Cookie": {"ory_kratos_session=junk; a=1"}},
			{"X-Session-Token": {token}, "Cookie": {"a=1"}},
			{"Authorization": {"Bearer " + token}, "Cookie": {"ory_kratos_session=junk"}},
		} {
			body := profile(email, "Mallory", "Cookie")
			if h.Get("X-Session-Token") == "" {
				// No readable flow: spare the send quota (see above).
				body = map[string]any{"method": "password", "password": "not the owner's choice 99"}
			}
			a := settingsPost(c, flow, body, h)
			t.Logf("API flow with cookies %v: %d", h["Cookie"], a.status)
			if a.status != http.StatusBadRequest && a.status != http.StatusUnauthorized {
				t.Errorf("API flow with cookies %v: %d %s, want Kratos's refusal", h, a.status, a.body)
			}
			if _, hdr := h["X-Session-Token"]; hdr && !bytes.Contains(a.body, []byte(`"id":4000001`)) {
				t.Errorf("API flow with cookies %v: %d %s, want Kratos's 4000001", h, a.status, a.body)
			}
		}
		if _, s := whoami(c, tok); s.Identity.Traits.Name.First == "Mallory" {
			t.Fatalf("a refused change was saved: %+v", s.Identity.Traits)
		}
		apiSignIn(c, email, rightPassword) // the password is unchanged
	})

	t.Run("bearer", func(t *testing.T) {
		c.t = t
		// Kratos reads "Authorization: Bearer" when there is neither
		// X-Session-Token nor a session cookie; Hera forwards it as
		// X-Session-Token on the guarded submit.
		h := http.Header{"Authorization": {"Bearer " + token}}
		if st, s := whoami(c, h); st != http.StatusOK || s.AAL != "aal2" {
			t.Fatalf("whoami with a bearer token: %d %q", st, s.AAL)
		}
		flow := flowWith(c, "/self-service/settings/api", h)
		if a := settingsPost(c, flow, profile(email, "Ada", "Bearer"), h); !settingsSaved(a) {
			t.Fatalf("profile change with a bearer token: %d %s", a.status, a.body)
		}
		if _, s := whoami(c, h); s.Identity.Traits.Name.Last != "Bearer" {
			t.Fatalf("profile change with a bearer token not visible: %+v", s.Identity.Traits)
		}
	})

	t.Run("settings password", func(t *testing.T) {
		c.t = t
		const newPassword = "a new native password 88"
		flow := flowWith(c, "/self-service/settings/api", tok)
		if a := settingsPost(c, flow, map[string]any{"method": "password", "password": newPassword}, tok); !settingsSaved(a) {
			t.Fatalf("password change: %d %s", a.status, a.body)
		}
		if a := passwordPost(c, c.apiFlow("login"), "json", "identifier", email, rightPassword); !a.judged() {
			t.Fatalf("old password after the change: %d %s", a.status, a.body)
		}
		apiSignIn(c, email, newPassword)
	})
	t.Logf("total: %s", time.Since(start).Round(time.Millisecond))
}
