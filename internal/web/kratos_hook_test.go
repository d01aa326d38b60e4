package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/web"
)

// recorder keeps what the handlers tell the account's events.
type recorder struct {
	mu    sync.Mutex
	hooks []*events.Hook
	seen  map[string]activity.Seen
}

func (r *recorder) See(_ context.Context, key string, s activity.Seen) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]activity.Seen{}
	}
	r.seen[key] = s
}
func (r *recorder) SeeLater(key string, s activity.Seen) { r.See(context.Background(), key, s) }
func (r *recorder) Hook(h *events.Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = append(r.hooks, h)
}
func (r *recorder) SessionsRevoked(string, int, events.Client)                 {}
func (r *recorder) AppAllowed(string, string, string, []string, events.Client) {}
func (r *recorder) AppRemoved(string, string, string, events.Client)           {}
func (r *recorder) AccountDeleted(string, []events.HookAddress, events.Client) {}
func (r *recorder) Exported(string, events.Client)                             {}

const hookSecret = "the web hook secret, at least 32 bytes"

func hookServer(t *testing.T, secret string, rec *recorder) http.Handler {
	t.Helper()
	env := map[string]string{"HERA_PUBLIC_URL": goldenPublicURL, "KRATOS_PUBLIC_URL": goldenKratosURL, "KRATOS_ADMIN_URL": goldenAdminURL,
		"HERA_KRATOS_WEBHOOK_SECRET": secret}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: web.OptionsFrom(cfg), Kratos: stubKratos{}, Events: rec})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

const loginHook = `{"flow":{"id":"0a1b2c3d-0000-4000-8000-000000000001","type":"browser","active":"password"},
"identity":{"id":"0a1b2c3d-0000-4000-8000-0000000000aa","addresses":[{"value":"ada@example.com","via":"email","verified":true}]},
"session":{"id":"0a1b2c3d-0000-4000-8000-0000000000bb","aal":"aal1","methods":[{"method":"password","aal":"aal1","provider":"","completed_at":"2026-01-02T03:04:05Z"}]},
"client":{"ip":"192.0.2.1","user_agent":"Firefox"}}`

// TestKratosHook: Kratos's web hooks need the secret (compared in
// constant time, never logged), name a hook Hera knows, carry the body
// Hera's template sends, within a bound; then they are handed on and
// answered at once.
func TestKratosHook(t *testing.T) {
	rec := &recorder{}
	h := hookServer(t, hookSecret, rec)
	post := func(path, auth, body string) int {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	good := "Bearer " + hookSecret
	for _, c := range []struct {
		name, path, auth, body string
		want                   int
	}{
		{"no key", "/hooks/kratos/login", "", loginHook, http.StatusUnauthorized},
		{"wrong key", "/hooks/kratos/login", "Bearer " + strings.Repeat("x", len(hookSecret)), loginHook, http.StatusUnauthorized},
		{"bare key", "/hooks/kratos/login", hookSecret, loginHook, http.StatusUnauthorized},
		{"unknown hook", "/hooks/kratos/logout", good, loginHook, http.StatusBadRequest},
		{"unknown settings method", "/hooks/kratos/settings/oidc", good, loginHook, http.StatusBadRequest},
		{"not the template's body", "/hooks/kratos/login", good, `{"identity_id":"x"}`, http.StatusBadRequest},
		{"too large", "/hooks/kratos/login", good, `{"flow":{"id":"` + strings.Repeat("a", events.MaxHookBody) + `"}}`, http.StatusRequestEntityTooLarge},
		{"GET", "/hooks/kratos/login", good, "", http.StatusMethodNotAllowed},
	} {
		method := http.MethodPost
		if c.name == "GET" {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", c.auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.want && !(c.name == "GET" && w.Code == http.StatusNotFound) {
			t.Errorf("%s: %d, want %d", c.name, w.Code, c.want)
		}
	}
	if len(rec.hooks) != 0 {
		t.Fatalf("refused hooks handed on: %+v", rec.hooks)
	}
	if st := post("/hooks/kratos/login", good, loginHook); st != http.StatusNoContent {
		t.Fatalf("login hook: %d", st)
	}
	if st := post("/hooks/kratos/settings/totp", good, loginHook); st != http.StatusNoContent {
		t.Fatalf("settings hook: %d", st)
	}
	if len(rec.hooks) != 2 || rec.hooks[0].Kind != "login" || rec.hooks[1].Kind != "settings/totp" || rec.hooks[0].Identity.ID != "0a1b2c3d-0000-4000-8000-0000000000aa" {
		t.Fatalf("hooks %+v", rec.hooks)
	}

	// Without a secret there are no hook endpoints.
	if st := func() int {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/hooks/kratos/login", strings.NewReader(loginHook))
		req.Header.Set("Authorization", "Bearer ")
		hookServer(t, "", rec).ServeHTTP(w, req)
		return w.Code
	}(); st != http.StatusNotFound {
		t.Errorf("without a secret: %d, want 404", st)
	}
}
