// Package i18n is Hera's message catalog: Kratos's UI messages, keyed by
// their numeric ID, and Hera's own strings, keyed by name ("hera.login.title"),
// in every shipped language, plus the languages and overrides an operator
// adds with a locale directory (HERA_LOCALES_DIR).
//
// Translations live in locales/<lang>.json, one flat JSON object per base
// language, mapping a key to a template. Kratos message IDs are the decimal
// keys; every other key is one of Hera's strings, or "schema.title.<title>"
// for a title of the identity schema (Kratos message 1070002). A template
// holds literal text and named placeholders, "{name}" or "{name:style}" with
// style time, date or datetime; for Kratos messages the names are the keys
// of the message's context (min_length, expired_at, …). A value may instead
// be an object of CLDR plural forms ({"one": "…", "few": "…", "other": "…"}),
// chosen by the "count" argument with CLDR's rules for the language
// (golang.org/x/text/feature/plural).
//
// New and Load parse and check every locale once at start; lookups never
// fail: a missing translation falls back to English, then to Kratos's own
// text (for Kratos messages) or the key (for Hera's strings).
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
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

//go:embed locales/*.json
var localeFS embed.FS

// localeDir is where the locale files are, in localeFS.
const localeDir = "locales"

// defaultLang is the language of last resort: the one every other
// language's keys and placeholders are checked against.
const defaultLang = "en"

