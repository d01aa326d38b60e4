package mail

import (
	"bytes"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/* from the current rendering")

var (
	at    = time.Date(2026, 3, 14, 15, 4, 5, 0, time.UTC)
	until = at.Add(15 * time.Minute)
)

func newTestTemplates(t *testing.T) *Templates {
	t.Helper()
	pub, err := url.Parse("https://id.example.com/auth")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := NewTemplates(TemplateConfig{Brand: "Example", PublicURL: pub, DefaultLanguage: "en"})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// goldenAlerts is one alert of every kind, as the golden files show them.
func goldenAlerts() []Alert {
	base := Alert{At: at, Browser: "Firefox on Windows", IP: "203.0.113.7"}
	var out []Alert
	for _, k := range Kinds() {
		a := base
		a.Kind = k
		switch k {
		case TOTPChanged:
			a.Detail = "added"
		case PasskeyChanged:
			a.Method, a.Detail = "passkey", "added"
		case Locked:
			a.Until = until
		}
		out = append(out, a)
	}
	return out
}

// TestGolden: every kind in every shipped language, as plain text (its
// subject first) and HTML, matches testdata/golden (go test -update
// rewrites them; review the diff).
func TestGolden(t *testing.T) {
	tm := newTestTemplates(t)
	for _, lang := range []string{"en", "de", "es", "fr"} {
		for _, a := range goldenAlerts() {
			a.Lang = lang
			m, err := tm.Render(a)
			if err != nil {
				t.Fatalf("%s %s: %v", a.Kind, lang, err)
			}
			if m.Kind != string(a.Kind) || m.Lang != lang || m.Subject == "" {
				t.Errorf("%s %s: kind %q lang %q subject %q", a.Kind, lang, m.Kind, m.Lang, m.Subject)
			}
			base := filepath.Join("testdata", "golden", string(a.Kind)+"."+lang)
			golden(t, base+".txt", "Subject: "+m.Subject+"\n\n"+m.Text)
			golden(t, base+".html", m.HTML)
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/mail -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendering (go test ./internal/mail -update rewrites it):\n%s", path, got)
	}
}

// TestEveryLanguage: no kind or variant shows a catalog key, each says
// when it happened in UTC with the zone named, and a translation differs
// from English.
func TestEveryLanguage(t *testing.T) {
	tm := newTestTemplates(t)
	var alerts []Alert
	alerts = append(alerts, goldenAlerts()...)
	for _, d := range []string{"added", "removed"} {
		alerts = append(alerts, Alert{Kind: TOTPChanged, Detail: d, At: at})
	}
	for _, method := range []string{"passkey", "webauthn"} {
		for _, d := range []string{"added", "removed", "changed"} {
			alerts = append(alerts, Alert{Kind: PasskeyChanged, Method: method, Detail: d, At: at})
		}
	}
	alerts = append(alerts, Alert{Kind: BackupCodesChanged, Detail: "removed", At: at})
	english := map[string]string{}
	for _, lang := range []string{"en", "de", "es", "fr"} {
		for _, a := range alerts {
			a.Lang = lang
			m, err := tm.Render(a)
			if err != nil {
				t.Fatalf("%+v: %v", a, err)
			}
			all := m.Subject + m.Text + m.HTML
			if strings.Contains(all, "hera.mail.") || strings.Contains(all, "{") {
				t.Errorf("%s %s %s: a key or placeholder shows:\n%s", lang, a.Kind, a.Detail, m.Text)
			}
			if !strings.Contains(m.Text, "UTC") || !strings.Contains(m.Text, "15:04") && !strings.Contains(m.Text, "3:04 PM") {
				t.Errorf("%s %s: no time in UTC:\n%s", lang, a.Kind, m.Text)
			}
			if !strings.Contains(m.HTML, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: HTML without lang=%q", lang, a.Kind, lang)
			}
			id := string(a.Kind) + a.Method + a.Detail
			if lang == "en" {
				english[id] = m.Text
			} else if m.Text == english[id] {
				t.Errorf("%s %s: the English text", lang, id)
			}
			links := strings.Contains(m.Text, "https://id.example.com/auth/recovery") && strings.Contains(m.Text, "https://id.example.com/auth/activity")
			if links == (a.Kind == AccountDeleted) {
				t.Errorf("%s %s: recovery and activity links %v, want %v", lang, a.Kind, links, a.Kind != AccountDeleted)
			}
		}
	}
}

// TestLanguageChoice: a regional tag gets its language; one Hera lacks,
// or none, the default language.
func TestLanguageChoice(t *testing.T) {
	pub, _ := url.Parse("https://id.example.com")
	tm, err := NewTemplates(TemplateConfig{Brand: "Example", PublicURL: pub, DefaultLanguage: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"de-CH": "de", "ES": "es", "": "fr", "xx": "fr", "en-GB": "en"} {
		m, err := tm.Render(Alert{Kind: PasswordChanged, Lang: lang, At: at})
		if err != nil {
			t.Fatal(err)
		}
		if m.Lang != want {
			t.Errorf("Lang %q: rendered in %q, want %q", lang, m.Lang, want)
		}
	}
	m, _ := tm.Render(Alert{Kind: PasswordChanged, At: at})
	if !strings.Contains(m.Text, "https://id.example.com/recovery\n") {
		t.Errorf("recovery link under a public URL without a path:\n%s", m.Text)
	}
}

// TestHostileInput: a browser description and brand name full of markup,
// line breaks and bidi overrides cannot add elements or attributes to the
// HTML, lines to the text, or reorder what is shown; an address that is
// not one is left out.
func TestHostileInput(t *testing.T) {
	pub, _ := url.Parse("https://id.example.com")
	tm, err := NewTemplates(TemplateConfig{Brand: `Ex<b>am</b>ple "&'`, PublicURL: pub, Color: "#aa0000"})
	if err != nil {
		t.Fatal(err)
	}
	hostile := "<script>alert(1)</script>\"><img src=x onerror=alert(1)> javascript:alert(1)\r\n\r\nBcc: evil@example.org\u202egnp.exe"
	for _, k := range Kinds() {
		a := Alert{Kind: k, At: at, Until: until, Detail: "added", Method: "passkey", Browser: hostile, IP: "<img src=x>", Lang: "de"}
		m, err := tm.Render(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<script", "<img", "<b>", "\u202e", "onerror=alert(1)>"} {
			if strings.Contains(m.HTML, bad) {
				t.Errorf("%s: HTML contains %q", k, bad)
			}
		}
		if strings.Contains(m.Text, "\u202e") || strings.Contains(m.Text, "\nBcc:") {
			t.Errorf("%s: text forged by the description:\n%s", k, m.Text)
		}
		if !strings.Contains(m.Text, "<script>alert(1)</script>") {
			t.Errorf("%s: the description is not shown as it is, as text:\n%s", k, m.Text)
		}
		if strings.Contains(m.Text, "<img src=x>") {
			t.Errorf("%s: an invalid IP shown", k)
		}
		if len(m.HTML) > 0 && k != AccountDeleted && !strings.Contains(m.HTML, "background-color:#aa0000;") {
			t.Errorf("%s: the brand colour is not on the buttons", k)
		}
		// The document's elements are the template's only.
		z := html.NewTokenizer(bytes.NewReader([]byte(m.HTML)))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			name, _ := z.TagName()
			switch string(name) {
			case "html", "head", "meta", "title", "body", "div", "p", "h1", "table", "tr", "th", "td", "a":
			default:
				t.Errorf("%s: element <%s> in the HTML", k, name)
			}
			for {
				key, val, more := z.TagAttr()
				if string(key) == "href" && !strings.HasPrefix(string(val), "https://id.example.com/") {
					t.Errorf("%s: link to %q", k, val)
				}
				if strings.HasPrefix(string(key), "on") {
					t.Errorf("%s: attribute %s", k, key)
				}
				if !more {
					break
				}
			}
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"  Firefox\ton\r\nWindows  ": "Firefox on Windows",
		"a\u200bb\u202ec":            "abc",
		strings.Repeat("x", 200):     strings.Repeat("x", maxBrowser) + "…",
		"\x00\x01":                   "",
	} {
		if got := oneLine(in, maxBrowser); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	tm := newTestTemplates(t)
	for _, a := range []Alert{
		{Kind: "unknown", At: at},
		{Kind: PasswordChanged},
		{Kind: Locked, At: at},
		{Kind: TOTPChanged, At: at, Detail: "changed"},
		{Kind: PasskeyChanged, At: at, Method: "password", Detail: "added"},
		{Kind: PasskeyChanged, At: at, Method: "passkey", Detail: "stolen"},
	} {
		if _, err := tm.Render(a); err == nil {
			t.Errorf("%+v rendered", a)
		}
	}
}
