package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/heraproject/hera/internal/stack"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// The social sign-in states every run of TestSocial must audit with axe
// and photograph; -de, -es and -fr are the same states in the other
// languages.
var socialStates = []string{
	"social-registration", "social-provider-login", "social-registration-missing-email",
	"social-login", "social-login-de", "social-login-es", "social-login-fr",
	"social-settings", "social-settings-linked",
	"social-settings-linked-de", "social-settings-linked-es", "social-settings-linked-fr",
	"social-settings-unlinked",
	"social-link-prompt", "social-link-prompt-de", "social-link-prompt-es", "social-link-prompt-fr",
}

// socialButton is the upstream provider's button in a form.
func socialButton(form, name string) string {
	return form + ` button[name=` + name + `][value=` + stack.UpstreamProviderID + `]`
}

// TestSocial walks social sign-in in headless Chromium: real Kratos with
// its oidc method, a second Hydra as the upstream OpenID Connect provider
// and that provider's own login and consent app (stack.ProviderApp), Hera
// in between, and Hera's own Hydra for an app's sign-in. Sign up, sign in
// (by keyboard), link and unlink from settings, the account-linking prompt
// when the provider's address is an existing account's, an address the
// provider did not verify, and an OAuth2 app's sign-in through the
// provider.
func TestSocial(t *testing.T) {
	began := time.Now()
	s := startWith(t, stacktest.Options{Hydra: true, TokenHook: true, SocialProvider: true})
	t.Logf("stack with the upstream provider and browser up in %s", time.Since(began).Round(time.Millisecond))
	label := stack.UpstreamProviderLabel

	t.Run("sign up with the provider, sign out, sign in with it by keyboard", func(t *testing.T) {
		b := s.newTab(t)
		ada := s.ProviderApp.Users()[0] // Ada Lovelace <ada@provider.test>
		b.open("/registration")
		b.mustBeAt("/registration")
		btn := socialButton("#form-registration", "provider")
		b.mustBeProviderButton(btn, "Sign up with "+label)
		b.check("social-registration")

		b.click(btn)
		b.mustBeAtProvider()
		b.mustSee("Hera asks you to sign in", ada.String())
		b.check("social-provider-login")
		b.click(`button[name=user][value=` + ada.Subject + `]`)

		// Signed up and in: the traits come from the provider's claims
		// through the Jsonnet mapper, the address verified by the provider.
		b.mustBeAt("/")
		b.mustSee("Welcome, Ada Lovelace", "signed in as "+ada.Email, "social sign-in")
		id := s.identityByIdentifier(t, ada.Email)
		if id.Traits.Email != ada.Email || id.Traits.Name.First != "Ada" || id.Traits.Name.Last != "Lovelace" {
			t.Errorf("traits %+v", id.Traits)
		}
		if !id.verified(ada.Email) {
			t.Errorf("the provider's verified address is not verified: %+v", id.VerifiableAddresses)
		}
		if got := id.Credentials["oidc"].Identifiers; !slices.Contains(got, stack.UpstreamProviderID+":"+ada.Subject) {
			t.Errorf("oidc identifiers %v", got)
		}

		b.logout(false)
		b.check("social-login")
		// Keyboard only: Tab reaches the provider's button, whose focus
		// shows, and Enter presses it.
		stops := b.tabThrough()
		if !slices.ContainsFunc(stops, func(f focusStop) bool { return f.Text == "Sign in with "+label }) {
			t.Fatalf("Tab never reaches the provider's button: %q", names(stops))
		}
		b.do("focus the provider's button", chromedp.Focus(chromedp.CSS(socialButton("#form-login", "provider"))))
		b.pressAndWait(kb.Enter)
		b.mustBeAtProvider()
		b.click(`button[name=user][value=` + ada.Subject + `]`)
		b.mustBeAt("/")
		b.mustSee("Welcome, Ada Lovelace", "signed in as "+ada.Email, "social sign-in")
		if n := len(s.identitiesByIdentifier(t, ada.Email)); n != 1 {
			t.Errorf("%d identities for %s after signing in again", n, ada.Email)
		}

		// The sign-in button in the other languages.
		b.logout(false)
		b.inLanguages("social-login", map[string]string{
			"de": "Mit " + label + " anmelden", "es": "Iniciar sesión con " + label, "fr": "Se connecter avec " + label,
		})
	})

	t.Run("link the provider in settings, sign in with it, unlink it", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("link")
		upstream := newEmail("upstream")
		s.createUser(t, email, password)
		b.login(email, password)
		b.mustBeAt("/")

		b.open("/settings")
		link := socialButton("#form-oidc", "link")
		b.mustBeProviderButton(link, "Link "+label)
		b.check("social-settings")
		b.click(link)
		b.mustBeAtProvider()
		b.signInAtProvider(upstream, "Grace", "Hopper")
		b.mustBeAt("/settings")
		b.mustSee("Your changes have been saved")
		unlink := socialButton("#form-oidc", "unlink")
		b.mustBeProviderButton(unlink, "Unlink "+label)
		b.check("social-settings-linked")
		b.inLanguages("social-settings-linked", map[string]string{
			"de": "Verknüpfung mit " + label + " aufheben", "es": "Desvincular " + label, "fr": "Dissocier " + label,
		})
		// The account's traits are its own: linking changed none.
		if id := s.identityByIdentifier(t, email); id.Traits.Email != email || id.Traits.Name.First != "Ada" {
			t.Errorf("traits after linking: %+v", id.Traits)
		}

		// Signing in with the provider now reaches this account.
		b.logout(false)
		b.click(socialButton("#form-login", "provider"))
		b.mustBeAtProvider()
		b.signInAtProvider(upstream, "Grace", "Hopper")
		b.mustBeAt("/")
		b.mustSee("signed in as "+email, "social sign-in")

		b.open("/settings")
		b.click(unlink)
		b.mustBeAt("/settings")
		b.mustSee("Your changes have been saved")
		b.mustBeProviderButton(link, "Link "+label)
		b.check("social-settings-unlinked")
		if id := s.identityByIdentifier(t, email); len(id.Credentials["oidc"].Identifiers) != 0 {
			t.Errorf("still linked: %+v", id.Credentials["oidc"])
		}
	})

	t.Run("the provider's address is an existing account's: sign in to link", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("existing")
		s.createUser(t, email, password)
		b.open("/login")
		b.click(socialButton("#form-login", "provider"))
		b.mustBeAtProvider()
		b.signInAtProvider(email, "Someone", "Else")

		// Kratos asks to sign in to the existing account first; the
		// address is known, so only the password is asked for.
		b.mustBeAt("/login")
		b.mustSee(`You tried to sign in with "`+email+`", but that email is already used by another account`,
			`at "`+label+`" as another way to sign in`)
		if got := b.value(`#form-login input[name=identifier]`); got != email {
			t.Errorf("identifier %q, want %q", got, email)
		}
		if n := evaluate[int](b, `document.querySelectorAll('#form-login button[name=provider]').length`); n != 0 {
			t.Errorf("%d provider buttons on the linking prompt", n)
		}
		b.check("social-link-prompt")
		b.inLanguages("social-link-prompt", map[string]string{
			"de": "Sie haben versucht, sich mit „" + email + "“ anzumelden",
			"es": "Ha intentado iniciar sesión con «" + email + "»",
			"fr": "Vous avez essayé de vous connecter avec « " + email + " »", // text() turns no-break spaces into spaces
		})

		b.fill("#form-login-password", password)
		b.click(`#form-login button[name=method][value=password]`)
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
		ids := s.identitiesByIdentifier(t, email)
		if len(ids) != 1 {
			t.Fatalf("%d identities for %s", len(ids), email)
		}
		if got := ids[0].Credentials["oidc"].Identifiers; len(got) != 1 || !strings.HasPrefix(got[0], stack.UpstreamProviderID+":") {
			t.Errorf("not linked: oidc identifiers %v", got)
		}
		if ids[0].Traits.Name.First != "Ada" {
			t.Errorf("the provider's claims changed the traits: %+v", ids[0].Traits)
		}

		// From now on the provider signs in to that account directly.
		b.logout(false)
		b.click(socialButton("#form-login", "provider"))
		b.mustBeAtProvider()
		b.signInAtProvider(email, "Someone", "Else")
		b.mustBeAt("/")
		b.mustSee("signed in as "+email, "social sign-in")
	})

	t.Run("an address the provider did not verify is not taken: Kratos asks for one", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("unverified")
		b.open("/registration")
		b.click(socialButton("#form-registration", "provider"))
		unverified := func() {
			b.mustBeAtProvider()
			b.fill("#email", email)
			b.fill("#given_name", "Katherine")
			b.fill("#family_name", "Johnson")
			b.do("untick verified", chromedp.Click(chromedp.CSS("#email_verified")))
			b.click("#custom-sign-in")
		}
		unverified()

		// The mapper leaves the address out, so the schema's required
		// e-mail is missing: Kratos asks for it, the provider's names filled
		// in, and the provider's button continues.
		b.mustBeAt("/registration")
		b.mustSee("Property email is missing")
		if got := b.value("#form-registration-traits-email"); got != "" {
			t.Errorf("e-mail %q filled in", got)
		}
		if got := b.value("#form-registration-traits-name-first"); got != "Katherine" {
			t.Errorf("first name %q, want the provider's", got)
		}
		cont := socialButton("#form-registration", "provider")
		b.mustBeProviderButton(cont, "Continue")
		b.check("social-registration-missing-email")
		// Continuing asks the provider again; the typed address joins its
		// claims.
		b.fill("#form-registration-traits-email", email)
		mails := s.Mail.Len()
		b.click(cont)
		unverified()
		b.mustBeAt("/")
		b.mustSee("Welcome, Katherine Johnson", "signed in as "+email, "social sign-in")
		if id := s.identityByIdentifier(t, email); id.verified(email) {
			t.Errorf("an address nobody verified is verified: %+v", id.VerifiableAddresses)
		}
		s.WaitCode(t, mails, email, "verification") // as after any sign-up
	})

	t.Run("an app's OAuth2 sign-in through the provider: sign up, consent, tokens", func(t *testing.T) {
		b := s.newTab(t)
		alan := s.ProviderApp.Users()[2] // Alan Turing <alan@provider.test>
		app := s.newClient(t, "e2e-social-app")
		b.open(app.cfg.AuthCodeURL("state-1234567890"))
		b.mustBeAt("/login")
		b.mustSee("to continue to Example App")
		b.click(socialButton("#form-login", "provider"))
		b.mustBeAtProvider()
		b.click(`button[name=user][value=` + alan.Subject + `]`)
		// A new account (Kratos turned the sign-in into a sign-up), and
		// the app's sign-in continues where it was.
		b.mustBeAt("/consent")
		b.mustSee("Allow Example App to access your account?")
		b.click(`button[name=decision][value=allow]`)
		q := query(t, b.url())
		if q.Get("code") == "" || q.Get("state") != "state-1234567890" {
			b.fatalf("callback query %v", q)
		}
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		tok, err := app.cfg.Exchange(ctx, q.Get("code"))
		if err != nil {
			t.Fatalf("exchange the code: %v", err)
		}
		idToken, _ := tok.Extra("id_token").(string)
		if claims := idTokenClaims(t, idToken); claims["email"] != alan.Email || claims["name"] != "Alan Turing" || claims["email_verified"] != true {
			t.Errorf("id token claims %v", claims)
		}
	})

	s.mustHaveAudited(t, socialStates...)
	t.Logf("social journeys took %s", time.Since(began).Round(time.Millisecond))
}

