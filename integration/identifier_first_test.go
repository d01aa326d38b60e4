package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// identifierFirstKratos is Kratos's identifier-first sign-in with account
// enumeration mitigated, as docs/kratos-setup.md recommends: the second
// step offers the same methods whoever the identifier names.
var identifierFirstKratos = []string{
	"SELFSERVICE_FLOWS_LOGIN_STYLE=identifier_first",
	"SECURITY_ACCOUNT_ENUMERATION_MITIGATE=true",
}

const lockedNotice = "Too many attempts. Try again in"

// TestIdentifierFirst runs Kratos's identifier-first sign-in through Hera
// as production assembles it, reading the guard's decisions from its log:
// the first step carries no secret and counts on nothing; the password and
// code steps after it are keyed on the account the first step named, so
// five wrong passwords lock it, known or not.
func TestIdentifierFirst(t *testing.T) {
	e := startHera(t, stacktest.Options{KratosEnv: identifierFirstKratos})
	g := newDecisionLog(t, e)

	t.Run("the first step carries no secret and counts on nothing", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("idf-noop")
		createVerifiedUser(t, e, email, password)
		before := len(g.all())
		for range 8 {
			p := identify(t, b, email)
			mustShowAccount(t, p, email)
		}
		if got := g.all()[before:]; len(got) != 0 {
			t.Fatalf("identifier steps were counted: %+v", got)
		}
		p := identify(t, b, email)
		p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": password})
		if !signedIn(p) {
			t.Fatalf("not signed in after eight identifier steps: %s %v", p.URL, p.Alerts())
		}
	})

	t.Run("wrong passwords after the first step lock the account, known or not", func(t *testing.T) {
		email := newEmail("idf-lock")
		createVerifiedUser(t, e, email, password)
		ghost := newEmail("idf-ghost")
		var lockedPages [2]*webtest.Page
		for i, who := range []string{email, ghost} {
			b := webtest.New(t, e.HeraURL)
			p := identify(t, b, who)
			mustShowAccount(t, p, who)
			for n := range 5 {
				p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": "wrong password"})
				mustPath(t, p, "/login")
				if !strings.Contains(strings.Join(p.Alerts(), " "), "credentials are invalid") {
					t.Fatalf("%s, failure %d: %v", who, n+1, p.Alerts())
				}
				if got := g.last(); got.Method != "password" || got.AccountKey != g.accountKey(who) || got.Secret != "password" {
					t.Fatalf("%s: password step decided as %+v", who, got)
				}
				// Still the second step, for the same account.
				mustShowAccount(t, p, who)
			}
			// Locked: even the right password is refused before Kratos.
			p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": password})
			if signedIn(p) || !p.Contains(lockedNotice) {
				t.Fatalf("%s not locked after 5 failures: %s %s", who, p.URL, p.Text())
			}
			lockedPages[i] = p
			// The first step still answers as before: it guesses nothing.
			mustShowAccount(t, identify(t, b, who), who)
		}
		if a, b := pageShape(lockedPages[0]), pageShape(lockedPages[1]); a != b {
			t.Errorf("locked known and unknown accounts differ:\n%s\n%s", a, b)
		}
	})

	t.Run("a sign-in code after the first step goes to the account and is counted on it", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("idf-code")
		createVerifiedUser(t, e, email, password)
		p := identify(t, b, email)
		mails := e.Mail.Len()
		p = b.Submit(p.Form("method", "code"), "method", "code", nil)
		mustPath(t, p, "/login")
		if got := g.last(); got.Method != "code" || got.RecipientKey != g.recipientKey(lockout.PurposeLogin, email) || got.Secret != "" {
			t.Fatalf("send step decided as %+v", got)
		}
		mustShowAccount(t, p, email)
		code := e.WaitCode(t, mails, email, "login_code")
		p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": otherCode(code)})
		mustPath(t, p, "/login")
		if got := g.last(); got.Method != "code" || got.AccountKey != g.accountKey(email) || got.Secret != "code" {
			t.Fatalf("code step decided as %+v", got)
		}
		p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
		if !signedIn(p) {
			t.Fatalf("not signed in with the code: %s %v", p.URL, p.Alerts())
		}
	})

	t.Run("an unknown identifier gets the same second step", func(t *testing.T) {
		email := newEmail("idf-known")
		createVerifiedUser(t, e, email, password)
		known := identify(t, webtest.New(t, e.HeraURL), email)
		unknown := identify(t, webtest.New(t, e.HeraURL), newEmail("idf-nobody"))
		if a, b := pageShape(known), pageShape(unknown); a != b {
			t.Errorf("known and unknown identifiers get different second steps:\n%s\n%s", a, b)
		}
	})

	t.Run("forgot password on the second step recovers that account", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("idf-forgot")
		createVerifiedUser(t, e, email, password)
		p := identify(t, b, email)
		mails := e.Mail.Len()
		p = b.SubmitAt(p.Form("method", "password"), "/recovery/start", nil)
		mustPath(t, p, "/recovery")
		e.WaitCode(t, mails, email, "recovery")
	})

	t.Run("use another account starts again, keeping return_to", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		p := b.Get("/login?return_to=" + e.HeraURL + "/sessions")
		mustPath(t, p, "/login")
		p = b.Submit(p.Form("method", "identifier_first"), "method", "identifier_first", map[string]string{"identifier": "someone@example.com"})
		mustPath(t, p, "/login")
		href := anotherAccountLink(t, p)
		if u, err := url.Parse(href); err != nil || u.Path != "/login" || u.Query().Get("return_to") != e.HeraURL+"/sessions" {
			t.Errorf("use another account: %q", href)
		}
		q := b.Get(href)
		mustPath(t, q, "/login")
		if q.Query("flow") == p.Query("flow") || q.Form("method", "identifier_first") == nil {
			t.Fatalf("not a fresh first step: %s %s", q.URL, q.Text())
		}
	})
}

