package doctor

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// smtpServer is an SMTPServer that answers as told (the real one,
// *mail.Sender, is checked against a real SMTP server in internal/app).
type smtpServer struct{ err error }

func (s smtpServer) Check(context.Context) error { return s.err }
func (s smtpServer) String() string              { return "smtp://mail.example.com:587 (STARTTLS)" }

// TestCheckMail: without SMTP a warning (no alert mails); a server that
// answers passes, one that does not fails with its setting and fix; and
// "new sign-in" mails warn without a device-cookie secret.
func TestCheckMail(t *testing.T) {
	for _, c := range []struct {
		name    string
		o       MailOptions
		smtp    Status
		signIn  Status // -1: no such check
		message string
	}{
		{"no SMTP", MailOptions{DeviceCookies: DeviceCookieSecret}, Warn, -1, "no alert mails"},
		{"answers", MailOptions{SMTP: smtpServer{}, DeviceCookies: DeviceCookieSecret}, Pass, Pass, "alert mails can be sent"},
		{"down", MailOptions{SMTP: smtpServer{errors.New("connect: connection refused")}, DeviceCookies: DeviceCookieSecret}, Fail, Pass, "connection refused"},
		{"random key", MailOptions{SMTP: smtpServer{}, DeviceCookies: DeviceCookieRandom}, Pass, Warn, "alert mails can be sent"},
		{"no cookies", MailOptions{SMTP: smtpServer{}, DeviceCookies: DeviceCookiesOff}, Pass, Warn, "alert mails can be sent"},
	} {
		rs := CheckMail(context.Background(), &c.o)
		if rs[0].Check != "mail.smtp" || rs[0].Status != c.smtp || !strings.Contains(rs[0].Message, c.message) {
			t.Errorf("%s: %+v", c.name, rs[0])
		}
		if rs[0].Status != Pass && (rs[0].Setting == "" || !strings.Contains(rs[0].Fix, "HERA_SMTP_URL=")) {
			t.Errorf("%s: no setting or fix: %+v", c.name, rs[0])
		}
		switch {
		case c.signIn == -1 && len(rs) != 1:
			t.Errorf("%s: %d results", c.name, len(rs))
		case c.signIn != -1 && (len(rs) != 2 || rs[1].Check != "mail.new_sign_in" || rs[1].Status != c.signIn):
			t.Errorf("%s: %+v", c.name, rs)
		case c.signIn == Warn && !strings.Contains(rs[1].Setting, "HERA_DEVICE_COOKIE_"):
			t.Errorf("%s: %+v", c.name, rs[1])
		}
	}
}

// TestRunChecksMail: Run adds the mail checks after Kratos's (here
// unreachable), and the report counts the warning.
func TestRunChecksMail(t *testing.T) {
	dead, _ := url.Parse("http://127.0.0.1:1")
	r := Run(context.Background(), Options{PublicURL: dead, KratosPublicURL: dead, KratosAdminURL: dead, NoSignIn: true,
		Mail: &MailOptions{}})
	last := r.Results[len(r.Results)-1]
	if last.Check != "mail.smtp" || last.Status != Warn || r.Warned() < 1 {
		t.Errorf("last result %+v, %d warnings", last, r.Warned())
	}
	var out bytes.Buffer
	if err := r.Write(&out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "WARN No SMTP server (HERA_SMTP_URL)") || !strings.Contains(out.String(), "setting: HERA_SMTP_URL") {
		t.Errorf("report:\n%s", out.String())
	}
}
