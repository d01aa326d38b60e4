package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// adminIdentityJSON is the identity as Kratos's admin API shows it with
// the configuration of its credentials: the password hash, TOTP secret,
// backup codes, keys — what the export must never hold.
func adminIdentityJSON(t *testing.T, e *heraEnv, id string) []byte {
	t.Helper()
	q := url.Values{"include_credential": {"password", "totp", "lookup_secret", "webauthn", "passkey", "code"}}
	res, err := http.Get(e.Kratos.AdminURL + "/admin/identities/" + id + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("admin identity: %d %s", res.StatusCode, b)
	}
	return b
}

// TestExportBehindReauth: the export (page and download) asks a sign-in
// older than HERA_PRIVILEGED_SESSION_MAX_AGE to sign in again and comes
// back to itself; the download holds every section, the identity's
// addresses with their verification state, its sign-in methods by type and
// identifier, its sessions from Kratos's admin API, its apps from Hydra
// and its activity — and none of the credentials' secrets, which Kratos's
// admin API shows when asked. It is recorded in the activity.
func TestExportBehindReauth(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true}, "HERA_PRIVILEGED_SESSION_MAX_AGE=3s")
	app := newRP(t, e, "export-app", nil)
	b := webtest.New(t, e.HeraURL)
	email := newEmail("export")
	register(t, b, email, password)
	id := identityID(t, b, e)
	app.signIn(b)

	p := b.Get("/settings/export")
	mustPath(t, p, "/settings/export")
	for _, want := range []string{email, "Password", "export-app", "Sessions"} {
		if !p.Contains(want) {
			t.Errorf("the export page lacks %q", want)
		}
	}

	time.Sleep(3500 * time.Millisecond)
	p = b.Get("/settings/export")
	mustPath(t, p, "/login")
	if !strings.Contains(p.URL.RawQuery, "flow=") {
		t.Fatalf("not a sign-in flow: %s", p.URL)
	}
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	mustPath(t, p, "/settings/export")

	// The download, with a stale sign-in again first: the form's post is
	// sent to sign in, not answered.
	time.Sleep(3500 * time.Millisecond)
	stale := b.Post("/settings/export", url.Values{})
	if stale.URL.Path != "/login" || strings.HasPrefix(stale.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("a stale download: at %s (%s)", stale.URL, stale.Header.Get("Content-Type"))
	}
	p = b.Submit(stale.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	mustPath(t, p, "/settings/export")
	dl := b.Post("/settings/export", url.Values{})
	if dl.Status != http.StatusOK || dl.Header.Get("Content-Type") != "application/json; charset=utf-8" ||
		dl.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download: %d %v\n%s", dl.Status, dl.Header, dl.Body)
	}
	var data struct {
		Account struct {
			ID     string `json:"id"`
			Traits struct {
				Email string `json:"email"`
			} `json:"traits"`
		} `json:"account"`
		Addresses []struct {
			Value        string `json:"value"`
			Verification bool   `json:"verification"`
			Recovery     bool   `json:"recovery"`
		} `json:"addresses"`
		SignInMethods []struct {
			Type        string   `json:"type"`
			Identifiers []string `json:"identifiers"`
		} `json:"sign_in_methods"`
		Sessions []struct {
			ID     string `json:"id"`
			Active bool   `json:"active"`
		} `json:"sessions"`
		Apps []struct {
			ClientID string   `json:"client_id"`
			Scopes   []string `json:"scopes"`
		} `json:"apps"`
		Activity []json.RawMessage `json:"activity"`
	}
	if err := json.Unmarshal([]byte(dl.Body), &data); err != nil {
		t.Fatalf("download: %v\n%s", err, dl.Body)
	}
	if data.Account.ID != id || data.Account.Traits.Email != email {
		t.Errorf("account: %+v", data.Account)
	}
	if len(data.Addresses) != 1 || data.Addresses[0].Value != email || !data.Addresses[0].Verification || !data.Addresses[0].Recovery {
		t.Errorf("addresses: %+v", data.Addresses)
	}
	hasPassword := false
	for _, m := range data.SignInMethods {
		if m.Type == "password" && len(m.Identifiers) == 1 && m.Identifiers[0] == email {
			hasPassword = true
		}
	}
	if !hasPassword {
		t.Errorf("sign-in methods: %+v", data.SignInMethods)
	}
	if len(data.Sessions) < 1 {
		t.Errorf("sessions: %+v", data.Sessions)
	}
	if len(data.Apps) != 1 || data.Apps[0].ClientID != "export-app" || len(data.Apps[0].Scopes) == 0 {
		t.Errorf("apps: %+v", data.Apps)
	}
	if data.Activity == nil {
		t.Error("no activity section")
	}
	secrets, err := webtest.CredentialSecrets(adminIdentityJSON(t, e, id))
	if err != nil {
		t.Fatal(err)
	}
	hasHash := false
	for _, s := range secrets {
		hasHash = hasHash || strings.HasPrefix(s, "$")
		if strings.Contains(dl.Body, s) || strings.Contains(p.Body, s) {
			t.Errorf("the export holds a credential secret: %q", s)
		}
	}
	if !hasHash {
		t.Fatalf("Kratos's admin API showed no password hash to compare with: %q", secrets)
	}
	if !strings.Contains(e.logs.String(), `"audit":"account_exported"`) || strings.Contains(grepLines(e.logs.String(), "account_exported"), email) {
		t.Error("no audit line for the export, or it names the account")
	}
	// Recorded in the background: waited for, then on the page.
	e.hera.WaitEvents(t, id, "the download", has(1, kind(activity.Exported)))
	if a := b.Get("/activity"); !a.Contains("Account data downloaded") {
		t.Errorf("the download is not in the activity:\n%s", a.Text())
	}
}

