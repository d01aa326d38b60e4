package web_test

import (
	"strings"
	"testing"
)

// TestSocialLogos: HERA_SOCIAL_LOGOS reaches the provider buttons (the
// recorded flow with a github and a google provider): the configured logo
// replaces the built-in one, the other provider keeps its own.
func TestSocialLogos(t *testing.T) {
	var f *fixture
	for _, fx := range loadFixtures(t) {
		if fx.name == "synthetic_all_nodes" {
			f = &fx
		}
	}
	if f == nil {
		t.Fatal("no synthetic_all_nodes fixture")
	}
	page := renderFixtureWith(t, *f, map[string]string{"HERA_SOCIAL_LOGOS": "github=/logos/github.png"}, nil)
	for _, want := range []string{
		`<button type="submit" name="provider" value="github" class="secondary social" formnovalidate><img class="social-logo" src="/logos/github.png" alt="" aria-hidden="true" width="20" height="20"><span>Sign in with github</span></button>`,
		`<button type="submit" name="provider" value="google" class="secondary social" formnovalidate><svg class="social-logo" aria-hidden="true"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, p := range checkPage(page, f.kind, f.id) {
		t.Error(p)
	}
}
