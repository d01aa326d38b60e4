package i18n

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureDir holds the Kratos flows Hera's page tests render: recorded from
// a real Kratos v1.3.1, plus hand-written synthetic ones.
const fixtureDir = "../web/testdata/flows"

// fixtureMsg is one UI text of a recorded flow.
type fixtureMsg struct {
	file, where string
	synthetic   bool           // the file is hand-written, not recorded
	ID          int64          `json:"id"`
	Text        string         `json:"text"`
	Type        string         `json:"type"`
	Context     map[string]any `json:"context"`
}

// fixtureMessages reads every UI text of the fixtures, wherever Kratos puts
// one: the flow's messages, and each node's messages, label
// (meta.label), text (text nodes: TOTP secret, lookup codes), link title
// (a nodes) and option labels.
func fixtureMessages(t testing.TB) []fixtureMsg {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no flows in %s", fixtureDir)
	}
	type node struct {
		Messages   []fixtureMsg `json:"messages"`
		Attributes struct {
			Name    string      `json:"name"`
			Text    *fixtureMsg `json:"text"`
			Title   *fixtureMsg `json:"title"`
			Options []struct {
				Label *fixtureMsg `json:"label"`
			} `json:"options"`
		} `json:"attributes"`
		Meta struct {
			Label *fixtureMsg `json:"label"`
		} `json:"meta"`
	}
	var out []fixtureMsg
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var flow struct {
			Comment string `json:"_comment"`
			UI      struct {
				Messages []fixtureMsg `json:"messages"`
				Nodes    []node       `json:"nodes"`
			} `json:"ui"`
		}
		if err := json.Unmarshal(data, &flow); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		base := filepath.Base(file)
		synthetic := strings.HasPrefix(flow.Comment, "SYNTHETIC")
		add := func(m *fixtureMsg, where string) {
			if m == nil {
				return
			}
			m.file, m.where, m.synthetic = base, where, synthetic
			out = append(out, *m)
		}
		for i := range flow.UI.Messages {
			add(&flow.UI.Messages[i], "ui.messages")
		}
		for _, n := range flow.UI.Nodes {
			at := "node " + n.Attributes.Name
			for i := range n.Messages {
				add(&n.Messages[i], at+" messages")
			}
			add(n.Meta.Label, at+" meta.label")
			add(n.Attributes.Text, at+" attributes.text")
			add(n.Attributes.Title, at+" attributes.title")
			for _, o := range n.Attributes.Options {
				add(o.Label, at+" option label")
			}
		}
	}
	return out
}

// TestFixtureMessagesTranslated fails when a message ID seen in the recorded
// Kratos flows lacks a translation in a shipped language. IDs Kratos never
// emits (the synthetic flow uses one for option labels) must fall back to
// their text instead.
func TestFixtureMessagesTranslated(t *testing.T) {
	c := mustNew(t)
	emitted := kratosIDSet(t)
	msgs := fixtureMessages(t)
	if len(msgs) < 100 {
		t.Fatalf("only %d messages in the fixtures", len(msgs))
	}
	ids := map[int64]bool{}
	for _, m := range msgs {
		ids[m.ID] = true
		key := strconv.FormatInt(m.ID, 10)
		for _, lang := range c.Languages() {
			got := c.Message(lang, m.ID, m.Text, m.Context)
			if !emitted[m.ID] {
				if got != m.Text {
					t.Errorf("%s (%s): %s: ID %d is not a Kratos v1.3.1 message: got %q, want its text %q", m.file, m.where, lang, m.ID, got, m.Text)
				}
				continue
			}
			if !c.has(lang, key) {
				t.Errorf("%s (%s): %s lacks a translation of %d (%q)", m.file, m.where, lang, m.ID, m.Text)
			}
			if got == "" || strings.ContainsAny(got, "{}") {
				t.Errorf("%s (%s): %s: Message(%d) = %q", m.file, m.where, lang, m.ID, got)
			}
		}
	}
	t.Logf("%d messages with %d distinct IDs in %s", len(msgs), len(ids), fixtureDir)
}

// TestFixtureMessagesEnglish: on recorded flows, Hera's English is Kratos's
// text, context values included; a schema title is the English catalog's
// spelling of it, where it has one ("E-mail" is written "Email").
func TestFixtureMessagesEnglish(t *testing.T) {
	c := mustNew(t)
	n := 0
	for _, m := range fixtureMessages(t) {
		if m.synthetic {
			continue
		}
		n++
		want := m.Text
		if title, ok := m.Context["title"].(string); ok && m.ID == schemaTitleID {
			if s, ok := c.titles["en"][title]; ok {
				want = s
			}
		}
		if got := c.Message("en", m.ID, m.Text, m.Context); got != want {
			t.Errorf("%s (%s): Message(en, %d)\n got %q\nwant %q", m.file, m.where, m.ID, got, want)
		}
	}
	if n == 0 {
		t.Fatal("no recorded messages")
	}
}

