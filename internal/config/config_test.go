package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/outbox"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var minimal = map[string]string{
	"KRATOS_PUBLIC_URL": "http://127.0.0.1:4433",
	"KRATOS_ADMIN_URL":  "http://127.0.0.1:4434/",
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:4455" || c.HTTP.PublicURL.String() != "http://localhost:4455" {
		t.Errorf("listen %q public %q", c.HTTP.Listen, c.HTTP.PublicURL)
	}
	if c.Kratos.AdminURL.String() != "http://127.0.0.1:4434" {
		t.Errorf("trailing slash kept: %q", c.Kratos.AdminURL)
	}
	if c.Hydra.AdminURL != nil {
		t.Error("Hydra configured by default")
	}
	if c.Kratos.Timeout != 10*time.Second || c.HTTP.ReadHeaderTimeout != 5*time.Second {
		t.Errorf("timeouts %v %v", c.Kratos.Timeout, c.HTTP.ReadHeaderTimeout)
	}
	if c.Log.FlushInterval != 50*time.Millisecond {
		t.Errorf("log flush interval %v", c.Log.FlushInterval)
	}
}

func TestLogFlushInterval(t *testing.T) {
	for v, want := range map[string]time.Duration{"0": 0, "0s": 0, "10ms": 10 * time.Millisecond, "1s": time.Second} {
		m := map[string]string{"HERA_LOG_FLUSH_INTERVAL": v}
		for k, x := range minimal {
			m[k] = x
		}
		c, err := Load(env(m))
		if err != nil || c.Log.FlushInterval != want {
			t.Errorf("%q: %v, %v; want %v", v, c, err, want)
		}
	}
	for _, v := range []string{"-1ms", "2s", "soon", "50"} {
		m := map[string]string{"HERA_LOG_FLUSH_INTERVAL": v}
		for k, x := range minimal {
			m[k] = x
		}
		if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "HERA_LOG_FLUSH_INTERVAL") {
			t.Errorf("%q: %v", v, err)
		}
	}
}

