package doctor

import (
	"context"
	"fmt"
)

// MailOptions is what the doctor checks of alert mails.
type MailOptions struct {
	// SMTP is the configured SMTP server; nil: none (HERA_SMTP_URL is not
	// set), so no alert mails are sent.
	SMTP SMTPServer
	// DeviceCookies is how device cookies are keyed: DeviceCookieSecret
	// (HERA_DEVICE_COOKIE_SECRET), DeviceCookieRandom (a key per start) or
	// DeviceCookiesOff (HERA_DEVICE_COOKIE_LIFETIME=0).
	DeviceCookies string
}

// How device cookies are keyed (MailOptions.DeviceCookies).
const (
	DeviceCookieSecret = "secret"
	DeviceCookieRandom = "random"
	DeviceCookiesOff   = "off"
)

// SMTPServer is an SMTP server alert mails can be sent through
// (*mail.Sender).
type SMTPServer interface {
	// Check connects, greets the server, starts TLS and signs in as
	// configured, and quits.
	Check(ctx context.Context) error
	// String names the server for the report (no secrets).
	String() string
}

// CheckMail reports whether alert mails can be sent: an SMTP server is
// set and answers as configured; and whether "new sign-in" mails can be,
// which need device cookies that survive restarts and replicas.
func CheckMail(ctx context.Context, o *MailOptions) []Result {
	if o.SMTP == nil {
		return []Result{{
			Check: "mail.smtp", Status: Warn,
			Message: "No SMTP server (HERA_SMTP_URL): no alert mails are sent; account events are still shown on /activity",
			Setting: "HERA_SMTP_URL and HERA_SMTP_FROM (Hera's environment)",
			Fix: "HERA_SMTP_URL=smtp://mail.example.com:587\n" +
				"HERA_SMTP_FROM=Example <no-reply@example.com>\n" +
				"HERA_SMTP_USER=hera\n" +
				"HERA_SMTP_PASSWORD_FILE=/run/secrets/smtp-password",
		}}
	}
	var out []Result
	if err := o.SMTP.Check(ctx); err != nil {
		out = append(out, Result{
			Check: "mail.smtp", Status: Fail,
			Message: fmt.Sprintf("The SMTP server %s cannot take alert mails: %v; they wait in the queue and are dropped after HERA_MAIL_MAX_ATTEMPTS attempts", o.SMTP, err),
			Setting: "HERA_SMTP_URL, HERA_SMTP_USER and HERA_SMTP_PASSWORD (Hera's environment)",
			Fix: "# the host and port, reachable from Hera's host:\n" +
				"HERA_SMTP_URL=smtp://mail.example.com:587   # the server must offer STARTTLS, with a certificate for its host\n" +
				"HERA_SMTP_URL=smtps://mail.example.com:465  # or TLS from the first byte\n" +
				"# and the account Hera signs in with, if the server wants one:\n" +
				"HERA_SMTP_USER=hera\n" +
				"HERA_SMTP_PASSWORD_FILE=/run/secrets/smtp-password",
		})
	} else {
		out = append(out, Result{Check: "mail.smtp", Status: Pass,
			Message: fmt.Sprintf("The SMTP server %s answers: alert mails can be sent", o.SMTP)})
	}
	switch o.DeviceCookies {
	case DeviceCookieSecret:
		out = append(out, Result{Check: "mail.new_sign_in", Status: Pass,
			Message: `"New sign-in" mails: device cookies are keyed by HERA_DEVICE_COOKIE_SECRET, so Hera knows the browsers an account used`})
	case DeviceCookiesOff:
		out = append(out, Result{Check: "mail.new_sign_in", Status: Warn,
			Message: `No "new sign-in" mails: device cookies are off (HERA_DEVICE_COOKIE_LIFETIME=0), so Hera cannot tell a new browser`,
			Setting: "HERA_DEVICE_COOKIE_LIFETIME and HERA_DEVICE_COOKIE_SECRET (Hera's environment)",
			Fix:     "HERA_DEVICE_COOKIE_LIFETIME=2160h\nHERA_DEVICE_COOKIE_SECRET_FILE=/run/secrets/hera-device-cookie   # openssl rand -hex 32, the same on every replica"})
	default:
		out = append(out, Result{Check: "mail.new_sign_in", Status: Warn,
			Message: `No "new sign-in" mails: HERA_DEVICE_COOKIE_SECRET is not set, so device cookies do not survive a restart or reach other replicas, and Hera cannot tell a new browser from one it has seen`,
			Setting: "HERA_DEVICE_COOKIE_SECRET (Hera's environment)",
			Fix:     "HERA_DEVICE_COOKIE_SECRET_FILE=/run/secrets/hera-device-cookie   # openssl rand -hex 32, the same on every replica"})
	}
	return out
}
