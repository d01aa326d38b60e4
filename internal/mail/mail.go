// Package mail sends the account's alert mails: it renders each alert in
// the account's language as plain text and HTML (Templates), sends mails
// over SMTP with TLS (Sender), and drains the shared outbox in the
// background (Worker), retrying failures with a growing delay.
//
// The request that causes a mail only enqueues it (outbox.Queue); nothing
// here runs on a request's path. Logs and queue records name a mail by its
// ID and kind, never by its recipients, subject or body.
package mail

import (
	"net/url"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/config"
)

// Kind is what an alert mail tells; it is the mail's outbox.Message.Kind
// and the kind label of its metrics.
type Kind string

// The alert mails (docs/security-centre.md, "Alert mails").
const (
	NewSignIn          Kind = "new_sign_in"
	PasswordChanged    Kind = "password_changed"
	TOTPChanged        Kind = "totp_changed"
	PasskeyChanged     Kind = "passkey_changed"
	BackupCodesChanged Kind = "backup_codes_changed"
	AddressChanged     Kind = "address_changed"
	Locked             Kind = "locked"
	AccountDeleted     Kind = "account_deleted"
)

// Kinds lists every alert mail.
func Kinds() []Kind {
	return []Kind{NewSignIn, PasswordChanged, TOTPChanged, PasskeyChanged, BackupCodesChanged, AddressChanged, Locked, AccountDeleted}
}

// Enabled reports whether Hera is configured to send mail (HERA_SMTP_URL).
// Without it no Sender or Worker is built and no mail is enqueued.
func Enabled(cfg *config.Config) bool { return cfg.Mail.SMTPURL != nil }

// SMTPConfigFrom maps Hera's configuration onto the Sender's.
func SMTPConfigFrom(cfg *config.Config) SMTPConfig {
	tls := StartTLS
	switch cfg.Mail.SMTPTLS {
	case config.SMTPTLS:
		tls = ImplicitTLS
	case config.SMTPNoTLS:
		tls = NoTLS
	}
	return SMTPConfig{
		Host:     cfg.Mail.SMTPHost,
		Port:     cfg.Mail.SMTPPort,
		TLS:      tls,
		User:     cfg.Mail.SMTPUser,
		Password: cfg.Mail.SMTPPassword,
		From:     cfg.Mail.From,
		Timeout:  cfg.Mail.Timeout,
	}
}

// WorkerConfigFrom maps Hera's configuration onto the Worker's; the rest
// keeps its defaults.
func WorkerConfigFrom(cfg *config.Config) WorkerConfig {
	return WorkerConfig{MaxAttempts: cfg.Mail.MaxAttempts, Timeout: cfg.Mail.Timeout}
}

// TemplateConfigFrom maps Hera's configuration onto the Templates'.
func TemplateConfigFrom(cfg *config.Config) TemplateConfig {
	return TemplateConfig{
		Brand:           cfg.Brand.Name,
		PublicURL:       cfg.HTTP.PublicURL,
		Color:           cfg.Brand.Color,
		LocalesDir:      cfg.Brand.LocalesDir,
		DefaultLanguage: cfg.Brand.DefaultLanguage,
	}
}

// Alert is what one alert mail says.
type Alert struct {
	Kind Kind
	// Lang is the account's language (the page language of the request
	// that caused the alert); "" or one Hera lacks: HERA_DEFAULT_LANGUAGE.
	Lang string
	// At is when it happened (written in UTC, the zone named).
	At time.Time
	// Browser is the browser and system in words ("Firefox on
	// Windows"); "" leaves the line out.
	Browser string
	// IP is the network address it came from; "" leaves the line out.
	IP string
	// Detail: TOTPChanged "added" or "removed"; PasskeyChanged "added",
	// "removed" or "changed"; BackupCodesChanged "removed" when they were
	// deleted, else new ones were made.
	Detail string
	// Method: PasskeyChanged "passkey" or "webauthn" (a security key).
	Method string
	// Until: Locked, the end of the lock.
	Until time.Time
}

// links are the pages a mail points to.
type links struct {
	recovery, activity string
}

// newLinks: under HERA_PUBLIC_URL, its path included (config.Load has
// dropped its trailing slash, query and fragment).
func newLinks(public *url.URL) links {
	base := strings.TrimSuffix(public.String(), "/")
	return links{recovery: base + "/recovery", activity: base + "/activity"}
}
