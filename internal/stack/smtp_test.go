package stack

import (
	"context"
	"crypto/tls"
	"net/smtp"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// A mail as another client writes it: an encoded subject, a
// quoted-printable text part and a base64 HTML part.
const rawMail = "From: Hera <no-reply@example.com>\r\n" +
	"To: owner@example.org\r\n" +
	"Subject: =?UTF-8?q?Neue_Anmeldung_bei_Ihrem_Konto?=\r\n" +
	"X-Hera-Kind: new_sign_in\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Gr=C3=BC=C3=9Fe, a long line that is soft=\r\n" +
	" broken\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+R3LDvMOfZTwv\r\n" +
	"cD4=\r\n" +
	"--b1--\r\n"

// TestSMTPSink: a mail sent over SMTP lands in the mailbox once per
// recipient, parsed: subject decoded, text and HTML parts, Hera's kind
// (which Wait finds it by), the envelope sender; a refused recipient gets
// none.
func TestSMTPSink(t *testing.T) {
	mb := NewMailbox()
	var printed []Mail
	mb.OnMail = func(m Mail) { printed = append(printed, m) }
	s, err := StartSMTPSink(mb, SMTPSinkConfig{Refuse: func(rcpt string) error {
		if strings.HasPrefix(rcpt, "gone@") {
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "smtp://127.0.0.1:") || !strings.HasSuffix(s.URL, "?tls=none") || s.RootCAs != nil {
		t.Errorf("URL %q", s.URL)
	}
	if err := smtp.SendMail(s.Addr, nil, "bounce@example.com", []string{"owner@example.org", "other@example.org"}, []byte(rawMail)); err != nil {
		t.Fatal(err)
	}
	err = smtp.SendMail(s.Addr, nil, "bounce@example.com", []string{"gone@example.org"}, []byte(rawMail))
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("refused recipient: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := mb.Wait(ctx, 0, "OTHER@example.org", "new_sign_in")
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Neue Anmeldung bei Ihrem Konto" || m.Body != "Grüße, a long line that is soft broken" || m.HTML != "<p>Grüße</p>" ||
		m.Kind != "new_sign_in" || m.TemplateType != "hera_new_sign_in" || !m.SMTP || m.TLS ||
		m.EnvelopeFrom != "bounce@example.com" || m.From != "Hera <no-reply@example.com>" || m.Code() != "" {
		t.Errorf("parsed %+v", m)
	}
	if mb.Len() != 2 || len(printed) != 2 || printed[0].Recipient != "owner@example.org" {
		t.Errorf("%d mails, %d printed", mb.Len(), len(printed))
	}
}

// TestSMTPSinkTLS: with TLS the sink offers STARTTLS under a certificate
// RootCAs trusts, and with a user it takes mail only after signing in,
// which it offers only over TLS.
func TestSMTPSinkTLS(t *testing.T) {
	mb := NewMailbox()
	s, err := StartSMTPSink(mb, SMTPSinkConfig{TLS: true, User: "hera", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Contains(s.URL, "tls=none") || s.RootCAs == nil {
		t.Fatalf("URL %q", s.URL)
	}
	// Without TLS: no AUTH offered, no mail taken.
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered before TLS")
	}
	if err := c.Mail("a@example.com"); err == nil {
		t.Error("mail taken without signing in")
	}
	c.Close()
	// After STARTTLS, PLAIN signs in.
	auth := smtp.PlainAuth("", "hera", "pw", "127.0.0.1")
	c, err = smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(tlsConfig(s)); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(auth); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("owner@example.org"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Subject: plain\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mb.Since(0); len(got) != 1 || !got[0].TLS || got[0].Body != "hello\r\n" || got[0].TemplateType != "smtp" {
		t.Errorf("mails %+v", got)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

func tlsConfig(s *SMTPSink) *tls.Config {
	return &tls.Config{ServerName: "127.0.0.1", RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
}
