package i18n

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ui       []string
		explicit string
		accept   string
		def      string
		want     string
	}{
		{"nothing: English", nil, "", "", "", "en"},
		{"default", nil, "", "", "fr", "fr"},
		{"default by base", nil, "", "", "es-AR", "es"},
		{"unshipped default: English", nil, "", "", "pt", "en"},
		{"Accept-Language over default", nil, "", "de", "fr", "de"},
		{"explicit over Accept-Language", nil, "es", "de", "fr", "es"},
		{"ui_locales over explicit", []string{"fr"}, "es", "de", "en", "fr"},
		{"ui_locales in order", []string{"pt-BR", "de-AT", "fr"}, "", "", "", "de"},
		{"ui_locales space-separated (OIDC)", []string{"pt-BR es-419 fr"}, "de", "", "", "es"},
		{"unshipped ui_locales fall through", []string{"ja", "zh-Hant"}, "es", "de", "", "es"},
		{"unshipped explicit falls through", nil, "pt", "fr;q=0.5", "de", "fr"},
		{"junk explicit falls through", nil, "<script>", "es", "", "es"},
		{"nothing usable: default", []string{"ja"}, "ko", "zh-CN,ru;q=0.8", "de", "de"},
		{"region to base", nil, "de-CH", "", "", "de"},
		{"underscore", nil, "fr_CA", "", "", "fr"},
		{"case", nil, "ES", "", "", "es"},
		{"ISO 639-2 code", nil, "deu", "", "", "de"},
		{"q-values", nil, "", "fr;q=0.3, de;q=0.9, es;q=0.5", "", "de"},
		{"first supported by q", nil, "", "ja, zh;q=0.9, es;q=0.2, fr;q=0.1", "de", "es"},
		{"q=0 excluded", nil, "", "de;q=0, fr;q=0.1", "en", "fr"},
		{"wildcard: default", nil, "", "*", "es", "es"},
		{"equal q keeps order", nil, "", "es;q=0.8, fr;q=0.8", "", "es"},
		{"browser header", nil, "", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "fr", "de"},
		{"junk Accept-Language: default", nil, "", ";;;,,,q=2,=de", "fr", "fr"},
		{"und is no language", nil, "und", "", "es", "es"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Negotiate(tc.ui, tc.explicit, tc.accept, tc.def); got != tc.want {
				t.Errorf("Negotiate(%q, %q, %q, %q) = %q, want %q", tc.ui, tc.explicit, tc.accept, tc.def, got, tc.want)
			}
		})
	}
}

