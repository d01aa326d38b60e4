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
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// Config is Hera's typed configuration.
type Config struct {
	Listen    string
	PublicURL *url.URL

	KratosPublicURL *url.URL
	KratosAdminURL  *url.URL
	KratosTimeout   time.Duration
	// KratosSessionCookie is the name of Kratos's session cookie.
	KratosSessionCookie string
	// KratosMaxSubmissions bounds the submissions waiting on Kratos at
	// once; others wait up to KratosSubmissionWait, then get a 503.
	KratosMaxSubmissions int
	KratosSubmissionWait time.Duration

	// HydraAdminURL is nil when Hera runs without Hydra (no OAuth2).
	HydraAdminURL *url.URL
	HydraTimeout  time.Duration

	// OAuth2 (Hydra) behaviour.
	LoginRemember      bool
	LoginRememberFor   time.Duration
	ConsentRememberFor time.Duration
	TrustedClients     []string
	Claims             map[string]map[string]string // scope → claim → source
	SkipLogoutConfirm  bool
	ReauthWindow       time.Duration
	// TokenHookSecret authenticates Hydra's token hook calls; "" switches
	// the hook endpoint off.
	TokenHookSecret string

	// Account self-service.
	AccountDeletion bool
	// PrivilegedSessionMaxAge is Kratos's privileged_session_max_age: how
	// recent a sign-in must be for deleting the account.
	PrivilegedSessionMaxAge time.Duration

	// Captcha; Provider "" switches it off.
	CaptchaProvider  string
	CaptchaSiteKey   string
	CaptchaSecret    string
	CaptchaVerifyURL string
	CaptchaTimeout   time.Duration
	CaptchaFlows     []string
	CaptchaHostnames []string
	CaptchaAction    string

	// Brute-force lockout.
	LockoutStore       string // memory, postgres, redis
	LockoutPostgresDSN string
	LockoutRedisURL    string
	LockoutTimeout     time.Duration
	LockoutFailOpen    bool
	LockoutKeySecret   string
	Lockout            lockout.Config

	// Device cookies: DeviceCookieLifetime 0 switches them off; an empty
	// secret is replaced by a random one at start (cookies then do not
	// survive a restart or work across replicas).
	DeviceCookieSecret   string
	DeviceCookieLifetime time.Duration

	// Branding.
	BrandName       string
	BrandLogoURL    string
	BrandFaviconURL string
	BrandColor      string // #rrggbb
	BrandPrivacyURL string
	BrandTermsURL   string
	BrandCSS        string // contents of HERA_BRAND_CSS_FILE

	// DefaultLanguage is used when nothing else picks one.
	DefaultLanguage string

	// AllowedReturnURLs are where browsers may be sent besides Hera itself.
	AllowedReturnURLs []string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For Hera
	// believes.
	TrustedProxies []netip.Prefix

	LogLevel slog.Level
	// LogFlushInterval is how long log lines may wait to be written
	// together; 0 writes each line at once.
	LogFlushInterval time.Duration

	// MetricsListen is where /metrics is served; "" switches metrics off.
	MetricsListen string

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	MaxBodyBytes      int64
	MaxHeaderBytes    int
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
}

