// Package captcha verifies captcha tokens server-side with Cloudflare
// Turnstile (the default), hCaptcha or reCAPTCHA v2 (checkbox or invisible),
// which share the siteverify request and answer.
//
// The web layer renders the widget from Verifier.Widget, allows the origins
// of Verifier.CSP in its Content-Security-Policy, calls Verifier.Verify with
// the submitted form before anything reaches Kratos, then Strip to remove the
// token fields from the form it forwards.
//
// Verify fails closed. Its error says who failed: the user
// (errors.Is(err, ErrChallengeFailed): ask them to complete the challenge
// again) or the service or Hera's configuration (errors.Is(err,
// ErrUnavailable): show "temporarily unavailable"). Neither errors nor
// results ever contain the token or the secret; the package logs nothing.
//
// Cloudflare's test keys are handy for development: site key
// 1x00000000000000000000AA with secret 1x0000000000000000000000000000000AA
// (always passes), 2x0000000000000000000000000000000AA (always fails) or
// 3x0000000000000000000000000000000AA (token already spent). The test secrets
// answer hostname "example.com", so leave Hostnames empty with them. For
// tests without the network, see package captchatest.
package captcha

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Limits and defaults.
const (
	// MaxTokenLen is the longest token accepted (Turnstile's documented
	// maximum); longer ones are rejected without calling siteverify.
	MaxTokenLen = 2048
	// MaxResponseBytes bounds how much of a siteverify answer is read.
	MaxResponseBytes = 64 << 10
	// DefaultTimeout bounds a whole Verify call, the retry included.
	DefaultTimeout = 5 * time.Second
	// MaxTimeout is the largest Config.Timeout accepted.
	MaxTimeout = time.Minute
	// retryDelay is the pause before the single retry.
	retryDelay = 100 * time.Millisecond
)

// Config configures a Verifier. Only SiteKey and Secret are required.
type Config struct {
	// Provider selects the service; empty means Turnstile.
	Provider Provider
	// SiteKey is the public key the widget is rendered with.
	SiteKey string
	// Secret authenticates Hera to siteverify. It never appears in errors.
	Secret string
	// VerifyURL overrides the provider's siteverify endpoint (tests point it
	// at captchatest). It must be https, or http to a loopback address.
	VerifyURL string
	// Timeout bounds each Verify call, the retry included (default
	// DefaultTimeout, at most MaxTimeout).
	Timeout time.Duration
	// Hostnames, when set, are the only hostnames (as siteverify reports
	// them: no scheme, no port) a token may have been solved on.
	Hostnames []string
	// Action, when set, must equal the action siteverify reports (the
	// widget's data-action). Turnstile only.
	Action string
	// HTTPClient, when set, is used for siteverify (its transport, e.g. for
	// an egress proxy). Redirects are never followed.
	HTTPClient *http.Client
}

// Verifier checks captcha tokens. It is safe for concurrent use.
type Verifier struct {
	provider  Provider
	siteKey   string
	secret    string
	verifyURL string
	timeout   time.Duration
	hostnames []string
	action    string
	client    *http.Client
}

