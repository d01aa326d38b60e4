// Package config reads Hera's settings from the environment.
//
// Every setting is an environment variable; each may instead be given as
// NAME_FILE pointing at a file that holds the value (for secrets mounted by an
// orchestrator). Load collects every problem before it returns, so an operator
// fixes a broken deployment in one go rather than one error per restart.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/outbox"
)

// Config is Hera's typed configuration, grouped by concern like the
// variables (vars_*.go).
type Config struct {
	HTTP     HTTP
	Kratos   Kratos
	Hydra    Hydra
	OAuth2   OAuth2
	Captcha  Captcha
	Lockout  Lockout
	Activity Activity
	Brand    Brand
	Log      Log
	Mail     Mail
}

// HTTP is where Hera listens, how browsers reach it, and its limits.
type HTTP struct {
	Listen    string
	PublicURL *url.URL
	// AllowedReturnURLs are where browsers may be sent besides Hera itself.
	AllowedReturnURLs []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For Hera
	// believes.
	TrustedProxies    []netip.Prefix
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	MaxBodyBytes      int64
	MaxHeaderBytes    int
}

// Kratos is how Hera reaches and paces Kratos, and the account's
// self-service it offers.
type Kratos struct {
	PublicURL *url.URL
	AdminURL  *url.URL
	Timeout   time.Duration
	// SessionCookie is the name of Kratos's session cookie.
	SessionCookie string
	// MaxSubmissions bounds the submissions waiting on Kratos at once;
	// others wait up to SubmissionWait, then get a 503.
	MaxSubmissions int
	SubmissionWait time.Duration
	// AccountDeletion lets users delete their account; it needs a sign-in
	// at most PrivilegedSessionMaxAge old (Kratos's
	// privileged_session_max_age).
	AccountDeletion         bool
	PrivilegedSessionMaxAge time.Duration
	// PasskeyOffer offers a passkey after a password sign-in; "not now"
	// keeps the offer away from that browser for PasskeyOfferSnooze.
	PasskeyOffer       bool
	PasskeyOfferSnooze time.Duration
	// WebhookSecret authenticates Kratos's web hooks (the account's
	// activity); "" switches them off.
	WebhookSecret string
}

// Hydra is Hydra's admin API; AdminURL nil runs Hera without OAuth2.
type Hydra struct {
	AdminURL  *url.URL
	PublicURL *url.URL // for checking Hydra's URLs only (hera doctor)
	Timeout   time.Duration
}

// OAuth2 is how Hera answers Hydra's login, consent and logout requests.
type OAuth2 struct {
	LoginRemember      bool
	LoginRememberFor   time.Duration
	ConsentRememberFor time.Duration
	TrustedClients     []string
	Claims             map[string]map[string]string // scope → claim → source; nil: from the identity schema
	SkipLogoutConfirm  bool
	ReauthWindow       time.Duration
	// TokenHookSecret authenticates Hydra's token hook calls; "" switches
	// the hook endpoint off.
	TokenHookSecret string
}

// Captcha is the provider and where it is asked for; Provider "" switches
// it off.
type Captcha struct {
	Provider  string
	SiteKey   string
	Secret    string
	VerifyURL string
	Timeout   time.Duration
	Flows     []string
	// ExemptAPI spares API flows the captcha (HERA_CAPTCHA_API_FLOWS=exempt).
	ExemptAPI bool
	Hostnames []string
	Action    string
}

// Lockout is the brute-force lockout: its store, policy, and the device
// cookies that let owners past a lock.
type Lockout struct {
	Store       string // memory, postgres, redis
	PostgresDSN string
	RedisURL    string
	Timeout     time.Duration
	FailOpen    bool
	KeySecret   string
	Policy      lockout.Config
	// DeviceCookieLifetime 0 switches device cookies off; an empty secret
	// is replaced by a random one at start (cookies then do not survive a
	// restart or work across replicas).
	DeviceCookieSecret   string
	DeviceCookieLifetime time.Duration
}

