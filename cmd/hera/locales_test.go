package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/webtest"
	"golang.org/x/net/html"
)

// A locale directory as an operator writes one: Polish added (four CLDR
// plural forms, a Kratos message, the schema's "Email" title), English's
// 4000006 and sign-in title overridden.
const (
	localePL = `{
  "hera.language.name": "Polski",
  "hera.login.title": "Zaloguj się",
  "hera.notice.locked": {
    "one": "Zbyt wiele prób. Spróbuj ponownie za {count} minutę.",
    "few": "Zbyt wiele prób. Spróbuj ponownie za {count} minuty.",
    "many": "Zbyt wiele prób. Spróbuj ponownie za {count} minut.",
    "other": "Zbyt wiele prób. Spróbuj ponownie za {count} minuty."
  },
  "1070001": "Hasło",
  "4000006": "Podane dane logowania są nieprawidłowe.",
  "schema.title.Email": "Adres e-mail"
}`
	localeEN = `{
  "4000006": "Wrong e-mail address or password.",
  "hera.login.title": "Sign in to Example"
}`
)

func writeLocales(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// acceptLanguage sends the browser's Accept-Language on every request, as
// a browser does (webtest's browser sends none).
type acceptLanguage struct {
	rt   http.RoundTripper
	tags string
}

func (a acceptLanguage) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", a.tags)
	return a.rt.RoundTrip(r)
}

// TestLocalesDir runs Hera through run() with HERA_LOCALES_DIR against real
// Kratos: a Polish browser gets Polish pages and Kratos messages, an
// English one the overridden English.
func TestLocalesDir(t *testing.T) {
	dir := writeLocales(t, map[string]string{"pl.json": localePL, "en.json": localeEN})
	e, _ := guardedStack(t, map[string]string{"HERA_LOCALES_DIR": dir})

	pl := webtest.New(t, e.HeraURL)
	pl.Client.Transport = acceptLanguage{http.DefaultTransport, "pl-PL,pl;q=0.9,en;q=0.5"}
	p := pl.Get("/login")
	if p.Status != http.StatusOK {
		t.Fatalf("/login: %d %s", p.Status, p.Text())
	}
	if got := htmlLang(p); got != "pl" {
		t.Errorf(`<html lang=%q>, want "pl"`, got)
	}
	for _, want := range []string{"Zaloguj się", "Adres e-mail", "Hasło", "Polski"} {
		if !p.Contains(want) {
			t.Errorf("Polish /login lacks %q: %s", want, p.Text())
		}
	}
	// The switcher names every language by its own name, Polish current.
	cur := p.Find(func(n *html.Node) bool {
		return webtest.Attr(n, "aria-current") == "true" && webtest.Attr(n, "lang") == "pl"
	})
	if len(cur) != 1 || webtest.TextOf(cur[0]) != "Polski" {
		t.Errorf("switcher: Polski is not the current language")
	}
	for _, name := range []string{"English", "Deutsch", "Français", "Español"} {
		if !p.Contains(name) {
			t.Errorf("switcher lacks %s", name)
		}
	}
	p = tryLogin(t, pl, "", "nobody-pl@example.com", "wrong password", nil)
	if alerts := strings.Join(p.Alerts(), " "); !strings.Contains(alerts, "Podane dane logowania są nieprawidłowe.") {
		t.Errorf("Polish wrong password: alerts %q", alerts)
	}

	en := webtest.New(t, e.HeraURL)
	p = en.Get("/login")
	if !p.Contains("Sign in to Example") || p.Contains("Zaloguj") {
		t.Errorf("English /login: %s", p.Text())
	}
	if !p.Contains("Email") {
		t.Errorf("English /login lacks the schema's title: %s", p.Text())
	}
	p = tryLogin(t, en, "", "nobody-en@example.com", "wrong password", nil)
	if alerts := strings.Join(p.Alerts(), " "); !strings.Contains(alerts, "Wrong e-mail address or password.") || strings.Contains(alerts, "provided credentials") {
		t.Errorf("English wrong password: alerts %q", alerts)
	}

	// The switcher's choice is remembered: Polish without Accept-Language.
	p = en.Get("/language?lang=pl&next=/login")
	if !p.Contains("Zaloguj się") {
		t.Errorf("after choosing Polski: %s", p.Text())
	}
}

func htmlLang(p *webtest.Page) string {
	for _, n := range p.Find(func(n *html.Node) bool { return n.Data == "html" }) {
		return webtest.Attr(n, "lang")
	}
	return ""
}

// TestLocalesDirRefused: Hera does not start with a bad locale file, and
// says which file and key.
func TestLocalesDirRefused(t *testing.T) {
	dir := writeLocales(t, map[string]string{
		"pl.json": strings.Replace(localePL, "{count} minut.", "{minutes} minut.", 1),
		"en.json": `{"hera.login.titel": "Sign in"}`,
	})
	env := map[string]string{
		"HERA_LISTEN":       closedAddr(t),
		"KRATOS_PUBLIC_URL": "http://" + closedAddr(t),
		"KRATOS_ADMIN_URL":  "http://" + closedAddr(t),
		"HERA_LOCALES_DIR":  dir,
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"hera"}, mapEnv(env), &out, &out)
	if err == nil {
		t.Fatal("run started with a bad locale file")
	}
	for _, want := range []string{
		filepath.Join(dir, "pl.json") + `: "hera.notice.locked": placeholder {minutes} is not in the English template`,
		filepath.Join(dir, "en.json") + `: "hera.login.titel": not in en.json`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	// A default language with no file: refused with the configuration.
	env["HERA_DEFAULT_LANGUAGE"] = "cs"
	err = run(context.Background(), []string{"hera"}, mapEnv(env), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "HERA_DEFAULT_LANGUAGE") {
		t.Errorf("default language without a file: %v", err)
	}
}

// TestBrandAssetsDirRefused: a brand assets directory Hera would not serve
// stops it at start with an error naming the file, and a logo naming a
// file the directory lacks with the setting.
func TestBrandAssetsDirRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "logo.html"), []byte("<script>alert(1)</script>"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HERA_LISTEN":           closedAddr(t),
		"KRATOS_PUBLIC_URL":     "http://" + closedAddr(t),
		"KRATOS_ADMIN_URL":      "http://" + closedAddr(t),
		"HERA_BRAND_ASSETS_DIR": dir,
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"hera"}, mapEnv(env), &out, &out)
	if want := "brand assets (HERA_BRAND_ASSETS_DIR=" + dir + "):\nlogo.html: unknown type \".html\""; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run: %v, want an error with %q", err, want)
	}
	if err := os.Remove(filepath.Join(dir, "logo.html")); err != nil {
		t.Fatal(err)
	}
	env["HERA_BRAND_LOGO_URL"] = "/brand/logo.svg"
	err = run(context.Background(), []string{"hera"}, mapEnv(env), &out, &out)
	if want := `HERA_BRAND_LOGO_URL="/brand/logo.svg": no file "logo.svg" in HERA_BRAND_ASSETS_DIR`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run: %v, want an error with %q", err, want)
	}
}