// TestIdentifierFirstWithoutMitigation pins what Kratos v1.3.1 does without
// security.account_enumeration.mitigate (docs/kratos-setup.md): the second
// step shows the account's own methods, and an unknown identifier is told
// so on the first.
func TestIdentifierFirstWithoutMitigation(t *testing.T) {
	e := startHera(t, stacktest.Options{KratosEnv: identifierFirstKratos[:1]})
	b := webtest.New(t, e.HeraURL)
	email := newEmail("idf-own")
	createVerifiedUser(t, e, email, password)
	p := identify(t, b, email)
	mustShowAccount(t, p, email)
	f := p.Form("method", "password")
	if f == nil || !f.HasButton("method", "code") {
		t.Errorf("password account: no password or code method: %s", p.Text())
	}
	if p.Contains("Sign in with passkey") {
		t.Errorf("password account offered a passkey: %s", p.Text())
	}

	p = b.Get("/login")
	p = b.Submit(p.Form("method", "identifier_first"), "method", "identifier_first", map[string]string{"identifier": newEmail("idf-none")})
	mustPath(t, p, "/login")
	if !strings.Contains(strings.Join(p.Alerts(), " "), "This account does not exist") || p.Form("method", "identifier_first") == nil {
		t.Errorf("unknown identifier: %v %s", p.Alerts(), p.Text())
	}
}

