package config

import (
	"maps"
	"strings"
	"testing"
)

// TestSocialLogos: HERA_SOCIAL_LOGOS maps provider ids to https URLs or
// paths; anything the pages' CSP would block, or that is ambiguous, stops
// Hera at start.
func TestSocialLogos(t *testing.T) {
	c, err := Load(env(withMinimal(map[string]string{
		"HERA_SOCIAL_LOGOS": " acme=https://cdn.example.com/acme.svg?v=2 , corp-sso=/logos/corp.png,Okta_2=https://okta.example/x.png",
	})))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"acme":     "https://cdn.example.com/acme.svg?v=2",
		"corp-sso": "/logos/corp.png",
		"Okta_2":   "https://okta.example/x.png",
	}
	if !maps.Equal(c.Brand.SocialLogos, want) {
		t.Errorf("SocialLogos = %v, want %v", c.Brand.SocialLogos, want)
	}
	if c, err := Load(env(withMinimal(map[string]string{}))); err != nil || c.Brand.SocialLogos != nil {
		t.Errorf("unset: %v, %v", c, err)
	}
	for _, bad := range []string{
		"acme=http://cdn.example.com/acme.svg", // blocked by the CSP
		"acme=//cdn.example.com/acme.svg",
		"acme=javascript:alert(1)",
		"acme=data:image/png;base64,AAAA",
		"acme=https://user@cdn.example.com/a.png",
		"acme=/a b.png",
		"acme",
		"=https://cdn.example.com/a.png",
		"ac/me=https://cdn.example.com/a.png",
		"acme=https://a.example/a.png,acme=https://b.example/b.png",
		",",
	} {
		_, err := Load(env(withMinimal(map[string]string{"HERA_SOCIAL_LOGOS": bad})))
		if err == nil || !strings.Contains(err.Error(), "HERA_SOCIAL_LOGOS") {
			t.Errorf("%q: %v, want an error naming HERA_SOCIAL_LOGOS", bad, err)
		}
	}
}