// Activity is the security centre's shared state: what is kept of each
// account's events, and the mail queue's bound. Both live where the
// lockout store does (Lockout.Store and its URL), namespaced by its realm.
type Activity struct {
	Policy activity.Policy
	// Outbox's DedupFor is the queue's default; MaxQueued is
	// HERA_MAIL_QUEUE_MAX.
	Outbox outbox.Config
}

// Brand is the operator's branding and default language.
type Brand struct {
	Name       string
	LogoURL    string
	FaviconURL string
	Color      string // #rrggbb
	PrivacyURL string
	TermsURL   string
	CSS        string // contents of HERA_BRAND_CSS_FILE
	// DefaultLanguage is used when nothing else picks one: a shipped
	// language or one of LocalesDir.
	DefaultLanguage string
	// LocalesDir holds <lang>.json files that override and add
	// translations; "" for none.
	LocalesDir string
	// SocialLogos maps Kratos oidc provider ids to the logo on their
	// buttons (https URL or a path on Hera).
	SocialLogos map[string]string
	// AssetsDir holds the brand assets served under /brand/; "" for none.
	// Logo, favicon and social logo values "/brand/<file>" name its files
	// (the server reads and checks them at start).
	AssetsDir string
}

// Mail is the SMTP server alert mails go through; SMTPURL nil sends none
// (account events are still recorded and shown).
type Mail struct {
	SMTPURL  *url.URL // scheme, host:port and tls=none as configured; never user info
	SMTPHost string
	SMTPPort int
	SMTPTLS  string // SMTPStartTLS, SMTPTLS or SMTPNoTLS
	// SMTPUser "" signs in to nobody (no SMTP AUTH).
	SMTPUser     string
	SMTPPassword string
	From         string // RFC 5322 address, display name allowed
	Timeout      time.Duration
	// MaxAttempts: a mail not sent after this many attempts is dropped.
	MaxAttempts int
}

// Log is the log and metrics.
type Log struct {
	Level slog.Level
	// FlushInterval is how long log lines may wait to be written together;
	// 0 writes each line at once.
	FlushInterval time.Duration
	// MetricsListen is where /metrics is served; "" switches metrics off.
	MetricsListen string
	// StartupChecks: check Kratos's and Hydra's configuration at start
	// (hera doctor's checks) and log the problems.
	StartupChecks bool
}

// Var describes one setting: the single source for parsing, --help and the
// documentation test.
type Var struct {
	Name     string
	Default  string
	Required bool
	Secret   bool
	Help     string
	set      func(c *Config, v string) error
	// redact, if set, is how an error shows the value of a setting that
	// is not secret but may carry one by mistake (a password in a URL).
	redact func(v string) string
}

// Vars lists every setting Hera reads, in the order --help shows them:
// grouped by concern, each group's variables in its own file (vars_*.go).
func Vars() []Var {
	return slices.Concat(httpVars(), kratosVars(), hydraVars(), oauth2Vars(), captchaVars(), lockoutVars(), activityVars(), brandVars(), logVars(), mailVars())
}

