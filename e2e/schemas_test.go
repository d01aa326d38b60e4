package e2e_test

import (
	"strings"
	"testing"
	"time"

	dev "github.com/heraproject/hera/deploy/dev"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// TestIdentitySchemas walks the main journeys with the dev stack's username
// and phone schemas (devstack -schema): Hera takes the identifier, the
// password managers' username and the recovery note from the schema.
func TestIdentitySchemas(t *testing.T) {
	readSchema := func(name string) []byte {
		b, err := dev.FS.ReadFile("identity." + name + ".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("username", func(t *testing.T) {
		s := startWith(t, stacktest.Options{Schema: readSchema("username")})
		b := s.newTab(t)
		user := "ada" + time.Now().Format("150405")
		email := newEmail("username")

		b.open("/registration")
		b.mustBeAt("/registration")
		b.mustSee("Username")
		b.fill("#form-registration-traits-username", user)
		b.fill("#form-registration-traits-email", email)
		b.click(`#form-registration button[name=method][value=profile]`)
		b.mustBeAt("/registration")
		b.fill("#form-registration-password", password)
		b.click(`#form-registration button[name=method][value=password]`)
		b.mustBeAt("/verification")

		b.open("/settings")
		b.mustBeAt("/settings")
		if got := evaluate[string](b, `document.querySelector("form input[autocomplete=username][hidden]").value`); got != user {
			t.Errorf("password managers' username %q, want %q", got, user)
		}
		b.check("settings-username-schema")

		b.logout(false)
		b.fill("#form-login-identifier", user)
		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/")
		b.mustSee(user)

		b.logout(false)
		b.fill("#form-login-identifier", user)
		b.click(`#form-login button[formaction="/recovery/start"]`)
		b.mustBeAt("/recovery")
		b.mustSee("We can send a recovery code only to the email address of your account.")
		b.check("recovery-username-note")
		s.mustHaveAudited(t, "settings-username-schema", "recovery-username-note")
	})

	t.Run("phone", func(t *testing.T) {
		s := startWith(t, stacktest.Options{Schema: readSchema("phone")})
		b := s.newTab(t)
		phone := "+4930" + time.Now().Format("150405") + "2"

		b.open("/registration")
		b.mustBeAt("/registration")
		b.fill("#form-registration-traits-phone", phone)
		b.click(`#form-registration button[name=method][value=profile]`)
		b.mustBeAt("/registration")
		mails := s.Mail.Len()
		b.fill("#form-registration-password", password)
		b.click(`#form-registration button[name=method][value=password]`)
		b.mustBeAt("/verification")
		// The verification code went by text message.
		code := s.WaitCode(t, mails, phone, "verification")
		b.fill("#form-verification-code", code)
		b.click(`#form-verification button[name=method][value=code]`)
		b.mustSee("You successfully verified")

		b.logout(false)
		mails = s.Mail.Len()
		b.fill("#form-login-identifier", phone)
		b.click(`#form-login button[name=method][value=code]`)
		b.mustBeAt("/login")
		b.check("login-code-sms")
		code = s.WaitCode(t, mails, phone, "login")
		b.fill(`input[name=code]`, code)
		b.click(`button[name=method][value=code]`)
		b.mustBeAt("/")
		if !strings.Contains(b.text(), phone) {
			t.Errorf("welcome page does not show %s: %s", phone, b.text())
		}
		s.mustHaveAudited(t, "login-code-sms")
	})
}
