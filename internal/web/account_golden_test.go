package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web"
)

// accountKratos is a Kratos with one signed-in user.
type accountKratos struct{ stubKratos }

const goldenSubject = "8a3c7b8e-3f0e-4b53-9f6b-2f8a3c7b8e3f"

// The browsers of accountKratos's sessions: this one, and another.
const (
	chromeMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

func (k *accountKratos) Whoami(context.Context, kratos.Browser) (*kratos.Session, error) {
	s := &kratos.Session{ID: "5f1d0c9e-7a0b-4e0e-8f3a-0c9e7a0b4e0e", Active: true, AuthenticatedAt: time.Now(),
		AuthenticatorAssuranceLevel: "aal1",
		Identity:                    &kratos.Identity{ID: goldenSubject, Traits: json.RawMessage(`{"email":"ada@example.com","name":{"first":"Ada","last":"Lovelace"}}`)}}
	s.Devices = append(s.Devices, struct {
		ID        string `json:"id"`
		IPAddress string `json:"ip_address"`
		UserAgent string `json:"user_agent"`
		Location  string `json:"location"`
	}{ID: "d1", IPAddress: "203.0.113.7", UserAgent: chromeMac})
	return s, nil
}

// accountHydra holds two granted apps and a logout request for someone
// else.
type accountHydra struct{ grants []hydra.GrantedConsent }

func (h *accountHydra) Ready(context.Context) error { return nil }
func (h *accountHydra) GetLoginRequest(context.Context, string) (*hydra.LoginRequest, error) {
	return nil, errNotStubbed
}
func (h *accountHydra) AcceptLogin(context.Context, string, hydra.AcceptLogin) (string, error) {
	return "", errNotStubbed
}
func (h *accountHydra) RejectLogin(context.Context, string, hydra.Reject) (string, error) {
	return "", errNotStubbed
}
func (h *accountHydra) GetConsentRequest(context.Context, string) (*hydra.ConsentRequest, error) {
	return nil, errNotStubbed
}
func (h *accountHydra) AcceptConsent(context.Context, string, hydra.AcceptConsent) (string, error) {
	return "", errNotStubbed
}
func (h *accountHydra) RejectConsent(context.Context, string, hydra.Reject) (string, error) {
	return "", errNotStubbed
}
func (h *accountHydra) GetLogoutRequest(_ context.Context, challenge string) (*hydra.LogoutRequest, error) {
	return &hydra.LogoutRequest{Challenge: challenge, Subject: "0b7e2c1d-0000-4000-8000-000000000001", SessionID: "s1",
		Client: &hydra.OAuth2Client{ClientID: "app", ClientName: "Example App", ClientURI: "https://app.example.com/"}}, nil
}
func (h *accountHydra) AcceptLogout(context.Context, string) (string, error) {
	return "", errNotStubbed
}
func (h *accountHydra) RejectLogout(context.Context, string) error        { return errNotStubbed }
func (h *accountHydra) RevokeLoginSession(context.Context, string) error  { return errNotStubbed }
func (h *accountHydra) RevokeLoginSessions(context.Context, string) error { return errNotStubbed }
func (h *accountHydra) RevokeConsentSessions(context.Context, string, string) error {
	return errNotStubbed
}
func (h *accountHydra) ListConsentSessions(context.Context, string) ([]hydra.GrantedConsent, bool, error) {
	return h.grants, false, nil
}

func goldenGrants() []hydra.GrantedConsent {
	at := func(s string) *time.Time { t, _ := time.Parse(time.RFC3339, s); return &t }
	return []hydra.GrantedConsent{
		{GrantScope: []string{"openid", "email"}, HandledAt: at("2026-03-01T10:00:00Z"),
			ConsentRequest: &hydra.ConsentRequest{Client: &hydra.OAuth2Client{ClientID: "notes", ClientName: "Notes",
				ClientURI: "https://notes.example.com/", LogoURI: "https://notes.example.com/logo.png"}}},
		{GrantScope: []string{"openid", "profile", "offline_access"}, HandledAt: at("2026-05-02T09:30:00Z"),
			ConsentRequest: &hydra.ConsentRequest{Client: &hydra.OAuth2Client{ClientID: "calendar", ClientName: "Calendar"}}},
		// The same client again, later, with more: one entry.
		{GrantScope: []string{"openid", "email", "profile"}, HandledAt: at("2026-06-03T08:15:00Z"),
			ConsentRequest: &hydra.ConsentRequest{Client: &hydra.OAuth2Client{ClientID: "notes", ClientName: "Notes",
				ClientURI: "https://notes.example.com/", LogoURI: "https://notes.example.com/logo.png"}}},
	}
}

// accountServer is Hera with a signed-in user (accountKratos) and Hydra
// stubbed by hy.
func accountServer(tb testing.TB, log *slog.Logger, hy *accountHydra) http.Handler {
	tb.Helper()
	env := map[string]string{
		"HERA_PUBLIC_URL":   goldenPublicURL,
		"KRATOS_PUBLIC_URL": goldenKratosURL,
		"KRATOS_ADMIN_URL":  goldenAdminURL,
		"HYDRA_ADMIN_URL":   "http://127.0.0.1:4445",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: &accountKratos{}, Hydra: hy})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// TestGoldenAccountPages renders the pages of the account's own controls
// (connected apps, delete my account, goodbye, a logout request for
// another account) in every language, runs the page checks on them and
// compares with testdata/golden/account/<lang>/<name>.html (-update
// rewrites them).
func TestGoldenAccountPages(t *testing.T) {
	hy := &accountHydra{grants: goldenGrants()}
	h := accountServer(t, slog.New(slog.DiscardHandler), hy)
	pages := []struct {
		name, path string
		status     int
		empty      bool
	}{
		{"apps", "/apps", http.StatusOK, false},
		{"apps_none_removed", "/apps?done=removed", http.StatusOK, true},
		{"delete_account", "/settings/delete", http.StatusOK, false},
		{"goodbye", "/goodbye", http.StatusOK, false},
		{"logout_other_account", "/logout?logout_challenge=abc", http.StatusConflict, false},
	}
	for _, lang := range []string{"en", "de", "fr", "es"} {
		dir := filepath.Join("testdata", "golden", "account", lang)
		for _, pg := range pages {
			t.Run(lang+"/"+pg.name, func(t *testing.T) {
				hy.grants = goldenGrants()
				if pg.empty {
					hy.grants = nil
				}
				req := httptest.NewRequest(http.MethodGet, pg.path, nil)
				req.Header.Set("Accept", "text/html")
				req.Header.Set("Accept-Language", lang)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				res := rec.Result()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode != pg.status {
					t.Fatalf("status %d, want %d: %s", res.StatusCode, pg.status, b)
				}
				nonce := cspNonce(res.Header.Get("Content-Security-Policy"))
				if nonce == "" {
					t.Fatal("no CSP nonce")
				}
				got := strings.NewReplacer(nonce, noncePlaceholder, strings.ReplaceAll(nonce, "+", "&#43;"), noncePlaceholder,
					res.Header.Get("X-Request-Id"), requestIDPlaceholder).Replace(string(b))
				if !strings.Contains(got, `<html lang="`+lang+`"`) {
					t.Errorf("page not in %s", lang)
				}
				for _, p := range checkPage(got, "", "") {
					// The flow checks expect a flow's form; these pages post
					// to Hera's own handlers.
					if strings.HasPrefix(p, "form action") || p == "no form" {
						continue
					}
					t.Error(p)
				}
				matchGolden(t, filepath.Join(dir, pg.name+".html"), got)
			})
		}
	}
}

func (k *accountKratos) ListSessions(ctx context.Context, b kratos.Browser) ([]kratos.Session, error) {
	s, _ := k.Whoami(ctx, b)
	other := *s
	other.ID = "0c9e7a0b-4e0e-4e0e-8f3a-5f1d0c9e7a0b"
	other.Devices = append(other.Devices[:0:0], other.Devices...)
	other.Devices[0].UserAgent = firefoxLinux
	// A session whose browser sent no User-Agent.
	bare := *s
	bare.ID = "7a0b4e0e-0c9e-4e0e-8f3a-5f1d0c9e7a0b"
	bare.Devices = append(bare.Devices[:0:0], bare.Devices...)
	bare.Devices[0].UserAgent = ""
	return []kratos.Session{*s, other, bare}, nil
}

// TestSessionsPageNamesDevices: each session's browser and system in
// words, in the page's language, and the browser's own string on demand
// (a <details> disclosure); a session without one is an unknown device.
func TestSessionsPageNamesDevices(t *testing.T) {
	h := accountServer(t, slog.New(slog.DiscardHandler), &accountHydra{})
	for lang, want := range map[string][]string{
		"en": {">Chrome on macOS<", ">Firefox on Linux<", ">Unknown device<", "<summary>Browser details</summary>"},
		"de": {">Chrome unter macOS<", ">Firefox unter Linux<", ">Unbekanntes Gerät<", "<summary>Browser-Details</summary>"},
		"es": {">Chrome en macOS<", ">Firefox en Linux<", ">Dispositivo desconocido<", "<summary>Detalles del navegador</summary>"},
		"fr": {">Chrome sur macOS<", ">Firefox sur Linux<", ">Appareil inconnu<", "<summary>Détails du navigateur</summary>"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/sessions", nil)
		req.Header.Set("Accept-Language", lang)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", lang, rec.Code, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the sessions page lacks %q", lang, w)
			}
		}
		// The raw strings only inside their disclosures; none for the
		// session without one.
		if n := strings.Count(body, `<details class="disclose">`); n != 2 {
			t.Errorf("%s: %d disclosures, want 2 (the sessions with a User-Agent)", lang, n)
		}
		for _, ua := range []string{chromeMac, firefoxLinux} {
			if !strings.Contains(body, "<code>"+ua+"</code></details>") {
				t.Errorf("%s: %q is not shown on demand", lang, ua)
			}
		}
	}
}