// TestFixtureContexts: every context value a translation uses shows in it,
// in every language, for the contexts recorded from Kratos.
func TestFixtureContexts(t *testing.T) {
	c := mustNew(t)
	checked := 0
	for _, m := range fixtureMessages(t) {
		key := strconv.FormatInt(m.ID, 10)
		for _, lang := range c.Languages() {
			e := c.entries[lang][key]
			if e == nil || len(m.Context) == 0 {
				continue
			}
			if _, ok := c.schemaTitle(lang, m.Context); ok && m.ID == schemaTitleID {
				continue // a translated title replaces {title}
			}
			got := c.Message(lang, m.ID, m.Text, m.Context)
			for _, name := range e.placeholders() {
				v, ok := m.Context[name]
				if !ok {
					if got != m.Text {
						t.Errorf("%s: %s: %d lacks {%s} in its context, want Kratos's text, got %q", m.file, lang, m.ID, name, got)
					}
					continue
				}
				s, ok := c.formats[lang].format(name, "", v)
				if !ok {
					if got != m.Text {
						t.Errorf("%s: %s: %d: {%s} cannot be written, want Kratos's text, got %q", m.file, lang, m.ID, name, got)
					}
					continue
				}
				checked++
				if !strings.Contains(got, s) {
					t.Errorf("%s: %s: Message(%d) = %q lacks {%s} = %q", m.file, lang, m.ID, got, name, s)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no context values checked")
	}
}

// TestFixtureTranslations pins a few translations of recorded messages with
// their recorded contexts.
func TestFixtureTranslations(t *testing.T) {
	c := mustNew(t)
	find := func(file string, id int64) fixtureMsg {
		t.Helper()
		for _, m := range fixtureMessages(t) {
			if m.file == file && m.ID == id {
				return m
			}
		}
		t.Fatalf("%s has no message %d", file, id)
		return fixtureMsg{}
	}
	for _, tc := range []struct {
		file string
		id   int64
		want map[string]string
	}{
		{"registration_password_error.json", 4000032, map[string]string{
			"en": "The password must be at least 8 characters long, but got 5.",
			"de": "Das Passwort muss mindestens 8 Zeichen lang sein, hat aber nur 5.",
			"fr": "Le mot de passe doit contenir au moins 8 caractères, mais n’en contient que 5.",
			"es": "La contraseña debe tener al menos 8 caracteres, pero solo tiene 5.",
		}},
		// The schema's title, one spelling per language (as 1070007's).
		{"login.json", 1070002, map[string]string{"en": "Email", "de": "E-Mail-Adresse", "fr": "Adresse e-mail", "es": "Correo electrónico"}},
		{"login_error.json", 4000006, map[string]string{
			"de": "Die Anmeldedaten sind ungültig. Bitte prüfen Sie Ihr Passwort und Ihren Benutzernamen, Ihre E-Mail-Adresse oder Telefonnummer auf Tippfehler.",
		}},
		{"synthetic_all_nodes.json", 1010002, map[string]string{
			"en": "Sign in with github", "de": "Mit github anmelden", "fr": "Se connecter avec github", "es": "Iniciar sesión con github",
		}},
		{"synthetic_all_nodes.json", 4000002, map[string]string{
			"en": "Property accept_tos is missing.",
			"de": "Das Feld „accept_tos“ ist erforderlich.",
			"fr": "Le champ «\u00a0accept_tos\u00a0» est obligatoire.",
			"es": "El campo «accept_tos» es obligatorio.",
		}},
		{"synthetic_all_nodes.json", 1010016, map[string]string{
			"de": "Sie haben versucht, sich mit „ada@example.com“ anzumelden, aber diese E-Mail-Adresse wird bereits von einem anderen Konto verwendet. Melden Sie sich mit einer der folgenden Optionen bei Ihrem Konto an, um „ada@example.com“ bei „github“ als weitere Anmeldemethode hinzuzufügen.",
		}},
		{"registration_error.json", 4000001, map[string]string{ // {reason} is Kratos's own, English
			"de": `"not-an-email" is not valid "email"`,
		}},
		{"settings.json", 1050006, map[string]string{"de": "IUF6THMQ5ZZYFK2NU5G4SGCPHR23STUK"}},
		{"settings_lookup_reveal.json", 1050015, map[string]string{ // a list of objects: Kratos's text
			"de": find("settings_lookup_reveal.json", 1050015).Text,
		}},
		{"recovery_code_error.json", 4060006, map[string]string{
			"fr": "Le code de récupération est invalide ou a déjà été utilisé. Veuillez réessayer.",
		}},
	} {
		m := find(tc.file, tc.id)
		for lang, want := range tc.want {
			if got := c.Message(lang, m.ID, m.Text, m.Context); got != want {
				t.Errorf("%s: Message(%s, %d)\n got %q\nwant %q", tc.file, lang, tc.id, got, want)
			}
		}
	}
}
