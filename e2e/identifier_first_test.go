package e2e_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// identifierFirstKratos is Kratos's identifier-first sign-in with account
// enumeration mitigated, as docs/kratos-setup.md recommends (the dev stack's
// -identifier-first). The login style is global to Kratos, so these
// journeys run on a stack of their own.
var identifierFirstKratos = []string{
	"SELFSERVICE_FLOWS_LOGIN_STYLE=identifier_first",
	"SECURITY_ACCOUNT_ENUMERATION_MITIGATE=true",
}

// The identifier-first states every run must audit and photograph.
var identifierFirstStates = []string{
	"login-identifier-first", "login-identifier-first-methods",
	"login-identifier-first-methods-de", "login-identifier-first-methods-es", "login-identifier-first-methods-fr",
	"login-identifier-first-error", "login-identifier-first-code-sent",
	"login-identifier-first-unknown", "login-identifier-first-no-js",
}

// TestIdentifierFirst walks Kratos's identifier-first sign-in: the
// identifier alone, then the ways to sign in (password, a code by mail, a
// passkey), and an unknown identifier that gets the same second step.
func TestIdentifierFirst(t *testing.T) {
	began := time.Now()
	s := startWith(t, stacktest.Options{KratosEnv: identifierFirstKratos})
	t.Logf("stack and browser up in %s", time.Since(began).Round(time.Millisecond))

	t.Run("password: identifier, then password, in four languages", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("idf-pw")
		s.createUser(t, email, password)
		b.open("/login")
		b.mustBeAt("/login")
		if fields := evaluate[int](b, `document.querySelectorAll("#form-login input:not([type=hidden]):not([hidden])").length`); fields != 1 {
			b.fatalf("first step shows %d fields, want the identifier only", fields)
		}
		// Browsers offer passkeys in a field's autofill only when it says
		// so (Chromium's virtual authenticator answers without it).
		if ac := evaluate[string](b, `document.querySelector("#form-login-identifier").getAttribute("autocomplete")`); ac != "username webauthn" {
			t.Errorf("first step's identifier: autocomplete %q, want %q", ac, "username webauthn")
		}
		b.check("login-identifier-first")
		b.identify(email)
		b.mustSee("Signing in as "+email, "Use another account")
		b.check("login-identifier-first-methods")
		// The account line's link is focusable and shows its focus; the
		// password managers' username field is not a stop.
		want := []string{
			"Skip to content", "Hera", "Use another account", "#form-login-password",
			"Sign in with password", "Send sign in code", "Sign in with passkey", "Forgot password?", "Create an account",
			"Deutsch", "Español", "Français",
		}
		if got := names(b.tabThrough()); !slices.Equal(got, want) {
			t.Errorf("second step focus order:\n got %q\nwant %q", got, want)
		}

		for _, l := range []struct{ code, signingInAs string }{
			{"de", "Anmeldung als "}, {"es", "Iniciando sesión como "}, {"fr", "Connexion en tant que "},
		} {
			b.click(`.langs a[hreflang=` + l.code + `]`)
			b.mustBeAt("/login")
			if lang := evaluate[string](b, `document.documentElement.lang`); lang != l.code {
				b.fatalf("page language %q, want %q", lang, l.code)
			}
			b.mustSee(l.signingInAs + email)
			b.check("login-identifier-first-methods-" + l.code)
		}
		b.click(`.langs a[hreflang=en]`)

		b.fill("#form-login-password", "not the password")
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/login")
		b.mustSee("credentials are invalid", "Signing in as "+email)
		b.check("login-identifier-first-error")
		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	t.Run("code: identifier, then a code from the mailbox", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("idf-code")
		s.createUser(t, email, password)
		b.open("/login")
		b.identify(email)
		mails := s.Mail.Len()
		b.click(`#form-login button[name=method][value=code]`)
		b.mustBeAt("/login")
		b.mustSee("An email containing a code has been sent", "Signing in as "+email)
		b.check("login-identifier-first-code-sent")
		code := s.WaitCode(t, mails, email, "login_code")
		b.fill("#form-login-code", code)
		b.click(`#form-login button[name=method][value=code]`)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	t.Run("passkey: autofill on the first step, or identifier, then passkey", func(t *testing.T) {
		b := s.newTab(t)
		b.virtualAuthenticator()
		email := newEmail("idf-passkey")
		b.signUpWithPasskey(email)

		// Signing out lands on the first step, where passkey autofill
		// signs in with the passkey (as a user picking it from the list).
		b.open("/logout")
		b.click(`button[name=confirm][value=yes]`)
		b.waitPath("/")
		b.mustSee("signed in as "+email, "passkey")

		// Without autofill: the identifier, then "Sign in with passkey".
		b.withoutPasskeyAutofill()
		b.logout(false)
		b.identify(email)
		b.mustSee("Signing in as " + email)
		b.click(`#form-login button[name=passkey_login_trigger]`)
		b.mustBeAt("/")
		b.mustSee("signed in as "+email, "passkey")
	})

	t.Run("an unknown identifier gets the same second step; another account", func(t *testing.T) {
		email, ghost := newEmail("idf-known"), newEmail("idf-nobody")
		s.createUser(t, email, password)
		known, unknown := s.newTab(t), s.newTab(t)
		known.open("/login")
		known.identify(email)
		unknown.open("/login")
		unknown.identify(ghost)
		unknown.check("login-identifier-first-unknown")
		if a, b := known.shape(email), unknown.shape(ghost); a != b {
			t.Errorf("known and unknown identifiers get different second steps:\n%s\n%s", a, b)
		}
		for _, tb := range []*tab{known, unknown} {
			tb.fill("#form-login-password", "not the password")
			tb.click(`#form-login button[name=method][value=password]`)
			tb.mustSee("credentials are invalid")
		}
		if a, b := known.shape(email), unknown.shape(ghost); a != b {
			t.Errorf("known and unknown identifiers get different errors:\n%s\n%s", a, b)
		}

		// "Use another account" goes back to an empty first step.
		unknown.click(`#form-login-account + p a`)
		unknown.mustBeAt("/login")
		if got := unknown.value("#form-login-identifier"); got != "" {
			t.Errorf("identifier %q on the fresh first step", got)
		}
		unknown.identify(email)
		unknown.fill("#form-login-password", password)
		unknown.click(`#form-login button[name=method][value=password]`)
		unknown.mustBeAt("/")
		unknown.mustSee("signed in as " + email)
	})

	t.Run("without JavaScript", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("idf-nojs")
		s.createUser(t, email, password)
		b.disableScripts()
		b.open("/login")
		b.identify(email)
		b.mustSee("Signing in as "+email, "Passkeys and security keys need JavaScript")
		if visible := evaluate[bool](b, `getComputedStyle(document.querySelector("button[name=passkey_login_trigger]")).display !== "none"`); visible {
			t.Error("the passkey button shows although it cannot work without JavaScript")
		}
		b.check("login-identifier-first-no-js")
		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	s.mustHaveAudited(t, identifierFirstStates...)
	t.Logf("identifier-first journeys took %s", time.Since(began).Round(time.Millisecond))
}

// identify submits the first step of an identifier-first login page.
func (b *tab) identify(identifier string) {
	b.t.Helper()
	b.mustBeAt("/login")
	b.fill("#form-login-identifier", identifier)
	b.click(`#form-login button[name=method][value=identifier_first]`)
	b.mustBeAt("/login")
	if got := evaluate[string](b, `(document.querySelector('#form-login input[type=hidden][name=identifier]') || {}).value || ""`); got != identifier {
		b.fatalf("second step holds identifier %q, want %q", got, identifier)
	}
}

// shape is what the page offers, with the identifier it names replaced:
// the main content's text and the form's controls.
func (b *tab) shape(identifier string) string {
	b.t.Helper()
	controls := evaluate[[]string](b, `[...document.querySelectorAll("#form-login input, #form-login button")].map(e =>
  [e.tagName, e.type, e.name, e.hidden, e.type === "submit" || e.type === "button" ? e.value + " " + e.textContent.trim() : ""].join(" "))`)
	return strings.ReplaceAll(b.text(), identifier, "<identifier>") + "\n" + strings.Join(controls, "\n")
}
