package e2e_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/heraproject/hera/internal/webtest"
)

// The states every run must audit with axe-core and photograph: each page
// empty, with errors, and after success.
var requiredStates = []string{
	"welcome-signed-out", "welcome-signed-in", "welcome-two-factors",
	"registration", "registration-password",
	"verification", "verification-code-sent", "verification-done",
	"login", "login-error", "login-second-factor", "login-second-factor-error", "login-no-js", "login-restarted",
	"logout",
	"recovery", "recovery-code-sent", "recovery-code-error", "settings-after-recovery",
	"settings", "settings-saved", "settings-backup-codes", "settings-passkey-added",
	"sessions",
	"login-oauth2", "consent", "logout-oauth2", "oauth2-error",
	"apps", "apps-removed", "delete-account", "delete-account-error", "goodbye",
	"logout-other-account",
	"error", "not-found",
}

// TestJourneys walks real users' journeys through Hera in headless
// Chromium, each in a fresh browser context, and audits and photographs
// every page and state on the way.
func TestJourneys(t *testing.T) {
	began := time.Now()
	s := start(t)
	t.Logf("stack and browser up in %s", time.Since(began).Round(time.Millisecond))

	t.Run("a form whose security check fails restarts with a notice and the identifier kept", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("restart")
		b.open("/login")
		b.mustBeAt("/login")
		b.fill("#form-login-identifier", email)
		b.fill("#form-login-password", "typed secret 123")
		// What a stale tab or a rotated CSRF cookie leads to: Kratos
		// refuses the form's token.
		evaluate[bool](b, `(document.querySelector("#form-login input[name=csrf_token]").value = "stale", true)`)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/login")
		b.mustSee("Your sign-in form expired or your browser's security check failed. Please try again.")
		if got := b.value("#form-login-identifier"); got != email {
			t.Errorf("identifier %q after the restart, want %q", got, email)
		}
		if got := b.value("#form-login-password"); got != "" {
			t.Error("the password was kept")
		}
		b.check("login-restarted")
		// Signing in works from the restarted page.
		s.createUser(t, email, password)
		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/")
		b.mustSee(email)
	})

	t.Run("registration, verification by code, logout, login", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("reg")
		b.open("/")
		b.mustSee("You are not signed in")
		b.check("welcome-signed-out")

		b.open("/registration")
		b.mustBeAt("/registration")
		b.check("registration")
		b.fill("#form-registration-traits-email", email)
		b.fill("#form-registration-traits-name-first", "Ada")
		b.fill("#form-registration-traits-name-last", "Lovelace")
		b.click(`#form-registration button[name=method][value=profile]`)
		b.mustBeAt("/registration")
		b.check("registration-password")

		mails := s.Mail.Len()
		b.fill("#form-registration-password", password)
		b.click(`#form-registration button[name=method][value=password]`)
		// Kratos's show_verification_ui: the code is on its way.
		b.mustBeAt("/verification")
		b.check("verification-code-sent")
		code := s.WaitCode(t, mails, email, "verification")
		b.fill("#form-verification-code", code)
		b.click(`#form-verification button[name=method][value=code]`)
		b.mustSee("You successfully verified your email address")
		b.check("verification-done")

		b.open("/")
		b.mustSee("Welcome, Ada Lovelace", "signed in as "+email)
		b.check("welcome-signed-in")
		b.logout(true)
		b.open("/")
		b.mustSee("You are not signed in")

		b.login(email, password)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	t.Run("empty verification form", func(t *testing.T) {
		b := s.newTab(t)
		b.open("/verification")
		b.mustBeAt("/verification")
		b.check("verification")
	})

	t.Run("wrong password shows the error on the same form", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("wrong")
		s.createUser(t, email, password)
		b.open("/login")
		b.check("login")
		b.fill("#form-login-identifier", email)
		b.fill("#form-login-password", "not the password")
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/login")
		b.mustSee("credentials are invalid")
		if got := b.value("#form-login-identifier"); got != email {
			t.Errorf("identifier %q after the error, want %q", got, email)
		}
		b.check("login-error")
	})

	t.Run("recovery by code, new password, login with it", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("recover")
		s.createUser(t, email, password)
		b.open("/recovery")
		b.mustBeAt("/recovery")
		b.check("recovery")

		// "Forgot password?" on the login form, with the address typed.
		b.open("/login")
		b.fill("#form-login-identifier", email)
		mails := s.Mail.Len()
		b.click(`#form-login button[formaction="/recovery/start"]`)
		b.mustBeAt("/recovery")
		b.check("recovery-code-sent")
		code := s.WaitCode(t, mails, email, "recovery")

		b.fill("#form-recovery-code", "00000000")
		b.click(`#form-recovery button[name=method][value=code]`)
		b.mustBeAt("/recovery")
		b.mustSee("code is invalid")
		b.check("recovery-code-error")

		b.fill("#form-recovery-code", code)
		b.click(`#form-recovery button[name=method][value=code]`)
		b.mustBeAt("/settings")
		b.check("settings-after-recovery")
		newPW := "a brand new passphrase 7"
		b.fill("#form-password-password", newPW)
		b.click(`#form-password button[name=method][value=password]`)
		b.mustSee("Your changes have been saved")

		b.logout(false)
		b.login(email, password)
		b.mustBeAt("/login") // the old password no longer works
		b.login(email, newPW)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	t.Run("settings: name, password, TOTP, backup codes, second factor", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("settings")
		s.createUser(t, email, password)
		b.login(email, password)
		b.mustBeAt("/")

		b.open("/settings")
		b.mustBeAt("/settings")
		b.check("settings")
		b.fill("#form-profile-traits-name-first", "Grace")
		b.click(`#form-profile button[name=method][value=profile]`)
		b.mustSee("Your changes have been saved")
		b.check("settings-saved")
		b.open("/")
		b.mustSee("Welcome, Grace Lovelace")

		b.open("/settings")
		newPW := "another fine passphrase 9"
		b.fill("#form-password-password", newPW)
		b.click(`#form-password button[name=method][value=password]`)
		b.mustSee("Your changes have been saved")

		// TOTP: the code from the secret shown, as an authenticator app.
		secret := strings.TrimSpace(run(b, "TOTP secret", chromedp.TextContent(chromedp.CSS("#form-totp-totp_secret_key code"))))
		if secret == "" {
			b.fatalf("no TOTP secret shown")
		}
		if n := evaluate[int](b, `document.querySelectorAll('#form-totp img[src^="data:image/png;base64,"]').length`); n != 1 {
			t.Errorf("%d TOTP QR code images", n)
		}
		b.fill("#form-totp-totp_code", totp(t, secret))
		b.click(`#form-totp button[name=method][value=totp]`)
		b.mustSee("Your changes have been saved")

		// Backup codes: generate, read, confirm.
		b.click(`#form-lookup_secret button[name=lookup_secret_regenerate]`)
		b.mustBeAt("/settings")
		codes := evaluate[[]string](b, `[...document.querySelectorAll("ul.secrets li")].map(li => li.textContent.trim())`)
		if len(codes) < 10 {
			b.fatalf("backup codes: %v", codes)
		}
		b.check("settings-backup-codes")
		b.click(`#form-lookup_secret button[name=lookup_secret_confirm]`)
		b.mustSee("Your changes have been saved")

		b.open("/sessions")
		b.mustBeAt("/sessions")
		b.mustSee("Active sessions", "This device")
		b.check("sessions")

		// Sign in again: password, then the authenticator app.
		b.logout(false)
		b.login(email, newPW)
		b.mustBeAt("/login")
		b.mustSee("Second factor")
		b.check("login-second-factor")
		b.fill("#form-totp-totp_code", "000000")
		b.click(`#form-totp button[name=method][value=totp]`)
		b.mustSee("authentication code is invalid")
		b.check("login-second-factor-error")
		b.fill("#form-totp-totp_code", totp(t, secret))
		b.click(`#form-totp button[name=method][value=totp]`)
		b.mustBeAt("/")
		b.mustSee("two factors")
		b.check("welcome-two-factors")

		// And with a backup code instead.
		b.logout(false)
		b.login(email, newPW)
		b.mustBeAt("/login")
		b.fill("#form-lookup_secret-lookup_secret", codes[0])
		b.click(`#form-lookup_secret button[name=method][value=lookup_secret]`)
		b.mustBeAt("/")
		b.mustSee("two factors")
	})

	t.Run("passkey: sign up, sign in, add one in settings", func(t *testing.T) {
		b := s.newTab(t)
		b.virtualAuthenticator()
		email := newEmail("passkey")
		b.signUpWithPasskey(email)
		b.open("/")
		b.mustSee("signed in as " + email)

		// Passkey autofill: Kratos's conditional-mediation request, which
		// Hera's script starts on load, gets the passkey from the virtual
		// authenticator (as a user picking it from the list) and signs in.
		b.open("/logout")
		b.click(`button[name=confirm][value=yes]`)
		b.waitPath("/")
		b.mustSee("signed in as "+email, "passkey")

		// The "Sign in with passkey" button, in a browser without passkey
		// autofill.
		b.withoutPasskeyAutofill()
		b.logout(false)
		b.click(`#form-login button[name=passkey_login_trigger]`)
		b.mustBeAt("/")
		b.mustSee("signed in as "+email, "passkey")

		// A second passkey for the same account, from the settings page.
		b.open("/settings")
		b.click(`#form-passkey button[name=passkey_register_trigger]`)
		b.mustBeAt("/settings")
		b.mustSee("Your changes have been saved")
		b.check("settings-passkey-added")
	})

	t.Run("OAuth2 authorization code with consent, then RP-initiated logout", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("oauth")
		s.createUser(t, email, password)
		app := s.newClient(t, "e2e-app")
		verifier := oauth2.GenerateVerifier()
		b.open(app.cfg.AuthCodeURL("state-1234567890", oauth2.S256ChallengeOption(verifier)))
		b.mustBeAt("/login")
		b.mustSee("to continue to Example App")
		b.check("login-oauth2")
		b.fill("#form-login-identifier", email)
		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/consent")
		b.mustSee("Allow Example App to access your account?", "Remember my decision")
		b.check("consent")
		b.tabThrough() // every scope checkbox and button shows its focus
		b.click(`button[name=decision][value=allow]`)

		at := b.url()
		if !strings.HasPrefix(at, app.callback+"/callback?") {
			b.fatalf("not at the client's callback")
		}
		q := query(t, at)
		if q.Get("code") == "" || q.Get("state") != "state-1234567890" {
			t.Fatalf("callback query %v", q)
		}
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		tok, err := app.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange the code: %v", err)
		}
		idToken, _ := tok.Extra("id_token").(string)
		if claims := idTokenClaims(t, idToken); claims["email"] != email {
			t.Errorf("id token claims %v", claims)
		}

		// The application signs the user out through Hydra.
		b.open(s.Hydra.PublicURL + "/oauth2/sessions/logout?id_token_hint=" + idToken +
			"&post_logout_redirect_uri=" + app.callback + "/logged-out&state=bye")
		b.mustBeAt("/logout")
		b.mustSee("Example App asks you to sign out")
		b.check("logout-oauth2")
		b.click(`button[name=confirm][value=yes]`)
		if at := b.url(); !strings.HasPrefix(at, app.callback+"/logged-out") {
			b.fatalf("not back at the application after logout")
		}
		b.open("/")
		b.mustSee("You are not signed in")

		// Hydra's error page, for a client it does not know.
		unknown := app.cfg
		unknown.ClientID = "no-such-client"
		b.open(unknown.AuthCodeURL("state-1234567890"))
		b.mustBeAt("/oauth2/error")
		b.mustSee("The application is not registered correctly")
		b.check("oauth2-error")
	})

	t.Run("single sign-out, connected apps and deleting the account, without JavaScript", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("account")
		s.createUser(t, email, password)
		app := s.newClient(t, "e2e-account-app")
		// authorize runs the app's authorization request in the tab and
		// returns the callback's query.
		authorize := func(extra ...oauth2.AuthCodeOption) url.Values {
			b.open(app.cfg.AuthCodeURL("state-1234567890", extra...))
			if strings.HasSuffix(b.path(), "/consent") {
				b.click(`button[name=decision][value=allow]`)
			}
			at := b.url()
			if !strings.HasPrefix(at, app.callback+"/callback?") {
				b.fatalf("not at the client's callback")
			}
			return query(t, at)
		}
		b.disableScripts() // every one of these pages works without it
		b.login(email, password)
		b.mustBeAt("/")
		if q := authorize(); q.Get("code") == "" {
			t.Fatalf("first authorization: %v", q)
		}
		if q := authorize(oauth2.SetAuthURLParam("prompt", "none")); q.Get("code") == "" {
			t.Fatalf("silent authorization while signed in: %v", q)
		}

		// Signing out of Hera signs out of the app's single sign-on.
		b.logout(false)
		if q := authorize(oauth2.SetAuthURLParam("prompt", "none")); q.Get("error") != "login_required" {
			t.Errorf("silent authorization after signing out: %v", q)
		}

		// Another account's logout challenge changes nothing here.
		b.login(email, password)
		b.mustBeAt("/")
		other := newEmail("other")
		s.createUser(t, other, password)
		ob := s.newTab(t)
		ob.login(other, password)
		ob.open(app.cfg.AuthCodeURL("state-1234567890"))
		ob.click(`button[name=decision][value=allow]`)
		q := query(t, ob.url())
		tok, err := app.cfg.Exchange(context.Background(), q.Get("code"))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		idToken, _ := tok.Extra("id_token").(string)
		ob.open(s.Hydra.PublicURL + "/oauth2/sessions/logout?id_token_hint=" + idToken)
		ob.mustBeAt("/logout")
		b.open(ob.url())
		b.mustSee("This sign-out request is for another account", "Nothing was changed")
		b.check("logout-other-account")
		b.open("/")
		b.mustSee("signed in as " + email)

		// Connected apps: listed, then removed.
		authorize()
		b.open("/")
		b.click(`a[href="/apps"]`)
		b.mustBeAt("/apps")
		b.mustSee("Example App", "See your email address", "Remove access")
		b.check("apps")
		b.click(`form[action="/apps/remove"] button`)
		b.mustBeAt("/apps")
		b.mustSee("The app's access was removed", "No app has access to your account")
		b.check("apps-removed")

		// Deleting the account: a wrong word deletes nothing, the right one
		// everything.
		b.open("/settings")
		b.click(`a[href="/settings/delete"]`)
		b.mustBeAt("/settings/delete")
		b.mustSee("Delete your account", email, "This cannot be undone")
		b.check("delete-account")
		b.fill("#delete-confirm", "nope")
		b.click(`form[action="/settings/delete"] button[type=submit]`)
		b.mustSee("Nothing was deleted")
		b.check("delete-account-error")
		b.fill("#delete-confirm", "delete")
		b.click(`form[action="/settings/delete"] button[type=submit]`)
		b.mustBeAt("/goodbye")
		b.mustSee("Your account was deleted")
		b.check("goodbye")
		b.login(email, password)
		b.mustSee("credentials are invalid")
	})

	t.Run("error pages", func(t *testing.T) {
		b := s.newTab(t)
		b.open("/error?id=00000000-0000-4000-8000-000000000000")
		b.mustBeAt("/error")
		b.check("error")
		b.open("/no-such-page")
		b.check("not-found")
	})

	t.Run("password login with JavaScript disabled", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("nojs")
		s.createUser(t, email, password)
		b.disableScripts()
		b.open("/login")
		b.mustBeAt("/login")
		if evaluate[bool](b, `document.documentElement.classList.contains("js")`) {
			t.Fatal("Hera's script ran: JavaScript is not disabled")
		}
		if visible := evaluate[bool](b, `getComputedStyle(document.querySelector("button[name=passkey_login_trigger]")).display !== "none"`); visible {
			t.Error("the passkey button shows although it cannot work without JavaScript")
		}
		b.mustSee("Passkeys and security keys need JavaScript")
		b.check("login-no-js")
		b.fill("#form-login-identifier", email)
		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	s.mustHaveAudited(t, requiredStates...)
	t.Logf("journeys took %s", time.Since(began).Round(time.Millisecond))
}

