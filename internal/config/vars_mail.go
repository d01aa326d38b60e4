package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// SMTP TLS modes (Mail.SMTPTLS).
const (
	SMTPStartTLS = "starttls" // smtp://: STARTTLS, required
	SMTPTLS      = "tls"      // smtps://: TLS from the first byte
	SMTPNoTLS    = "none"     // smtp://…?tls=none: plain, loopback only
)

// Mail: the SMTP server alert mails go through, and their retries.
func mailVars() []Var {
	return []Var{
		{Name: "HERA_SMTP_URL", Help: "SMTP server for alert mails: smtp://host:587 (STARTTLS, required) or smtps://host:465 (TLS); smtp://127.0.0.1:port?tls=none for a server on this host without TLS; empty: no alert mails",
			set: func(c *Config, v string) error { return c.Mail.parseSMTPURL(v) },
			// A password put in the URL (refused) is not echoed.
			redact: func(v string) string {
				if u, err := url.Parse(v); err == nil {
					return u.Redacted()
				}
				return "(not a URL; hidden)"
			}},
		{Name: "HERA_SMTP_USER", Help: "user name to sign in to the SMTP server; empty: no SMTP AUTH",
			set: func(c *Config, v string) error { c.Mail.SMTPUser = v; return nil }},
		{Name: "HERA_SMTP_PASSWORD", Secret: true, Help: "password for HERA_SMTP_USER",
			set: func(c *Config, v string) error { c.Mail.SMTPPassword = v; return nil }},
		{Name: "HERA_SMTP_FROM", Help: "sender of alert mails, e.g. \"Example <no-reply@example.com>\"; required with HERA_SMTP_URL",
			set: func(c *Config, v string) error {
				a, err := mail.ParseAddress(v)
				if err != nil {
					return fmt.Errorf("want an address such as no-reply@example.com or \"Example <no-reply@example.com>\": %w", err)
				}
				c.Mail.From = a.String()
				return nil
			}},
		{Name: "HERA_SMTP_TIMEOUT", Default: "10s", Help: "upper bound on connecting to the SMTP server and on each of its answers",
			set: func(c *Config, v string) (err error) { c.Mail.Timeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_MAIL_MAX_ATTEMPTS", Default: "8", Help: "attempts to send one alert mail before it is dropped (retried after 30s, 2m, 10m, then hourly)",
			set: func(c *Config, v string) (err error) {
				if c.Mail.MaxAttempts, err = parsePositiveInt(v); err == nil && c.Mail.MaxAttempts > 100 {
					err = errors.New("at most 100")
				}
				return err
			}},
	}
}

// parseSMTPURL reads HERA_SMTP_URL into the host, port and TLS mode.
func (m *Mail) parseSMTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("not a URL: want smtp://host:587 or smtps://host:465")
	}
	tlsMode, port := SMTPStartTLS, 587
	switch u.Scheme {
	case "smtp":
	case "smtps":
		tlsMode, port = SMTPTLS, 465
	default:
		return errors.New("want smtp://host:587 (STARTTLS) or smtps://host:465 (TLS)")
	}
	if u.User != nil {
		return errors.New("the URL must not carry a user or password: set HERA_SMTP_USER and HERA_SMTP_PASSWORD (or HERA_SMTP_PASSWORD_FILE)")
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return errors.New("URL has no host")
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return errors.New("URL must not carry a path or fragment")
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("port %q: want 1 to 65535", p)
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return errors.New("bad query: the only parameter is tls=none")
	}
	for k, vs := range q {
		switch {
		case k != "tls" || len(vs) != 1:
			return fmt.Errorf("unknown parameter %q: the only parameter is tls=none", k)
		case vs[0] == "none" && tlsMode == SMTPTLS:
			return errors.New("tls=none contradicts smtps://: use smtp://")
		case vs[0] == "none":
			tlsMode = SMTPNoTLS
		default:
			return fmt.Errorf("tls=%q: the only value is none (smtp:// requires STARTTLS, smtps:// is TLS)", vs[0])
		}
	}
	if tlsMode == SMTPNoTLS && !isLoopback(u.Hostname()) {
		// Alert mails, and the password of HERA_SMTP_USER, would cross
		// the network in clear text.
		return fmt.Errorf("tls=none is allowed only to a server on this host (localhost, 127.0.0.1, ::1), not %q", u.Hostname())
	}
	m.SMTPURL = &url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(u.Hostname(), strconv.Itoa(port)), RawQuery: u.RawQuery}
	m.SMTPHost, m.SMTPPort, m.SMTPTLS = u.Hostname(), port, tlsMode
	return nil
}

// isLoopback: "localhost" or a loopback IP, as written (no lookup: a name
// that resolves to loopback today may not tomorrow).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
