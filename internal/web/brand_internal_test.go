package web

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/brand"
)

// TestSchemesMatchStylesheet: the surfaces brand colours are derived
// against (brand.Light, brand.Dark) are hera.css's, and hera.css's own
// colours (no brand colour set) meet the same contrasts.
func TestSchemesMatchStylesheet(t *testing.T) {
	css, err := staticFS.ReadFile("static/hera.css")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile(`(?s):root \{(.*?)\}`).FindAllSubmatch(css, 2)
	if len(blocks) != 2 {
		t.Fatalf("hera.css: want a light and a dark :root block, found %d", len(blocks))
	}
	prop := func(block []byte, name string) brand.RGB {
		m := regexp.MustCompile(`--` + name + `: (#[0-9a-f]{6});`).FindSubmatch(block)
		if m == nil {
			t.Fatalf("hera.css :root lacks --%s", name)
		}
		c, err := brand.ParseHex(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i, s := range []brand.Scheme{brand.Light, brand.Dark} {
		b := blocks[i][1]
		if prop(b, "bg") != s.Page || prop(b, "card") != s.Card || prop(b, "focus") != s.Focus {
			t.Errorf("%s scheme: hera.css has bg %s, card %s, focus %s; internal/brand %+v", s.Name, prop(b, "bg"), prop(b, "card"), prop(b, "focus"), s)
		}
		p := brand.Palette{Primary: prop(b, "primary"), PrimaryFG: prop(b, "primary-fg"), Link: prop(b, "link")}
		if c := brand.Contrast(p.PrimaryFG, p.Primary); c <= brand.MinTextContrast {
			t.Errorf("%s scheme: Hera's button text %.2f:1", s.Name, c)
		}
		if !brand.ReadableOn(p.Link, s.Page, s.Card) || !brand.VisibleOn(p.Primary, s.Page, s.Card) || !brand.VisibleOn(s.Focus, s.Page, s.Card) {
			t.Errorf("%s scheme: Hera's own colours %+v fail on its surfaces", s.Name, p)
		}
	}
}

// TestCustomPropertiesDocumented: every custom property hera.css sets is
// in docs/languages-and-branding.md's table, the way to restyle Hera.
func TestCustomPropertiesDocumented(t *testing.T) {
	css, err := staticFS.ReadFile("static/hera.css")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/languages-and-branding.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "### CSS custom properties")
	props := regexp.MustCompile(`(--[a-z0-9-]+):`).FindAllSubmatch(css, -1)
	if len(props) < 20 {
		t.Fatalf("only %d custom properties found in hera.css", len(props))
	}
	for _, m := range props {
		if !strings.Contains(table, "`"+string(m[1])+"`") {
			t.Errorf("docs/languages-and-branding.md's custom properties lack %s", m[1])
		}
	}
}