// mustBeProviderButton fails unless sel is a social sign-in button as
// screen readers and keyboards need it: a submit button whose text is
// exactly text, its logo hidden from assistive technology.
func (b *tab) mustBeProviderButton(sel, text string) {
	b.t.Helper()
	type button struct {
		Tag, Type, Text string
		Logos, Hidden   int
	}
	got := evaluate[*button](b, `(() => {
  const el = document.querySelector(`+jsString(sel)+`);
  if (!el) return null;
  const logos = el.querySelectorAll(".social-logo");
  return {Tag: el.tagName.toLowerCase(), Type: el.type, Text: el.innerText.trim().replace(/\s+/g, " "),
    Logos: logos.length, Hidden: [...logos].filter(l => l.getAttribute("aria-hidden") === "true").length};
})()`)
	if got == nil {
		b.fatalf("no %s", sel)
	}
	if got.Tag != "button" || got.Type != "submit" || got.Text != text || got.Logos != 1 || got.Hidden != 1 {
		b.fatalf("%s: %+v, want a submit button %q with one logo hidden from screen readers", sel, *got, text)
	}
}

// mustBeAtProvider fails unless the tab shows the upstream provider's
// login page.
func (b *tab) mustBeAtProvider() {
	b.t.Helper()
	if at := b.url(); !strings.HasPrefix(at, b.s.ProviderURL+"/login?") {
		b.fatalf("not at the provider's login page (%s)", b.s.ProviderURL)
	}
}

