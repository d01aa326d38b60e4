package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestGuardInTheBrowser walks the guard's journeys in Chromium, against the
// Hera production assembles (apptest): wrong passwords lock the account with
// the lockout message, even for the right password, and wrong second-factor
// codes are counted on the identity across two browser sessions, so the
// right code in either is then refused. Both fail when the guard is left out
// of the composition root.
func TestGuardInTheBrowser(t *testing.T) {
	s := start(t)

	t.Run("wrong passwords lock the account, with the lockout message", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("locked")
		s.createUser(t, email, password)
		for i := range 5 {
			b.login(email, "wrong password "+string(rune('a'+i)))
			b.mustBeAt("/login")
			b.mustSee("The provided credentials are invalid")
		}
		b.login(email, password)
		b.mustBeAt("/login")
		b.mustSee("Too many attempts. Try again in 5 minutes")
		b.check("login-locked")
	})

	t.Run("wrong second-factor codes count on the identity across browser sessions", func(t *testing.T) {
		email := newEmail("two-sessions")
		s.createUser(t, email, password)
		// Enrol an authenticator app in a first browser.
		b := s.newTab(t)
		b.login(email, password)
		b.mustBeAt("/")
		b.open("/settings")
		secret := strings.TrimSpace(run(b, "TOTP secret", chromedp.TextContent(chromedp.CSS("#form-totp-totp_secret_key code"))))
		b.fill("#form-totp-totp_code", totp(t, secret))
		b.click(`#form-totp button[name=method][value=totp]`)
		b.mustSee("Your changes have been saved")
		b.logout(false)

		// Two browsers, each signed in with the password, each guessing.
		first, second := s.newTab(t), s.newTab(t)
		for _, tab := range []*tab{first, second} {
			tab.login(email, password)
			tab.mustBeAt("/login")
			tab.mustSee("Second factor")
		}
		guess := func(tab *tab) {
			tab.fill("#form-totp-totp_code", "000000")
			tab.click(`#form-totp button[name=method][value=totp]`)
			tab.mustBeAt("/login")
		}
		for i := range 5 {
			tab := []*tab{first, second}[i%2]
			guess(tab)
			tab.mustSee("authentication code is invalid")
		}
		// The identity has its 5 failures: the right code is refused in
		// either browser, however the guesses were spread.
		time.Sleep(time.Second) // a fresh TOTP window cannot help either
		second.fill("#form-totp-totp_code", totp(t, secret))
		second.click(`#form-totp button[name=method][value=totp]`)
		second.mustBeAt("/login")
		second.mustSee("Too many attempts")
	})
}