// New validates c and returns a Verifier. The error lists every problem; it
// never contains the secret.
func New(c Config) (*Verifier, error) {
	var errs []error
	p := c.Provider
	if p == "" {
		p = DefaultProvider
	}
	if !p.Valid() {
		errs = append(errs, fmt.Errorf("provider %q: unknown (want turnstile, hcaptcha or recaptcha)", string(c.Provider)))
	}

	switch {
	case c.SiteKey == "":
		errs = append(errs, errors.New("site key: required"))
	case len(c.SiteKey) > 128 || !onlyChars(c.SiteKey, isKeyChar):
		errs = append(errs, errors.New("site key: want at most 128 letters, digits, '-' or '_'"))
	}

	switch {
	case c.Secret == "":
		errs = append(errs, errors.New("secret: required"))
	case len(c.Secret) > 1024 || !onlyChars(c.Secret, isTokenChar):
		errs = append(errs, errors.New("secret: want at most 1024 printable ASCII characters without spaces"))
	}

	verifyURL := c.VerifyURL
	if verifyURL == "" {
		verifyURL = p.DefaultVerifyURL()
	} else if err := checkVerifyURL(verifyURL); err != nil {
		errs = append(errs, fmt.Errorf("verify URL: %w", err))
	}

	timeout := c.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		errs = append(errs, errors.New("timeout: must be positive"))
	case timeout > MaxTimeout:
		errs = append(errs, fmt.Errorf("timeout: at most %s", MaxTimeout))
	}

	var hostnames []string
	for _, h := range c.Hostnames {
		h = strings.ToLower(strings.TrimSpace(h))
		if err := checkHostname(h); err != nil {
			errs = append(errs, fmt.Errorf("hostname %q: %w", h, err))
			continue
		}
		if !slices.Contains(hostnames, h) {
			hostnames = append(hostnames, h)
		}
	}

	if c.Action != "" {
		switch {
		case p.Valid() && !p.SupportsAction():
			errs = append(errs, fmt.Errorf("action: %s does not report the action; leave it empty", p))
		case len(c.Action) > 32 || !onlyChars(c.Action, isKeyChar):
			errs = append(errs, errors.New("action: want at most 32 letters, digits, '-' or '_'"))
		}
	}

	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("captcha config: %w", err)
	}

	client := &http.Client{}
	if c.HTTPClient != nil {
		cc := *c.HTTPClient
		client = &cc
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// The per-call context carries the deadline; a client-wide timeout
	// shorter than ours would only muddle which one fired.
	client.Timeout = 0

	return &Verifier{
		provider:  p,
		siteKey:   c.SiteKey,
		secret:    c.Secret,
		verifyURL: verifyURL,
		timeout:   timeout,
		hostnames: hostnames,
		action:    c.Action,
		client:    client,
	}, nil
}

// Provider returns the configured provider.
func (v *Verifier) Provider() Provider { return v.provider }

// FormField is the form field Verify reads the token from.
func (v *Verifier) FormField() string { return v.provider.FormField() }

// CSP returns the sources the page's Content-Security-Policy must allow.
func (v *Verifier) CSP() CSP { return v.provider.CSP() }

// Widget is what a template needs to render the captcha:
//
//	<script src="{{.ScriptURL}}" nonce="{{$nonce}}" async defer></script>
//	<div class="{{.Class}}" data-sitekey="{{.SiteKey}}"{{with .Action}} data-action="{{.}}"{{end}}></div>
type Widget struct {
	Provider  Provider
	ScriptURL string
	Class     string // the div's CSS class
	SiteKey   string // the div's data-sitekey
	Action    string // the div's data-action (Turnstile); empty: omit the attribute
	FormField string // the field the widget adds to the form
}

// Widget returns the rendering data for the configured provider.
func (v *Verifier) Widget() Widget {
	return Widget{
		Provider:  v.provider,
		ScriptURL: v.provider.ScriptURL(),
		Class:     v.provider.WidgetClass(),
		SiteKey:   v.siteKey,
		Action:    v.action,
		FormField: v.provider.FormField(),
	}
}

func checkVerifyURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("want an absolute https:// URL")
	}
	if u.User != nil || u.Fragment != "" {
		return errors.New("must not carry user info or a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("http:// is allowed only to a loopback address (the secret travels in the body)")
	}
	return errors.New("want an https:// URL")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkHostname(h string) error {
	if h == "" {
		return errors.New("empty")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("too long")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("want a bare host name such as login.example.com (no scheme, port, path or wildcard)")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return errors.New("want a bare host name such as login.example.com (no scheme, port, path or wildcard)")
			}
		}
	}
	return nil
}

func onlyChars(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isKeyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// isTokenChar: printable ASCII without space. Every provider's tokens
// (base64url segments joined by '.') and secrets fit.
func isTokenChar(c byte) bool { return c > ' ' && c < 0x7f }