// signInAtProvider gives the provider an address of one's choice (the
// provider vouches for it) and follows its way back to Hera.
func (b *tab) signInAtProvider(email, first, last string) {
	b.t.Helper()
	b.fill("#email", email)
	b.fill("#given_name", first)
	b.fill("#family_name", last)
	b.click("#custom-sign-in")
}

// pressAndWait presses a key and waits for the page it leads to.
func (b *tab) pressAndWait(key string) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(key)); err != nil {
		b.fatalf("press %q: %v", key, err)
	}
}

// inLanguages switches the page to German, Spanish and French with the
// language switcher, checks that it shows want[lang], audits and
// photographs it as state-<lang>, and switches back to English.
func (b *tab) inLanguages(state string, want map[string]string) {
	b.t.Helper()
	for _, lang := range []string{"de", "es", "fr"} {
		b.click(`.langs a[hreflang=` + lang + `]`)
		if got := evaluate[string](b, `document.documentElement.lang`); got != lang {
			b.fatalf("page in %q after choosing %s", got, lang)
		}
		b.mustSee(want[lang])
		b.check(state + "-" + lang)
	}
	b.click(`.langs a[hreflang=en]`)
	if got := evaluate[string](b, `document.documentElement.lang`); got != "en" {
		b.fatalf("page in %q after choosing English", got)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// identity is what the journeys check of a Kratos identity.
type identity struct {
	ID     string `json:"id"`
	Traits struct {
		Email string `json:"email"`
		Name  struct {
			First string `json:"first"`
			Last  string `json:"last"`
		} `json:"name"`
	} `json:"traits"`
	VerifiableAddresses []struct {
		Value    string `json:"value"`
		Verified bool   `json:"verified"`
	} `json:"verifiable_addresses"`
	Credentials map[string]struct {
		Identifiers []string `json:"identifiers"`
	} `json:"credentials"`
}

func (id *identity) verified(addr string) bool {
	for _, a := range id.VerifiableAddresses {
		if a.Value == addr && a.Verified {
			return true
		}
	}
	return false
}

// identitiesByIdentifier lists the identities with a credential identifier
// (Kratos's admin API), credentials included.
func (s *suite) identitiesByIdentifier(t *testing.T, ident string) []identity {
	t.Helper()
	res, err := http.Get(s.Kratos.AdminURL + "/admin/identities?credentials_identifier=" + url.QueryEscape(ident))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("list identities: %d %s", res.StatusCode, body)
	}
	var ids []identity
	if err := json.Unmarshal(body, &ids); err != nil {
		t.Fatalf("list identities: %v: %s", err, body)
	}
	return ids
}

// identityByIdentifier is the one identity with the identifier.
func (s *suite) identityByIdentifier(t *testing.T, ident string) identity {
	t.Helper()
	ids := s.identitiesByIdentifier(t, ident)
	if len(ids) != 1 {
		t.Fatalf("%d identities with identifier %s", len(ids), ident)
	}
	return ids[0]
}
