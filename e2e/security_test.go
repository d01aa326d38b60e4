package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/stack"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// The security centre's states every run must audit and photograph, each
// in four languages.
var securityStates = []string{
	"passkey-offer", "passkey-offer-de", "passkey-offer-es", "passkey-offer-fr",
	"activity", "activity-de", "activity-es", "activity-fr",
	"export", "export-de", "export-es", "export-fr",
}

// TestSecurityCentre walks the account's security centre in Chromium, on
// Hera as production composes it (events from Kratos's web hooks and the
// guard, alerts through the SMTP sink): the passkey offer after a password
// sign-in (added there, then signing in through autofill; or "not now",
// once per browser); a stranger's failed sign-ins and the lock they cause,
// grouped on the owner's /activity beside the owner's own sign-ins, with
// "new sign-in" mails only for browsers without the account's device
// cookie; the data export from those events; password and address changes
// mailed. The offer, /activity and the export are audited in four
// languages, light and dark, at desktop width and 320 px.
func TestSecurityCentre(t *testing.T) {
	began := time.Now()
	s := startWithEnv(t, stacktest.Options{Hydra: true, TokenHook: true}, map[string]string{
		"HERA_PASSKEY_OFFER": "true",
		// New-sign-in mails need device cookies that outlive a restart.
		"HERA_DEVICE_COOKIE_SECRET": "a device cookie secret of at least 32 bytes",
	})
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

	t.Run("a stranger's failures, the lock and the owner's sign-ins on /activity; new-sign-in mails; the export", func(t *testing.T) {
		email := newEmail("centre")
		s.createUser(t, email, password)
		id := s.identityByIdentifier(t, email).ID

		// The owner's first sign-in: their browser holds no device cookie
		// of the account yet (made by an operator, not signed up), so it
		// is new, and mailed.
		owner := s.newTab(t)
		owner.withoutPasskeyAutofill()
		mails := s.Mail.Len()
		owner.login(email, password)
		owner.mustBeAt("/passkey-offer")
		owner.click(`form[action="/passkey-offer"] button`)
		owner.mustBeAt("/")
		s.WaitHeraMail(t, mails, email, "new_sign_in")

		// Again from the same browser: it carries the device cookie now.
		owner.logout(false)
		owner.login(email, password)
		owner.mustBeAt("/")
		evs := s.hera.WaitEvents(t, id, "the owner's second sign-in", func(evs []activity.Event) bool {
			return countEvents(evs, func(e activity.Event) bool { return e.Kind == activity.SignIn }) == 2
		})
		if evs[0].NewDevice || evs[0].Device == "" {
			t.Fatalf("the owner's browser is new at its second sign-in: %+v", evs[0])
		}

		// Another browser signs in with the password: new, mailed; the
		// owner's second sign-in was not.
		mails2 := s.Mail.Len()
		other := s.newTab(t)
		other.withoutPasskeyAutofill()
		other.login(email, password)
		other.mustBeAt("/passkey-offer")
		s.WaitHeraMail(t, mails2, email, "new_sign_in")
		s.hera.App.Events.Wait()
		if n := countMails(s.HeraMails(mails, email), "new_sign_in"); n != 2 {
			t.Errorf("%d new-sign-in mails, want 2 (the owner's first sign-in, the other browser's)", n)
		}

		// A stranger's browser guesses: five wrong passwords lock the
		// account, mailed once.
		mails3 := s.Mail.Len()
		stranger := s.newTab(t)
		stranger.withoutPasskeyAutofill()
		for range 5 {
			stranger.login(email, "not the password")
			stranger.mustBeAt("/login")
		}
		evs = s.hera.WaitEvents(t, id, "the lock", func(evs []activity.Event) bool {
			return countEvents(evs, func(e activity.Event) bool { return e.Kind == activity.Locked }) == 1 &&
				countEvents(evs, func(e activity.Event) bool { return e.Kind == activity.SignInFailed }) == 5
		})
		s.WaitHeraMail(t, mails3, email, "locked")

		// The owner's browser, holding the account's device cookie, signs
		// in through the lock, and sees it all.
		owner.logout(false)
		owner.login(email, password)
		owner.mustBeAt("/")
		s.hera.WaitEvents(t, id, "the owner's sign-in during the lock", func(evs []activity.Event) bool {
			return countEvents(evs, func(e activity.Event) bool { return e.Kind == activity.SignIn }) == 4
		})
		owner.click(`a[href="/activity"]`)
		owner.mustBeAt("/activity")
		owner.mustSee("Sign-in locked", "This device", "New browser", "Signed in with password", "127.0.0.0/24")
		text := owner.text()
		if strings.Contains(text, "Failed sign-in with") {
			t.Error("a stranger's failed sign-in is listed on its own")
		}
		// Failures are grouped between other events (the lock may fall
		// between the fifth and the others).
		failed := 0
		for _, m := range regexp.MustCompile(`(\d+) failed sign-in attempts? from 1 address`).FindAllStringSubmatch(text, -1) {
			n, _ := strconv.Atoi(m[1])
			failed += n
		}
		if failed != 5 {
			t.Errorf("the groups count %d failed sign-ins, want 5:\n%s", failed, text)
		}
		// The owner's first sign-in came from a browser without the
		// account's device cookie: new then, like the other browser's.
		if this, fresh := strings.Count(text, "This device"), strings.Count(text, "New browser"); this != 2 || fresh != 2 {
			t.Errorf("%d events marked this device, %d a new browser; want 2 and 2:\n%s", this, fresh, text)
		}
		// Hera's script shows the times in the browser's zone (the tab's
		// is UTC: the text changes, the zone is named).
		if local := evaluate[string](owner, `document.querySelector("time[data-hera-local]").textContent`); !strings.Contains(local, "UTC") && !strings.Contains(local, "GMT") {
			t.Errorf("local time %q names no zone", local)
		}
		owner.check("activity")
		owner.inLanguages("activity", map[string]string{"de": "Dieses Gerät", "es": "Este dispositivo", "fr": "Cet appareil"})

		owner.open("/settings")
		owner.click(`a[href="/settings/export"]`)
		owner.mustBeAt("/settings/export")
		owner.mustSee("Your data", email, "Sign-in methods", "Connected apps", "Sign-in locked")
		owner.check("export")
		owner.inLanguages("export", map[string]string{"de": "Ihre Daten", "es": "Sus datos", "fr": "Vos données"})

		// The download, as the button's post makes it.
		raw := run(owner, "download", chromedp.Evaluate[string](`fetch("/settings/export", {method: "POST"}).then(async r =>
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
		var activityOut []map[string]any
		if err := json.Unmarshal(data["activity"], &activityOut); err != nil || len(activityOut) != len(evs)+1 {
			t.Errorf("the download's activity: %v, %d events, want %d", err, len(activityOut), len(evs)+1)
		}
		for _, secret := range s.credentialSecrets(t, id) {
			if strings.Contains(dl.Body, secret) {
				t.Errorf("the download holds a credential secret: %q", secret)
			}
		}
		s.hera.WaitEvents(t, id, "the download", func(evs []activity.Event) bool {
			return countEvents(evs, func(e activity.Event) bool { return e.Kind == activity.Exported }) == 1
		})
		owner.open("/activity")
		owner.mustSee("Account data downloaded")
	})

	t.Run("a password change mails the owner; an address change mails the old address too", func(t *testing.T) {
		b := s.newTab(t)
		b.withoutPasskeyAutofill()
		email, moved := newEmail("changes"), newEmail("moved")
		s.createUser(t, email, password)
		b.login(email, password)
		b.mustBeAt("/passkey-offer")
		b.click(`form[action="/passkey-offer"] button`)
		b.mustBeAt("/")

		mails := s.Mail.Len()
		b.open("/settings")
		b.fill("#form-password-password", "another fine passphrase 9")
		b.click(`#form-password button[name=method][value=password]`)
		b.mustSee("Your changes have been saved")
		s.WaitHeraMail(t, mails, email, "password_changed")

		mails = s.Mail.Len()
		b.open("/settings")
		b.fill("#form-profile-traits-email", moved)
		b.click(`#form-profile button[name=method][value=profile]`)
		// Kratos asks to verify the new address at once.
		b.mustBeAt("/verification")
		m := s.WaitHeraMail(t, mails, email, "address_changed")
		if !strings.Contains(m.Body, "/recovery") {
			t.Errorf("the address-change mail to the old address offers no recovery:\n%s", m.Body)
		}

		id := s.identityByIdentifier(t, moved).ID
		s.hera.WaitEvents(t, id, "the changes", func(evs []activity.Event) bool {
			return countEvents(evs, func(e activity.Event) bool { return e.Kind == activity.PasswordChanged }) == 1 &&
				countEvents(evs, func(e activity.Event) bool { return e.Kind == activity.AddressChanged }) == 1
		})
		b.open("/activity")
		b.mustSee("Password changed", "Sign-in address changed", email, moved)
	})

	s.mustHaveAudited(t, securityStates...)
	t.Logf("security centre journeys took %s", time.Since(began).Round(time.Millisecond))
}

// countEvents is how many of evs satisfy f.
func countEvents(evs []activity.Event, f func(activity.Event) bool) int {
	n := 0
	for _, e := range evs {
		if f(e) {
			n++
		}
	}
	return n
}

// countMails is how many of ms are Hera's alert of kind.
func countMails(ms []stack.Mail, kind string) int {
	n := 0
	for _, m := range ms {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

// credentialSecrets are what an export must never hold of identity id: its
// credentials' secrets as Kratos's admin API shows them when asked (the
// password's hash among them).
func (s *suite) credentialSecrets(t *testing.T, id string) []string {
	t.Helper()
	q := url.Values{"include_credential": {"password", "totp", "lookup_secret", "webauthn", "passkey"}}
	res, err := http.Get(s.Kratos.AdminURL + "/admin/identities/" + id + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out, err := webtest.CredentialSecrets(raw)
	if err != nil || len(out) == 0 {
		t.Fatalf("Kratos showed no password hash: %v %s", err, raw)
	}
	return out
}
