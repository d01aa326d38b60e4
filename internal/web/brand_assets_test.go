package web_test

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="#2e7d32"/></svg>`

// pngBytes is a real 2×2 PNG.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// assetsDir is a brand assets directory as Kubernetes mounts a ConfigMap:
// each file a link into ..data, itself a link to a dated directory.
func assetsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"..2026_12_07/logo.svg":   []byte(logoSVG),
		"..2026_12_07/icon.png":   pngBytes(t),
		"..2026_12_07/sans.woff2": append([]byte("wOF2"), make([]byte, 60)...),
		".env":                    []byte("SECRET=1"), // a dotfile: never served
	})
	if err := os.Symlink("..2026_12_07", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"logo.svg", "icon.png", "sans.woff2"} {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBrandAssets: HERA_BRAND_ASSETS_DIR's files are served under /brand/,
// at versioned URLs cached for good (which the pages use for the logo,
// favicon and social logos) and at their plain names cached briefly, each
// in a sandbox, and nothing else is.
func TestBrandAssets(t *testing.T) {
	dir := assetsDir(t)
	env := map[string]string{
		"HERA_BRAND_ASSETS_DIR":  dir,
		"HERA_BRAND_LOGO_URL":    "/brand/logo.svg",
		"HERA_BRAND_FAVICON_URL": "/brand/icon.png",
		"HERA_SOCIAL_LOGOS":      "acme=/brand/logo.svg",
	}
	page := renderFixtureWith(t, loginFixture(t), env, nil)
	logo := regexp.MustCompile(`<img src="(/brand/logo\.([0-9a-f]{8})\.svg)" alt="" height="32">`).FindStringSubmatch(page)
	icon := regexp.MustCompile(`<link rel="icon" href="(/brand/icon\.[0-9a-f]{8}\.png)">`).FindStringSubmatch(page)
	if logo == nil || icon == nil {
		t.Fatalf("the page does not use the versioned logo and favicon:\n%s", page)
	}
	h, err := brandServer(t, env)
	if err != nil {
		t.Fatal(err)
	}

	immutable, brief := "public, max-age=31536000, immutable", "public, max-age=300"
	for _, tc := range []struct {
		path, ctype, cache string
		body               []byte
	}{
		{logo[1], "image/svg+xml", immutable, []byte(logoSVG)},
		{"/brand/logo.svg", "image/svg+xml", brief, []byte(logoSVG)},
		// A versioned name of another version (a page from a replica
		// with another logo, during a rolling update): the current file,
		// not for good.
		{"/brand/logo.0badc0de.svg", "image/svg+xml", brief, []byte(logoSVG)},
		{icon[1], "image/png", immutable, pngBytes(t)},
		{"/brand/sans.woff2", "font/woff2", brief, nil},
	} {
		res, body := get(h, tc.path)
		if res.StatusCode != http.StatusOK || (tc.body != nil && body != string(tc.body)) {
			t.Errorf("%s: %d %q", tc.path, res.StatusCode, body)
			continue
		}
		for k, want := range map[string]string{
			"Content-Type":            tc.ctype,
			"Cache-Control":           tc.cache,
			"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", tc.path, k, got, want)
			}
		}
	}
	if res, _ := get(h, "/brand/logo.svg", "If-None-Match", `"`+logo[2]+`"`); res.StatusCode != http.StatusNotModified {
		t.Errorf("/brand/logo.svg revalidated: %d, want 304", res.StatusCode)
	}

	// Only the directory's files, by their names: no dotfile, no path, no
	// way out of the directory.
	for _, path := range []string{
		"/brand/.env", "/brand/..data/logo.svg", "/brand/..2026_12_07/logo.svg", "/brand/..data",
		"/brand/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/brand/..%2f..%2fetc%2fpasswd", "/brand/%2e%2e",
		"/brand/", "/brand/logo.svg/", "/brand/sub/logo.svg", "/brand/missing.svg", "/brand/logo.SVG",
	} {
		res, body := get(h, path)
		if res.StatusCode == http.StatusOK || strings.Contains(body, "SECRET") || strings.Contains(body, "root:") {
			t.Errorf("%s: %d, want it not served:\n%.200s", path, res.StatusCode, body)
		}
	}
	// Paths with dot segments are cleaned by the router before any
	// handler: never a file outside the directory.
	res, body := get(h, "/brand/../../../etc/passwd")
	if strings.Contains(body, "root:") || res.StatusCode == http.StatusOK {
		t.Errorf("/brand/../../../etc/passwd: %d %.200s", res.StatusCode, body)
	}

	// Under a path, the pages' URLs and the routes are below it.
	env["HERA_PUBLIC_URL"], env["HERA_BRAND_PRIMARY_COLOR"] = goldenPublicURL+"/auth", "#2e7d32"
	h, err = brandServer(t, env)
	if err != nil {
		t.Fatal(err)
	}
	res, body = get(h, "/auth/login?flow="+loginFixture(t).id, "Accept", "text/html")
	css := regexp.MustCompile(`<link rel="stylesheet" href="(/auth/brand\.css\?v=[0-9a-f]{8})">`).FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || css == nil || !strings.Contains(body, `<img src="/auth`+logo[1]+`"`) {
		t.Fatalf("under /auth: %d, the page lacks /auth/brand.css?v= or /auth%s:\n%s", res.StatusCode, logo[1], body)
	}
	for _, path := range []string{css[1], "/auth" + logo[1]} {
		if res, _ := get(h, path); res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != immutable {
			t.Errorf("%s: %d %q", path, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
	if res, _ := get(h, logo[1]); res.StatusCode == http.StatusOK {
		t.Errorf("%s outside /auth: %d", logo[1], res.StatusCode)
	}

	// Without the setting there is no /brand/.
	h, err = brandServer(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := get(h, "/brand/logo.svg"); res.StatusCode != http.StatusNotFound {
		t.Errorf("/brand/ without HERA_BRAND_ASSETS_DIR: %d", res.StatusCode)
	}
}

// TestBrandAssetsRefused: a brand assets directory brand.LoadAssets
// refuses, and settings naming files it lacks, stop Hera at start, saying
// which setting and file.
func TestBrandAssetsRefused(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"logo.svg": []byte(logoSVG), "sans.woff2": append([]byte("wOF2"), make([]byte, 60)...)})
	_, err := brandServer(t, map[string]string{"HERA_BRAND_ASSETS_DIR": dir,
		"HERA_BRAND_LOGO_URL": "/brand/missing.svg", "HERA_BRAND_FAVICON_URL": "/brand/sans.woff2", "HERA_SOCIAL_LOGOS": "acme=/brand/acme.png"})
	for _, w := range []string{`HERA_BRAND_LOGO_URL="/brand/missing.svg": no file "missing.svg" in HERA_BRAND_ASSETS_DIR`,
		`HERA_BRAND_FAVICON_URL="/brand/sans.woff2": not an image`, `HERA_SOCIAL_LOGOS acme="/brand/acme.png": no file`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	writeFiles(t, dir, map[string][]byte{"evil.html": []byte("<script>alert(1)</script>")})
	_, err = brandServer(t, map[string]string{"HERA_BRAND_ASSETS_DIR": dir})
	if want := "brand assets (HERA_BRAND_ASSETS_DIR=" + dir + "):\nevil.html: unknown type"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks %q:\n%v", want, err)
	}
}
