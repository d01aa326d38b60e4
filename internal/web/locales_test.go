package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalesDirPages renders recorded flows with HERA_LOCALES_DIR: an
// added language (Polish) chosen by Accept-Language and listed in the
// switcher, schema titles translated, a Kratos message overridden.
func TestLocalesDirPages(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"pl.json": `{
			"hera.language.name": "Polski",
			"hera.registration.title": "Utwórz konto",
			"4000006": "Podane dane logowania są nieprawidłowe.",
			"schema.title.E-mail": "Adres e-mail",
			"schema.title.First name": "Imię"
		}`,
		"en.json": `{"4000006": "Wrong e-mail address or password."}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"HERA_LOCALES_DIR": dir}
	fixtures := map[string]fixture{}
	for _, f := range loadFixtures(t) {
		fixtures[f.name] = f
	}
	pl := map[string]string{"Accept-Language": "pl-PL,pl;q=0.9"}

	got := renderFixtureWith(t, fixtures["registration"], env, pl)
	for _, want := range []string{`<html lang="pl"`, "Utwórz konto", ">Adres e-mail<", ">Imię<", ">Last name<", `lang="pl">Polski<`, ">Deutsch<"} {
		if !strings.Contains(got, want) {
			t.Errorf("Polish registration lacks %q", want)
		}
	}
	got = renderFixtureWith(t, fixtures["login_error"], env, pl)
	if !strings.Contains(got, "Podane dane logowania są nieprawidłowe.") {
		t.Error("Polish login error lacks the Polish 4000006")
	}
	got = renderFixtureWith(t, fixtures["login_error"], env, nil)
	// The recorded flows' schema spells "E-mail": English's catalog
	// writes it "Email".
	if !strings.Contains(got, "Wrong e-mail address or password.") || !strings.Contains(got, ">Email<") {
		t.Error("English login error lacks the overridden 4000006 or the catalog's title")
	}
	got = renderFixtureWith(t, fixtures["registration"], map[string]string{"HERA_LOCALES_DIR": dir, "HERA_DEFAULT_LANGUAGE": "pl"}, nil)
	if !strings.Contains(got, `<html lang="pl"`) {
		t.Error("HERA_DEFAULT_LANGUAGE=pl not used")
	}
}
