package i18n

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// writeDir writes a locale directory: file name → contents.
func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustLoad is Load for tests.
func mustLoad(t testing.TB, dir string) *Catalog {
	t.Helper()
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return c
}

const polish = `{
  "hera.language.name": "Polski",
  "hera.format.decimal": ",",
  "hera.login.title": "Zaloguj się",
  "hera.notice.locked": {
    "one": "Spróbuj ponownie za {count} minutę.",
    "few": "Spróbuj ponownie za {count} minuty.",
    "many": "Spróbuj ponownie za {count} minut.",
    "other": "Spróbuj ponownie za {count} minuty."
  },
  "1070001": "Hasło",
  "4000006": "Nieprawidłowe dane logowania.",
  "4000032": "Hasło jest za krótkie: {actual_length} z {min_length}.",
  "schema.title.E-mail": "Adres e-mail"
}`

// TestLoadAddsPolish: a language Hera does not ship, with CLDR's four
// Polish plural forms, Kratos messages and a schema title.
func TestLoadAddsPolish(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{"pl.json": polish}))
	if got, want := c.Languages(), []string{"de", "en", "es", "fr", "pl"}; !slices.Equal(got, want) {
		t.Fatalf("Languages() = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		count any
		want  string
	}{
		{1, "Spróbuj ponownie za 1 minutę."},
		{2, "Spróbuj ponownie za 2 minuty."},
		{5, "Spróbuj ponownie za 5 minut."},
		{22, "Spróbuj ponownie za 22 minuty."},
		{12, "Spróbuj ponownie za 12 minut."},
		{1.5, "Spróbuj ponownie za 1,5 minuty."},
	} {
		if got := c.T("pl", "hera.notice.locked", map[string]any{"count": tc.count}); got != tc.want {
			t.Errorf("T(pl, count %v) = %q, want %q", tc.count, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lang, key, want string
	}{
		{"pl", "hera.login.title", "Zaloguj się"},
		{"pl-PL", "hera.login.title", "Zaloguj się"},
		{"pl", "hera.logout.title", "Sign out"}, // not translated: English
		{"pl", "hera.language.name", "Polski"},
		{"de", "hera.login.title", "Anmelden"},
	} {
		if got := c.T(tc.lang, tc.key, nil); got != tc.want {
			t.Errorf("T(%s, %s) = %q, want %q", tc.lang, tc.key, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lang     string
		id       int64
		fallback string
		ctx      map[string]any
		want     string
	}{
		{"pl", 4000006, "The provided credentials are invalid.", nil, "Nieprawidłowe dane logowania."},
		{"pl", 1070001, "Password", nil, "Hasło"},
		{"pl", 4000032, "", map[string]any{"min_length": 8.0, "actual_length": 5.0}, "Hasło jest za krótkie: 5 z 8."},
		{"pl", 1040001, "Sign up", nil, "Sign up"}, // not translated: Kratos's text
		{"pl", 1070002, "E-mail", map[string]any{"title": "E-mail"}, "Adres e-mail"},
		{"pl", 1070002, "First name", map[string]any{"title": "First name"}, "First name"},
		{"en", 1070002, "E-mail", map[string]any{"title": "E-mail"}, "Email"},        // the shipped English spelling
		{"en", 1070002, "Nickname", map[string]any{"title": "Nickname"}, "Nickname"}, // no key: the schema's own
		{"de", 1070002, "Email", map[string]any{"title": "Email"}, "E-Mail-Adresse"}, // the dev schemas' titles are shipped
		{"es", 1070002, "Username", map[string]any{"title": "Username"}, "Nombre de usuario"},
		{"pl", 1070002, "E-mail", map[string]any{"title": 7.0}, "E-mail"},
	} {
		if got := c.Message(tc.lang, tc.id, tc.fallback, tc.ctx); got != tc.want {
			t.Errorf("Message(%s, %d) = %q, want %q", tc.lang, tc.id, got, tc.want)
		}
	}
	for _, tc := range []struct{ accept, want string }{
		{"pl-PL,pl;q=0.9,en;q=0.8", "pl"},
		{"de;q=0.5, pl", "pl"},
		{"ru, pl;q=0.1", "pl"},
		{"ru", "en"},
	} {
		if got := c.Negotiate(nil, "", tc.accept, "en"); got != tc.want {
			t.Errorf("Negotiate(Accept-Language %q) = %q, want %q", tc.accept, got, tc.want)
		}
	}
	if got := c.Negotiate(nil, "", "", "pl"); got != "pl" {
		t.Errorf("default pl: %q", got)
	}
	if got := c.Negotiate([]string{"pl"}, "de", "", "en"); got != "pl" {
		t.Errorf("ui_locales pl: %q", got)
	}
	// The embedded catalog is not changed by another's directory.
	if slices.Contains(mustNew(t).Languages(), "pl") {
		t.Error("New() has pl")
	}
}

// TestLoadOverrides: files of shipped languages override single keys,
// Kratos's and Hera's, and English's schema titles serve every language
// without its own.
func TestLoadOverrides(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"en.json": `{
			"4000006": "Wrong e-mail address or password.",
			"hera.login.title": "Sign in to Example",
			"hera.notice.locked": {"one": "Locked for a minute.", "other": "Locked for {count} minutes."},
			"schema.title.First name": "Given name",
			"schema.title.Nickname": "Handle"
		}`,
		"de.json":  `{"4000006": "E-Mail-Adresse oder Passwort falsch.", "hera.login.title": "Bei Example anmelden"}`,
		"notes.md": "not a locale",
	})
	c := mustLoad(t, dir)
	if got, want := c.Languages(), []string{"de", "en", "es", "fr"}; !slices.Equal(got, want) {
		t.Errorf("Languages() = %v, want %v", got, want)
	}
	kratosText := "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number."
	for _, tc := range []struct {
		lang string
		id   int64
		ctx  map[string]any
		want string
	}{
		{"en", 4000006, nil, "Wrong e-mail address or password."},
		{"de", 4000006, nil, "E-Mail-Adresse oder Passwort falsch."},
		{"fr", 4000006, nil, mustNew(t).Message("fr", 4000006, kratosText, nil)}, // untouched
		{"de", 1070001, nil, "Passwort"},                                         // untouched
		{"de", 1070002, map[string]any{"title": "First name"}, "Vorname"},        // German's own
		{"en", 1070002, map[string]any{"title": "First name"}, "Given name"},
		{"de", 1070002, map[string]any{"title": "Nickname"}, "Handle"}, // English's, for a language without one
	} {
		if got := c.Message(tc.lang, tc.id, kratosText, tc.ctx); got != tc.want {
			t.Errorf("Message(%s, %d) = %q, want %q", tc.lang, tc.id, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lang, key string
		count     any
		want      string
	}{
		{"en", "hera.login.title", nil, "Sign in to Example"},
		{"de", "hera.login.title", nil, "Bei Example anmelden"},
		{"es", "hera.login.title", nil, "Iniciar sesión"},
		{"en", "hera.logout.title", nil, "Sign out"},
		{"en", "hera.notice.locked", 1, "Locked for a minute."},
		{"en", "hera.notice.locked", 3, "Locked for 3 minutes."},
	} {
		if got := c.T(tc.lang, tc.key, map[string]any{"count": tc.count}); got != tc.want {
			t.Errorf("T(%s, %s) = %q, want %q", tc.lang, tc.key, got, tc.want)
		}
	}
}

// TestLoadRefusesBadFiles: every problem of every file at once, each named
// by the file's path and the key.
func TestLoadRefusesBadFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"pl.json": `{
			"hera.language.name": "Polski",
			"hera.notice.locked": {"one": "za {count} minutę", "few": "za {count} minuty", "other": "za {minutes} minut"},
			"4000006": "Błąd {reason}",
			"4000032": {"one": "x", "other": "y"},
			"hera.no.such.key": "x",
			"schema.title.E-mail": "Adres {title}"
		}`,
		"de.json":    `{"hera.login.title": "Anmelden", "hera.login.title": "Einloggen", "9999999": "neu"}`,
		"fr.json":    `{"hera.login.title": "Se connecter",}`,
		"uk.json":    `{"hera.login.title": "Увійти"}`,
		"pl_PL.json": `{}`,
		"iw.json":    `{"hera.language.name": "עברית"}`,
	})
	_, err := Load(dir)
	if err == nil {
		t.Fatal("Load accepted bad files")
	}
	msg := err.Error()
	pl, de, fr, uk := filepath.Join(dir, "pl.json"), filepath.Join(dir, "de.json"), filepath.Join(dir, "fr.json"), filepath.Join(dir, "uk.json")
	for _, want := range []string{
		pl + `: "hera.notice.locked": placeholder {minutes} is not in the English template`,
		pl + `: "hera.notice.locked": plural category "many" is missing (CLDR's categories for pl: one, few, many, other)`,
		pl + `: "4000006": placeholder {reason} is not in the English template or the context of Kratos message 4000006`,
		pl + `: "4000032": Kratos messages have no plural forms`,
		pl + `: "hera.no.such.key": not in en.json`,
		pl + `: "schema.title.E-mail": placeholder {title}: a schema title's translation is plain text`,
		de + `: "hera.login.title": duplicate key`,
		de + `: "9999999": not in en.json`,
		fr + `: invalid JSON`,
		uk + `: "hera.language.name" is missing`,
		filepath.Join(dir, "pl_PL.json") + `: file name must be a lower-case base language code`,
		filepath.Join(dir, "iw.json") + `: "iw" is written "he": name the file he.json`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q\nfull error:\n%s", want, msg)
		}
	}
	// Each problem on a line of its own, each line naming its file.
	for _, line := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(line, "i18n: "+dir+string(filepath.Separator)) {
			t.Errorf("line does not name a file of the directory: %q", line)
		}
	}

	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "missing")) {
		t.Errorf("missing directory: %v", err)
	}
	for name, data := range map[string]string{
		"xx.json": `{"hera.language.name": "X"}`, // not a language
		"en.json": `{"hera.notice.locked": {"few": "y", "other": "z"}}`,
		"ru.json": `{"hera.language.name": "Русский", "hera.notice.locked": {"one": "{count} минуту", "other": "{count} минуты"}}`,
	} {
		if _, err := Load(writeDir(t, map[string]string{name: data})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s %s: %v", name, data, err)
		}
	}
}