// Load reads the configuration through getenv. The error, if any, lists every
// invalid or missing setting.
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{}
	var errs []error
	for _, v := range Vars() {
		val, err := lookup(getenv, v.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if val == "" {
			val = v.Default
		}
		if val == "" {
			if v.Required {
				errs = append(errs, fmt.Errorf("%s: required but not set", v.Name))
			}
			continue
		}
		if err := v.set(c, val); err != nil {
			shown := val
			switch {
			case v.Secret:
				shown = "(hidden)"
			case v.redact != nil:
				shown = v.redact(val)
			}
			errs = append(errs, fmt.Errorf("%s=%q: %w", v.Name, shown, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, c.crossCheck()...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// shippedLanguages are the languages of Hera's own catalog
// (internal/i18n/locales).
var shippedLanguages = []string{"en", "de", "fr", "es"}

// crossCheck validates settings that depend on each other.
func (c *Config) crossCheck() []error {
	var errs []error
	if c.Captcha.Provider != "" {
		if c.Captcha.SiteKey == "" {
			errs = append(errs, errors.New("HERA_CAPTCHA_SITE_KEY: required with HERA_CAPTCHA_PROVIDER"))
		}
		if c.Captcha.Secret == "" {
			errs = append(errs, errors.New("HERA_CAPTCHA_SECRET: required with HERA_CAPTCHA_PROVIDER"))
		}
		if len(c.Captcha.Hostnames) == 0 {
			c.Captcha.Hostnames = []string{c.HTTP.PublicURL.Hostname()}
		}
	}
	switch {
	case c.Lockout.Store == "postgres" && c.Lockout.PostgresDSN == "":
		errs = append(errs, errors.New("HERA_LOCKOUT_POSTGRES_DSN: required with HERA_LOCKOUT_STORE=postgres"))
	case c.Lockout.Store == "redis" && c.Lockout.RedisURL == "":
		errs = append(errs, errors.New("HERA_LOCKOUT_REDIS_URL: required with HERA_LOCKOUT_STORE=redis"))
	}
	if c.Mail.SMTPURL != nil && c.Mail.From == "" {
		errs = append(errs, errors.New("HERA_SMTP_FROM: required with HERA_SMTP_URL"))
	}
	if (c.Mail.SMTPUser == "") != (c.Mail.SMTPPassword == "") {
		errs = append(errs, errors.New("HERA_SMTP_USER and HERA_SMTP_PASSWORD: set both, or neither"))
	}
	// A language Hera does not ship needs its file (which i18n checks).
	if l := c.Brand.DefaultLanguage; !slices.Contains(shippedLanguages, l) {
		if c.Brand.LocalesDir == "" {
			errs = append(errs, fmt.Errorf("HERA_DEFAULT_LANGUAGE=%q: not shipped (%s): set HERA_LOCALES_DIR to a directory with %s.json", l, strings.Join(shippedLanguages, ", "), l))
		} else if _, err := os.Stat(filepath.Join(c.Brand.LocalesDir, l+".json")); err != nil {
			errs = append(errs, fmt.Errorf("HERA_DEFAULT_LANGUAGE=%q: not shipped, and HERA_LOCALES_DIR has no %s.json", l, l))
		}
	}
	// "/brand/<file>" names a brand asset, which needs the directory.
	if c.Brand.AssetsDir == "" {
		refs := map[string]string{"HERA_BRAND_LOGO_URL": c.Brand.LogoURL, "HERA_BRAND_FAVICON_URL": c.Brand.FaviconURL}
		for id, u := range c.Brand.SocialLogos {
			refs["HERA_SOCIAL_LOGOS "+id] = u
		}
		for _, k := range slices.Sorted(maps.Keys(refs)) {
			if strings.HasPrefix(refs[k], "/brand/") {
				errs = append(errs, fmt.Errorf("%s=%q: /brand/ names a file of HERA_BRAND_ASSETS_DIR, which is not set", k, refs[k]))
			}
		}
	}
	// Second factors and device cookies follow the account rule.
	c.Lockout.Policy.Identity = c.Lockout.Policy.Identifier
	c.Lockout.Policy.Device = c.Lockout.Policy.Identifier
	// A reservation must outlive any submission that could still settle it
	// (the wait for a Kratos slot, the captcha, the flow read and the
	// submit): one not settled within the hold counts as a failed attempt.
	longest := c.Kratos.SubmissionWait + 2*c.Kratos.Timeout + c.Captcha.Timeout
	switch {
	case c.Lockout.Policy.Hold == 0:
		c.Lockout.Policy.Hold = max(lockout.DefaultHold, longest+30*time.Second)
	case c.Lockout.Policy.Hold <= longest:
		errs = append(errs, fmt.Errorf("HERA_LOCKOUT_HOLD=%v: must exceed the longest submission, %v (HERA_KRATOS_SUBMISSION_WAIT + 2 × KRATOS_TIMEOUT + HERA_CAPTCHA_TIMEOUT): an attempt still in flight after the hold counts as a failure",
			c.Lockout.Policy.Hold, longest))
	}
	c.Activity.Outbox = c.Activity.Outbox.WithDefaults()
	c.Lockout.Policy.FailOpen = c.Lockout.FailOpen
	if c.Lockout.KeySecret != "" {
		c.Lockout.Policy.KeySecret = []byte(c.Lockout.KeySecret)
	}
	if err := c.Lockout.Policy.WithDefaults().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("HERA_LOCKOUT_*: %w", err))
	}
	return errs
}

// parseLimits reads "3/15m,10/1h": at most 3 per 15 minutes and 10 per hour.
func parseLimits(v string) ([]lockout.Limit, error) {
	var out []lockout.Limit
	for _, f := range splitList(v) {
		n, per, ok := strings.Cut(f, "/")
		max, err := strconv.Atoi(strings.TrimSpace(n))
		d, derr := time.ParseDuration(strings.TrimSpace(per))
		if !ok || err != nil || derr != nil || max < 1 || d < time.Second {
			return nil, fmt.Errorf("%q: want count/period, e.g. 3/15m", f)
		}
		out = append(out, lockout.Limit{Max: max, Per: d})
	}
	if len(out) == 0 {
		return nil, errors.New("want at least one count/period limit")
	}
	return out, nil
}

func parsePositiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive whole number")
	}
	return n, nil
}

// lookup returns NAME, or the contents of the file named by NAME_FILE.
func lookup(getenv func(string) string, name string) (string, error) {
	val, file := getenv(name), getenv(name+"_FILE")
	if file == "" {
		return strings.TrimSpace(val), nil
	}
	if val != "" {
		return "", fmt.Errorf("%s and %s_FILE are both set; use one", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func parseBaseURL(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return nil, errors.New("URL has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("URL must not carry a query, fragment or user info")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// parseClaims reads the scope → claim → source mapping. A source is a trait
// path (name.first), "verified:<path>" (whether that address is verified)
// or "join:<path> <path> …" (the values joined by spaces).
func parseClaims(v string) (map[string]map[string]string, error) {
	var m map[string]map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("want a JSON object of objects of strings: %w", err)
	}
	var bad []string
	for scope, claims := range m {
		for claim, src := range claims {
			path := src
			for _, pre := range []string{"verified:", "join:"} {
				path = strings.TrimPrefix(path, pre)
			}
			for _, p := range strings.Fields(path) {
				if strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != "" || strings.Contains(p, "..") {
					bad = append(bad, scope+"."+claim)
				}
			}
			if strings.TrimSpace(path) == "" {
				bad = append(bad, scope+"."+claim)
			}
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("bad trait path for %s", strings.Join(bad, ", "))
	}
	return m, nil
}

// parseAssetURL accepts an absolute http(s) URL or an absolute path.
func parseAssetURL(v string) (string, error) {
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.ContainsAny(v, "\\ \t\n\"'<>") {
		return v, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", errors.New("want an http(s) URL or a path starting with /")
	}
	return u.String(), nil
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseDuration accepts zero (meaning "no limit" where documented).
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("want a duration such as 0s, 30m or 24h")
	}
	return d, nil
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		bad = append(bad, f)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("not an IP or CIDR: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		// A bare number is a common mistake; say what is wanted.
		if _, nerr := strconv.Atoi(v); nerr == nil {
			return 0, errors.New("want a duration with a unit, e.g. 10s")
		}
		return 0, errors.New("want a duration such as 500ms, 10s or 2m")
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

// Usage writes the --help text.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: hera [--help | --version] | hera doctor [-h]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Hera is the login and account UI for Ory Kratos and Ory Hydra.")
	fmt.Fprintln(w, "It is configured through environment variables; each may also be given as NAME_FILE")
	fmt.Fprintln(w, "naming a file that holds the value. See docs/configuration.md.")
	fmt.Fprintln(w)
	for _, v := range Vars() {
		def := v.Default
		switch {
		case v.Required:
			def = "required"
		case def == "":
			def = "empty"
		default:
			def = "default " + def
		}
		fmt.Fprintf(w, "  %-26s %s (%s)\n", v.Name, v.Help, def)
	}
}
