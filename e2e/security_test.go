package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// The security centre's states every run must audit and photograph, each
// in four languages.
var securityStates = []string{
	"passkey-offer", "passkey-offer-de", "passkey-offer-es", "passkey-offer-fr",
	"activity", "activity-de", "activity-es", "activity-fr",
	"export", "export-de", "export-es", "export-fr",
}

// TestSecurityCentre walks the account's security centre in Chromium: the
// passkey offer after a password sign-in (added there, then signing in
// through autofill; or "not now", once per browser), the activity page
// and the data export, each audited in four languages, light and dark, at
// desktop width and 320 px.
func TestSecurityCentre(t *testing.T) {
	began := time.Now()
	s := startWithEnv(t, stacktest.Options{Hydra: true, TokenHook: true}, map[string]string{"HERA_PASSKEY_OFFER": "true"})
	t.Logf("stack and browser up in %s", time.Since(began).Round(time.Millisecond))

	t.Run("the offer after a password sign-in adds a passkey that signs in through autofill", func(t *testing.T) {
		b := s.newTab(t)
		b.virtualAuthenticator()
		email := newEmail("offer")
		s.createUser(t, email, password)
		b.open("/login")
		b.mustBeAt("/login")
		if ac := evaluate[string](b, `document.querySelector("#form-login-identifier").getAttribute("autocomplete")`); ac != "username webauthn" {
			t.Errorf("one-step identifier: autocomplete %q, want %q", ac, "username webauthn")
		}
		b.fill("#form-login-identifier", email)
		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/passkey-offer")
		b.mustSee("Sign in faster with a passkey", "Not now")
		b.check("passkey-offer")
		b.inLanguages("passkey-offer", map[string]string{
			"de": "Schneller anmelden mit einem Passkey", "es": "Inicie sesión más rápido con una llave de acceso",
			"fr": "Connectez-vous plus vite avec une clé d’accès",
		})
		b.mustBeAt("/passkey-offer")

		// Kratos's script creates the passkey and submits; the settings
		// flow goes on to where the sign-in was going.
		b.click(`#form-passkey button[name=passkey_register_trigger]`)
		b.waitPath("/")
		b.mustSee("signed in as " + email)
		if _, ok := s.identityByIdentifier(t, email).Credentials["passkey"]; !ok {
			t.Fatal("Kratos holds no passkey for the account")
		}

		// Signed out, the sign-in page's passkey autofill signs in with
		// it (as a user picking it from the list).
		b.open("/logout")
		b.click(`button[name=confirm][value=yes]`)
		b.waitPath("/")
		b.mustSee("signed in as "+email, "passkey")

		// With a passkey, a password sign-in is not offered another.
		b.withoutPasskeyAutofill()
		b.logout(false)
		b.login(email, password)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	t.Run("not now: the offer appears once on a browser", func(t *testing.T) {
		b := s.newTab(t)
		b.withoutPasskeyAutofill()
		email := newEmail("not-now")
		s.createUser(t, email, password)
		b.login(email, password)
		b.mustBeAt("/passkey-offer")
		b.click(`form[action="/passkey-offer"] button`)
		b.mustBeAt("/")
		b.logout(false)
		b.login(email, password)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	t.Run("activity and export in four languages; the download holds no secret", func(t *testing.T) {
		b := s.newTab(t)
		b.withoutPasskeyAutofill()
		email := newEmail("centre")
		s.createUser(t, email, password)
		b.login(email, password)
		b.mustBeAt("/passkey-offer")
		b.click(`form[action="/passkey-offer"] button`)
		b.mustBeAt("/")
		id := s.identityByIdentifier(t, email).ID
		session := run(b, "whoami", chromedp.Evaluate[string](
			`fetch("/api/kratos/sessions/whoami", {headers: {Accept: "application/json"}}).then(r => r.json()).then(j => j.id)`,
			chromedp.EvalAwaitPromise))
		s.seedActivity(t, id, session)

		b.click(`a[href="/activity"]`)
		b.mustBeAt("/activity")
		b.mustSee("5 failed sign-in attempts from 3 addresses", "This device", "198.51.100.0/24", "Signed in with password")
		if strings.Contains(b.text(), "198.51.100.23") {
			t.Error("a stranger's address is shown in full")
		}
		// Hera's script shows the times in the browser's zone (the tab's
		// is UTC: the text changes, the zone is named).
		if local := evaluate[string](b, `document.querySelector("time[data-hera-local]").textContent`); !strings.Contains(local, "UTC") && !strings.Contains(local, "GMT") {
			t.Errorf("local time %q names no zone", local)
		}
		b.check("activity")
		b.inLanguages("activity", map[string]string{
			"de": "5 fehlgeschlagene Anmeldeversuche von 3 Adressen", "es": "5 intentos fallidos de inicio de sesión desde 3 direcciones",
			"fr": "5 tentatives de connexion échouées depuis 3 adresses",
		})

		b.open("/settings")
		b.click(`a[href="/settings/export"]`)
		b.mustBeAt("/settings/export")
		b.mustSee("Your data", email, "Sign-in methods", "Connected apps", "5 failed sign-in attempts from 3 addresses")
		b.check("export")
		b.inLanguages("export", map[string]string{"de": "Ihre Daten", "es": "Sus datos", "fr": "Vos données"})

		// The download, as the button's post makes it.
		raw := run(b, "download", chromedp.Evaluate[string](`fetch("/settings/export", {method: "POST"}).then(async r =>
  JSON.stringify({status: r.status, disposition: r.headers.get("Content-Disposition"), body: await r.text()}))`, chromedp.EvalAwaitPromise))
		var dl struct {
			Status      int    `json:"status"`
			Disposition string `json:"disposition"`
			Body        string `json:"body"`
		}
		if err := json.Unmarshal([]byte(raw), &dl); err != nil || dl.Status != http.StatusOK || !strings.HasPrefix(dl.Disposition, "attachment;") {
			t.Fatalf("download: %v %+v", err, dl)
		}
		var data map[string]json.RawMessage
		if err := json.Unmarshal([]byte(dl.Body), &data); err != nil {
			t.Fatalf("download: %v", err)
		}
		for _, section := range []string{"account", "addresses", "sign_in_methods", "sessions", "apps", "activity"} {
			if _, ok := data[section]; !ok {
				t.Errorf("the download lacks %q", section)
			}
		}
		for _, secret := range s.credentialSecrets(t, id) {
			if strings.Contains(dl.Body, secret) {
				t.Errorf("the download holds a credential secret: %q", secret)
			}
		}
		b.open("/activity")
		b.mustSee("Account data downloaded")
	})

	s.mustHaveAudited(t, securityStates...)
	t.Logf("security centre journeys took %s", time.Since(began).Round(time.Millisecond))
}

// seedActivity stores events for identity id as Hera records them: this
// browser's session's sign-in, strangers' failed sign-ins and the lock
// they caused, a sign-in from a new browser, changes, an app.
func (s *suite) seedActivity(t *testing.T, id, session string) {
	t.Helper()
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	events := []activity.Event{
		{ID: "seed-1", Kind: activity.SignIn, At: ago(time.Minute), Method: "password", AAL: "aal1", Session: session, IP: "127.0.0.1", UserAgent: chrome},
		{ID: "seed-2", Kind: activity.Locked, At: ago(30 * time.Minute), Until: ago(15 * time.Minute), IP: "198.51.100.23"},
		{ID: "seed-3", Kind: activity.SignInFailed, At: ago(31 * time.Minute), Method: "password", IP: "198.51.100.23"},
		{ID: "seed-4", Kind: activity.SignInFailed, At: ago(32 * time.Minute), Method: "password", IP: "198.51.100.99"},
		{ID: "seed-5", Kind: activity.SignInFailed, At: ago(33 * time.Minute), Method: "password", IP: "2001:db8:abcd:12::5"},
		{ID: "seed-6", Kind: activity.SignInFailed, At: ago(34 * time.Minute), Method: "password", IP: "198.51.100.23"},
		{ID: "seed-7", Kind: activity.SignInFailed, At: ago(35 * time.Minute), Method: "password", IP: "198.51.100.23"},
		{ID: "seed-8", Kind: activity.SignIn, At: ago(26 * time.Hour), Method: "password", AAL: "aal1", NewDevice: true, IP: "192.0.2.44",
			UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"},
		{ID: "seed-9", Kind: activity.PasswordChanged, At: ago(50 * time.Hour)},
		{ID: "seed-10", Kind: activity.AppAllowed, At: ago(72 * time.Hour), Client: "Notes", ClientID: "notes", Scopes: []string{"openid", "email"}},
	}
	h := s.hera.App
	for _, e := range events {
		e.Identity = id
		if err := h.Activity.Add(t.Context(), e, now, h.ActivityPolicy); err != nil {
			t.Fatal(err)
		}
	}
}

// credentialSecrets are the strings in the configuration of identity id's
// credentials as Kratos's admin API shows them when asked (the password's
// hash among them): what an export must never hold.
func (s *suite) credentialSecrets(t *testing.T, id string) []string {
	t.Helper()
	q := url.Values{"include_credential": {"password", "totp", "lookup_secret", "webauthn", "passkey"}}
	res, err := http.Get(s.Kratos.AdminURL + "/admin/identities/" + id + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var i struct {
		Credentials map[string]struct {
			Config json.RawMessage `json:"config"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(raw, &i); err != nil {
		t.Fatalf("identity: %v: %s", err, raw)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if len(v) >= 8 {
				out = append(out, v)
			}
		}
	}
	var hash any
	_ = json.Unmarshal(i.Credentials["password"].Config, &hash)
	walk(hash)
	if len(out) == 0 {
		t.Fatalf("Kratos showed no password hash: %s", raw)
	}
	return out
}
