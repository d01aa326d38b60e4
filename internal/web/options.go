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
}

// BrandOptions are the operator's branding.
type BrandOptions struct {
	Name, LogoURL, FaviconURL, PrivacyURL, TermsURL string
	Color                                           string // #rrggbb
	CSS                                             string // the extra stylesheet's contents
}

// OptionsFrom takes the web server's options from the configuration.
func OptionsFrom(c *config.Config) Options {
	return Options{
		PublicURL:         c.PublicURL,
		AllowedReturnURLs: c.AllowedReturnURLs,
		TrustedProxies:    c.TrustedProxies,
		MaxBodyBytes:      c.MaxBodyBytes,
		DefaultLanguage:   c.DefaultLanguage,
		Kratos: KratosOptions{
			PublicURL:      c.KratosPublicURL,
			Timeout:        c.KratosTimeout,
			SessionCookie:  c.KratosSessionCookie,
			MaxSubmissions: c.KratosMaxSubmissions,
			SubmissionWait: c.KratosSubmissionWait,
		},
		OAuth2: OAuth2Options{
			LoginRemember:      c.LoginRemember,
			LoginRememberFor:   c.LoginRememberFor,
			ConsentRememberFor: c.ConsentRememberFor,
			TrustedClients:     c.TrustedClients,
			Claims:             c.Claims,
			SkipLogoutConfirm:  c.SkipLogoutConfirm,
			ReauthWindow:       c.ReauthWindow,
			TokenHookSecret:    c.TokenHookSecret,
		},
		Account: AccountOptions{Deletion: c.AccountDeletion, PrivilegedSessionMaxAge: c.PrivilegedSessionMaxAge},
		Brand: BrandOptions{Name: c.BrandName, LogoURL: c.BrandLogoURL, FaviconURL: c.BrandFaviconURL,
			PrivacyURL: c.BrandPrivacyURL, TermsURL: c.BrandTermsURL, Color: c.BrandColor, CSS: c.BrandCSS},
	}
}
