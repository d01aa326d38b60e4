package web

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/heraproject/hera/internal/config"
)

// Options are the settings the web server reads: its own, grouped by
// concern, rather than the whole configuration.
type Options struct {
	// PublicURL is Hera's browser-facing base URL.
	PublicURL *url.URL
	// AllowedReturnURLs are where browsers may be sent besides Hera.
	AllowedReturnURLs []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For counts.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds every request body Hera reads or forwards.
	MaxBodyBytes int64
	// DefaultLanguage is used when nothing else picks one.
	DefaultLanguage string
	// LocalesDir holds translation files read at start on top of the
	// shipped catalog (i18n.Load); "" for none.
	LocalesDir string
	// CookieSecret is what the keys of Hera's sealed cookies (the typed
	// identifier kept across a restarted flow) derive from; empty: a
	// random key for this process.
	CookieSecret []byte

	Kratos  KratosOptions
	OAuth2  OAuth2Options
	Account AccountOptions
	Brand   BrandOptions
}

// KratosOptions are how Hera reaches and paces Kratos.
type KratosOptions struct {
	PublicURL     *url.URL
	Timeout       time.Duration
	SessionCookie string
	// MaxSubmissions bound the submissions waiting on Kratos at once;
	// others wait up to SubmissionWait, then get a 503.
	MaxSubmissions int
	SubmissionWait time.Duration
	// WebhookSecret authenticates Kratos's web hooks; "" switches the
	// endpoints off.
	WebhookSecret string
}

// OAuth2Options are how Hera answers Hydra's requests.
type OAuth2Options struct {
	LoginRemember      bool
	LoginRememberFor   time.Duration
	ConsentRememberFor time.Duration
	TrustedClients     []string
	Claims             map[string]map[string]string // scope → claim → source
	SkipLogoutConfirm  bool
	ReauthWindow       time.Duration
	// TokenHookSecret authenticates Hydra's token hook; "" switches the
	// endpoint off.
	TokenHookSecret string
}

// AccountOptions are the account's own controls.
type AccountOptions struct {
	Deletion                bool
	PrivilegedSessionMaxAge time.Duration
	// PasskeyOffer offers a passkey after a password sign-in;
	// PasskeyOfferSnooze is how long "not now" holds on that browser.
	PasskeyOffer       bool
	PasskeyOfferSnooze time.Duration
}

// BrandOptions are the operator's branding.
type BrandOptions struct {
	Name, LogoURL, FaviconURL, PrivacyURL, TermsURL string
	Color                                           string // #rrggbb
	CSS                                             string // the extra stylesheet's contents
	// SocialLogos maps social sign-in provider ids to their buttons' logos.
	SocialLogos map[string]string
	// AssetsDir holds the files served under /brand/ ("" for none); logo,
	// favicon and social logo values "/brand/<file>" name them.
	AssetsDir string
}

// OptionsFrom takes the web server's options from the configuration.
func OptionsFrom(c *config.Config) Options {
	return Options{
		PublicURL:         c.HTTP.PublicURL,
		AllowedReturnURLs: c.HTTP.AllowedReturnURLs,
		TrustedProxies:    c.HTTP.TrustedProxies,
		MaxBodyBytes:      c.HTTP.MaxBodyBytes,
		DefaultLanguage:   c.Brand.DefaultLanguage,
		LocalesDir:        c.Brand.LocalesDir,
		CookieSecret:      []byte(c.Lockout.DeviceCookieSecret),
		Kratos: KratosOptions{
			PublicURL:      c.Kratos.PublicURL,
			Timeout:        c.Kratos.Timeout,
			SessionCookie:  c.Kratos.SessionCookie,
			MaxSubmissions: c.Kratos.MaxSubmissions,
			SubmissionWait: c.Kratos.SubmissionWait,
			WebhookSecret:  c.Kratos.WebhookSecret,
		},
		OAuth2: OAuth2Options{
			LoginRemember:      c.OAuth2.LoginRemember,
			LoginRememberFor:   c.OAuth2.LoginRememberFor,
			ConsentRememberFor: c.OAuth2.ConsentRememberFor,
			TrustedClients:     c.OAuth2.TrustedClients,
			Claims:             c.OAuth2.Claims,
			SkipLogoutConfirm:  c.OAuth2.SkipLogoutConfirm,
			ReauthWindow:       c.OAuth2.ReauthWindow,
			TokenHookSecret:    c.OAuth2.TokenHookSecret,
		},
		Account: AccountOptions{Deletion: c.Kratos.AccountDeletion, PrivilegedSessionMaxAge: c.Kratos.PrivilegedSessionMaxAge,
			PasskeyOffer: c.Kratos.PasskeyOffer, PasskeyOfferSnooze: c.Kratos.PasskeyOfferSnooze},
		Brand: BrandOptions{Name: c.Brand.Name, LogoURL: c.Brand.LogoURL, FaviconURL: c.Brand.FaviconURL,
			PrivacyURL: c.Brand.PrivacyURL, TermsURL: c.Brand.TermsURL, Color: c.Brand.Color, CSS: c.Brand.CSS,
			SocialLogos: c.Brand.SocialLogos, AssetsDir: c.Brand.AssetsDir},
	}
}
