package captcha_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/captcha"
)

func TestProviderMetadata(t *testing.T) {
	tests := []struct {
		p                                  captcha.Provider
		field, verifyURL, scriptURL, class string
		scriptSrc, frameSrc                []string
	}{
		{captcha.Turnstile, "cf-turnstile-response", "https://challenges.cloudflare.com/turnstile/v0/siteverify",
			"https://challenges.cloudflare.com/turnstile/v0/api.js", "cf-turnstile",
			[]string{"https://challenges.cloudflare.com"}, []string{"https://challenges.cloudflare.com"}},
		{captcha.HCaptcha, "h-captcha-response", "https://api.hcaptcha.com/siteverify",
			"https://js.hcaptcha.com/1/api.js", "h-captcha",
			[]string{"https://hcaptcha.com", "https://*.hcaptcha.com"}, []string{"https://hcaptcha.com", "https://*.hcaptcha.com"}},
		{captcha.ReCAPTCHA, "g-recaptcha-response", "https://www.google.com/recaptcha/api/siteverify",
			"https://www.google.com/recaptcha/api.js", "g-recaptcha",
			[]string{"https://www.google.com/recaptcha/", "https://www.gstatic.com/recaptcha/"},
			[]string{"https://www.google.com/recaptcha/", "https://recaptcha.google.com/recaptcha/"}},
	}
	for _, tt := range tests {
		p := tt.p
		if !p.Valid() || p.FormField() != tt.field || p.DefaultVerifyURL() != tt.verifyURL ||
			p.ScriptURL() != tt.scriptURL || p.WidgetClass() != tt.class {
			t.Errorf("%s: %q %q %q %q", p, p.FormField(), p.DefaultVerifyURL(), p.ScriptURL(), p.WidgetClass())
		}
		csp := p.CSP()
		if !slices.Equal(csp.ScriptSrc, tt.scriptSrc) || !slices.Equal(csp.FrameSrc, tt.frameSrc) {
			t.Errorf("%s: CSP %+v", p, csp)
		}
		// The script must be allowed by script-src.
		if !slices.ContainsFunc(csp.ScriptSrc, func(src string) bool { return allows(src, p.ScriptURL()) }) {
			t.Errorf("%s: script-src %v does not allow %s", p, csp.ScriptSrc, p.ScriptURL())
		}
		// Callers get copies.
		csp.ScriptSrc[0] = "https://evil.example"
		if p.CSP().ScriptSrc[0] == "https://evil.example" {
			t.Errorf("%s: CSP shares its slices", p)
		}
	}
	if got := captcha.Providers(); len(got) != 3 {
		t.Errorf("Providers() = %v", got)
	}
	if !captcha.Turnstile.SupportsAction() || captcha.HCaptcha.SupportsAction() || captcha.ReCAPTCHA.SupportsAction() {
		t.Error("SupportsAction")
	}
	bad := captcha.Provider("friendly")
	if bad.Valid() || bad.FormField() != "" || bad.DefaultVerifyURL() != "" {
		t.Error("unknown provider has metadata")
	}
}

// allows is a rough CSP host-source match: scheme, host with a leading
// wildcard, path prefix.
func allows(src, target string) bool {
	s, _ := url.Parse(strings.Replace(src, "*.", "wildcard.", 1))
	u, _ := url.Parse(target)
	host := s.Host
	if strings.HasPrefix(host, "wildcard.") {
		if !strings.HasSuffix(u.Host, strings.TrimPrefix(host, "wildcard")) {
			return false
		}
	} else if host != u.Host {
		return false
	}
	return s.Scheme == u.Scheme && strings.HasPrefix(u.Path, s.Path)
}

