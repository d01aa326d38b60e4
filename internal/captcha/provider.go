package captcha

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Provider names a captcha service. The zero value is not valid; Config
// treats an empty Provider as Turnstile.
type Provider string

// The supported providers. hCaptcha and reCAPTCHA (v2 checkbox and invisible)
// answer siteverify in the same shape as Turnstile.
const (
	Turnstile Provider = "turnstile"
	HCaptcha  Provider = "hcaptcha"
	ReCAPTCHA Provider = "recaptcha"
)

// DefaultProvider is used when Config.Provider is empty.
const DefaultProvider = Turnstile

// Providers lists every supported provider.
func Providers() []Provider { return []Provider{Turnstile, HCaptcha, ReCAPTCHA} }

// ParseProvider maps a configuration value ("turnstile", "hcaptcha",
// "recaptcha", any case, surrounding spaces ignored) to a Provider. The empty
// string yields DefaultProvider.
func ParseProvider(s string) (Provider, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return DefaultProvider, nil
	}
	p := Provider(s)
	if !p.Valid() {
		return "", fmt.Errorf("unknown captcha provider %q (want turnstile, hcaptcha or recaptcha)", s)
	}
	return p, nil
}

// Valid reports whether p is one of the supported providers.
func (p Provider) Valid() bool { _, ok := providers[p]; return ok }

func (p Provider) String() string { return string(p) }

// CSP lists the sources a page that shows the widget must allow, per
// Content-Security-Policy directive. Empty directives need nothing extra.
type CSP struct {
	ScriptSrc  []string
	FrameSrc   []string
	StyleSrc   []string
	ConnectSrc []string
}

type providerInfo struct {
	field     string
	verifyURL string
	scriptURL string
	class     string
	csp       CSP
	// hasAction: siteverify reports the widget's action, so Config.Action
	// can be checked.
	hasAction bool
	// sendSiteKey: siteverify accepts the site key and checks the token
	// was issued for it.
	sendSiteKey bool
}

var providers = map[Provider]providerInfo{
	// https://developers.cloudflare.com/turnstile/get-started/server-side-validation/
	// https://developers.cloudflare.com/turnstile/reference/content-security-policy/
	Turnstile: {
		field:     "cf-turnstile-response",
		verifyURL: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
		scriptURL: "https://challenges.cloudflare.com/turnstile/v0/api.js",
		class:     "cf-turnstile",
		csp: CSP{
			ScriptSrc: []string{"https://challenges.cloudflare.com"},
			FrameSrc:  []string{"https://challenges.cloudflare.com"},
		},
		hasAction: true,
	},
	// https://docs.hcaptcha.com/#verify-the-user-response-server-side
	// https://docs.hcaptcha.com/#content-security-policy-settings
	HCaptcha: {
		field:     "h-captcha-response",
		verifyURL: "https://api.hcaptcha.com/siteverify",
		scriptURL: "https://js.hcaptcha.com/1/api.js",
		class:     "h-captcha",
		csp: CSP{
			ScriptSrc:  []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
			FrameSrc:   []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
			StyleSrc:   []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
			ConnectSrc: []string{"https://hcaptcha.com", "https://*.hcaptcha.com"},
		},
		sendSiteKey: true,
	},
	// https://developers.google.com/recaptcha/docs/verify
	// https://developers.google.com/recaptcha/docs/faq (CSP)
	ReCAPTCHA: {
		field:     "g-recaptcha-response",
		verifyURL: "https://www.google.com/recaptcha/api/siteverify",
		scriptURL: "https://www.google.com/recaptcha/api.js",
		class:     "g-recaptcha",
		csp: CSP{
			ScriptSrc: []string{"https://www.google.com/recaptcha/", "https://www.gstatic.com/recaptcha/"},
			FrameSrc:  []string{"https://www.google.com/recaptcha/", "https://recaptcha.google.com/recaptcha/"},
		},
	},
}

func (p Provider) info() providerInfo { return providers[p] }

// FormField is the name of the form field the widget posts its token in
// ("cf-turnstile-response", "h-captcha-response", "g-recaptcha-response").
// Empty for an invalid provider.
func (p Provider) FormField() string { return p.info().field }

// DefaultVerifyURL is the provider's siteverify endpoint.
func (p Provider) DefaultVerifyURL() string { return p.info().verifyURL }

// ScriptURL is the widget's JavaScript, to load with
// <script src=… async defer nonce=…>.
func (p Provider) ScriptURL() string { return p.info().scriptURL }

// WidgetClass is the CSS class of the <div> the script turns into a widget
// ("cf-turnstile", "h-captcha", "g-recaptcha"); the div carries the site key
// in data-sitekey.
func (p Provider) WidgetClass() string { return p.info().class }

// CSP returns the sources the page's Content-Security-Policy must allow for
// the widget. The slices are fresh copies.
func (p Provider) CSP() CSP {
	c := p.info().csp
	return CSP{
		ScriptSrc:  slices.Clone(c.ScriptSrc),
		FrameSrc:   slices.Clone(c.FrameSrc),
		StyleSrc:   slices.Clone(c.StyleSrc),
		ConnectSrc: slices.Clone(c.ConnectSrc),
	}
}

// SupportsAction reports whether the provider's siteverify answer carries
// the widget's action (data-action), so Config.Action can be checked. Only
// Turnstile does.
func (p Provider) SupportsAction() bool { return p.info().hasAction }

// FormFields returns the token field names of every provider. hCaptcha's
// widget posts g-recaptcha-response as well as h-captcha-response.
func FormFields() []string {
	return []string{
		providers[Turnstile].field,
		providers[HCaptcha].field,
		providers[ReCAPTCHA].field,
	}
}

// Strip deletes every provider's token field from form, so that no captcha
// token is forwarded to Kratos (or logged with the form). A nil form is fine.
func Strip(form url.Values) {
	for _, f := range FormFields() {
		delete(form, f)
	}
}
