package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/web"
)

// TestBranding: an operator's name, logo, favicon, colour, legal links and
// extra CSS reach every page without code changes.
func TestBranding(t *testing.T) {
	css := filepath.Join(t.TempDir(), "extra.css")
	if err := os.WriteFile(css, []byte(".card { border-radius: 0; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HERA_BRAND_NAME":          "Acme ID",
		"HERA_BRAND_LOGO_URL":      "https://cdn.acme.example/logo.svg",
		"HERA_BRAND_FAVICON_URL":   "/favicon.ico",
		"HERA_BRAND_PRIMARY_COLOR": "#C0FFEE",
		"HERA_BRAND_PRIVACY_URL":   "https://acme.example/privacy",
		"HERA_BRAND_TERMS_URL":     "https://acme.example/terms",
		"HERA_BRAND_CSS_FILE":      css,
	}
	var login fixture
	for _, f := range loadFixtures(t) {
		if f.name == "login" {
			login = f
		}
	}
	page := renderFixtureWith(t, login, env, nil)
	for _, want := range []string{
		"<title>Sign in · Acme ID</title>",
		`<link rel="stylesheet" href="/brand.css">`,
		`<link rel="icon" href="/favicon.ico">`,
		`<img src="https://cdn.acme.example/logo.svg" alt="" height="32"> <span>Acme ID</span>`,
		`<a href="https://acme.example/privacy">Privacy policy</a>`,
		`<a href="https://acme.example/terms">Terms of service</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("branded page lacks %s", want)
		}
	}
	if strings.Contains(page, "· Hera") {
		t.Error("Hera's own name still in the title")
	}

	// /brand.css carries the colour and the operator's CSS.
	env["HERA_PUBLIC_URL"], env["KRATOS_PUBLIC_URL"], env["KRATOS_ADMIN_URL"] = goldenPublicURL, goldenKratosURL, goldenAdminURL
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: web.OptionsFrom(cfg), Kratos: &fixtureKratos{f: login}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/brand.css", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	if rec.Code != http.StatusOK || !strings.Contains(string(body), "--primary: #c0ffee") || !strings.Contains(string(body), "border-radius: 0") {
		t.Errorf("/brand.css %d:\n%s", rec.Code, body)
	}

	// Bad branding settings are refused at start, all at once.
	_, err = config.Load(func(k string) string {
		return map[string]string{"KRATOS_PUBLIC_URL": "http://k", "KRATOS_ADMIN_URL": "http://k",
			"HERA_BRAND_PRIMARY_COLOR": "red; } body { display:none", "HERA_BRAND_LOGO_URL": "javascript:alert(1)"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "HERA_BRAND_PRIMARY_COLOR") || !strings.Contains(err.Error(), "HERA_BRAND_LOGO_URL") {
		t.Errorf("bad branding accepted: %v", err)
	}
}