// TestLoadWarnsOfUnusedCategories: a plural category the language never
// uses is ignored, with a warning naming the file and key (newer CLDR
// versions give French "many"; Japanese has only "other").
func TestLoadWarnsOfUnusedCategories(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"fr.json": `{"hera.notice.locked": {"one": "{count} minute", "many": "{count} de minutes", "other": "{count} minutes"}}`,
		"ja.json": `{"hera.language.name": "日本語", "hera.notice.locked": {"one": "{count}分", "other": "{count} 分後"}}`,
		"pl.json": polish,
	})
	c := mustLoad(t, dir)
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{
		filepath.Join(dir, "fr.json") + `: "hera.notice.locked": plural category "many" is never used by fr, ignored (CLDR's categories for it: one, other)`,
		filepath.Join(dir, "ja.json") + `: "hera.notice.locked": plural category "one" is never used by ja, ignored (CLDR's categories for it: other)`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if len(c.Warnings()) != 2 {
		t.Errorf("want 2 warnings, got %q", c.Warnings())
	}
	for _, tc := range []struct {
		lang  string
		count any
		want  string
	}{
		{"fr", 1000000, "1000000 minutes"},
		{"fr", 1, "1 minute"},
		{"ja", 1, "1 分後"},
	} {
		if got := c.T(tc.lang, "hera.notice.locked", map[string]any{"count": tc.count}); got != tc.want {
			t.Errorf("T(%s, %v) = %q, want %q", tc.lang, tc.count, got, tc.want)
		}
	}
	if w := mustNew(t).Warnings(); len(w) != 0 {
		t.Errorf("the shipped catalog has warnings: %q", w)
	}
}