func TestParseProvider(t *testing.T) {
	for in, want := range map[string]captcha.Provider{
		"": captcha.Turnstile, "turnstile": captcha.Turnstile, " Turnstile ": captcha.Turnstile,
		"hcaptcha": captcha.HCaptcha, "HCAPTCHA": captcha.HCaptcha, "recaptcha": captcha.ReCAPTCHA,
	} {
		if got, err := captcha.ParseProvider(in); err != nil || got != want {
			t.Errorf("ParseProvider(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"cloudflare", "h-captcha", "recaptcha-v3"} {
		if _, err := captcha.ParseProvider(in); err == nil {
			t.Errorf("ParseProvider(%q) accepted", in)
		}
	}
}

func TestStrip(t *testing.T) {
	form := url.Values{
		"cf-turnstile-response": {"a"},
		"h-captcha-response":    {"b", "c"},
		"g-recaptcha-response":  {"d"},
		"identifier":            {"user@example.com"},
		"password":              {"hunter2"},
		"csrf_token":            {"t"},
	}
	captcha.Strip(form)
	if len(form) != 3 || form.Get("identifier") == "" || form.Get("password") == "" || form.Get("csrf_token") == "" {
		t.Errorf("after Strip: %v", form)
	}
	for _, f := range captcha.FormFields() {
		if _, ok := form[f]; ok {
			t.Errorf("%s kept", f)
		}
	}
	captcha.Strip(nil) // no panic
	if got := captcha.FormFields(); len(got) != 3 {
		t.Errorf("FormFields() = %v", got)
	}
}

func TestNewDefaults(t *testing.T) {
	v, err := captcha.New(captcha.Config{SiteKey: "1x00000000000000000000AA", Secret: "1x0000000000000000000000000000000AA"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Provider() != captcha.Turnstile || v.FormField() != "cf-turnstile-response" {
		t.Errorf("provider %q field %q", v.Provider(), v.FormField())
	}
	w := v.Widget()
	want := captcha.Widget{
		Provider:  captcha.Turnstile,
		ScriptURL: "https://challenges.cloudflare.com/turnstile/v0/api.js",
		Class:     "cf-turnstile",
		SiteKey:   "1x00000000000000000000AA",
		FormField: "cf-turnstile-response",
	}
	if w != want {
		t.Errorf("Widget() = %+v", w)
	}
	if !slices.Equal(v.CSP().FrameSrc, []string{"https://challenges.cloudflare.com"}) {
		t.Errorf("CSP() = %+v", v.CSP())
	}

	v, err = captcha.New(captcha.Config{Provider: captcha.Turnstile, SiteKey: "k", Secret: "s", Action: "login"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Widget().Action != "login" {
		t.Errorf("Widget().Action = %q", v.Widget().Action)
	}
}

func TestNewValidates(t *testing.T) {
	const secret = "do-not-show-this-secret"
	base := func() captcha.Config { return captcha.Config{SiteKey: "site_key-1", Secret: secret} }
	tests := []struct {
		name string
		edit func(*captcha.Config)
		want string // in the error; "" means valid
	}{
		{"valid", func(*captcha.Config) {}, ""},
		{"unknown provider", func(c *captcha.Config) { c.Provider = "friendly" }, "provider"},
		{"no site key", func(c *captcha.Config) { c.SiteKey = "" }, "site key: required"},
		{"site key with markup", func(c *captcha.Config) { c.SiteKey = `k" onload="x` }, "site key"},
		{"no secret", func(c *captcha.Config) { c.Secret = "" }, "secret: required"},
		{"secret with newline", func(c *captcha.Config) { c.Secret = secret + "\n" }, "secret"},
		{"secret with space", func(c *captcha.Config) { c.Secret = "do not show" }, "secret"},
		{"http verify URL", func(c *captcha.Config) { c.VerifyURL = "http://siteverify.example/siteverify" }, "loopback"},
		{"http loopback", func(c *captcha.Config) { c.VerifyURL = "http://127.0.0.1:8080/siteverify" }, ""},
		{"http localhost", func(c *captcha.Config) { c.VerifyURL = "http://localhost:8080/siteverify" }, ""},
		{"http IPv6 loopback", func(c *captcha.Config) { c.VerifyURL = "http://[::1]:8080/siteverify" }, ""},
		{"https proxy", func(c *captcha.Config) { c.VerifyURL = "https://captcha-proxy.internal/siteverify?tenant=a" }, ""},
		{"relative URL", func(c *captcha.Config) { c.VerifyURL = "/siteverify" }, "verify URL"},
		{"ftp URL", func(c *captcha.Config) { c.VerifyURL = "ftp://example.com/siteverify" }, "verify URL"},
		{"user info", func(c *captcha.Config) { c.VerifyURL = "https://u:p@example.com/siteverify" }, "user info"},
		{"fragment", func(c *captcha.Config) { c.VerifyURL = "https://example.com/siteverify#x" }, "fragment"},
		{"unparsable URL", func(c *captcha.Config) { c.VerifyURL = "https://exa mple.com/%zz" }, "verify URL"},
		{"negative timeout", func(c *captcha.Config) { c.Timeout = -time.Second }, "timeout"},
		{"huge timeout", func(c *captcha.Config) { c.Timeout = time.Hour }, "timeout"},
		{"hostnames", func(c *captcha.Config) {
			c.Hostnames = []string{"login.example.com", " Login.Example.com ", "localhost", "192.0.2.1"}
		}, ""},
		{"hostname with scheme", func(c *captcha.Config) { c.Hostnames = []string{"https://login.example.com"} }, "hostname"},
		{"hostname with port", func(c *captcha.Config) { c.Hostnames = []string{"login.example.com:443"} }, "hostname"},
		{"hostname wildcard", func(c *captcha.Config) { c.Hostnames = []string{"*.example.com"} }, "hostname"},
		{"empty hostname", func(c *captcha.Config) { c.Hostnames = []string{""} }, "hostname"},
		{"action", func(c *captcha.Config) { c.Action = "login_v2" }, ""},
		{"action too long", func(c *captcha.Config) { c.Action = strings.Repeat("a", 33) }, "action"},
		{"action with space", func(c *captcha.Config) { c.Action = "log in" }, "action"},
		{"action on hcaptcha", func(c *captcha.Config) { c.Provider = captcha.HCaptcha; c.Action = "login" }, "hcaptcha does not report the action"},
		{"action on recaptcha", func(c *captcha.Config) { c.Provider = captcha.ReCAPTCHA; c.Action = "login" }, "recaptcha does not report the action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			v, err := captcha.New(c)
			if tt.want == "" {
				if err != nil || v == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || v != nil {
				t.Fatalf("New accepted %+v", c)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "do-not-show") || strings.Contains(err.Error(), "do not show") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}

	// Every problem is reported at once.
	_, err := captcha.New(captcha.Config{Provider: "x", Timeout: -1, Hostnames: []string{"a/b"}})
	for _, want := range []string{"provider", "site key", "secret", "timeout", "hostname"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("joined error %v lacks %q", err, want)
		}
	}
}

// A caller's HTTP client is used, but never follows redirects and is not
// modified.
func TestNewHTTPClient(t *testing.T) {
	var used bool
	hc := &http.Client{
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			used = true
			return nil, errors.New("no network in tests")
		}),
		Timeout: time.Hour,
	}
	v, err := captcha.New(captcha.Config{SiteKey: "k", Secret: "s", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), url.Values{"cf-turnstile-response": {"tok"}}, "")
	checkErr(t, err, captcha.FaultUnavailable, captcha.ReasonTransport)
	if !used {
		t.Error("custom transport not used")
	}
	if hc.CheckRedirect != nil || hc.Timeout != time.Hour {
		t.Error("caller's client was modified")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *captcha.Error
		want string
	}{
		{&captcha.Error{Fault: captcha.FaultChallenge, Reason: captcha.ReasonEmptyToken},
			"captcha: challenge failed: empty-token"},
		{&captcha.Error{Fault: captcha.FaultChallenge, Reason: captcha.ReasonRejected, Codes: []string{"timeout-or-duplicate"}, Attempts: 1},
			"captcha: challenge failed: rejected [timeout-or-duplicate]"},
		{&captcha.Error{Fault: captcha.FaultUnavailable, Reason: captcha.ReasonHTTPStatus, Status: 503, Attempts: 2},
			"captcha: verification unavailable: http-status (HTTP 503) after 2 attempts"},
		{&captcha.Error{Fault: captcha.FaultUnavailable, Reason: captcha.ReasonTransport, Err: errors.New("connection refused"), Attempts: 1},
			"captcha: verification unavailable: transport: connection refused"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	wrapped := fmt.Errorf("login: %w", &captcha.Error{Fault: captcha.FaultUnavailable, Reason: captcha.ReasonTimeout})
	if !errors.Is(wrapped, captcha.ErrUnavailable) || captcha.FaultOf(wrapped) != captcha.FaultUnavailable || captcha.ReasonOf(wrapped) != captcha.ReasonTimeout {
		t.Error("wrapped error loses its kind")
	}
	if captcha.FaultOf(nil) != 0 || captcha.FaultOf(errors.New("other")) != captcha.FaultUnavailable || captcha.ReasonOf(errors.New("other")) != "" {
		t.Error("KindOf/ReasonOf of non-captcha errors")
	}
	if captcha.FaultChallenge.String() != "challenge" || captcha.FaultUnavailable.String() != "unavailable" {
		t.Error("Kind.String")
	}
}