// Catalog holds the parsed templates of every language. It is immutable
// after New or Load and safe for concurrent use.
type Catalog struct {
	langs   []string                     // sorted base language codes
	entries map[string]map[string]*entry // language → key → entry
	byID    map[string]map[int64]*entry  // language → Kratos message ID → entry (the same entries)
	titles  map[string]map[string]string // language → identity-schema title → its translation
	tags    map[string]language.Tag      // language → its tag, for plural rules
	formats map[string]formats           // language → how values are formatted
	// warnings are what Load ignored: plural categories a language does
	// not use.
	warnings []string
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

// keyLanguageName is a language's own name, shown in the language
// switcher. A language Hera does not ship must define it.
const keyLanguageName = "hera.language.name"

// Identity-schema titles: Kratos labels a trait's field with message
// 1070002, whose context {title} is the schema's title (the sign-in
// identifier's label too). The key schemaTitlePrefix+title translates it.
const (
	schemaTitleID     = 1070002
	schemaTitlePrefix = "schema.title."
	maxTitleLen       = 200
)

// New loads the embedded locales. It checks every file and reports all
// problems at once: malformed JSON or templates, keys English lacks,
// placeholders that are neither in the English template nor known keys of
// the Kratos message's context, plural entries that lack a category their
// language uses.
func New() (*Catalog, error) {
	return load(localeFS, localeDir, nil, "")
}

// Load is New plus the locale files in dir (HERA_LOCALES_DIR), read once: a
// <lang>.json of a shipped language overrides that language's keys, one of
// another language adds the language (its missing keys fall back to
// English). The files get the checks of New, against the embedded English:
// a key English lacks, a placeholder English's template (or the Kratos
// message's context) lacks, or a plural entry without a category the
// language uses is an error naming the file's path and the key; so is an
// added language without "hera.language.name". Categories the language
// never uses are ignored (Warnings). Files not named *.json are ignored.
// With dir "", Load is New.
func Load(dir string) (*Catalog, error) {
	if dir == "" {
		return New()
	}
	return load(localeFS, localeDir, os.DirFS(dir), dir)
}

// localeFile is one parsed locale file.
type localeFile struct {
	name    string // as errors show it
	lang    string
	entries map[string]*entry
}

// load reads every <lang>.json in dir of fsys, then those of extra (nil:
// none), whose files errors name by their path under extraDir.
func load(fsys fs.FS, dir string, extra fs.FS, extraDir string) (*Catalog, error) {
	files, errs := readLocales(fsys, dir, "")
	if files == nil && errs != nil {
		return nil, errors.Join(errs...)
	}
	c := &Catalog{entries: map[string]map[string]*entry{}, formats: map[string]formats{}, tags: map[string]language.Tag{}}
	for _, f := range files {
		c.entries[f.lang] = f.entries
		c.langs = append(c.langs, f.lang)
	}
	en, ok := c.entries[defaultLang]
	if !ok {
		errs = append(errs, fmt.Errorf("i18n: %s.json is missing: every key needs an English template", defaultLang))
		return nil, errors.Join(errs...)
	}
	for _, f := range files {
		ferrs, warns := checkLocale(f, en, f.lang == defaultLang)
		errs = append(errs, ferrs...)
		c.warnings = append(c.warnings, warns...)
	}
	if extra != nil {
		over, oerrs := readLocales(extra, ".", extraDir)
		errs = append(errs, oerrs...)
		ref := maps.Clone(en) // later files are checked against the embedded English
		for _, f := range over {
			ferrs, warns := checkLocale(f, ref, false)
			errs = append(errs, ferrs...)
			c.warnings = append(c.warnings, warns...)
			cur, shipped := c.entries[f.lang]
			if !shipped {
				if _, ok := f.entries[keyLanguageName]; !ok {
					errs = append(errs, fmt.Errorf("i18n: %s: %q is missing: a language Hera does not ship needs its name, for the language switcher", f.name, keyLanguageName))
				}
				cur = map[string]*entry{}
				c.entries[f.lang] = cur
				c.langs = append(c.langs, f.lang)
			}
			maps.Copy(cur, f.entries)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(c.langs)
	c.byID = make(map[string]map[int64]*entry, len(c.langs))
	c.titles = make(map[string]map[string]string, len(c.langs))
	for _, lang := range c.langs {
		c.tags[lang] = language.Make(lang)
		c.formats[lang] = c.loadFormats(lang)
		ids := map[int64]*entry{}
		for key, e := range c.entries[lang] {
			if isKratosKey(key) {
				if id, err := strconv.ParseInt(key, 10, 64); err == nil {
					ids[id] = e
				}
			}
			if title, ok := strings.CutPrefix(key, schemaTitlePrefix); ok {
				if c.titles[lang] == nil {
					c.titles[lang] = map[string]string{}
				}
				c.titles[lang][title] = e.text.literal()
			}
		}
		c.byID[lang] = ids
	}
	return c, nil
}

// readLocales parses every <lang>.json in dir of fsys. Errors name a file
// by its name, under shownDir if not "". files is nil if dir cannot be
// read.
func readLocales(fsys fs.FS, dir, shownDir string) (files []localeFile, errs []error) {
	des, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if shownDir != "" {
			return nil, []error{fmt.Errorf("i18n: locale directory %s: %w", shownDir, err)}
		}
		return nil, []error{fmt.Errorf("i18n: %w", err)}
	}
	files = []localeFile{}
	for _, de := range des {
		name := de.Name()
		lang, ok := strings.CutSuffix(name, ".json")
		if de.IsDir() || !ok {
			continue
		}
		shown := name
		if shownDir != "" {
			shown = filepath.Join(shownDir, name)
		}
		if !validLangCode(lang) {
			errs = append(errs, fmt.Errorf("i18n: %s: file name must be a lower-case base language code (en.json, de.json)", shown))
			continue
		}
		if b := tagBase(lang); b != lang {
			if b == "" {
				errs = append(errs, fmt.Errorf("i18n: %s: %q is not a language code CLDR knows", shown, lang))
			} else {
				errs = append(errs, fmt.Errorf("i18n: %s: %q is written %q: name the file %s.json", shown, lang, b, b))
			}
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			var pe *fs.PathError
			if shownDir != "" && errors.As(err, &pe) {
				err = fmt.Errorf("%s: %w", shown, pe.Err)
			}
			errs = append(errs, fmt.Errorf("i18n: %w", err))
			continue
		}
		entries, ferrs := parseLocale(data)
		for _, e := range ferrs {
			errs = append(errs, fmt.Errorf("i18n: %s: %w", shown, e))
		}
		files = append(files, localeFile{name: shown, lang: lang, entries: entries})
	}
	return files, errs
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
				if cat == "description" {
					continue // a note for translators (go-i18n v2 JSON)
				}
				if !slices.Contains(pluralCategories(), cat) {
					errs = append(errs, fmt.Errorf("%q: unknown plural category %q (want one of %s)", key, cat, strings.Join(pluralCategories(), ", ")))
				}
				if _, dup := e.plural[cat]; dup {
					errs = append(errs, fmt.Errorf("%q: duplicate plural category %q", key, cat))
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
			} else if len(e.plural) == 1 {
				// {"other": "…"} alone is a plain template, as go-i18n
				// v2 JSON writes a string with a description.
				e.text, e.plural = e.plural["other"], nil
				break
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

// validKey accepts a Kratos message ID, a dotted name of lower-case
// letters, digits and underscores, or a schema title's key.
func validKey(k string) bool {
	if isKratosKey(k) {
		return true
	}
	if _, ok := schemaTitleKey(k); ok {
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

// schemaTitleKey returns the title of a key "schema.title.<title>": any
// text of at most maxTitleLen bytes without control characters, exactly as
// the identity schema writes it.
func schemaTitleKey(k string) (string, bool) {
	title, ok := strings.CutPrefix(k, schemaTitlePrefix)
	if !ok || title == "" || len(title) > maxTitleLen || !utf8.ValidString(title) || strings.IndexFunc(title, unicode.IsControl) >= 0 {
		return "", false
	}
	return title, true
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

// checkLocale checks one file against English (en): no keys English lacks
// but schema titles, no placeholders but English's (or, for Kratos
// messages, the keys of the message's context), every plural category the
// language uses. reference says the file is the embedded English, which
// defines Hera's placeholders. A plural category the language does not use
// is a warning, not an error: it is never chosen, and newer CLDR versions
// than golang.org/x/text's (32) give some languages more (French "many").
func checkLocale(f localeFile, en map[string]*entry, reference bool) (errs []error, warnings []string) {
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("i18n: %s: %q: %s", f.name, key, fmt.Sprintf(format, a...)))
	}
	used := usedCategories(language.Make(f.lang))
	for _, key := range slices.Sorted(maps.Keys(f.entries)) {
		e := f.entries[key]
		for _, cat := range slices.Sorted(maps.Keys(e.plural)) {
			if slices.Contains(pluralCategories(), cat) && !slices.Contains(used, cat) {
				warnings = append(warnings, fmt.Sprintf("%s: %q: plural category %q is never used by %s, ignored (CLDR's categories for it: %s)", f.name, key, cat, f.lang, strings.Join(used, ", ")))
			}
		}
		if e.plural != nil {
			for _, cat := range used {
				if _, ok := e.plural[cat]; !ok && cat != "other" { // parseLocale reports "other"
					bad(key, "plural category %q is missing (CLDR's categories for %s: %s)", cat, f.lang, strings.Join(used, ", "))
				}
			}
		}
		if _, ok := schemaTitleKey(key); ok {
			if e.plural != nil {
				bad(key, "a schema title has no plural forms")
			}
			for _, name := range e.placeholders() {
				bad(key, "placeholder {%s}: a schema title's translation is plain text", name)
			}
			continue
		}
		allowed := map[string]bool{}
		if isKratosKey(key) {
			id, _ := strconv.ParseInt(key, 10, 64)
			for _, k := range kratosContextKeys(id) {
				allowed[k] = true
			}
		}
		if !reference {
			base, ok := en[key]
			if !ok {
				bad(key, "not in %s.json", defaultLang)
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
				bad(key, "placeholder {%s} is not in %s", name, known)
			}
		}
	}
	return errs, warnings
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

// Warnings lists what the locale files hold that the catalog ignores,
// each naming its file and key: plural categories their language never
// uses. The server logs them at start.
func (c *Catalog) Warnings() []string {
	return slices.Clone(c.warnings)
}

// Languages returns the catalog's languages' base codes (shipped and
// added), sorted.
func (c *Catalog) Languages() []string {
	return slices.Clone(c.langs)
}

// resolve maps a language tag to a catalog language: its base language if
// the catalog has it ("de-CH" → "de"), else English.
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
//
// Message 1070002 labels a field with the identity schema's title (context
// "title"): a key "schema.title.<title>" of lang, or else of English,
// translates it.
func (c *Catalog) Message(lang string, id int64, fallback string, ctx map[string]any) string {
	l := c.resolve(lang)
	if id == schemaTitleID && len(c.titles) > 0 {
		if s, ok := c.schemaTitle(l, ctx); ok {
			return s
		}
	}
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

// schemaTitle translates the identity-schema title in a 1070002 context by
// its "schema.title.<title>" key, in lang or else in English.
func (c *Catalog) schemaTitle(lang string, ctx map[string]any) (string, bool) {
	title, ok := ctx["title"].(string)
	if !ok {
		return "", false
	}
	if s, ok := c.titles[lang][title]; ok {
		return s, true
	}
	s, ok := c.titles[defaultLang][title]
	return s, ok
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
		cat, ok := pluralCategory(c.tags[l], args["count"])
		if !ok {
			cat = "other"
		}
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
