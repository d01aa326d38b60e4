package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// TestBrandContrast: whatever colour an operator brands Hera with, every
// text stays readable (axe-core's color-contrast, WCAG AA 4.5:1) in the
// light and the dark scheme: buttons, the text on them, secondary buttons,
// links on the card and on the page. A green (white text on it), a dark
// (invisible as link text on the dark background) and a very light colour
// (invisible as link text on the light background).
func TestBrandContrast(t *testing.T) {
	// The logo comes from the brand assets directory.
	assets := t.TempDir()
	if err := os.WriteFile(filepath.Join(assets, "logo.svg"), []byte(brandLogo), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, color string }{
		{"green", "#2e7d32"},
		{"dark", "#1a1a2e"},
		{"light", "#f5f5dc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startWithEnv(t, stacktest.Options{}, map[string]string{
				"HERA_BRAND_PRIMARY_COLOR": c.color,
				// Links on the page's background, below the card.
				"HERA_BRAND_PRIVACY_URL": "https://example.com/privacy",
				"HERA_BRAND_TERMS_URL":   "https://example.com/terms",
				"HERA_BRAND_ASSETS_DIR":  assets,
				"HERA_BRAND_LOGO_URL":    "/brand/logo.svg",
			})
			email := newEmail("brand-" + c.name)
			s.createUser(t, email, password)
			for _, scheme := range []string{"light", "dark"} {
				t.Run(scheme, func(t *testing.T) {
					b := s.newTab(t)
					b.colorScheme(scheme)
					state := "brand-" + c.name + "-" + scheme
					// A primary button, secondary buttons, a link button and
					// links, with an error shown.
					b.login(email, "not the password")
					b.mustSee("credentials are invalid")
					b.mustUseBrandColors(scheme)
					b.mustShowBrandLogo()
					b.check(state + "-login-error")
					// Links on the card and a secondary button (sign out).
					b.login(email, password)
					b.mustBeAt("/")
					b.check(state + "-home")
					b.open("/settings")
					b.check(state + "-settings")
					b.open("/sessions")
					b.check(state + "-sessions")
				})
			}
		})
	}
}

// colorScheme makes the tab prefer a light or a dark colour scheme.
func (b *tab) colorScheme(scheme string) {
	b.t.Helper()
	b.do("prefer a "+scheme+" colour scheme", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}

// mustUseBrandColors checks that the page is styled with the brand's
// colours — its versioned /brand.css loaded, --primary no longer Hera's
// own — or the audits would check Hera's colours.
func (b *tab) mustUseBrandColors(scheme string) {
	b.t.Helper()
	got := evaluate[string](b, `(() => {
  const l = document.querySelector('link[rel=stylesheet][href^="/brand.css?v="]');
  return (l && l.sheet && l.sheet.cssRules.length >= 2 ? "loaded " : "not loaded ") +
    getComputedStyle(document.documentElement).getPropertyValue("--primary").trim();
})()`)
	hera := map[string]string{"light": "#2446c7", "dark": "#8aa6ff"}[scheme]
	if !strings.HasPrefix(got, "loaded #") || got == "loaded "+hera {
		b.fatalf("/brand.css and --primary: %q, want it loaded and other than Hera's %s", got, hera)
	}
}

// brandLogo is an SVG logo that would, opened on Hera's origin as a
// document, run a script: the sandbox Hera serves assets in must stop it.
const brandLogo = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32" viewBox="0 0 64 32">` +
	`<rect width="64" height="32" rx="6" fill="#2e7d32"/>` +
	`<script>document.documentElement.setAttribute("data-ran", "yes")</script></svg>`

// mustShowBrandLogo checks the header's logo: loaded from its versioned
// /brand/ URL. Opened on its own, it is an SVG document whose script does
// not run.
func (b *tab) mustShowBrandLogo() {
	b.t.Helper()
	src := evaluate[string](b, `(() => { const i = document.querySelector(".brand img"); return i && i.complete && i.naturalWidth > 0 ? i.getAttribute("src") : ""; })()`)
	if !regexp.MustCompile(`^/brand/logo\.[0-9a-f]{8}\.svg$`).MatchString(src) {
		b.fatalf("the header's logo is not the loaded, versioned brand asset: %q", src)
	}
	b.open(src)
	// Chromium says it blocked the script because of the sandbox: wait for
	// that (it is expected, so it is not one of the tab's problems).
	blocked := "Blocked script execution in '" + b.s.HeraURL + src + "' because the document's frame is sandboxed"
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		i := slices.IndexFunc(b.problems, func(p string) bool { return strings.Contains(p, blocked) })
		if i >= 0 {
			b.problems = slices.Delete(b.problems, i, i+1)
		}
		b.mu.Unlock()
		if i >= 0 {
			break
		}
		if time.Now().After(deadline) {
			b.fatalf("Chromium did not report the logo's script blocked by the sandbox (%q)", b.consoleProblems())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ran := evaluate[string](b, `document.documentElement.getAttribute("data-ran") || ""`); ran != "" {
		b.fatalf("the logo's script ran on Hera's origin")
	}
	b.do("back to the page", chromedp.NavigateBack())
}