// login signs in with a password on a fresh login page.
func (b *tab) login(email, pw string) {
	b.t.Helper()
	b.open("/login")
	b.mustBeAt("/login")
	b.fill("#form-login-identifier", email)
	b.fill("#form-login-password", pw)
	b.click(`#form-login button[name=method][value=password]`)
}

// signUpWithPasskey signs up with a passkey of the tab's virtual
// authenticator: Kratos's WebAuthn script creates the credential and
// submits the form; signed up and in, Kratos asks to verify the address.
func (b *tab) signUpWithPasskey(email string) {
	b.t.Helper()
	b.open("/registration")
	b.fill("#form-registration-traits-email", email)
	b.click(`#form-registration button[name=method][value=profile]`)
	b.mustBeAt("/registration")
	b.click(`#form-registration button[name=passkey_register_trigger]`)
	b.mustBeAt("/verification")
}

// logout signs out through Hera's confirmation page (audited when check).
func (b *tab) logout(check bool) {
	b.t.Helper()
	b.open("/logout")
	b.mustBeAt("/logout")
	if check {
		b.check("logout")
	}
	b.click(`button[name=confirm][value=yes]`)
	b.mustBeAt("/login")
}

// totp is the current code of an authenticator app holding secret.
func totp(t *testing.T, secret string) string {
	t.Helper()
	code, err := webtest.TOTP(secret, time.Now())
	if err != nil {
		t.Fatalf("TOTP secret %q: %v", secret, err)
	}
	return code
}
