package e2e_test

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// TestPathPrefix runs sign-up, sign-in and an OAuth2 sign-in with Hera
// served under /auth (HERA_PUBLIC_URL=http://localhost:<port>/auth; Kratos's
// base_url and UI URLs and Hydra's URLs below it), as behind an ingress that
// routes a path of a shared host to Hera. Every page Chromium shows is
// below /auth, and its scripts and styles load (the page checks fail on
// console errors and CSP violations).
func TestPathPrefix(t *testing.T) {
	s := startWith(t, stacktest.Options{Hydra: true, TokenHook: true, PathPrefix: "/auth"})
	b := s.newTab(t)
	email := newEmail("prefix")
	inPrefix := func() {
		t.Helper()
		if p := evaluate[string](b, `location.pathname`); !strings.HasPrefix(p, "/auth/") {
			b.fatalf("at %s, outside /auth/", p)
		}
	}

	b.open("/registration")
	b.mustBeAt("/registration")
	inPrefix()
	b.fill("#form-registration-traits-email", email)
	b.fill("#form-registration-traits-name-first", "Ada")
	b.fill("#form-registration-traits-name-last", "Lovelace")
	b.click(`#form-registration button[name=method][value=profile]`)
	b.mustBeAt("/registration")
	mails := s.Mail.Len()
	b.fill("#form-registration-password", password)
	b.click(`#form-registration button[name=method][value=password]`)
	b.mustBeAt("/verification")
	inPrefix()
	code := s.WaitCode(t, mails, email, "verification")
	b.fill("#form-verification-code", code)
	b.click(`#form-verification button[name=method][value=code]`)
	b.mustSee("You successfully verified your email address")

	b.open("/")
	b.mustSee("signed in as " + email)
	b.check("prefix-welcome")
	b.click(`.langs a[hreflang=de]`)
	b.mustBeAt("/")
	inPrefix()
	b.click(`.langs a[hreflang=en]`)
	b.logout(false)
	inPrefix()
	b.login(email, password)
	b.mustBeAt("/")
	b.mustSee("signed in as " + email)

	app := s.newClient(t, "prefix-app")
	verifier := oauth2.GenerateVerifier()
	b.logout(false)
	b.open(app.cfg.AuthCodeURL("state-1234567890", oauth2.S256ChallengeOption(verifier)))
	b.mustBeAt("/login")
	inPrefix()
	b.mustSee("to continue to Example App")
	b.fill("#form-login-identifier", email)
	b.fill("#form-login-password", password)
	b.click(`#form-login button[name=method][value=password]`)
	b.mustBeAt("/consent")
	inPrefix()
	b.check("prefix-consent")
	b.click(`button[name=decision][value=allow]`)
	at := b.url()
	if !strings.HasPrefix(at, app.callback+"/callback?") {
		b.fatalf("not at the client's callback")
	}
	q := query(t, at)
	tok, err := app.cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if claims := idTokenClaims(t, idToken); claims["email"] != email {
		t.Errorf("claims %v", claims)
	}
	s.mustHaveAudited(t, "prefix-welcome", "prefix-consent")
}
