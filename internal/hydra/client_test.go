package hydra_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/hydra"
)

// These tests run against fake servers: failure modes real Hydra does not
// produce on demand.

func mustClient(t *testing.T, rawURL string, timeout time.Duration) *hydra.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := hydra.NewClient(u, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClientValidates(t *testing.T) {
	if _, err := hydra.NewClient(nil, time.Second); err == nil {
		t.Error("nil URL accepted")
	}
	u, _ := url.Parse("http://127.0.0.1:1")
	if _, err := hydra.NewClient(u, 0); err == nil {
		t.Error("zero timeout accepted")
	}
}

func TestClosedPortIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := mustClient(t, "http://"+addr, 2*time.Second)

	start := time.Now()
	_, err = c.GetLoginRequest(context.Background(), "abc")
	if !hydra.IsUnavailable(err) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if _, ok := hydra.AsError(err); ok || hydra.IsInvalidChallenge(err) || hydra.IsNotFound(err) {
		t.Errorf("transport failure looks like an answer: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	if err := c.Ready(context.Background()); !hydra.IsUnavailable(err) {
		t.Errorf("Ready: %v", err)
	}
}

func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

func TestTimeoutIsHonoured(t *testing.T) {
	srv := hangingServer(t)
	c := mustClient(t, srv.URL, 100*time.Millisecond)
	start := time.Now()
	_, err := c.AcceptLogin(context.Background(), "abc", hydra.AcceptLogin{Subject: "s"})
	if !hydra.IsUnavailable(err) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 100ms timeout", d)
	}
}

func TestContextIsHonoured(t *testing.T) {
	srv := hangingServer(t)
	c := mustClient(t, srv.URL, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetConsentRequest(ctx, "abc")
	if !hydra.IsUnavailable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want unavailable (deadline)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 100ms deadline", d)
	}
}

func fakeHydra(t *testing.T, h http.HandlerFunc) *hydra.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return mustClient(t, srv.URL, 2*time.Second)
}

func TestAnswers(t *testing.T) {
	ctx := context.Background()

	t.Run("5xx is unavailable but still typed", func(t *testing.T) {
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"server_error","error_description":"boom"}`)
		})
		_, err := c.GetLoginRequest(ctx, "abc")
		if !hydra.IsUnavailable(err) {
			t.Fatalf("err = %v, want unavailable", err)
		}
		e, ok := hydra.AsError(err)
		if !ok || e.Status != 500 || e.Name != "server_error" || e.Description != "boom" {
			t.Errorf("error = %#v", e)
		}
		if hydra.IsInvalidChallenge(err) {
			t.Error("5xx counted as an invalid challenge")
		}
	})

	t.Run("malformed JSON is unavailable", func(t *testing.T) {
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"challenge":`)
		})
		_, err := c.GetLoginRequest(ctx, "abc")
		if !hydra.IsUnavailable(err) {
			t.Fatalf("err = %v, want unavailable", err)
		}
		if _, ok := hydra.AsError(err); ok {
			t.Error("malformed answer typed as a Hydra error answer")
		}
	})

	t.Run("accept without redirect_to is unavailable", func(t *testing.T) {
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{}`)
		})
		if _, err := c.AcceptConsent(ctx, "abc", hydra.AcceptConsent{}); !hydra.IsUnavailable(err) {
			t.Fatalf("err = %v, want unavailable", err)
		}
	})

	t.Run("oversized answer is unavailable", func(t *testing.T) {
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"challenge":"`+strings.Repeat("a", 2<<20)+`"}`)
		})
		_, err := c.GetLoginRequest(ctx, "abc")
		if !hydra.IsUnavailable(err) || !strings.Contains(err.Error(), "larger") {
			t.Fatalf("err = %v, want unavailable (too large)", err)
		}
	})

	t.Run("redirects are not followed", func(t *testing.T) {
		var hit atomic.Bool
		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
		t.Cleanup(target.Close)
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusFound)
		})
		_, err := c.GetLoginRequest(ctx, "abc")
		if !hydra.IsUnavailable(err) {
			t.Fatalf("err = %v, want unavailable", err)
		}
		if hit.Load() {
			t.Error("redirect was followed")
		}
	})

	t.Run("410 carries redirect_to", func(t *testing.T) {
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, `{"redirect_to":"http://localhost/oauth2/auth?client_id=x"}`)
		})
		_, err := c.GetLoginRequest(ctx, "abc")
		e, ok := hydra.AsError(err)
		if !ok || !hydra.IsGone(err) || !hydra.IsInvalidChallenge(err) || hydra.IsUnavailable(err) {
			t.Fatalf("err = %v", err)
		}
		if e.RedirectTo != "http://localhost/oauth2/auth?client_id=x" {
			t.Errorf("RedirectTo = %q", e.RedirectTo)
		}
	})

	t.Run("4xx without a body is still typed", func(t *testing.T) {
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
		})
		_, err := c.GetLogoutRequest(ctx, "abc")
		if !hydra.IsNotFound(err) || hydra.IsUnavailable(err) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("missing challenge is not sent", func(t *testing.T) {
		var hit atomic.Bool
		c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) { hit.Store(true) })
		_, err := c.GetLoginRequest(ctx, "")
		if !errors.Is(err, hydra.ErrMissingChallenge) || !hydra.IsInvalidChallenge(err) || hydra.IsUnavailable(err) {
			t.Fatalf("err = %v", err)
		}
		if _, err := c.AcceptLogin(ctx, "", hydra.AcceptLogin{Subject: "s"}); !errors.Is(err, hydra.ErrMissingChallenge) {
			t.Errorf("AcceptLogin: %v", err)
		}
		if err := c.RejectLogout(ctx, ""); !errors.Is(err, hydra.ErrMissingChallenge) {
			t.Errorf("RejectLogout: %v", err)
		}
		if hit.Load() {
			t.Error("Hydra was called")
		}
	})
}

