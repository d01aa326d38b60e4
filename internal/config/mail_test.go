package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMailDefaults(t *testing.T) {
	c, err := Load(env(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mail.SMTPURL != nil || c.Mail.Timeout != 10*time.Second || c.Mail.MaxAttempts != 8 {
		t.Errorf("%+v", c.Mail)
	}
}

// TestSMTPURL: smtp:// is STARTTLS on 587, smtps:// TLS on 465; plain only
// when asked for and only to this host; credentials never in the URL.
func TestSMTPURL(t *testing.T) {
	for _, c := range []struct {
		url, host string
		port      int
		tls       string
	}{
		{"smtp://mail.example.com", "mail.example.com", 587, SMTPStartTLS},
		{"smtp://mail.example.com:25/", "mail.example.com", 25, SMTPStartTLS},
		{"smtps://mail.example.com", "mail.example.com", 465, SMTPTLS},
		{"smtps://[2001:db8::1]:2465", "2001:db8::1", 2465, SMTPTLS},
		{"smtp://127.0.0.1:1025?tls=none", "127.0.0.1", 1025, SMTPNoTLS},
		{"smtp://localhost:1025?tls=none", "localhost", 1025, SMTPNoTLS},
		{"smtp://[::1]:1025?tls=none", "::1", 1025, SMTPNoTLS},
	} {
		cfg, err := Load(env(withMinimal(map[string]string{"HERA_SMTP_URL": c.url, "HERA_SMTP_FROM": "Example <no-reply@example.com>"})))
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		m := cfg.Mail
		if m.SMTPHost != c.host || m.SMTPPort != c.port || m.SMTPTLS != c.tls || m.From != `"Example" <no-reply@example.com>` {
			t.Errorf("%s: %+v", c.url, m)
		}
	}
	for url, want := range map[string]string{
		"smtp://mail.example.com?tls=none":   "only to a server on this host",
		"smtp://127.0.0.2.example?tls=none":  "only to a server on this host",
		"smtps://127.0.0.1?tls=none":         "contradicts smtps://",
		"smtp://u:pa55word@mail.example.com": "HERA_SMTP_USER",
		"http://mail.example.com":            "want smtp://",
		"mail.example.com:587":               "want smtp://",
		"smtp://mail.example.com:99999":      "port",
		"smtp://mail.example.com?tls=yes":    "tls=",
		"smtp://mail.example.com?auth=plain": "unknown parameter",
		"smtp://mail.example.com/x":          "path",
		"smtp://":                            "no host",
	} {
		_, err := Load(env(withMinimal(map[string]string{"HERA_SMTP_URL": url, "HERA_SMTP_FROM": "a@example.com"})))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", url, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pa55word") {
			t.Errorf("the password shows: %v", err)
		}
	}
}

func TestMailCrossChecks(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HERA_SMTP_URL": "smtp://mail.example.com"}, "HERA_SMTP_FROM: required with HERA_SMTP_URL"},
		{map[string]string{"HERA_SMTP_URL": "smtp://mail.example.com", "HERA_SMTP_FROM": "a@example.com", "HERA_SMTP_USER": "hera"}, "set both, or neither"},
		{map[string]string{"HERA_SMTP_URL": "smtp://mail.example.com", "HERA_SMTP_FROM": "not an address"}, "HERA_SMTP_FROM"},
		{map[string]string{"HERA_MAIL_MAX_ATTEMPTS": "0"}, "HERA_MAIL_MAX_ATTEMPTS"},
		{map[string]string{"HERA_MAIL_MAX_ATTEMPTS": "101"}, "at most 100"},
		{map[string]string{"HERA_SMTP_TIMEOUT": "10"}, "with a unit"},
	} {
		_, err := Load(env(withMinimal(c.env)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.env, err, c.want)
		}
	}
}

// TestSMTPPasswordFile: the password, like every secret, may come from a
// file.
func TestSMTPPasswordFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(withMinimal(map[string]string{"HERA_SMTP_URL": "smtps://mail.example.com", "HERA_SMTP_FROM": "a@example.com",
		"HERA_SMTP_USER": "hera", "HERA_SMTP_PASSWORD_FILE": f})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mail.SMTPUser != "hera" || c.Mail.SMTPPassword != "s3cret" {
		t.Errorf("%+v", c.Mail)
	}
}