// grepLines are the log lines that contain s.
func grepLines(log, s string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPasskeyOfferOnce: against real Kratos (passkeys on), a password
// sign-in is offered a passkey — the passkey part of a settings flow —
// and "not now" goes on to where the sign-in was going and keeps the offer
// away from that browser; another browser is offered it again; an OAuth2
// sign-in goes on to the app through the offer.
func TestPasskeyOfferOnce(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true}, "HERA_PASSKEY_OFFER=true")
	email := newEmail("offer")
	createVerifiedUser(t, e, email, password)

	b := webtest.New(t, e.HeraURL)
	p := login(t, b, email, password)
	mustPath(t, p, "/passkey-offer")
	if len(p.Find(func(n *htmlNode) bool { return webtest.Attr(n, "name") == "passkey_create_data" })) != 1 ||
		len(p.Find(func(n *htmlNode) bool {
			return webtest.Attr(n, "data-hera-trigger") == "oryPasskeySettingsRegistration"
		})) != 1 {
		t.Fatalf("the offer has no passkey registration:\n%s", p.Body)
	}
	if p.Find(func(n *htmlNode) bool { return webtest.Attr(n, "name") == "password" }) != nil {
		t.Error("the offer shows the settings' other sections")
	}
	p = b.Submit(p.FormByAction("/passkey-offer"), "", "", nil)
	mustPath(t, p, "/")
	if !p.Contains("signed in as " + email) {
		t.Errorf("not signed in after the offer:\n%s", p.Text())
	}

	logout(t, b)
	mustPath(t, login(t, b, email, password), "/")

	other := webtest.New(t, e.HeraURL)
	mustPath(t, login(t, other, email, password), "/passkey-offer")

	// An OAuth2 sign-in: the offer, then on to the login challenge and the
	// app.
	app := newRP(t, e, "offer-app", nil)
	third := webtest.New(t, e.HeraURL)
	p, _ = app.start(third)
	mustPath(t, p, "/login")
	p = third.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	mustPath(t, p, "/passkey-offer")
	if rt := p.Query("return_to"); !strings.Contains(rt, "login_challenge=") {
		t.Fatalf("the offer does not go on to the login challenge: return_to %q", rt)
	}
	p = third.Submit(p.FormByAction("/passkey-offer"), "", "", nil)
	if p.URL.Path == "/consent" {
		p = third.Submit(p.Form("decision", "allow"), "decision", "allow", nil)
	}
	if q := app.callback(p); q.Get("code") == "" {
		t.Errorf("no code at the app: %v", q)
	}
}