func TestFileVariant(t *testing.T) {
	f := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(f, []byte("http://hydra:4445\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"HYDRA_ADMIN_URL_FILE": f}
	for k, v := range minimal {
		m[k] = v
	}
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hydra.AdminURL.String() != "http://hydra:4445" {
		t.Errorf("got %v", c.Hydra.AdminURL)
	}

	m["HYDRA_ADMIN_URL"] = "http://other"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("both NAME and NAME_FILE: %v", err)
	}
	delete(m, "HYDRA_ADMIN_URL")
	m["HYDRA_ADMIN_URL_FILE"] = f + ".missing"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "HYDRA_ADMIN_URL_FILE") {
		t.Errorf("missing file: %v", err)
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, err := Load(env(map[string]string{
		"HERA_PUBLIC_URL":  "localhost:4455",
		"KRATOS_ADMIN_URL": "http://u:p@kratos",
		"HYDRA_TIMEOUT":    "soon",
		"HERA_LOG_LEVEL":   "loud",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"HERA_PUBLIC_URL", "KRATOS_PUBLIC_URL: required", "KRATOS_ADMIN_URL", "HYDRA_TIMEOUT", "HERA_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestDocumented fails when a setting is missing from docs/configuration.md.
func TestDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars() {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("docs/configuration.md does not document %s", v.Name)
		}
	}
}

func withMinimal(m map[string]string) map[string]string {
	for k, v := range minimal {
		m[k] = v
	}
	return m
}

func TestGuardDefaults(t *testing.T) {
	c, err := Load(env(withMinimal(map[string]string{})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kratos.SessionCookie != "ory_kratos_session" || c.Kratos.MaxSubmissions != 4 || c.Kratos.SubmissionWait != 5*time.Second {
		t.Errorf("kratos submission settings: %q %d %v", c.Kratos.SessionCookie, c.Kratos.MaxSubmissions, c.Kratos.SubmissionWait)
	}
	if c.Lockout.DeviceCookieLifetime != 90*24*time.Hour || c.Lockout.DeviceCookieSecret != "" {
		t.Errorf("device cookies: %v", c.Lockout.DeviceCookieLifetime)
	}
	s := c.Lockout.Policy.Sends
	if len(s.Recipient) != 2 || s.Recipient[0].Max != 3 || s.Recipient[0].Per != 15*time.Minute ||
		s.Recipient[1].Max != 10 || s.Recipient[1].Per != time.Hour || len(s.IP) != 1 || s.IP[0].Max != 30 {
		t.Errorf("send limits: %+v", s)
	}
	if c.Lockout.Policy.Device != c.Lockout.Policy.Identifier || c.Lockout.Policy.Identity != c.Lockout.Policy.Identifier {
		t.Error("device and second-factor rules do not follow the account rule")
	}
	// A reservation outlives the longest submission that could settle it.
	if longest := c.Kratos.SubmissionWait + 2*c.Kratos.Timeout + c.Captcha.Timeout; c.Lockout.Policy.Hold <= longest {
		t.Errorf("hold %v, a submission may take %v", c.Lockout.Policy.Hold, longest)
	}
}

func TestGuardSettingsRefused(t *testing.T) {
	for name, bad := range map[string][]string{
		"HERA_SEND_LIMIT_RECIPIENT":   {"3", "3/", "x/15m", "0/15m", "3/15", "3/0s", ",", "3/15m,x"},
		"HERA_SEND_LIMIT_IP":          {"-1/1h", "30/1ms"},
		"HERA_KRATOS_SESSION_COOKIE":  {"bad name", "a;b", "ü"},
		"HERA_KRATOS_MAX_SUBMISSIONS": {"0", "-1", "many"},
		"HERA_DEVICE_COOKIE_SECRET":   {"short"},
		"HERA_DEVICE_COOKIE_LIFETIME": {"10m", "-1h", "soon"},
	} {
		for _, v := range bad {
			_, err := Load(env(withMinimal(map[string]string{name: v})))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: %v", name, v, err)
			}
			if err != nil && name == "HERA_DEVICE_COOKIE_SECRET" && strings.Contains(err.Error(), v) {
				t.Errorf("the error shows the secret: %v", err)
			}
		}
	}
	c, err := Load(env(withMinimal(map[string]string{"HERA_SEND_LIMIT_RECIPIENT": " 1/1m , 2/2h ", "HERA_DEVICE_COOKIE_LIFETIME": "0"})))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Lockout.Policy.Sends.Recipient; len(r) != 2 || r[0].Max != 1 || r[1].Per != 2*time.Hour || c.Lockout.DeviceCookieLifetime != 0 {
		t.Errorf("got %+v %v", r, c.Lockout.DeviceCookieLifetime)
	}
}

// TestLocalesDir: HERA_LOCALES_DIR must be a directory, and a default
// language Hera does not ship must have its file there (i18n checks the
// files themselves when the server starts).
func TestLocalesDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pl.json"), []byte(`{"hera.language.name": "Polski"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(withMinimal(map[string]string{"HERA_LOCALES_DIR": dir, "HERA_DEFAULT_LANGUAGE": "pl"})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Brand.LocalesDir != dir || c.Brand.DefaultLanguage != "pl" {
		t.Errorf("Brand = %+v", c.Brand)
	}
	c, err = Load(env(withMinimal(map[string]string{"HERA_LOCALES_DIR": dir})))
	if err != nil || c.Brand.DefaultLanguage != "en" {
		t.Errorf("default language with a directory: %v, %v", c, err)
	}
	if c, err := Load(env(withMinimal(map[string]string{}))); err != nil || c.Brand.LocalesDir != "" {
		t.Errorf("no directory by default: %v, %v", c, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HERA_LOCALES_DIR": filepath.Join(dir, "missing")}, "HERA_LOCALES_DIR"},
		{map[string]string{"HERA_LOCALES_DIR": filepath.Join(dir, "pl.json")}, "not a directory"},
		{map[string]string{"HERA_DEFAULT_LANGUAGE": "pl"}, "set HERA_LOCALES_DIR to a directory with pl.json"},
		{map[string]string{"HERA_DEFAULT_LANGUAGE": "cs", "HERA_LOCALES_DIR": dir}, "HERA_LOCALES_DIR has no cs.json"},
		{map[string]string{"HERA_DEFAULT_LANGUAGE": "pl-PL", "HERA_LOCALES_DIR": dir}, "HERA_DEFAULT_LANGUAGE"},
		{map[string]string{"HERA_DEFAULT_LANGUAGE": "../x", "HERA_LOCALES_DIR": dir}, "HERA_DEFAULT_LANGUAGE"},
	} {
		if _, err := Load(env(withMinimal(tc.env))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.env, err, tc.want)
		}
	}
}

// TestLockoutHold: HERA_LOCKOUT_HOLD is the reservation hold, 1s to 1h, and
// must exceed the longest submission: an attempt still in flight after it
// counts as a failure.
func TestLockoutHold(t *testing.T) {
	c, err := Load(env(withMinimal(map[string]string{})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Lockout.Policy.Hold != time.Minute {
		t.Errorf("default hold %v, want 1m", c.Lockout.Policy.Hold)
	}
	for _, v := range []string{"500ms", "2h", "0", "soon", "10"} {
		if _, err := Load(env(withMinimal(map[string]string{"HERA_LOCKOUT_HOLD": v}))); err == nil || !strings.Contains(err.Error(), "HERA_LOCKOUT_HOLD") {
			t.Errorf("HERA_LOCKOUT_HOLD=%q: %v", v, err)
		}
	}
	// Longer Kratos calls need a longer hold: unset, it follows them; set,
	// it must be long enough.
	c, err = Load(env(withMinimal(map[string]string{"KRATOS_TIMEOUT": "30s"})))
	if err != nil || c.Lockout.Policy.Hold != 5*time.Second+2*30*time.Second+5*time.Second+30*time.Second {
		t.Errorf("KRATOS_TIMEOUT=30s, no hold: %v, %v; want the longest submission + 30s", c, err)
	}
	_, err = Load(env(withMinimal(map[string]string{"KRATOS_TIMEOUT": "30s", "HERA_LOCKOUT_HOLD": "1m"})))
	if err == nil || !strings.Contains(err.Error(), "HERA_LOCKOUT_HOLD") {
		t.Errorf("KRATOS_TIMEOUT=30s, HERA_LOCKOUT_HOLD=1m: %v, want the hold refused", err)
	}
	c, err = Load(env(withMinimal(map[string]string{"KRATOS_TIMEOUT": "30s", "HERA_LOCKOUT_HOLD": "2m"})))
	if err != nil || c.Lockout.Policy.Hold != 2*time.Minute {
		t.Errorf("KRATOS_TIMEOUT=30s, HERA_LOCKOUT_HOLD=2m: %v, %v", c, err)
	}
}

// TestActivity: the security centre's retention, bound per account and
// mail queue bound.
func TestActivity(t *testing.T) {
	c, err := Load(env(withMinimal(map[string]string{})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Activity.Policy != activity.DefaultPolicy() || c.Activity.Outbox != outbox.DefaultConfig() {
		t.Errorf("defaults: %+v", c.Activity)
	}
	c, err = Load(env(withMinimal(map[string]string{"HERA_ACTIVITY_RETENTION": "720h", "HERA_ACTIVITY_MAX_EVENTS": "50", "HERA_MAIL_QUEUE_MAX": "7"})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Activity.Policy.Retention != 30*24*time.Hour || c.Activity.Policy.MaxPerIdentity != 50 || c.Activity.Outbox.MaxQueued != 7 {
		t.Errorf("set: %+v", c.Activity)
	}
	for name, bad := range map[string][]string{
		"HERA_ACTIVITY_RETENTION":  {"90d", "30m", "0s", "-1h", "2160"},
		"HERA_ACTIVITY_MAX_EVENTS": {"0", "-1", "100001", "many"},
		"HERA_MAIL_QUEUE_MAX":      {"0", "-5", "1e4"},
	} {
		for _, v := range bad {
			if _, err := Load(env(withMinimal(map[string]string{name: v}))); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: %v", name, v, err)
			}
		}
	}
}

// TestBrandAssetsDir: HERA_BRAND_ASSETS_DIR must be a directory (the server
// reads and checks its files), and "/brand/<file>" values need it.
func TestBrandAssetsDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "logo.svg")
	if err := os.WriteFile(file, []byte("<svg/>"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(withMinimal(map[string]string{"HERA_BRAND_ASSETS_DIR": dir, "HERA_BRAND_LOGO_URL": "/brand/logo.svg",
		"HERA_BRAND_FAVICON_URL": "/brand/logo.svg", "HERA_SOCIAL_LOGOS": "acme=/brand/logo.svg"})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Brand.AssetsDir != dir || c.Brand.LogoURL != "/brand/logo.svg" || c.Brand.SocialLogos["acme"] != "/brand/logo.svg" {
		t.Errorf("Brand = %+v", c.Brand)
	}
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"HERA_BRAND_ASSETS_DIR": filepath.Join(dir, "missing")}, []string{"HERA_BRAND_ASSETS_DIR"}},
		{map[string]string{"HERA_BRAND_ASSETS_DIR": file}, []string{"HERA_BRAND_ASSETS_DIR", "not a directory"}},
		{map[string]string{"HERA_BRAND_LOGO_URL": "/brand/logo.svg", "HERA_BRAND_FAVICON_URL": "/brand/icon.png", "HERA_SOCIAL_LOGOS": "acme=/brand/acme.svg"}, []string{
			`HERA_BRAND_LOGO_URL="/brand/logo.svg": /brand/ names a file of HERA_BRAND_ASSETS_DIR, which is not set`,
			`HERA_BRAND_FAVICON_URL="/brand/icon.png"`, `HERA_SOCIAL_LOGOS acme="/brand/acme.svg"`}},
	} {
		_, err := Load(env(withMinimal(tc.env)))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %v, want an error with %q", tc.env, err, w)
			}
		}
	}
	// Other paths on Hera's host stay what they were.
	if c, err := Load(env(withMinimal(map[string]string{"HERA_BRAND_LOGO_URL": "/brandlogo.svg"}))); err != nil || c.Brand.LogoURL != "/brandlogo.svg" {
		t.Errorf("a path outside /brand/: %v %v", c, err)
	}
}