// TestRecordFlowsIdentifierFirst records the identifier-first states for
// the golden tests, with TestRecordFlows (-run RecordFlows -record).
func TestRecordFlowsIdentifierFirst(t *testing.T) {
	if !*record {
		return
	}
	e := startHera(t, stacktest.Options{KratosEnv: identifierFirstKratos})
	r := &recorder{t: t, e: e, dir: filepath.Join(stacktest.RepoRoot(t), "internal", "web", "testdata", "flows")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := webtest.New(t, e.HeraURL)
	email := newEmail("rec-idf")
	createVerifiedUser(t, e, email, password)
	p := b.Get("/login")
	mustPath(t, p, "/login")
	r.save(b, p, "login_identifier_first")
	p = b.Submit(p.Form("method", "identifier_first"), "method", "identifier_first", map[string]string{"identifier": email})
	mustPath(t, p, "/login")
	r.save(b, p, "login_identifier_first_methods")
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": "wrong password"})
	mustPath(t, p, "/login")
	r.mustAlert(p, "login_identifier_first_error")
	r.save(b, p, "login_identifier_first_error")
	p = b.Submit(p.Form("method", "code"), "method", "code", nil)
	mustPath(t, p, "/login")
	r.save(b, p, "login_identifier_first_code_sent")
}

// identify opens a fresh login page and submits its first step.
func identify(t *testing.T, b *webtest.Browser, identifier string) *webtest.Page {
	t.Helper()
	p := b.Get("/login")
	mustPath(t, p, "/login")
	f := p.Form("method", "identifier_first")
	if f == nil {
		t.Fatalf("no identifier-first step: %s", p.Text())
	}
	p = b.Submit(f, "method", "identifier_first", map[string]string{"identifier": identifier})
	mustPath(t, p, "/login")
	return p
}

// mustShowAccount checks the second step: the identifier, hidden, in the
// form; the page saying whose sign-in it is, with a way to another account.
func mustShowAccount(t *testing.T, p *webtest.Page, identifier string) {
	t.Helper()
	var form *webtest.Form
	for _, f := range p.Forms() {
		if f.Fields.Get("identifier") != "" {
			form = f
		}
	}
	if form == nil || form.Fields.Get("identifier") != identifier {
		t.Fatalf("second step without the identifier %q: %s", identifier, p.Text())
	}
	if !p.Contains("Signing in as " + identifier) {
		t.Errorf("the page does not say whose sign-in this is: %s", p.Text())
	}
	anotherAccountLink(t, p)
}

// anotherAccountLink returns the href of "Use another account".
func anotherAccountLink(t *testing.T, p *webtest.Page) string {
	t.Helper()
	links := p.Find(func(n *htmlNode) bool {
		return n.Data == "a" && strings.TrimSpace(webtest.TextOf(n)) == "Use another account"
	})
	if len(links) != 1 {
		t.Fatalf("%d links to another account: %s", len(links), p.Text())
	}
	return webtest.Attr(links[0], "href")
}

// pageShape is what a page offers, without what differs between two
// renderings or two accounts: its alerts, and each form's field names and
// buttons.
func pageShape(p *webtest.Page) string {
	var b strings.Builder
	b.WriteString(p.URL.Path + " " + strings.Join(p.Alerts(), " | ") + "\n")
	for _, f := range p.Forms() {
		var names []string
		for k := range f.Fields {
			names = append(names, k)
		}
		slices.Sort(names)
		b.WriteString(strings.Join(names, ",") + " ")
		for _, btn := range f.Buttons {
			b.WriteString("[" + btn.Name + "=" + btn.Value + "]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func signedIn(p *webtest.Page) bool {
	return p.URL.Path == "/" && p.Contains("You are signed in")
}

// createVerifiedUser makes an identity with a password and a verified
// address through Kratos's admin API.
func createVerifiedUser(t *testing.T, e *heraEnv, email, pw string) {
	t.Helper()
	status := kratosAdmin(t, e, http.MethodPost, "/admin/identities", map[string]any{
		"schema_id":            "default",
		"traits":               map[string]any{"email": email, "name": map[string]string{"first": "Ada", "last": "Lovelace"}},
		"credentials":          map[string]any{"password": map[string]any{"config": map[string]string{"password": pw}}},
		"verifiable_addresses": []map[string]any{{"value": email, "via": "email", "verified": true, "status": "completed"}},
	})
	if status != http.StatusCreated {
		t.Fatalf("create identity %s: %d", email, status)
	}
}

// decision is one "auth decision" line of Hera's log: what the guard made
// of a submission (digests of its keys, never the values).
type decision struct {
	Flow         string `json:"flow"`
	Method       string `json:"method"`
	Outcome      string `json:"outcome"`
	Secret       string `json:"secret"`
	AccountKey   string `json:"account_key"`
	RecipientKey string `json:"recipient_key"`
}

// decisionLog reads the guard's decisions from Hera's log, and computes
// the key digests it logs for a given account or address.
type decisionLog struct {
	t     *testing.T
	e     *heraEnv
	limit *lockout.Limiter // Hera's realm: the same digests
}

func newDecisionLog(t *testing.T, e *heraEnv) *decisionLog {
	t.Helper()
	store, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	l, err := lockout.New(store, lockout.Config{Realm: e.hera.Env["HERA_LOCKOUT_REALM"]})
	if err != nil {
		t.Fatal(err)
	}
	return &decisionLog{t: t, e: e, limit: l}
}

// all returns the decisions logged so far, in order.
func (g *decisionLog) all() []decision {
	var out []decision
	for _, line := range strings.Split(g.e.logs.String(), "\n") {
		if !strings.Contains(line, `"msg":"auth decision"`) {
			continue
		}
		var d decision
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			g.t.Fatalf("decision line %q: %v", line, err)
		}
		if d.Secret == "none" {
			d.Secret = ""
		}
		out = append(out, d)
	}
	return out
}

// last is the latest decision.
func (g *decisionLog) last() decision {
	all := g.all()
	if len(all) == 0 {
		return decision{}
	}
	return all[len(all)-1]
}

// accountKey is how the guard logs the account key of a sign-in naming
// account (password or code: one form for an e-mail address).
func (g *decisionLog) accountKey(account string) string {
	k := g.limit.IdentifierKey(kratos.PasswordIdentifier(account))
	return string(k.Kind) + ":" + k.Digest[:16]
}

// recipientKey is how the guard logs the send quota of address for purpose.
func (g *decisionLog) recipientKey(purpose lockout.Purpose, address string) string {
	k := g.limit.RecipientKey(purpose, kratos.Address(address))
	return string(k.Kind) + ":" + k.Digest[:16]
}
