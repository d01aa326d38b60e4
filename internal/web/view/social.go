package view

import "strings"

// Social sign-in buttons: which items are provider buttons and which logo
// each shows. The markup is in social.templ.

// IsProviderButton reports whether a submit item is a social sign-in
// provider's button: Kratos's oidc (and saml) nodes, named provider at
// sign-in and sign-up, link and unlink in settings, the provider id as
// their value.
func IsProviderButton(it *Item) bool {
	if it.Kind != "submit" || it.Value == "" {
		return false
	}
	switch it.Name {
	case "provider", "link", "unlink":
		return true
	}
	return false
}

// ProviderLogo is the logo configured for the provider id
// (HERA_SOCIAL_LOGOS, checked when the configuration was read), or "".
func ProviderLogo(p *Page, id string) string {
	if p == nil {
		return ""
	}
	return p.Brand.SocialLogos[id]
}

// builtinProviders have logos of their own in social.templ.
var builtinProviders = []string{"google", "github", "gitlab", "microsoft", "apple"}

// BuiltinProvider names the well-known provider whose built-in logo fits
// the provider id: the id itself or its first part ("google",
// "github-app", "microsoft_corp"), without regard to case; "" for others,
// which get a neutral icon.
func BuiltinProvider(id string) string {
	l := strings.ToLower(id)
	for _, n := range builtinProviders {
		if rest, ok := strings.CutPrefix(l, n); ok && (rest == "" || rest[0] == '-' || rest[0] == '_' || rest[0] == '.') {
			return n
		}
	}
	return ""
}
