package web_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/webtest"
)

// TestGoldenLanguages renders every recorded flow in German, French and
// Spanish (chosen by Accept-Language, by the switcher's cookie) and compares
// with testdata/golden/<lang>/<name>.html; -update rewrites them.
func TestGoldenLanguages(t *testing.T) {
	for _, lang := range []string{"de", "fr", "es"} {
		dir := filepath.Join("testdata", "golden", lang)
		for _, f := range loadFixtures(t) {
			t.Run(lang+"/"+f.name, func(t *testing.T) {
				got := renderFixtureWith(t, f, nil, map[string]string{"Accept-Language": lang + ";q=0.9, en;q=0.5"})
				if !strings.Contains(got, `<html lang="`+lang+`" dir="ltr">`) {
					t.Fatalf("page not marked as %s", lang)
				}
				// The switcher's choice wins over Accept-Language.
				if byCookie := renderFixtureWith(t, f, nil, map[string]string{"Accept-Language": "en", "Cookie": "hera_lang=" + lang}); byCookie != got {
					t.Errorf("cookie choice renders differently:\n%s", webtest.FirstDiff(got, byCookie))
				}
				for _, p := range checkPage(got, f.kind, f.id) {
					t.Error(p)
				}
				matchGolden(t, filepath.Join(dir, f.name+".html"), got)
			})
		}
	}
}

// TestDefaultLanguage: HERA_DEFAULT_LANGUAGE applies when the browser says
// nothing usable.
func TestDefaultLanguage(t *testing.T) {
	f := loadFixtures(t)[0]
	got := renderFixtureWith(t, f, map[string]string{"HERA_DEFAULT_LANGUAGE": "fr"}, map[string]string{"Accept-Language": "ja, zh;q=0.5"})
	if !strings.Contains(got, `<html lang="fr"`) {
		t.Errorf("default language not used:\n%s", got[:200])
	}
}