func TestParseAcceptLanguage(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   []string
	}{
		{"", nil},
		{"de", []string{"de"}},
		{"de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", []string{"de-DE", "de", "en-US", "en"}},
		{"fr;q=0.3, de;q=0.9, es", []string{"es", "de", "fr"}},
		{"fr;q=0.5, es;q=0.5", []string{"fr", "es"}},                     // stable
		{"fr; Q=0.5 , es ; q=1", []string{"es", "fr"}},                   // spaces, case
		{"fr;level=1;q=0.4, de", []string{"de", "fr"}},                   // other parameters
		{"fr;q=0, de;q=0.000", nil},                                      // not acceptable
		{"fr;q=1.5, de;q=-1, es;q=abc, it;q=, pt;q=0.5", []string{"pt"}}, // malformed q dropped
		{"*, de;q=0.5", []string{"de"}},                                  // wildcard dropped
		{" , ,de,, ", []string{"de"}},                                    // empty entries
		{"d e, x=y, \"de\", de", []string{"de"}},                         // not tags
		{strings.Repeat("a", 65) + ", de", []string{"de"}},               // overlong tag
		{"fr;q=0.5;q=0.9", []string{"fr"}},                               // last q wins
	} {
		got := parseAcceptLanguage(tc.header)
		if !slices.Equal(got, tc.want) {
			t.Errorf("parseAcceptLanguage(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
	// Only the first entries count: a long header cannot cost much.
	long := strings.Repeat("xx,", 1000) + "de"
	if got := parseAcceptLanguage(long); len(got) > maxAcceptEntries || slices.Contains(got, "de") {
		t.Errorf("long header: %d entries, de included: %v", len(got), slices.Contains(got, "de"))
	}
	if got := parseAcceptLanguage(strings.Repeat("x", 10*maxHeaderLen)); len(got) != 0 {
		t.Errorf("huge header parsed: %q", got)
	}
}

func TestDir(t *testing.T) {
	for _, lang := range []string{"ar", "ar-EG", "he", "iw", "fa", "fa-IR", "ur", "yi", "dv", "ps", "ckb", "sd", "ug", "az-Arab", "pa-Arab", "ku-Arab", "syr", "nqo"} {
		if got := Dir(lang); got != "rtl" {
			t.Errorf("Dir(%q) = %q, want rtl", lang, got)
		}
	}
	for _, lang := range []string{"en", "de", "fr", "es", "de-CH", "az", "az-Latn", "ku", "pa", "zh-Hant", "ja", "", "und", "x-klingon", "<junk>", strings.Repeat("a", 100)} {
		if got := Dir(lang); got != "ltr" {
			t.Errorf("Dir(%q) = %q, want ltr", lang, got)
		}
	}
	c := mustNew(t)
	for _, lang := range c.Languages() {
		if Dir(lang) != "ltr" {
			t.Errorf("shipped %s is not ltr", lang)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	f.Add("fr de", "es", "de-DE,de;q=0.9,en;q=0.8", "en")
	f.Add("", "pt", "*;q=0.5, fr;q=0.1", "xx")
	f.Add("ar\tiw", "", ";;q=1,,", "")
	f.Add("", "", "de;q=0.5;q=1, es;q=1.000", "fr")
	f.Add("zh-Hant-TW", "_", "i-klingon, x-foo;q=0.9", "es-419")
	shipped := shippedLanguages()
	f.Fuzz(func(t *testing.T, ui, explicit, accept, def string) {
		got := Negotiate(strings.Split(ui, "|"), explicit, accept, def)
		if !slices.Contains(shipped, got) {
			t.Fatalf("Negotiate = %q, not a shipped language", got)
		}
		if again := Negotiate(strings.Split(ui, "|"), explicit, accept, def); again != got {
			t.Fatalf("not deterministic: %q then %q", got, again)
		}
		// Accept-Language alone: its best shipped tag, else the default.
		tags := parseAcceptLanguage(accept)
		if len(tags) > maxAcceptEntries {
			t.Fatalf("%d tags", len(tags))
		}
		want := ""
		for _, tag := range tags {
			if tag == "" || tag == "*" || len(tag) > maxTagLen || strings.ContainsAny(tag, ",;") {
				t.Fatalf("bad tag %q", tag)
			}
			if want == "" {
				want = matchTag(tag, shipped)
			}
		}
		if want == "" {
			want = "es"
		}
		if got := Negotiate(nil, "", accept, "es"); got != want {
			t.Fatalf("Negotiate(Accept-Language %q) = %q, want %q", accept, got, want)
		}
		if d := Dir(explicit); d != "ltr" && d != "rtl" {
			t.Fatalf("Dir(%q) = %q", explicit, d)
		}
	})
}

func FuzzMessage(f *testing.F) {
	c := mustNew(f)
	f.Add("de", int64(4000032), "fallback", "min_length", "8", 5.0)
	f.Add("fr-CA", int64(4010001), "", "expired_at", "2030-01-01T00:00:00Z", 1e12)
	f.Add("x", int64(1070002), "t", "title", "{x}", -1.5)
	f.Fuzz(func(t *testing.T, lang string, id int64, fallback, key, s string, n float64) {
		ctx := map[string]any{key: s, key + "_unix": n, "actual_length": n}
		got := c.Message(lang, id, fallback, ctx)
		if !c.has(c.resolve(lang), strconv.FormatInt(id, 10)) && !c.has("en", strconv.FormatInt(id, 10)) && got != fallback {
			t.Fatalf("unknown ID %d: %q, want the fallback %q", id, got, fallback)
		}
		_ = c.T(lang, key, map[string]any{"count": n, key: s})
		_ = c.HTML(lang, key, map[string]any{key: s})
	})
}
