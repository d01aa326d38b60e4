package i18n

import (
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

// Limits on what Negotiate reads of untrusted input.
const (
	maxTagLen        = 64   // a language tag longer than this is junk
	maxHeaderLen     = 4096 // Accept-Language beyond this is ignored
	maxAcceptEntries = 32   // entries of Accept-Language considered
	maxUILocales     = 16   // ui_locales considered
)

// Negotiate picks the shipped language a page is shown in, by precedence:
//
//  1. uiLocales, the OAuth2 request's ui_locales (Hydra's list; each item
//     may itself be a space-separated list, as in the OIDC parameter), in
//     order;
//  2. explicit, the user's own choice (language switcher, cookie);
//  3. acceptLanguage, the browser's Accept-Language header, by q-value;
//  4. def, the configured default;
//  5. English.
//
// Tags match by base language ("de-CH" → "de", "fr_CA" → "fr"); junk and
// unshipped languages are skipped. The result is always a shipped language.
func Negotiate(uiLocales []string, explicit string, acceptLanguage string, def string) string {
	return negotiate(shippedLanguages(), uiLocales, explicit, acceptLanguage, def)
}

// Negotiate is the package's Negotiate among the catalog's languages,
// without reading the locale directory again.
func (c *Catalog) Negotiate(uiLocales []string, explicit string, acceptLanguage string, def string) string {
	return negotiate(c.langs, uiLocales, explicit, acceptLanguage, def)
}

func negotiate(shipped, uiLocales []string, explicit string, acceptLanguage string, def string) string {
	n := 0
uiLocales:
	for _, item := range uiLocales {
		for _, tag := range strings.Fields(item) {
			if n++; n > maxUILocales {
				break uiLocales
			}
			if l := matchTag(tag, shipped); l != "" {
				return l
			}
		}
	}
	if l := matchTag(explicit, shipped); l != "" {
		return l
	}
	for _, tag := range parseAcceptLanguage(acceptLanguage) {
		if l := matchTag(tag, shipped); l != "" {
			return l
		}
	}
	if l := matchTag(def, shipped); l != "" {
		return l
	}
	return defaultLang
}

// shippedLanguages lists the languages with a locale file.
func shippedLanguages() []string {
	des, _ := fs.ReadDir(localeFS, localeDir) // cannot fail: the embed directive guarantees the directory
	out := make([]string, 0, len(des))
	for _, de := range des {
		if l, ok := strings.CutSuffix(de.Name(), ".json"); ok {
			out = append(out, l)
		}
	}
	return out
}

// matchTag returns tag's base language if it is shipped, else "".
func matchTag(tag string, shipped []string) string {
	if slices.Contains(shipped, tag) {
		return tag // a shipped code as it is: nothing to parse
	}
	b := tagBase(tag)
	if b != "" && slices.Contains(shipped, b) {
		return b
	}
	return ""
}

// tagBase returns the base language of a BCP 47 tag, canonicalised
// ("iw" → "he", "deu" → "de"), or "" for junk. "und" and private-use tags
// have none.
func tagBase(tag string) string {
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > maxTagLen {
		return ""
	}
	t, _ := language.Parse(strings.ReplaceAll(tag, "_", "-"))
	// A malformed tag may still carry a good base language ("de-x" with a
	// bad subtag): only an exact base counts, never one x/text guessed.
	b, conf := t.Base()
	if conf != language.Exact {
		return ""
	}
	return b.String()
}

// parseAcceptLanguage returns the language tags of an Accept-Language
// header, most preferred first: by q-value, then by order. Entries with
// q=0, a malformed q or an empty tag are dropped, and so is "*" (any
// language: the default applies).
func parseAcceptLanguage(h string) []string {
	if len(h) > maxHeaderLen {
		h = h[:maxHeaderLen]
	}
	type weighted struct {
		tag string
		q   float64
	}
	var ws []weighted
	for i, part := range strings.Split(h, ",") {
		if i >= maxAcceptEntries {
			break
		}
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.TrimSpace(tag)
		if tag == "" || tag == "*" || len(tag) > maxTagLen || strings.ContainsAny(tag, " \t\"=") {
			continue
		}
		q, ok := 1.0, true
		for _, p := range strings.Split(params, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(p), "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "q") {
				q, ok = parseQ(strings.TrimSpace(v))
			}
		}
		if !ok || q == 0 {
			continue
		}
		ws = append(ws, weighted{tag, q})
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].q > ws[j].q })
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.tag
	}
	return out
}

// parseQ reads a q-value (RFC 9110: 0 to 1, at most three decimals, though
// more are tolerated).
func parseQ(s string) (float64, bool) {
	if s == "" || len(s) > 8 || s[0] != '0' && s[0] != '1' {
		return 0, false
	}
	q, err := strconv.ParseFloat(s, 64)
	if err != nil || q < 0 || q > 1 {
		return 0, false
	}
	return q, true
}

// Dir returns the text direction of a language: "rtl" for languages
// written in a right-to-left script (Arabic, Hebrew, Persian, Urdu, …, and
// tags naming such a script, like "az-Arab"), else "ltr".
func Dir(lang string) string {
	lang = strings.TrimSpace(lang)
	if lang == "" || len(lang) > maxTagLen {
		return "ltr"
	}
	t, err := language.Parse(strings.ReplaceAll(lang, "_", "-"))
	if err != nil {
		if b := tagBase(lang); b != "" {
			t, _ = language.Parse(b)
		}
	}
	s, conf := t.Script()
	if conf == language.No {
		return "ltr"
	}
	switch s.String() {
	case "Adlm", "Arab", "Aran", "Hebr", "Mand", "Mend", "Nkoo", "Rohg", "Samr", "Syrc", "Thaa", "Yezi":
		return "rtl"
	}
	return "ltr"
}
