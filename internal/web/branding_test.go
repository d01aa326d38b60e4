package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/web"
)

// brandServer is Hera's handler configured by env (on top of the golden
// pages' URLs), serving the recorded login flow.
func brandServer(t *testing.T, env map[string]string) (http.Handler, error) {
	t.Helper()
	all := map[string]string{"HERA_PUBLIC_URL": goldenPublicURL, "KRATOS_PUBLIC_URL": goldenKratosURL, "KRATOS_ADMIN_URL": goldenAdminURL}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(func(k string) string { return all[k] })
	if err != nil {
		return nil, err
	}
	return web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: web.OptionsFrom(cfg), Kratos: &fixtureKratos{f: loginFixture(t)}})
}

func loginFixture(t *testing.T) fixture {
	t.Helper()
	for _, f := range loadFixtures(t) {
		if f.name == "login" {
			return f
		}
	}
	t.Fatal("no login fixture")
	return fixture{}
}

// get requests path of h with the headers given as name, value pairs.
func get(h http.Handler, path string, headers ...string) (*http.Response, string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

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
	page := renderFixtureWith(t, loginFixture(t), env, nil)
	for _, want := range []string{
		"<title>Sign in · Acme ID</title>",
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

	// /brand.css carries the colour and the operator's CSS, linked with its
	// version: that URL is cached for good, the plain one briefly.
	m := regexp.MustCompile(`<link rel="stylesheet" href="(/brand\.css\?v=([0-9a-f]{8}))">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("branded page links no versioned /brand.css")
	}
	h, err := brandServer(t, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, cache string }{
		{m[1], "public, max-age=31536000, immutable"},
		{"/brand.css", "public, max-age=300"},
		{"/brand.css?v=00000000", "public, max-age=300"}, // a page from before a restart
	} {
		res, body := get(h, tc.path)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "--primary: #c0ffee") || !strings.Contains(body, "border-radius: 0") {
			t.Errorf("%s: %d:\n%s", tc.path, res.StatusCode, body)
		}
		if got := res.Header.Get("Cache-Control"); got != tc.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tc.path, got, tc.cache)
		}
		if res.Header.Get("ETag") != `"`+m[2]+`"` || res.Header.Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("%s: ETag %q, Content-Type %q", tc.path, res.Header.Get("ETag"), res.Header.Get("Content-Type"))
		}
	}
	if res, _ := get(h, "/brand.css", "If-None-Match", `"`+m[2]+`"`); res.StatusCode != http.StatusNotModified {
		t.Errorf("/brand.css revalidated: %d, want 304", res.StatusCode)
	}
	// A different stylesheet is a different URL.
	env["HERA_BRAND_PRIMARY_COLOR"] = "#c0ffef"
	if other := renderFixtureWith(t, loginFixture(t), env, nil); strings.Contains(other, m[1]) {
		t.Error("another colour, the same /brand.css URL")
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

// TestBrandCSSGolden: /brand.css for a few brand colours, against
// testdata/brand/*.css (-update rewrites them; review the colours: every
// pair is checked by TestBrandPaletteSweep, the look is not).
func TestBrandCSSGolden(t *testing.T) {
	for _, tc := range []struct{ name, color string }{
		{"green", "#2e7d32"},  // white text; lightened links in the dark
		{"dark", "#1a1a2e"},   // needs an edge and light links in the dark
		{"light", "#f5f5dc"},  // black text; darkened links in the light
		{"yellow", "#ffcc00"}, // a bright brand colour
		{"hera", "#2446c7"},   // Hera's own blue
		{"grey", "#808080"},   // no hue to keep
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := brandServer(t, map[string]string{"HERA_BRAND_PRIMARY_COLOR": tc.color})
			if err != nil {
				t.Fatal(err)
			}
			res, got := get(h, "/brand.css")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("/brand.css: %d %s", res.StatusCode, got)
			}
			golden := filepath.Join("testdata", "brand", tc.name+".css")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/web -run BrandCSSGolden -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("/brand.css for %s differs from %s:\n got:\n%s\nwant:\n%s", tc.color, golden, got, want)
			}
		})
	}
}