// TestRequestShapes checks what goes on the wire: Hydra decodes accept and
// reject bodies with DisallowUnknownFields, so only its field names may
// appear.
func TestRequestShapes(t *testing.T) {
	type seen struct {
		method, path string
		query        url.Values
		body         map[string]any
	}
	var got seen
	c := fakeHydra(t, func(w http.ResponseWriter, r *http.Request) {
		got = seen{method: r.Method, path: r.URL.Path, query: r.URL.Query()}
		got.body = nil
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &got.body); err != nil {
				t.Errorf("body %q: %v", b, err)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		}
		if r.Method == http.MethodDelete || strings.HasSuffix(r.URL.Path, "/logout/reject") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = io.WriteString(w, `{"redirect_to":"http://localhost/next"}`)
	})
	ctx := context.Background()

	if _, err := c.AcceptLogin(ctx, "ch1", hydra.AcceptLogin{Subject: "u1", Remember: true, RememberFor: 3600, ACR: "aal1", AMR: []string{"pwd"}, IdentityProviderSessionID: "ks", Context: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if got.method != http.MethodPut || got.path != "/admin/oauth2/auth/requests/login/accept" || got.query.Get("login_challenge") != "ch1" {
		t.Errorf("AcceptLogin sent %s %s?%s", got.method, got.path, got.query.Encode())
	}
	wantKeys(t, got.body, "subject", "remember", "remember_for", "acr", "amr", "identity_provider_session_id", "context")
	if got.body["remember_for"] != float64(3600) {
		t.Errorf("remember_for = %v", got.body["remember_for"])
	}

	if _, err := c.RejectLogin(ctx, "ch2", hydra.Reject{Error: "access_denied", ErrorDescription: "no"}); err != nil {
		t.Fatal(err)
	}
	if got.path != "/admin/oauth2/auth/requests/login/reject" || got.query.Get("login_challenge") != "ch2" {
		t.Errorf("RejectLogin sent %s", got.path)
	}
	wantKeys(t, got.body, "error", "error_description")

	if _, err := c.AcceptConsent(ctx, "ch3", hydra.AcceptConsent{GrantScope: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	if got.path != "/admin/oauth2/auth/requests/consent/accept" || got.query.Get("consent_challenge") != "ch3" {
		t.Errorf("AcceptConsent sent %s", got.path)
	}
	wantKeys(t, got.body, "grant_scope", "grant_access_token_audience", "remember", "remember_for", "session")
	if a, ok := got.body["grant_access_token_audience"].([]any); !ok || len(a) != 0 {
		t.Errorf("grant_access_token_audience = %#v, want []", got.body["grant_access_token_audience"])
	}

	if _, err := c.RejectConsent(ctx, "ch4", hydra.Reject{}); err != nil {
		t.Fatal(err)
	}
	if got.path != "/admin/oauth2/auth/requests/consent/reject" || got.query.Get("consent_challenge") != "ch4" {
		t.Errorf("RejectConsent sent %s", got.path)
	}
	wantKeys(t, got.body)

	if _, err := c.AcceptLogout(ctx, "ch5"); err != nil {
		t.Fatal(err)
	}
	if got.path != "/admin/oauth2/auth/requests/logout/accept" || got.query.Get("logout_challenge") != "ch5" || got.body != nil {
		t.Errorf("AcceptLogout sent %s %v", got.path, got.body)
	}
	if err := c.RejectLogout(ctx, "ch6"); err != nil {
		t.Fatal(err)
	}
	if got.path != "/admin/oauth2/auth/requests/logout/reject" || got.query.Get("logout_challenge") != "ch6" {
		t.Errorf("RejectLogout sent %s", got.path)
	}

	if err := c.RevokeLoginSessions(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if got.method != http.MethodDelete || got.path != "/admin/oauth2/auth/sessions/login" || got.query.Get("subject") != "u1" {
		t.Errorf("RevokeLoginSessions sent %s %s?%s", got.method, got.path, got.query.Encode())
	}
	if err := c.RevokeLoginSession(ctx, "sid1"); err != nil {
		t.Fatal(err)
	}
	if got.query.Get("sid") != "sid1" || got.query.Has("subject") {
		t.Errorf("RevokeLoginSession sent ?%s", got.query.Encode())
	}
	if err := c.RevokeConsentSessions(ctx, "u1", ""); err != nil {
		t.Fatal(err)
	}
	if got.path != "/admin/oauth2/auth/sessions/consent" || got.query.Get("all") != "true" {
		t.Errorf("RevokeConsentSessions sent %s?%s", got.path, got.query.Encode())
	}
}

func wantKeys(t *testing.T, body map[string]any, keys ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
		if _, ok := body[k]; !ok {
			t.Errorf("body lacks %q: %v", k, body)
		}
	}
	for k := range body {
		if !want[k] {
			t.Errorf("body has unexpected %q: %v", k, body)
		}
	}
}

func TestPromptAndMaxAge(t *testing.T) {
	for _, tc := range []struct {
		url    string
		prompt []string
		maxAge time.Duration
		ok     bool
	}{
		{"http://h/oauth2/auth?client_id=c", nil, 0, false},
		{"http://h/oauth2/auth?prompt=login+consent&max_age=300", []string{"login", "consent"}, 5 * time.Minute, true},
		{"http://h/oauth2/auth?prompt=none&max_age=0", []string{"none"}, 0, true},
		{"http://h/oauth2/auth?max_age=-1", nil, 0, false},
		{"http://h/oauth2/auth?max_age=abc", nil, 0, false},
		{"http://h/oauth2/auth?max_age=99999999999999999999", nil, 0, false},
		{"%zz", nil, 0, false},
	} {
		r := &hydra.LoginRequest{RequestURL: tc.url}
		if got := r.Prompt(); strings.Join(got, ",") != strings.Join(tc.prompt, ",") {
			t.Errorf("%s: Prompt = %q, want %q", tc.url, got, tc.prompt)
		}
		for _, p := range tc.prompt {
			if !r.HasPrompt(p) {
				t.Errorf("%s: HasPrompt(%q) false", tc.url, p)
			}
		}
		if r.HasPrompt("select_account") {
			t.Errorf("%s: HasPrompt(select_account)", tc.url)
		}
		d, ok := r.MaxAge()
		if d != tc.maxAge || ok != tc.ok {
			t.Errorf("%s: MaxAge = %v, %v; want %v, %v", tc.url, d, ok, tc.maxAge, tc.ok)
		}
		cr := &hydra.ConsentRequest{RequestURL: tc.url}
		if got := cr.Prompt(); strings.Join(got, ",") != strings.Join(tc.prompt, ",") {
			t.Errorf("%s: consent Prompt = %q", tc.url, got)
		}
	}
}
