package brand

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="#2e7d32"/></svg>`

var woff2 = append([]byte("wOF2"), make([]byte, 60)...)

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

// TestLoadAssets: a directory as Kubernetes mounts a ConfigMap — each file
// a link into ..data, itself a link to a dated directory — is read whole,
// each file under its name and a versioned name with its content's hash;
// names starting with a dot are neither files nor served.
func TestLoadAssets(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"..2026_12_07/logo.svg":   []byte(logoSVG),
		"..2026_12_07/icon.png":   pngBytes(t),
		"..2026_12_07/sans.woff2": woff2,
		".env":                    []byte("SECRET=1"),
	})
	if err := os.Symlink("..2026_12_07", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"logo.svg", "icon.png", "sans.woff2"} {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	a, err := LoadAssets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 3 {
		t.Errorf("%d files, want 3", a.Len())
	}
	logo := a.File("logo.svg")
	if logo == nil || string(logo.Body) != logoSVG || logo.ContentType != "image/svg+xml" ||
		logo.Hash != ContentHash([]byte(logoSVG)) || logo.Versioned != "logo."+logo.Hash+".svg" {
		t.Fatalf("logo.svg: %+v", logo)
	}
	for _, tc := range []struct {
		name    string
		want    *Asset
		current bool
	}{
		{logo.Versioned, logo, true},
		{"logo.svg", logo, false},
		{"logo.0badc0de.svg", logo, false}, // another version's URL
		{"icon.png", a.File("icon.png"), false},
		{".env", nil, false},
		{"..data", nil, false},
		{"..data/logo.svg", nil, false},
		{"../logo.svg", nil, false},
		{"LOGO.svg", nil, false},
		{"logo.0badc0de.png", nil, false},
		{"", nil, false},
	} {
		if f, current := a.Lookup(tc.name); f != tc.want || current != tc.current {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tc.name, f, current, tc.want, tc.current)
		}
	}
	if f := a.File("sans.woff2"); f == nil || f.ContentType != "font/woff2" {
		t.Errorf("sans.woff2: %+v", f)
	}
	if a, err := LoadAssets(""); err != nil || a.Len() != 0 {
		t.Errorf(`LoadAssets(""): %v, %v`, a, err)
	}
}

// TestLoadAssetsRefuses: a directory Hera would serve something unsafe or
// unexpected from is refused, every problem said with its file.
func TestLoadAssetsRefuses(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.svg")
	writeFiles(t, filepath.Dir(outside), map[string][]byte{"outside.svg": []byte(logoSVG)})
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"unknown type", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"evil.html": []byte("<script>alert(1)</script>"), "style.css": []byte("a{}"), "README": []byte("x")})
		}, []string{`evil.html: unknown type ".html"`, `style.css: unknown type ".css"`, `README: unknown type ""`}},
		{"content not of its type", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"logo.png": []byte("<html><script>alert(1)</script>"), "logo.svg": []byte("<html><body>hi</body></html>"),
				"font.woff2": pngBytes(t), "empty.svg": nil})
		}, []string{"logo.png: the content is text/html; charset=utf-8, not image/png", "logo.svg: not an SVG image",
			"font.woff2: the content is image/png, not font/woff2", "empty.svg: not an SVG image"}},
		{"too large", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"huge.png": append(pngBytes(t), make([]byte, 1<<20)...)})
		}, []string{"huge.png:", "more than 1024 KiB"}},
		{"too many", func(t *testing.T, dir string) {
			files := map[string][]byte{}
			for i := range 65 {
				files[fmt.Sprintf("logo%d.svg", i)] = []byte(logoSVG)
			}
			writeFiles(t, dir, files)
		}, []string{"more than 64 files"}},
		{"too much in all", func(t *testing.T, dir string) {
			files := map[string][]byte{}
			for i := range 9 {
				files[fmt.Sprintf("big%d.png", i)] = append(pngBytes(t), make([]byte, 1000<<10)...)
			}
			writeFiles(t, dir, files)
		}, []string{"more than 8 MiB"}},
		{"links out of the directory", func(t *testing.T, dir string) {
			rel, _ := filepath.Rel(dir, outside)
			for name, target := range map[string]string{"abs.svg": outside, "rel.svg": rel, "dangling.svg": "nowhere.svg", "passwd.svg": "/etc/passwd"} {
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"abs.svg: a symbolic link out of the directory", "rel.svg: a symbolic link out of the directory",
			"passwd.svg: a symbolic link out of the directory", "dangling.svg: a symbolic link to nothing"}},
		{"a subdirectory", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"fonts/sans.woff2": woff2})
		}, []string{"fonts: not a regular file"}},
		{"a name URLs would need to escape", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"my logo.svg": []byte(logoSVG), "logo%2f.svg": []byte(logoSVG)})
		}, []string{"my logo.svg: names may use only", "logo%2f.svg: names may use only"}},
		{"a file named as another's versioned name", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"logo.svg": []byte(logoSVG), "logo." + ContentHash([]byte(logoSVG)) + ".svg": []byte(logoSVG)})
		}, []string{"its name is logo.svg's versioned name"}},
		{"not a directory", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, []string{"no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			a, err := LoadAssets(dir)
			if err == nil {
				t.Fatalf("accepted: %d files", a.Len())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// Another file named like a versioned name (another hash) is a file.
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"logo.svg": []byte(logoSVG), "logo.0af3c1d5.svg": []byte(logoSVG)})
	if _, err := LoadAssets(dir); err != nil {
		t.Error(err)
	}
}
