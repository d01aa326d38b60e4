// Package i18n is Hera's message catalog: Kratos's UI messages, keyed by
// their numeric ID, and Hera's own strings, keyed by name ("hera.login.title"),
// in every shipped language.
//
// Translations live in locales/<lang>.json, one flat JSON object per base
// language, mapping a key to a template. Kratos message IDs are the decimal
// keys; every other key is one of Hera's strings. A template holds literal
// text and named placeholders, "{name}" or "{name:style}" with style time,
// date or datetime; for Kratos messages the names are the keys of the
// message's context (min_length, expired_at, …). A value may instead be an
// object of CLDR plural forms ({"one": "…", "other": "…"}), chosen by the
// "count" argument.
//
// New parses and checks every locale once at start; lookups never fail: a
// missing translation falls back to English, then to Kratos's own text (for
// Kratos messages) or the key (for Hera's strings).
package i18n

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed locales/*.json
var localeFS embed.FS

// localeDir is where the locale files are, in localeFS.
const localeDir = "locales"

// defaultLang is the language of last resort: the one every other
// language's keys and placeholders are checked against.
const defaultLang = "en"

// Catalog holds the parsed templates of every shipped language. It is
// immutable after New and safe for concurrent use.
type Catalog struct {
	langs   []string                     // sorted base language codes
	entries map[string]map[string]*entry // language → key → entry
	byID    map[string]map[int64]*entry  // language → Kratos message ID → entry (the same entries)
	formats map[string]formats           // language → how values are formatted
}

// entry is one key's translation: a template, or plural forms.
type entry struct {
	text   tmpl
	plural map[string]tmpl // CLDR category → template; nil if not plural
}

// formats says how a language writes times, numbers and lists.
type formats struct {
	time, date, datetime string // Go time layouts, applied in UTC
	decimal              string // decimal separator
	listOr               string // between the items of a list ("a or b")
}

// Keys of the locale files that configure formatting rather than text.
const (
	keyTime     = "hera.format.time"
	keyDate     = "hera.format.date"
	keyDateTime = "hera.format.datetime"
	keyDecimal  = "hera.format.decimal"
	keyListOr   = "hera.list.or"
)

// New loads the embedded locales. It checks every file and reports all
// problems at once: malformed JSON or templates, keys English lacks,
// placeholders that are neither in the English template nor known keys of
// the Kratos message's context.
func New() (*Catalog, error) {
	return load(localeFS, localeDir)
}

// load reads every <lang>.json in dir of fsys.
func load(fsys fs.FS, dir string) (*Catalog, error) {
	des, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	var errs []error
	c := &Catalog{entries: map[string]map[string]*entry{}, formats: map[string]formats{}}
	for _, de := range des {
		name := de.Name()
		lang, ok := strings.CutSuffix(name, ".json")
		if de.IsDir() || !ok {
			continue
		}
		if !validLangCode(lang) {
			errs = append(errs, fmt.Errorf("i18n: %s: file name must be a lower-case base language code (en.json, de.json)", name))
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("i18n: %w", err))
			continue
		}
		entries, ferrs := parseLocale(data)
		for _, e := range ferrs {
			errs = append(errs, fmt.Errorf("i18n: %s: %w", name, e))
		}
		c.entries[lang] = entries
		c.langs = append(c.langs, lang)
	}
	slices.Sort(c.langs)
	en, ok := c.entries[defaultLang]
	if !ok {
		errs = append(errs, fmt.Errorf("i18n: %s.json is missing: every key needs an English template", defaultLang))
	} else {
		for _, lang := range c.langs {
			errs = append(errs, checkLocale(lang, c.entries[lang], en)...)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.byID = make(map[string]map[int64]*entry, len(c.langs))
	for _, lang := range c.langs {
		c.formats[lang] = c.loadFormats(lang)
		ids := map[int64]*entry{}
		for key, e := range c.entries[lang] {
			if isKratosKey(key) {
				if id, err := strconv.ParseInt(key, 10, 64); err == nil {
					ids[id] = e
				}
			}
		}
		c.byID[lang] = ids
	}
	return c, nil
}

// validLangCode accepts ISO 639 base language codes: 2 or 3 lower-case letters.
func validLangCode(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// parseLocale reads a locale file: one JSON object whose values are
// templates or objects of plural forms. Duplicate keys are errors (a JSON
// decoder would silently keep the last).
func parseLocale(data []byte) (map[string]*entry, []error) {
	out := map[string]*entry{}
	var errs []error
	dec := json.NewDecoder(bytes.NewReader(data))
	bad := func(err error) (map[string]*entry, []error) {
		return out, append(errs, fmt.Errorf("invalid JSON: %w", err))
	}
	if t, err := dec.Token(); err != nil {
		return bad(err)
	} else if t != json.Delim('{') {
		return bad(errors.New("want an object of key → template"))
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key := kt.(string) // object keys are always strings
		vt, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		if _, dup := out[key]; dup {
			errs = append(errs, fmt.Errorf("%q: duplicate key", key))
		}
		if !validKey(key) {
			errs = append(errs, fmt.Errorf("%q: a key is a Kratos message ID (digits) or a dotted lower-case name", key))
		}
		e := &entry{}
		switch v := vt.(type) {
		case string:
			t, err := parseTemplate(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%q: %w", key, err))
			}
			e.text = t
		case json.Delim:
			if v != '{' {
				return bad(fmt.Errorf("%q: want a template or an object of plural forms", key))
			}
			e.plural = map[string]tmpl{}
			for dec.More() {
				ct, err := dec.Token()
				if err != nil {
					return bad(err)
				}
				cat := ct.(string)
				vt, err := dec.Token()
				if err != nil {
					return bad(err)
				}
				s, ok := vt.(string)
				if !ok {
					return bad(fmt.Errorf("%q: plural form %q must be a string", key, cat))
				}
				if !slices.Contains(pluralCategories(), cat) {
					errs = append(errs, fmt.Errorf("%q: unknown plural category %q (want one of %s)", key, cat, strings.Join(pluralCategories(), ", ")))
				}
				t, err := parseTemplate(s)
				if err != nil {
					errs = append(errs, fmt.Errorf("%q (%s): %w", key, cat, err))
				}
				e.plural[cat] = t
			}
			if _, err := dec.Token(); err != nil { // the closing brace
				return bad(err)
			}
			if _, ok := e.plural["other"]; !ok {
				errs = append(errs, fmt.Errorf("%q: plural forms need \"other\"", key))
			}
			if isKratosKey(key) {
				errs = append(errs, fmt.Errorf("%q: Kratos messages have no plural forms", key))
			}
		default:
			return bad(fmt.Errorf("%q: want a template or an object of plural forms", key))
		}
		out[key] = e
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(errors.New("trailing data after the object"))
	}
	return out, errs
}

// validKey accepts a Kratos message ID or a dotted name of lower-case
// letters, digits and underscores.
func validKey(k string) bool {
	if isKratosKey(k) {
		return true
	}
	if k == "" || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isKratosKey reports whether k is a Kratos message ID.
func isKratosKey(k string) bool {
	if k == "" || len(k) > 18 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return true
}

// checkLocale checks one language against English: no keys English lacks,
// and no placeholders but English's (or, for Kratos messages, the keys of
// the message's context).
func checkLocale(lang string, entries, en map[string]*entry) []error {
	var errs []error
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		e := entries[key]
		allowed := map[string]bool{}
		if isKratosKey(key) {
			id, _ := strconv.ParseInt(key, 10, 64)
			for _, k := range kratosContextKeys(id) {
				allowed[k] = true
			}
		}
		if lang != defaultLang {
			base, ok := en[key]
			if !ok {
				errs = append(errs, fmt.Errorf("i18n: %s.json: %q: not in %s.json", lang, key, defaultLang))
				continue
			}
			for _, name := range base.placeholders() {
				allowed[name] = true
			}
		} else if !isKratosKey(key) {
			continue // English defines Hera's placeholders
		}
		for _, name := range e.placeholders() {
			if !allowed[name] {
				known := "the English template"
				if isKratosKey(key) {
					known += " or the context of Kratos message " + key
				}
				errs = append(errs, fmt.Errorf("i18n: %s.json: %q: placeholder {%s} is not in %s", lang, key, name, known))
			}
		}
	}
	return errs
}

// loadFormats reads a language's formatting keys, falling back to English's.
func (c *Catalog) loadFormats(lang string) formats {
	get := func(key string) string {
		for _, l := range []string{lang, defaultLang} {
			if e := c.entries[l][key]; e != nil && e.plural == nil {
				return e.text.literal()
			}
		}
		return ""
	}
	f := formats{time: get(keyTime), date: get(keyDate), datetime: get(keyDateTime), decimal: get(keyDecimal), listOr: get(keyListOr)}
	if f.time == "" {
		f.time = "15:04 MST"
	}
	if f.date == "" {
		f.date = "2006-01-02"
	}
	if f.datetime == "" {
		f.datetime = f.date + " " + f.time
	}
	if f.decimal == "" {
		f.decimal = "."
	}
	if f.listOr == "" {
		f.listOr = ", "
	}
	return f
}

// Languages returns the shipped languages' base codes, sorted.
func (c *Catalog) Languages() []string {
	return slices.Clone(c.langs)
}

// resolve maps a language tag to a shipped language: its base language if
// shipped ("de-CH" → "de"), else English.
func (c *Catalog) resolve(lang string) string {
	b := baseOf(lang)
	if _, ok := c.entries[b]; ok {
		return b
	}
	return defaultLang
}

// baseOf returns the lower-cased primary subtag of a language tag.
func baseOf(lang string) string {
	lang = strings.TrimSpace(lang)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	return strings.ToLower(lang)
}

// Message returns Kratos message id in lang, with the values of the
// message's context (ctx, as decoded from Kratos's JSON) put in. Times —
// context keys ending in _at, or any {key:time|date|datetime} placeholder —
// may be RFC 3339 strings or Unix seconds and are written the language's
// way, in UTC; a key "x_at" missing from ctx is read from "x_at_unix".
// Lists of strings or numbers are joined ("string or number"); other lists
// and objects (such as the lookup secrets' "secrets") are not interpolated.
//
// For an ID the catalog lacks, or a context that lacks a value the template
// needs, Message returns fallback — Kratos's own (English) text; with no
// fallback either, the template without the missing values (or "" for an
// unknown ID).
func (c *Catalog) Message(lang string, id int64, fallback string, ctx map[string]any) string {
	l := c.resolve(lang)
	get := contextGetter(ctx)
	if e := c.byID[l][id]; e != nil {
		if s, ok := c.render(l, e.text, get, missingFail, false); ok {
			return s
		}
		if fallback != "" {
			return fallback
		}
		s, _ := c.render(l, e.text, get, missingEmpty, false)
		return s
	}
	if fallback != "" || l == defaultLang {
		return fallback
	}
	if e := c.byID[defaultLang][id]; e != nil {
		if s, ok := c.render(defaultLang, e.text, get, missingFail, false); ok {
			return s
		}
	}
	return fallback
}

// T returns Hera's string key in lang with args put in. It falls back to
// English, then to the key itself. A placeholder args lacks stays as
// "{name}", so the omission shows. Plural strings are chosen by
// args["count"]. time.Time values are written the language's way (in UTC;
// "datetime" unless the placeholder says time or date).
func (c *Catalog) T(lang, key string, args map[string]any) string {
	return c.t(lang, key, args, false)
}

// HTML is T for templates: the text is HTML-escaped, except for arguments of
// type template.HTML, which are put in as they are (so a caller can wrap a
// value in markup: "You are signed in as <strong>…</strong>").
func (c *Catalog) HTML(lang, key string, args map[string]any) template.HTML {
	return template.HTML(c.t(lang, key, args, true))
}

func (c *Catalog) t(lang, key string, args map[string]any, html bool) string {
	l := c.resolve(lang)
	e := c.entries[l][key]
	if e == nil {
		l = defaultLang
		e = c.entries[l][key]
	}
	if e == nil {
		if html {
			return template.HTMLEscapeString(key)
		}
		return key
	}
	t := e.text
	if e.plural != nil {
		cat := "other"
		if n, ok := toFloat(args["count"]); ok {
			cat = pluralCategory(l, n)
		}
		var ok bool
		if t, ok = e.plural[cat]; !ok {
			t = e.plural["other"]
		}
	}
	s, _ := c.render(l, t, func(name string) (any, bool) {
		v, ok := args[name]
		return v, ok
	}, missingKeep, html) // missingKeep never fails
	return s
}

// FormatTime writes t in UTC the language's way; style is "time", "date"
// or "datetime".
func (c *Catalog) FormatTime(lang string, t time.Time, style string) string {
	return c.formats[c.resolve(lang)].formatTime(t, style)
}

// has reports whether lang has its own translation of key.
func (c *Catalog) has(lang, key string) bool {
	_, ok := c.entries[lang][key]
	return ok
}

// placeholders lists the names an entry's templates use.
func (e *entry) placeholders() []string {
	var out []string
	add := func(t tmpl) {
		for _, s := range t {
			if s.name != "" && !slices.Contains(out, s.name) {
				out = append(out, s.name)
			}
		}
	}
	add(e.text)
	for _, t := range e.plural {
		add(t)
	}
	slices.Sort(out)
	return out
}