// TestLoadFollowsSymlinks: a Kubernetes ConfigMap volume holds each file as
// a link into a hidden, timestamped directory.
func TestLoadFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "..2030_01_01_00_00_00.1")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "pl.json"), []byte(polish), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..2030_01_01_00_00_00.1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "pl.json"), filepath.Join(dir, "pl.json")); err != nil {
		t.Fatal(err)
	}
	if c := mustLoad(t, dir); c.T("pl", "hera.login.title", nil) != "Zaloguj się" {
		t.Error("pl.json through a link not read")
	}
}

// TestLoadEmpty: no directory is New; an empty one changes nothing.
func TestLoadEmpty(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		c := mustLoad(t, dir)
		if !slices.Equal(c.Languages(), mustNew(t).Languages()) {
			t.Errorf("Load(%q) languages %v", dir, c.Languages())
		}
	}
}

// TestDocumentedExample loads the locale files of
// docs/languages-and-branding.md (each a ```json block after a
// "<!-- file: name -->" line) and checks what the text says of them.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/languages-and-branding.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- file: ([a-z]+\\.json) -->\\s*```json\\n(.*?)```")
	files := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		files[m[1]] = m[2]
	}
	if len(files) != 2 || files["pl.json"] == "" || files["en.json"] == "" {
		t.Fatalf("want the example pl.json and en.json in the document, got %d files", len(files))
	}
	c := mustLoad(t, writeDir(t, files))
	for _, tc := range []struct {
		count any
		want  string
	}{
		{1, "minutę"}, {3, "3 minuty"}, {5, "5 minut"}, {22, "22 minuty"}, {1.5, "1,5 minuty"},
	} {
		if got := c.T("pl", "hera.notice.locked", map[string]any{"count": tc.count}); !strings.Contains(got, tc.want) {
			t.Errorf("pl, count %v: %q lacks %q", tc.count, got, tc.want)
		}
	}
	if got := c.Message("pl", 1070002, "Email", map[string]any{"title": "Email"}); got != "Adres e-mail" {
		t.Errorf("pl schema title: %q", got)
	}
	if got := c.Message("en", 4000006, "x", nil); got == "x" || strings.Contains(got, "provided credentials") {
		t.Errorf("en 4000006 not overridden: %q", got)
	}
	if got := c.T("pl", "hera.language.name", nil); got != "Polski" {
		t.Errorf("pl name %q", got)
	}
}
