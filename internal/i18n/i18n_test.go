package i18n

import (
	"bufio"
	"encoding/json"
	"errors"
	"html/template"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/text/language"
)

// mustNew is New for tests.
func mustNew(t testing.TB) *Catalog {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// kratosID is one line of testdata/kratos_v1.3.1_ids.txt.
type kratosID struct {
	id       int64
	constant string
	template string // Kratos's English text as a template, notes included
}

// readKratosIDs reads the IDs Kratos v1.3.1 emits.
func readKratosIDs(t testing.TB) []kratosID {
	t.Helper()
	f, err := os.Open("testdata/kratos_v1.3.1_ids.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []kratosID
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("kratos_v1.3.1_ids.txt:%d: want ID<TAB>constant<TAB>template, got %q", n, line)
		}
		id, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			t.Fatalf("kratos_v1.3.1_ids.txt:%d: %v", n, err)
		}
		out = append(out, kratosID{id, parts[1], parts[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// kratosIDSet is readKratosIDs as a set.
func kratosIDSet(t testing.TB) map[int64]bool {
	m := map[int64]bool{}
	for _, k := range readKratosIDs(t) {
		m[k.id] = true
	}
	return m
}

func TestLanguages(t *testing.T) {
	c := mustNew(t)
	if got, want := c.Languages(), []string{"de", "en", "es", "fr"}; !slices.Equal(got, want) {
		t.Fatalf("Languages() = %v, want %v", got, want)
	}
	if got := shippedLanguages(); !slices.Equal(got, c.Languages()) {
		t.Errorf("Negotiate's languages %v differ from the catalog's %v", got, c.Languages())
	}
	c.Languages()[0] = "xx"
	if c.Languages()[0] != "de" {
		t.Error("Languages() returned the catalog's own slice")
	}
}

// TestKratosIDsComplete fails when a message ID Kratos v1.3.1 emits lacks a
// translation in a shipped language.
func TestKratosIDsComplete(t *testing.T) {
	c := mustNew(t)
	ids := readKratosIDs(t)
	if len(ids) != 135 {
		t.Errorf("kratos_v1.3.1_ids.txt lists %d IDs, want the 135 Kratos v1.3.1 emits", len(ids))
	}
	seen := map[int64]bool{}
	for i, k := range ids {
		if seen[k.id] {
			t.Errorf("%d listed twice", k.id)
		}
		seen[k.id] = true
		if i > 0 && k.id <= ids[i-1].id {
			t.Errorf("%d: IDs must be in ascending order", k.id)
		}
	}
	for _, lang := range c.Languages() {
		var missing []string
		for _, k := range ids {
			if !c.has(lang, strconv.FormatInt(k.id, 10)) {
				missing = append(missing, strconv.FormatInt(k.id, 10)+" ("+k.constant+")")
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %d Kratos messages lack a translation: %s", lang, len(missing), strings.Join(missing, ", "))
		}
	}
}

// TestKratosIDsContext checks the ID list's placeholders against the context
// keys the catalog knows for each message.
func TestKratosIDsContext(t *testing.T) {
	for _, k := range readKratosIDs(t) {
		tm, err := parseTemplate(stripNote(k.template))
		if err != nil {
			t.Errorf("%d: %v", k.id, err)
			continue
		}
		known := kratosContextKeys(k.id)
		for _, s := range tm {
			if s.name != "" && !slices.Contains(known, s.name) {
				t.Errorf("%d: {%s} is not a known context key of the message (%v)", k.id, s.name, known)
			}
		}
	}
}

// stripNote removes the "(…)" note the ID list puts after a template with
// values Kratos computes.
func stripNote(s string) string {
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndex(s, " ("); i >= 0 {
			return s[:i]
		}
	}
	return s
}

// TestEnglishIsKratos keeps Hera's English identical to Kratos's for every
// message whose text is a plain template of its context, so English pages
// read as they did before the catalog. Messages with values Kratos computes
// on the fly (Go verbs in the ID list) are reworded.
func TestEnglishIsKratos(t *testing.T) {
	c := mustNew(t)
	reworded := 0
	for _, k := range readKratosIDs(t) {
		want := stripNote(k.template)
		key := strconv.FormatInt(k.id, 10)
		e := c.entries["en"][key]
		if e == nil {
			continue // TestKratosIDsComplete reports it
		}
		if strings.Contains(want, "%") {
			reworded++
			continue
		}
		if got := templateString(e.text); got != want {
			t.Errorf("%d: English template\n got %q\nwant %q (Kratos's)", k.id, got, want)
		}
	}
	if reworded != 8 {
		t.Errorf("%d messages reworded, want 8 (1050014, 1060001, 4000028 and the five flow-expired ones)", reworded)
	}
}

// templateString writes a template back as source.
func templateString(t tmpl) string {
	var b strings.Builder
	for _, s := range t {
		if s.name == "" {
			b.WriteString(s.lit)
			continue
		}
		b.WriteString("{" + s.name)
		if s.style != "" {
			b.WriteString(":" + s.style)
		}
		b.WriteString("}")
	}
	return b.String()
}

// TestHeraKeysComplete fails when one of Hera's strings lacks a translation.
func TestHeraKeysComplete(t *testing.T) {
	c := mustNew(t)
	en := c.entries["en"]
	var keys []string
	for k := range en {
		if !isKratosKey(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) < 100 {
		t.Errorf("only %d Hera strings", len(keys))
	}
	for _, lang := range c.Languages() {
		for _, k := range keys {
			e, ok := c.entries[lang][k]
			if !ok {
				t.Errorf("%s: %q lacks a translation", lang, k)
				continue
			}
			for cat := range en[k].plural {
				if _, ok := e.plural[cat]; !ok {
					t.Errorf("%s: %q lacks the plural form %q", lang, k, cat)
				}
			}
		}
	}
}

// TestTranslated catches English left in a translation: sentences of four
// words or more must differ from English.
func TestTranslated(t *testing.T) {
	c := mustNew(t)
	for _, lang := range c.Languages() {
		if lang == "en" {
			continue
		}
		for k, e := range c.entries[lang] {
			if e.plural != nil || strings.HasPrefix(k, "hera.format.") {
				continue
			}
			en := templateString(c.entries["en"][k].text)
			if len(strings.Fields(en)) >= 4 && templateString(e.text) == en {
				t.Errorf("%s: %q is the English text %q", lang, k, en)
			}
		}
	}
}

// TestFrenchTypography checks French punctuation: no-break space before
// ? ! : ; and inside « », and the typographic apostrophe.
func TestFrenchTypography(t *testing.T) {
	c := mustNew(t)
	for k, e := range c.entries["fr"] {
		forms := []tmpl{e.text}
		for _, p := range e.plural {
			forms = append(forms, p)
		}
		for _, f := range forms {
			s := templateString(f)
			for _, bad := range []string{" ?", " !", " :", " ;", "« ", " »", "'"} {
				if strings.Contains(s, bad) {
					t.Errorf("fr: %q: %q in %q (want a no-break space, or ’)", k, bad, s)
				}
			}
			for i, r := range []rune(s) {
				if strings.ContainsRune("?!;»", r) && i > 0 && []rune(s)[i-1] != '\u00a0' && !strings.HasPrefix(k, "hera.format.") {
					t.Errorf("fr: %q: %q without a no-break space before it in %q", k, r, s)
				}
			}
		}
	}
}

func TestMessage(t *testing.T) {
	c := mustNew(t)
	for _, tc := range []struct {
		lang     string
		id       int64
		fallback string
		ctx      map[string]any
		want     string
	}{
		{"en", 1070001, "Password", nil, "Password"},
		{"de", 1070001, "Password", nil, "Passwort"},
		{"fr", 1070001, "Password", nil, "Mot de passe"},
		{"es", 1070001, "Password", nil, "Contraseña"},
		{"de-CH", 1040001, "Sign up", nil, "Registrieren"},
		{"FR_ca", 1040001, "Sign up", nil, "S’inscrire"},
		{"pt-BR", 1040001, "Sign up", nil, "Sign up"}, // not shipped: English
		{"", 1040001, "Sign up", nil, "Sign up"},
		// Numbers as encoding/json decodes them.
		{"en", 4000003, "", map[string]any{"min_length": 8.0, "actual_length": 3.0}, "length must be >= 8, but got 3"},
		{"de", 4000003, "", map[string]any{"min_length": 8.0, "actual_length": 3.0}, "Mindestens 8 Zeichen erforderlich, eingegeben wurden 3."},
		{"de", 4000018, "", map[string]any{"minimum": 1.5, "actual": 0.25}, "Muss mindestens 1,5 sein, ist aber 0,25."},
		{"en", 4000018, "", map[string]any{"minimum": 1.5, "actual": 0.25}, "must be >= 1.5 but found 0.25"},
		{"fr", 4000022, "", map[string]any{"base": 7, "actual": int64(3)}, "3 n’est pas un multiple de 7."},
		// Lists of scalars are joined with the language's "or".
		{"en", 4000026, "x", map[string]any{"allowed_types": []any{"string", "number"}, "actual_type": "boolean"}, "expected string or number, but got boolean"},
		{"es", 4000026, "x", map[string]any{"allowed_types": []string{"string", "number"}, "actual_type": "boolean"}, "Se esperaba string o number, pero se recibió boolean."},
		// Objects cannot be written: Kratos's text.
		{"de", 4000029, "must be equal to constant map[a:1]", map[string]any{"expected": map[string]any{"a": 1.0}}, "must be equal to constant map[a:1]"},
		{"de", 4000029, "", map[string]any{"expected": "yes"}, "Muss den Wert yes haben."},
		// A context without the value the template needs: Kratos's text.
		{"de", 4000001, "The request was malformed", nil, "The request was malformed"},
		{"de", 1070002, "Language", nil, "Language"},
		{"de", 1070002, "Language", map[string]any{}, "Language"},
		// ... and with no text either, the template without it.
		{"de", 4000002, "", nil, "Das Feld „“ ist erforderlich."},
		// Unknown IDs: Kratos's text.
		{"de", 1234567, "Something custom", nil, "Something custom"},
		{"de", 1070000, "English", nil, "English"},
		{"de", 1234567, "", nil, ""},
		{"de", -1, "x", nil, "x"},
	} {
		if got := c.Message(tc.lang, tc.id, tc.fallback, tc.ctx); got != tc.want {
			t.Errorf("Message(%q, %d, %q, %v) = %q, want %q", tc.lang, tc.id, tc.fallback, tc.ctx, got, tc.want)
		}
	}
}

// TestMessageTimes: context times, as Kratos writes them (RFC 3339 with
// nanoseconds, and Unix seconds), in every language.
func TestMessageTimes(t *testing.T) {
	c := mustNew(t)
	const rfc, unix = "2030-01-01T14:05:00.123456789Z", 1893506700.0 // the same instant
	expired := map[string]any{"expired_at": rfc, "expired_at_unix": unix}
	onlyUnix := map[string]any{"expired_at_unix": unix}
	offset := map[string]any{"used_at": "2030-01-01T16:05:00+02:00", "used_at_unix": unix}
	recovered := map[string]any{
		"privilegedSessionExpiresAt":         rfc,
		"privileged_session_expires_at":      rfc,
		"privileged_session_expires_at_unix": unix,
	}
	for _, tc := range []struct {
		lang string
		id   int64
		ctx  map[string]any
		want string
	}{
		{"en", 4010001, expired, "The login flow expired at 2:05 PM UTC, please try again."},
		{"de", 4010001, expired, "Der Anmeldevorgang ist um 14:05 UTC abgelaufen. Bitte versuchen Sie es erneut."},
		{"fr", 4010001, expired, "La connexion a expiré à 14:05 UTC. Veuillez réessayer."},
		{"es", 4010001, expired, "El inicio de sesión caducó a las 14:05 UTC. Inténtelo de nuevo."},
		{"de", 4060005, onlyUnix, "Die Kontowiederherstellung ist um 14:05 UTC abgelaufen. Bitte versuchen Sie es erneut."},
		{"en", 1050014, offset, "Secret was used at Jan 1, 2030, 2:05 PM UTC"},
		{"de", 1050014, offset, "Verwendet am 01.01.2030, 14:05 UTC"},
		{"fr", 1050014, offset, "Utilisé le 01/01/2030 à 14:05 UTC"},
		{"es", 1050014, offset, "Usado el 01/01/2030, 14:05 UTC"},
		{"en", 1060001, recovered, "You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) before 2:05 PM UTC."},
		{"de", 1060001, recovered, "Sie haben Ihr Konto erfolgreich wiederhergestellt. Bitte ändern Sie bis 14:05 UTC Ihr Passwort oder richten Sie eine andere Anmeldemethode ein (z. B. die Anmeldung über einen externen Anbieter)."},
		// Not a time: Kratos's text.
		{"de", 4010001, map[string]any{"expired_at": "soon"}, "fallback"},
		{"de", 4010001, map[string]any{"expired_at": 1e300}, "fallback"},
		{"de", 4010001, map[string]any{"expired_at": true}, "fallback"},
	} {
		if got := c.Message(tc.lang, tc.id, "fallback", tc.ctx); got != tc.want {
			t.Errorf("Message(%q, %d, %v)\n got %q\nwant %q", tc.lang, tc.id, tc.ctx, got, tc.want)
		}
	}
}

func TestT(t *testing.T) {
	c := mustNew(t)
	at := time.Date(2030, 1, 1, 16, 5, 0, 0, time.FixedZone("CEST", 2*3600))
	for _, tc := range []struct {
		lang, key string
		args      map[string]any
		want      string
	}{
		{"en", "hera.login.title", nil, "Sign in"},
		{"de", "hera.login.title", nil, "Anmelden"},
		{"es-MX", "hera.login.title", nil, "Iniciar sesión"},
		{"xx", "hera.login.title", nil, "Sign in"},
		{"de", "hera.no.such.key", nil, "hera.no.such.key"},
		{"en", "hera.notice.locked", map[string]any{"count": 1}, "Too many attempts. Try again in 1 minute, or reset your password."},
		{"en", "hera.notice.locked", map[string]any{"count": 5}, "Too many attempts. Try again in 5 minutes, or reset your password."},
		{"en", "hera.notice.locked", map[string]any{"count": 0}, "Too many attempts. Try again in 0 minutes, or reset your password."},
		{"de", "hera.notice.locked", map[string]any{"count": 1.0}, "Zu viele Versuche. Bitte versuchen Sie es in 1 Minute erneut oder setzen Sie Ihr Passwort zurück."},
		{"de", "hera.notice.locked", map[string]any{"count": "15"}, "Zu viele Versuche. Bitte versuchen Sie es in 15 Minuten erneut oder setzen Sie Ihr Passwort zurück."},
		{"fr", "hera.notice.locked", map[string]any{"count": 0}, "Trop de tentatives. Réessayez dans 0 minute ou réinitialisez votre mot de passe."},
		{"fr", "hera.notice.locked", map[string]any{"count": 2}, "Trop de tentatives. Réessayez dans 2 minutes ou réinitialisez votre mot de passe."},
		{"es", "hera.notice.locked", map[string]any{"count": 1}, "Demasiados intentos. Inténtelo de nuevo dentro de 1 minuto o restablezca su contraseña."},
		// A missing argument shows.
		{"en", "hera.notice.locked", nil, "Too many attempts. Try again in {count} minutes, or reset your password."},
		{"en", "hera.error.support", nil, "If this keeps happening, contact support and quote request ID {request_id}."},
		{"fr", "hera.error.support", map[string]any{"request_id": "r-1"}, "Si le problème persiste, contactez l’assistance en indiquant l’ID de requête r-1."},
		// Times, in UTC.
		{"en", "hera.sessions.signed_in", map[string]any{"time": at}, "signed in Jan 1, 2030, 2:05 PM UTC"},
		{"de", "hera.sessions.signed_in", map[string]any{"time": at}, "angemeldet am 01.01.2030, 14:05 UTC"},
		{"fr", "hera.scope.other", map[string]any{"scope": "read:all"}, "Accéder à «\u00a0read:all\u00a0»"},
	} {
		if got := c.T(tc.lang, tc.key, tc.args); got != tc.want {
			t.Errorf("T(%q, %q, %v)\n got %q\nwant %q", tc.lang, tc.key, tc.args, got, tc.want)
		}
	}
}

func TestHTML(t *testing.T) {
	c := mustNew(t)
	for _, tc := range []struct {
		lang, key string
		args      map[string]any
		want      template.HTML
	}{
		{"en", "hera.welcome.signed_in_as", map[string]any{"identifier": template.HTML("<strong>ada@example.com</strong>")},
			"You are signed in as <strong>ada@example.com</strong>."},
		{"en", "hera.welcome.signed_in_as", map[string]any{"identifier": "<script>"}, "You are signed in as &lt;script&gt;."},
		{"en", "hera.login.aal2.intro", nil, "Confirm it&#39;s you with your second factor."},
		{"de", "hera.consent.wants", map[string]any{"client": template.HTML(`<a href="https://app.example/">App &amp; Co</a>`)},
			`<a href="https://app.example/">App &amp; Co</a> möchte:`},
		{"en", "<b>", nil, "&lt;b&gt;"},
	} {
		if got := c.HTML(tc.lang, tc.key, tc.args); got != tc.want {
			t.Errorf("HTML(%q, %q)\n got %q\nwant %q", tc.lang, tc.key, got, tc.want)
		}
	}
	// T never treats template.HTML specially beyond writing it.
	if got := c.T("en", "hera.welcome.signed_in_as", map[string]any{"identifier": template.HTML("<b>x</b>")}); got != "You are signed in as <b>x</b>." {
		t.Errorf("T with template.HTML = %q", got)
	}
}

func TestFormatTime(t *testing.T) {
	c := mustNew(t)
	at := time.Date(2030, 12, 24, 21, 7, 0, 0, time.UTC)
	for _, tc := range []struct{ lang, style, want string }{
		{"en", "time", "9:07 PM UTC"},
		{"en", "date", "Dec 24, 2030"},
		{"en", "datetime", "Dec 24, 2030, 9:07 PM UTC"},
		{"de", "time", "21:07 UTC"},
		{"de", "date", "24.12.2030"},
		{"fr", "datetime", "24/12/2030 à 21:07 UTC"},
		{"es", "", "24/12/2030, 21:07 UTC"},
		{"zz", "time", "9:07 PM UTC"},
	} {
		if got := c.FormatTime(tc.lang, at, tc.style); got != tc.want {
			t.Errorf("FormatTime(%q, %q) = %q, want %q", tc.lang, tc.style, got, tc.want)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	for _, s := range []string{"", "plain", "{a}", "x {a} y {b:time} z", "{a_1:datetime}{b:date}", "„{x}“"} {
		tm, err := parseTemplate(s)
		if err != nil {
			t.Errorf("parseTemplate(%q): %v", s, err)
			continue
		}
		if got := templateString(tm); got != s {
			t.Errorf("parseTemplate(%q) round trip = %q", s, got)
		}
	}
	for _, s := range []string{"{", "}", "a}b", "{a", "{}", "{1a}", "{a-b}", "{a:b}", "{a:time:x}", "{{a}}", "{ a }"} {
		if _, err := parseTemplate(s); err == nil {
			t.Errorf("parseTemplate(%q): no error", s)
		}
	}
}

// TestValidation: New reports every problem of every file at once.
func TestValidation(t *testing.T) {
	fsys := fstest.MapFS{
		"l/en.json": {Data: []byte(`{
			"1070001": "Password {oops}",
			"4000032": "at least {min_length}",
			"hera.a": "A {x}",
			"hera.p": {"one": "{count} thing", "other": "{count} things"},
			"hera.q": {"one": "no other"},
			"hera.r": {"single": "x", "other": "y"},
			"4000003": {"one": "x", "other": "y"},
			"4000004": {"description": "a note", "other": "matches {pattern}"},
			"hera.s": {"one": "x", "one": "y", "other": "z"},
			"hera.bad": "{broken",
			"Hera.Upper": "x"
		}`)},
		"l/de.json": {Data: []byte(`{
			"4000032": "mindestens {min_length}, aber {actual_length}",
			"4000033": "höchstens {max_length}",
			"hera.a": "duplicate",
			"hera.a": "A {y}",
			"hera.p": {"one": "{count} Ding", "other": "{number} Dinge"},
			"hera.extra": "x"
		}`)},
		"l/fr.json":     {Data: []byte(`{"hera.a": `)},
		"l/German.json": {Data: []byte(`{}`)},
		"l/notes.txt":   {Data: []byte(`ignored`)},
	}
	_, err := load(fsys, "l", nil, "")
	if err == nil {
		t.Fatal("load: no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`en.json: "1070001": placeholder {oops} is not in the English template or the context of Kratos message 1070001`,
		`en.json: "hera.q": plural forms need "other"`,
		`en.json: "hera.r": unknown plural category "single"`,
		`en.json: "4000003": Kratos messages have no plural forms`,
		`en.json: "hera.bad": unclosed {`,
		`en.json: "hera.s": duplicate plural category "one"`,
		`en.json: "Hera.Upper": a key is a Kratos message ID`,
		`de.json: "hera.a": duplicate key`,
		`de.json: "hera.a": placeholder {y} is not in the English template`,
		`de.json: "hera.p": placeholder {number} is not in the English template`,
		`de.json: "4000033": not in en.json`,
		`de.json: "hera.extra": not in en.json`,
		`fr.json: invalid JSON`,
		`German.json: file name must be a lower-case base language code`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q\nfull error:\n%s", want, msg)
		}
	}
	// A known context key English does not use is fine ({actual_length}).
	if strings.Contains(msg, "actual_length") {
		t.Errorf("{actual_length} of 4000032 reported:\n%s", msg)
	}
	// {"description": …, "other": …} is a plain template (go-i18n v2 JSON).
	if strings.Contains(msg, "4000004") {
		t.Errorf("4000004 with a description reported:\n%s", msg)
	}
	if strings.Contains(msg, "notes.txt") {
		t.Errorf("non-JSON file read:\n%s", msg)
	}

	_, err = load(fstest.MapFS{"l/de.json": {Data: []byte(`{}`)}}, "l", nil, "")
	if err == nil || !strings.Contains(err.Error(), "en.json is missing") {
		t.Errorf("without en.json: %v", err)
	}
	_, err = load(fstest.MapFS{}, "nope", nil, "")
	if err == nil {
		t.Error("missing directory: no error")
	}
	for _, bad := range []string{`[]`, `{"a": 1}`, `{"a": ["x"]}`, `{"a": {"one": 1}}`, `{} {}`, `{"a": "x"`} {
		if _, errs := parseLocale([]byte(bad)); len(errs) == 0 {
			t.Errorf("parseLocale(%s): no error", bad)
		}
	}
}

// TestNewEmbedded: the shipped files pass every check (New's error lists
// them all).
func TestNewEmbedded(t *testing.T) {
	if _, err := New(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			t.Error(e)
		}
	}
	var joined interface{ Unwrap() []error }
	_, err := load(fstest.MapFS{"l/en.json": {Data: []byte(`{"a": "{", "b": "}"}`)}}, "l", nil, "")
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Errorf("want two joined errors, got %v", err)
	}
}

// TestPluralCategory: CLDR's rules (x/text), integers and decimals, for
// shipped languages and ones Hera does not ship.
func TestPluralCategory(t *testing.T) {
	for _, tc := range []struct {
		lang  string
		count any
		want  string
	}{
		{"en", 1, "one"}, {"en", 0, "other"}, {"en", 2, "other"}, {"en", 1.5, "other"},
		{"en", 1.0, "one"}, {"en", "1", "one"}, {"en", "1.0", "other"}, {"en", json.Number("1"), "one"},
		{"en", int64(-1), "one"}, {"en", uint8(1), "one"}, {"en", float32(1), "one"},
		{"de", 1, "one"}, {"es", 1, "one"}, {"es", 21, "other"},
		// French: i = 0,1.
		{"fr", 0, "one"}, {"fr", 1, "one"}, {"fr", 1.5, "one"}, {"fr", 2, "other"}, {"fr", -1, "one"},
		// Polish: one, few (2–4, 22–24, … but not 12–14), many, other (fractions).
		{"pl", 1, "one"}, {"pl", 2, "few"}, {"pl", 4, "few"}, {"pl", 5, "many"}, {"pl", 12, "many"},
		{"pl", 21, "many"}, {"pl", 22, "few"}, {"pl", 112, "many"}, {"pl", 1.5, "other"}, {"pl", "1.50", "other"},
		{"pl", int64(1000002), "few"}, {"pl", "1000000000000000000000002", "few"}, {"pl", "100000001", "many"},
		// Russian: fractions are "other", 11 is "many".
		{"ru", 1, "one"}, {"ru", 21, "one"}, {"ru", 11, "many"}, {"ru", 3, "few"}, {"ru", 0.5, "other"},
		// Arabic: all six.
		{"ar", 0, "zero"}, {"ar", 1, "one"}, {"ar", 2, "two"}, {"ar", 3, "few"}, {"ar", 11, "many"}, {"ar", 100, "other"},
		// Czech: decimals are "many".
		{"cs", 1, "one"}, {"cs", 3, "few"}, {"cs", 1.5, "many"}, {"cs", 5, "other"},
		// Japanese: other only.
		{"ja", 1, "other"},
	} {
		got, ok := pluralCategory(language.Make(tc.lang), tc.count)
		if !ok || got != tc.want {
			t.Errorf("pluralCategory(%q, %#v) = %q, %v; want %q", tc.lang, tc.count, got, ok, tc.want)
		}
	}
	for _, bad := range []any{nil, "x", "1e3", "1.", ".5", "--1", "", math.NaN(), math.Inf(1), true, strings.Repeat("1", maxDecimalLen+1)} {
		if got, ok := pluralCategory(language.English, bad); ok {
			t.Errorf("pluralCategory(%#v) = %q, want no category", bad, got)
		}
	}
}

// TestUsedCategories: the categories each language may have in a plural
// entry are CLDR's for it.
func TestUsedCategories(t *testing.T) {
	for lang, want := range map[string][]string{
		"en": {"one", "other"}, "de": {"one", "other"}, "fr": {"one", "other"}, "es": {"one", "other"},
		"pl": {"one", "few", "many", "other"}, "ru": {"one", "few", "many", "other"},
		"ar": {"zero", "one", "two", "few", "many", "other"}, "ja": {"other"}, "cy": {"zero", "one", "two", "few", "many", "other"},
		"br": {"one", "two", "few", "many", "other"},
	} {
		if got := usedCategories(language.Make(lang)); !slices.Equal(got, want) {
			t.Errorf("usedCategories(%s) = %v, want %v", lang, got, want)
		}
	}
}

func BenchmarkMessage(b *testing.B) {
	c := mustNew(b)
	ctx := map[string]any{"min_length": 8.0, "actual_length": 5.0}
	for b.Loop() {
		c.Message("de-DE", 4000032, "The password must be at least 8 characters long, but got 5.", ctx)
	}
}

// TestPluralSamplesComplete: usedCategories' samples find every category
// that many more numbers find, for languages of every kind of CLDR rule.
func TestPluralSamplesComplete(t *testing.T) {
	langs := strings.Fields(`af ak am ar as ast az be bg bm bn bo br bs ca ce cs cy da de dsb dz ee el en eo es et eu
		fa ff fi fil fo fr fur fy ga gd gl gsw gu gv ha haw he hi hr hsb hu hy id ig ii is it iu ja jgo jv ka kab kde kea
		kk kl km kn ko ks ksh ku kw ky lag lb lg lkt ln lo lt lv mas mg mk ml mn mo mr ms mt my nah naq nb nd ne nl nn no
		nqo nr nso ny om or os pa pap pl prg ps pt rm ro rof ru rwk sah saq sd se seh ses sg sh shi si sk sl sma smi smj
		smn sms sn so sq sr ss ssy st sv sw syr ta te teo th ti tig tk tl tn to tr ts tzm ug uk ur uz ve vi vo vun wa wae
		wo xh xog yi yo yue zh zu`)
	for _, lang := range langs {
		tag := language.Make(lang)
		seen := map[string]bool{"other": true}
		for i := range 1200 {
			for _, frac := range []string{"", ".0", ".00", ".000", ".5", ".25", ".125", ".11", ".01", ".1"} {
				c, _ := pluralCategory(tag, strconv.Itoa(i)+frac)
				seen[c] = true
			}
			if i < 3 {
				for f := range 1000 {
					c, _ := pluralCategory(tag, strconv.Itoa(i)+"."+strconv.Itoa(1000 + f)[1:])
					seen[c] = true
				}
			}
		}
		for _, n := range []string{"1000000", "3000000", "1000001", "100000", "1000000.0", "21000000"} {
			c, _ := pluralCategory(tag, n)
			seen[c] = true
		}
		var want []string
		for _, c := range pluralCategories() {
			if seen[c] {
				want = append(want, c)
			}
		}
		if got := usedCategories(tag); !slices.Equal(got, want) {
			t.Errorf("usedCategories(%s) = %v, more numbers find %v", lang, got, want)
		}
	}
}