// Vars lists every setting Hera reads, in the order --help shows them.
func Vars() []Var {
	return []Var{
		{Name: "HERA_LISTEN", Default: "127.0.0.1:4455", Help: "host:port Hera listens on",
			set: func(c *Config, v string) error {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("want host:port: %w", err)
				}
				c.Listen = v
				return nil
			}},
		{Name: "HERA_PUBLIC_URL", Default: "http://localhost:4455", Help: "browser-facing base URL of Hera (Kratos's serve.public.base_url is this plus /api/kratos/)",
			set: func(c *Config, v string) (err error) { c.PublicURL, err = parseBaseURL(v); return err }},
		{Name: "KRATOS_PUBLIC_URL", Required: true, Help: "Kratos public API as Hera reaches it, e.g. http://127.0.0.1:4433",
			set: func(c *Config, v string) (err error) { c.KratosPublicURL, err = parseBaseURL(v); return err }},
		{Name: "KRATOS_ADMIN_URL", Required: true, Help: "Kratos admin API, e.g. http://127.0.0.1:4434 (keep it off the internet)",
			set: func(c *Config, v string) (err error) { c.KratosAdminURL, err = parseBaseURL(v); return err }},
		{Name: "KRATOS_TIMEOUT", Default: "10s", Help: "timeout of each call Hera makes to Kratos",
			set: func(c *Config, v string) (err error) { c.KratosTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_KRATOS_SESSION_COOKIE", Default: "ory_kratos_session", Help: "name of Kratos's session cookie (Kratos's session.cookie.name)",
			set: func(c *Config, v string) error {
				if (&http.Cookie{Name: v, Value: "x"}).Valid() != nil {
					return errors.New("not a valid cookie name")
				}
				c.KratosSessionCookie = v
				return nil
			}},
		{Name: "HERA_KRATOS_MAX_SUBMISSIONS", Default: "4", Help: "submissions Hera sends to Kratos at once (about Kratos's CPU cores; SQLite wants 4 at most); more wait HERA_KRATOS_SUBMISSION_WAIT, then get 503 with Retry-After",
			set: func(c *Config, v string) (err error) { c.KratosMaxSubmissions, err = parsePositiveInt(v); return err }},
		{Name: "HERA_KRATOS_SUBMISSION_WAIT", Default: "5s", Help: "how long a submission waits for one of HERA_KRATOS_MAX_SUBMISSIONS",
			set: func(c *Config, v string) (err error) {
				c.KratosSubmissionWait, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HYDRA_ADMIN_URL", Help: "Hydra admin API, e.g. http://127.0.0.1:4445; empty runs Hera without OAuth2",
			set: func(c *Config, v string) (err error) { c.HydraAdminURL, err = parseBaseURL(v); return err }},
		{Name: "HYDRA_TIMEOUT", Default: "10s", Help: "timeout of each call Hera makes to Hydra",
			set: func(c *Config, v string) (err error) { c.HydraTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_OAUTH2_LOGIN_REMEMBER", Default: "true", Help: "let Hydra remember a login (its session cookie), so later OAuth2 logins skip Hera",
			set: func(c *Config, v string) (err error) { c.LoginRemember, err = strconv.ParseBool(v); return err }},
		{Name: "HERA_OAUTH2_LOGIN_REMEMBER_FOR", Default: "24h", Help: "how long Hydra remembers a login; 0s: until the browser closes",
			set: func(c *Config, v string) (err error) { c.LoginRememberFor, err = parseDuration(v); return err }},
		{Name: "HERA_OAUTH2_CONSENT_REMEMBER_FOR", Default: "720h", Help: "how long a remembered consent lasts; 0s: forever",
			set: func(c *Config, v string) (err error) { c.ConsentRememberFor, err = parseDuration(v); return err }},
		{Name: "HERA_OAUTH2_TRUSTED_CLIENTS", Help: "comma-separated OAuth2 client IDs that never see the consent screen (first-party apps)",
			set: func(c *Config, v string) error { c.TrustedClients = splitList(v); return nil }},
		{Name: "HERA_OAUTH2_CLAIMS", Default: defaultClaims, Help: "JSON: for each scope, the ID-token claims and the identity traits they come from (see docs/oauth2.md)",
			set: func(c *Config, v string) (err error) { c.Claims, err = parseClaims(v); return err }},
		{Name: "HERA_OAUTH2_SKIP_LOGOUT_CONFIRM", Default: "false", Help: "end OAuth2 (RP-initiated) logouts without asking the user",
			set: func(c *Config, v string) (err error) { c.SkipLogoutConfirm, err = strconv.ParseBool(v); return err }},
		{Name: "HERA_OAUTH2_REAUTH_WINDOW", Default: "2m", Help: "after prompt=login or max_age sent the user to sign in again, how recent that sign-in must be",
			set: func(c *Config, v string) (err error) { c.ReauthWindow, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_OAUTH2_TOKEN_HOOK_SECRET", Secret: true, Help: "bearer token Hydra's oauth2.token_hook sends to Hera's /oauth2/token-hook (at least 32 bytes), which refuses tokens to deleted or deactivated identities; empty: no hook endpoint",
			set: func(c *Config, v string) error {
				if len(v) < 32 {
					return errors.New("at least 32 bytes")
				}
				c.TokenHookSecret = v
				return nil
			}},
		{Name: "HERA_ACCOUNT_DELETION", Default: "true", Help: "let users delete their own account from the settings page (after a recent sign-in and a typed confirmation)",
			set: func(c *Config, v string) (err error) { c.AccountDeletion, err = strconv.ParseBool(v); return err }},
		{Name: "HERA_PRIVILEGED_SESSION_MAX_AGE", Default: "1h", Help: "how recent a sign-in must be to delete the account; set it to Kratos's selfservice.flows.settings.privileged_session_max_age",
			set: func(c *Config, v string) (err error) {
				c.PrivilegedSessionMaxAge, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_CAPTCHA_PROVIDER", Help: "turnstile, hcaptcha or recaptcha; empty: no captcha",
			set: func(c *Config, v string) error {
				switch v {
				case "turnstile", "hcaptcha", "recaptcha":
					c.CaptchaProvider = v
					return nil
				}
				return errors.New("want turnstile, hcaptcha or recaptcha")
			}},
		{Name: "HERA_CAPTCHA_SITE_KEY", Help: "the widget's site key (required with a provider)",
			set: func(c *Config, v string) error { c.CaptchaSiteKey = v; return nil }},
		{Name: "HERA_CAPTCHA_SECRET", Secret: true, Help: "the siteverify secret (required with a provider); prefer HERA_CAPTCHA_SECRET_FILE",
			set: func(c *Config, v string) error { c.CaptchaSecret = v; return nil }},
		{Name: "HERA_CAPTCHA_VERIFY_URL", Help: "siteverify URL; empty: the provider's",
			set: func(c *Config, v string) error { c.CaptchaVerifyURL = v; return nil }},
		{Name: "HERA_CAPTCHA_TIMEOUT", Default: "5s", Help: "timeout of a captcha verification, its one retry included",
			set: func(c *Config, v string) (err error) { c.CaptchaTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_CAPTCHA_FLOWS", Default: "login,registration,recovery", Help: "flows whose every submission needs the captcha (login, registration, recovery, verification)",
			set: func(c *Config, v string) error {
				c.CaptchaFlows = splitList(v)
				for _, f := range c.CaptchaFlows {
					switch f {
					case "login", "registration", "recovery", "verification":
					default:
						return fmt.Errorf("unknown flow %q", f)
					}
				}
				return nil
			}},
		{Name: "HERA_CAPTCHA_HOSTNAMES", Help: "hostnames the provider must report; empty: HERA_PUBLIC_URL's host",
			set: func(c *Config, v string) error { c.CaptchaHostnames = splitList(v); return nil }},
		{Name: "HERA_CAPTCHA_ACTION", Help: "Turnstile action the widget sets and siteverify must report; empty: not checked",
			set: func(c *Config, v string) error { c.CaptchaAction = v; return nil }},
		{Name: "HERA_LOCKOUT_STORE", Default: "memory", Help: "where failure counters live: memory (one instance), postgres or redis (shared by replicas)",
			set: func(c *Config, v string) error {
				switch v {
				case "memory", "postgres", "redis":
					c.LockoutStore = v
					return nil
				}
				return errors.New("want memory, postgres or redis")
			}},
		{Name: "HERA_LOCKOUT_POSTGRES_DSN", Secret: true, Help: "PostgreSQL URL for HERA_LOCKOUT_STORE=postgres, e.g. postgres://hera:…@db/hera",
			set: func(c *Config, v string) error { c.LockoutPostgresDSN = v; return nil }},
		{Name: "HERA_LOCKOUT_REDIS_URL", Secret: true, Help: "Redis URL for HERA_LOCKOUT_STORE=redis, e.g. redis://:…@redis:6379/0",
			set: func(c *Config, v string) error { c.LockoutRedisURL = v; return nil }},
		{Name: "HERA_LOCKOUT_TIMEOUT", Default: "2s", Help: "timeout of each lockout store operation",
			set: func(c *Config, v string) (err error) { c.LockoutTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_LOCKOUT_FAIL_OPEN", Default: "false", Help: "when the store is down: false refuses sign-ins (fail closed), true lets them through with a warning",
			set: func(c *Config, v string) (err error) { c.LockoutFailOpen, err = strconv.ParseBool(v); return err }},
		{Name: "HERA_LOCKOUT_REALM", Default: "ciam", Help: "namespace of the counters, so deployments can share a store",
			set: func(c *Config, v string) error { c.Lockout.Realm = v; return nil }},
		{Name: "HERA_LOCKOUT_KEY_SECRET", Secret: true, Help: "optional HMAC key for the stored identifier digests (same on every replica)",
			set: func(c *Config, v string) error { c.LockoutKeySecret = v; return nil }},
		{Name: "HERA_LOCKOUT_MAX_FAILURES", Default: "5", Help: "failures of one account (identifier) within the window that lock it",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Identifier.MaxFailures, err = parsePositiveInt(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_WINDOW", Default: "15m", Help: "the window failures of one account are counted in",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Identifier.Window, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_DURATION", Default: "5m", Help: "the first lock of an account; each further lock in the window doubles it",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Identifier.LockDuration, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_MAX_DURATION", Default: "1h", Help: "the longest lock of an account",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Identifier.MaxLockDuration, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_IP_MAX_FAILURES", Default: "50", Help: "failures from one client IP (IPv6: its /64) within the IP window that lock it",
			set: func(c *Config, v string) (err error) { c.Lockout.IP.MaxFailures, err = parsePositiveInt(v); return err }},
		{Name: "HERA_LOCKOUT_IP_WINDOW", Default: "15m", Help: "the window failures of one IP are counted in",
			set: func(c *Config, v string) (err error) { c.Lockout.IP.Window, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_LOCKOUT_IP_DURATION", Default: "15m", Help: "how long a locked IP stays locked",
			set: func(c *Config, v string) (err error) {
				c.Lockout.IP.LockDuration, err = parsePositiveDuration(v)
				c.Lockout.IP.MaxLockDuration = c.Lockout.IP.LockDuration
				return err
			}},
		{Name: "HERA_LOCKOUT_CAPTCHA_AFTER", Default: "3", Help: "with a captcha provider: account failures after which every flow asks for the captcha; -1: never",
			set: func(c *Config, v string) (err error) { c.Lockout.CaptchaAfter, err = strconv.Atoi(v); return err }},
		{Name: "HERA_SEND_LIMIT_RECIPIENT", Default: "3/15m,10/1h", Help: "codes and links Kratos may send to one address: comma-separated count/period limits",
			set: func(c *Config, v string) (err error) { c.Lockout.Sends.Recipient, err = parseLimits(v); return err }},
		{Name: "HERA_SEND_LIMIT_IP", Default: "30/1h", Help: "codes and links one client IP (IPv6: its /64) may have sent: count/period limits",
			set: func(c *Config, v string) (err error) { c.Lockout.Sends.IP, err = parseLimits(v); return err }},
		{Name: "HERA_DEVICE_COOKIE_SECRET", Secret: true, Help: "HMAC key of device cookies, at least 32 bytes, the same on every replica; empty: a random key per start",
			set: func(c *Config, v string) error {
				if len(v) < 32 {
					return errors.New("at least 32 bytes")
				}
				c.DeviceCookieSecret = v
				return nil
			}},
		{Name: "HERA_DEVICE_COOKIE_LIFETIME", Default: "2160h", Help: "how long a device cookie lets its browser past a locked account; 0 switches device cookies off",
			set: func(c *Config, v string) (err error) {
				c.DeviceCookieLifetime, err = parseDuration(v)
				if err == nil && c.DeviceCookieLifetime != 0 && c.DeviceCookieLifetime < time.Hour {
					err = errors.New("0, or at least 1h")
				}
				return err
			}},
		{Name: "HERA_DEFAULT_LANGUAGE", Default: "en", Help: "language when neither Hydra's ui_locales, the user's choice nor Accept-Language picks one: en, de, fr or es",
			set: func(c *Config, v string) error {
				switch v {
				case "en", "de", "fr", "es":
					c.DefaultLanguage = v
					return nil
				}
				return errors.New("want en, de, fr or es")
			}},
		{Name: "HERA_BRAND_NAME", Default: "Hera", Help: "product name shown in the header and page titles",
			set: func(c *Config, v string) error {
				if len(v) > 80 {
					return errors.New("at most 80 characters")
				}
				c.BrandName = v
				return nil
			}},
		{Name: "HERA_BRAND_LOGO_URL", Help: "logo image (http(s) URL or a path on Hera) shown in the header",
			set: func(c *Config, v string) (err error) { c.BrandLogoURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_BRAND_FAVICON_URL", Help: "favicon (http(s) URL or a path on Hera)",
			set: func(c *Config, v string) (err error) { c.BrandFaviconURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_BRAND_PRIMARY_COLOR", Help: "primary colour as #rrggbb (buttons, links)",
			set: func(c *Config, v string) error {
				if len(v) != 7 || v[0] != '#' || strings.Trim(strings.ToLower(v[1:]), "0123456789abcdef") != "" {
					return errors.New("want #rrggbb")
				}
				c.BrandColor = strings.ToLower(v)
				return nil
			}},
		{Name: "HERA_BRAND_PRIVACY_URL", Help: "link to your privacy policy, in every page's footer",
			set: func(c *Config, v string) (err error) { c.BrandPrivacyURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_BRAND_TERMS_URL", Help: "link to your terms of service, in every page's footer",
			set: func(c *Config, v string) (err error) { c.BrandTermsURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_BRAND_CSS_FILE", Help: "path of an extra CSS file served after Hera's own (read at start)",
			set: func(c *Config, v string) error {
				b, err := os.ReadFile(v)
				if err != nil {
					return err
				}
				if len(b) > 256<<10 {
					return errors.New("larger than 256 KiB")
				}
				if strings.Contains(strings.ToLower(string(b)), "</style") {
					return errors.New("must be plain CSS")
				}
				c.BrandCSS = string(b)
				return nil
			}},
		{Name: "HERA_ALLOWED_RETURN_URLS", Help: "comma-separated URLs (scheme, host, path prefix at a segment boundary) browsers may return to besides Hera",
			set: func(c *Config, v string) error {
				c.AllowedReturnURLs = splitList(v)
				for _, u := range c.AllowedReturnURLs {
					if _, err := parseBaseURL(u); err != nil {
						return fmt.Errorf("%s: %w", u, err)
					}
				}
				return nil
			}},
		{Name: "HERA_TRUSTED_PROXIES", Help: "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed; empty trusts none",
			set: func(c *Config, v string) (err error) { c.TrustedProxies, err = parsePrefixes(v); return err }},
		{Name: "HERA_METRICS_LISTEN", Help: "host:port of a separate listener serving Prometheus /metrics; empty: no metrics",
			set: func(c *Config, v string) error {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("want host:port: %w", err)
				}
				c.MetricsListen = v
				return nil
			}},
		{Name: "HERA_LOG_LEVEL", Default: "info", Help: "debug, info, warn or error",
			set: func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
		{Name: "HERA_LOG_FLUSH_INTERVAL", Default: "50ms", Help: "how long log lines may wait to be written together (at most 1s); 0 writes each line at once",
			set: func(c *Config, v string) (err error) {
				if c.LogFlushInterval, err = parseDuration(v); err == nil && c.LogFlushInterval > time.Second {
					err = errors.New("at most 1s: longer would hold the log back")
				}
				return err
			}},
		{Name: "HERA_READ_HEADER_TIMEOUT", Default: "5s", Help: "time a client has to send request headers",
			set: func(c *Config, v string) (err error) { c.ReadHeaderTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_READ_TIMEOUT", Default: "30s", Help: "time a client has to send a whole request",
			set: func(c *Config, v string) (err error) { c.ReadTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_WRITE_TIMEOUT", Default: "60s", Help: "time Hera has to write a response",
			set: func(c *Config, v string) (err error) { c.WriteTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_IDLE_TIMEOUT", Default: "120s", Help: "how long an idle keep-alive connection stays open",
			set: func(c *Config, v string) (err error) { c.IdleTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_MAX_BODY_BYTES", Default: "65536", Help: "largest request body Hera accepts (forms and proxied requests); larger ones get 413",
			set: func(c *Config, v string) error {
				n, err := parsePositiveInt(v)
				c.MaxBodyBytes = int64(n)
				return err
			}},
		{Name: "HERA_MAX_HEADER_BYTES", Default: "65536", Help: "largest request header block Hera reads",
			set: func(c *Config, v string) (err error) { c.MaxHeaderBytes, err = parsePositiveInt(v); return err }},
		{Name: "HERA_SHUTDOWN_TIMEOUT", Default: "15s", Help: "grace period for in-flight requests on SIGINT/SIGTERM",
			set: func(c *Config, v string) (err error) { c.ShutdownTimeout, err = parsePositiveDuration(v); return err }},
	}
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
			if v.Secret {
				shown = "(hidden)"
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

// crossCheck validates settings that depend on each other.
func (c *Config) crossCheck() []error {
	var errs []error
	if c.CaptchaProvider != "" {
		if c.CaptchaSiteKey == "" {
			errs = append(errs, errors.New("HERA_CAPTCHA_SITE_KEY: required with HERA_CAPTCHA_PROVIDER"))
		}
		if c.CaptchaSecret == "" {
			errs = append(errs, errors.New("HERA_CAPTCHA_SECRET: required with HERA_CAPTCHA_PROVIDER"))
		}
		if len(c.CaptchaHostnames) == 0 {
			c.CaptchaHostnames = []string{c.PublicURL.Hostname()}
		}
	}
	switch {
	case c.LockoutStore == "postgres" && c.LockoutPostgresDSN == "":
		errs = append(errs, errors.New("HERA_LOCKOUT_POSTGRES_DSN: required with HERA_LOCKOUT_STORE=postgres"))
	case c.LockoutStore == "redis" && c.LockoutRedisURL == "":
		errs = append(errs, errors.New("HERA_LOCKOUT_REDIS_URL: required with HERA_LOCKOUT_STORE=redis"))
	}
	// Second factors and device cookies follow the account rule.
	c.Lockout.Identity = c.Lockout.Identifier
	c.Lockout.Device = c.Lockout.Identifier
	// A reservation outlives any submission that could still settle it:
	// the wait for a Kratos slot, the captcha, the flow read and the submit.
	c.Lockout.Hold = max(time.Minute, c.KratosSubmissionWait+2*c.KratosTimeout+c.CaptchaTimeout+30*time.Second)
	c.Lockout.FailOpen = c.LockoutFailOpen
	if c.LockoutKeySecret != "" {
		c.Lockout.KeySecret = []byte(c.LockoutKeySecret)
	}
	if err := c.Lockout.WithDefaults().Validate(); err != nil {
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

// defaultClaims maps the standard OpenID Connect scopes to the traits of
// Hera's default identity schema.
const defaultClaims = `{"email":{"email":"email","email_verified":"verified:email"},"profile":{"name":"join:name.first name.last","given_name":"name.first","family_name":"name.last"}}`

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
	fmt.Fprintln(w, "Usage: hera [--help]")
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
