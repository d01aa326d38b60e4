package mail

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/stack"
)

// sink starts an SMTP sink for one test.
func sink(t *testing.T, c stack.SMTPSinkConfig) (*stack.SMTPSink, *stack.Mailbox) {
	t.Helper()
	mb := stack.NewMailbox()
	s, err := stack.StartSMTPSink(mb, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, mb
}

// senderFor is a Sender for the sink's URL, as config reads HERA_SMTP_URL.
func senderFor(t *testing.T, s *stack.SMTPSink, edit func(*SMTPConfig)) *Sender {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	c := SMTPConfig{Host: u.Hostname(), Port: port, From: "Example <no-reply@example.com>", RootCAs: s.RootCAs, Timeout: 5 * time.Second}
	switch {
	case u.Scheme == "smtps":
		c.TLS = ImplicitTLS
	case u.Query().Get("tls") == "none":
		c.TLS = NoTLS
	}
	if edit != nil {
		edit(&c)
	}
	snd, err := NewSender(c)
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

func rendered(t *testing.T, kind Kind, lang string, to ...string) outbox.Message {
	t.Helper()
	m, err := newTestTemplates(t).Render(Alert{Kind: kind, Lang: lang, At: at, Until: until, Browser: "Firefox on Windows", IP: "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	m.ID, m.To, m.Created = string(kind)+":evt-1", to, at
	return m
}

func crlf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// TestSendSTARTTLS: the default path — STARTTLS required, the server's
// certificate verified — delivers one mail per recipient, each naming only
// its own recipient, with the text and HTML as rendered, a subject in the
// account's language, and Hera's headers.
func TestSendSTARTTLS(t *testing.T) {
	s, mb := sink(t, stack.SMTPSinkConfig{TLS: true})
	snd := senderFor(t, s, nil)
	m := rendered(t, AddressChanged, "de", "new@example.org", "Old@Example.org")
	if err := snd.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := mb.Since(0)
	if len(got) != 2 {
		t.Fatalf("%d mails, want 2", len(got))
	}
	ids := map[string]bool{}
	for i, g := range got {
		if g.Recipient != m.To[i] || !g.TLS || !g.SMTP {
			t.Errorf("mail %d: to %q, TLS %v", i, g.Recipient, g.TLS)
		}
		if to := g.Header.Get("To"); !strings.Contains(to, m.To[i]) || strings.Contains(to, m.To[1-i]) {
			t.Errorf("mail %d: To %q, want only %q", i, to, m.To[i])
		}
		if g.Subject != m.Subject || !strings.Contains(g.Subject, "Anmeldeadresse") {
			t.Errorf("subject %q, want %q", g.Subject, m.Subject)
		}
		if crlf(g.Body) != m.Text || crlf(g.HTML) != m.HTML {
			t.Errorf("body or HTML differs:\n%s", g.Body)
		}
		if g.Kind != "address_changed" || g.TemplateType != "hera_address_changed" || g.Header.Get("Auto-Submitted") != "auto-generated" ||
			g.Header.Get("Content-Language") != "de" || g.From != `"Example" <no-reply@example.com>` || g.EnvelopeFrom != "no-reply@example.com" {
			t.Errorf("headers: kind %q from %q envelope %q %v", g.Kind, g.From, g.EnvelopeFrom, g.Header)
		}
		if ua := g.Header.Get("User-Agent") + g.Header.Get("X-Mailer"); ua != "" {
			t.Errorf("mailer named: %q", ua)
		}
		ids[g.Header.Get("Message-Id")] = true
	}
	if len(ids) != 2 {
		t.Errorf("Message-IDs %v: want one per recipient", ids)
	}
	// Sent again (an answer lost), the same Message-IDs: clients show it once.
	if err := snd.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for _, g := range mb.Since(2) {
		if !ids[g.Header.Get("Message-Id")] {
			t.Errorf("a resent mail has a new Message-ID %q", g.Header.Get("Message-Id"))
		}
	}
}

// TestSendImplicitTLSAndAuth: smtps://, signed in.
func TestSendImplicitTLSAndAuth(t *testing.T) {
	s, mb := sink(t, stack.SMTPSinkConfig{Implicit: true, User: "hera", Password: "s3cret-pass"})
	snd := senderFor(t, s, func(c *SMTPConfig) { c.User, c.Password = "hera", "s3cret-pass" })
	if err := snd.Send(context.Background(), rendered(t, PasswordChanged, "en", "owner@example.org")); err != nil {
		t.Fatal(err)
	}
	if got := mb.Since(0); len(got) != 1 || !got[0].TLS {
		t.Fatalf("mails %+v", got)
	}
	if err := snd.Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
	if !strings.HasPrefix(snd.String(), "smtps://127.0.0.1:") || !strings.Contains(snd.String(), "signed in") || strings.Contains(snd.String(), "s3cret") {
		t.Errorf("String() = %q", snd.String())
	}

	bad := senderFor(t, s, func(c *SMTPConfig) { c.User, c.Password = "hera", "wrong" })
	err := bad.Send(context.Background(), rendered(t, PasswordChanged, "en", "owner@example.org"))
	assertClass(t, err, "auth")
	if mb.Len() != 1 {
		t.Error("a mail was taken without signing in")
	}
	if err := bad.Check(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "auth") {
		t.Errorf("Check with a wrong password: %v", err)
	}
}

// TestTLSRequired: a server that offers no STARTTLS, or a certificate
// Hera does not trust, gets no mail: nothing crosses the network in clear
// or to an impostor.
func TestTLSRequired(t *testing.T) {
	plain, mb := sink(t, stack.SMTPSinkConfig{})
	snd := senderFor(t, plain, func(c *SMTPConfig) { c.TLS = StartTLS })
	assertClass(t, snd.Send(context.Background(), rendered(t, NewSignIn, "en", "owner@example.org")), "tls")
	if err := snd.Check(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "tls") {
		t.Errorf("Check: %v", err)
	}

	tlsSink, mb2 := sink(t, stack.SMTPSinkConfig{TLS: true})
	untrusting := senderFor(t, tlsSink, func(c *SMTPConfig) { c.RootCAs = nil })
	assertClass(t, untrusting.Send(context.Background(), rendered(t, NewSignIn, "en", "owner@example.org")), "tls")
	if mb.Len()+mb2.Len() != 0 {
		t.Error("a mail went out without TLS")
	}
}

// TestNoTLSLoopbackOnly: no TLS only to this host; and signed in without
// TLS, the password is never sent as it is (the sink offers PLAIN only
// over TLS, so signing in fails).
func TestNoTLSLoopbackOnly(t *testing.T) {
	for _, host := range []string{"mail.example.com", "10.0.0.1", "localhost.example.com"} {
		if _, err := NewSender(SMTPConfig{Host: host, Port: 25, TLS: NoTLS, From: "a@example.com"}); err == nil {
			t.Errorf("NoTLS to %s accepted", host)
		}
	}
	s, mb := sink(t, stack.SMTPSinkConfig{})
	if err := senderFor(t, s, nil).Send(context.Background(), rendered(t, Locked, "en", "owner@example.org")); err != nil {
		t.Fatal(err)
	}
	if got := mb.Since(0); len(got) != 1 || got[0].TLS {
		t.Fatalf("mails %+v", got)
	}
	authSink, mb2 := sink(t, stack.SMTPSinkConfig{User: "hera", Password: "pw"})
	snd := senderFor(t, authSink, func(c *SMTPConfig) { c.User, c.Password = "hera", "pw" })
	assertClass(t, snd.Send(context.Background(), rendered(t, Locked, "en", "owner@example.org")), "auth")
	if mb2.Len() != 0 {
		t.Error("mail taken")
	}
}

// TestRecipientRefused: one recipient refused for good, one taken; the
// error counts them and names neither.
func TestRecipientRefused(t *testing.T) {
	var code int
	s, mb := sink(t, stack.SMTPSinkConfig{TLS: true, Refuse: func(rcpt string) error {
		if strings.HasPrefix(rcpt, "gone@") {
			return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "no such user " + rcpt}
		}
		return nil
	}})
	snd := senderFor(t, s, nil)
	for _, c := range []struct {
		code      int
		permanent bool
	}{{550, true}, {451, false}} {
		code = c.code
		before := mb.Len()
		err := snd.Send(context.Background(), rendered(t, PasswordChanged, "en", "gone@example.org", "owner@example.org"))
		se := assertClass(t, err, "recipient")
		if se == nil {
			continue
		}
		if se.Code != c.code || se.Permanent != c.permanent || se.Delivered != 1 || se.Failed != 1 || se.Status != strconv.Itoa(c.code/100)+".1.1" {
			t.Errorf("%d: %+v", c.code, se)
		}
		if strings.Contains(err.Error(), "@") || strings.Contains(err.Error(), "no such user") {
			t.Errorf("error %q quotes the server or names a recipient", err)
		}
		if got := mb.Since(before); len(got) != 1 || got[0].Recipient != "owner@example.org" {
			t.Errorf("%d: delivered %+v", c.code, got)
		}
	}
	err := snd.Send(context.Background(), outbox.Message{ID: "x", Kind: "locked", To: []string{"not an address"}, Subject: "s", Text: "t"})
	if se := assertClass(t, err, "address"); se != nil && !se.Permanent {
		t.Errorf("an invalid address may be retried: %+v", se)
	}
}

// TestServerDown: nothing listening, or a server that never answers.
func TestServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	snd, err := NewSender(SMTPConfig{Host: "127.0.0.1", Port: addr.Port, From: "a@example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	assertClass(t, snd.Send(context.Background(), rendered(t, Locked, "en", "owner@example.org")), "connect")

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	snd, err = NewSender(SMTPConfig{Host: "127.0.0.1", Port: silent.Addr().(*net.TCPAddr).Port, From: "a@example.com", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	assertClass(t, snd.Send(context.Background(), rendered(t, Locked, "en", "owner@example.org")), "timeout")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a silent server held the send %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	snd, _ = NewSender(SMTPConfig{Host: "127.0.0.1", Port: silent.Addr().(*net.TCPAddr).Port, From: "a@example.com", Timeout: time.Minute})
	start = time.Now()
	assertClass(t, snd.Send(ctx, rendered(t, Locked, "en", "owner@example.org")), "canceled")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("canceling took %v", d)
	}
}

func TestNewSenderRefuses(t *testing.T) {
	for _, c := range []SMTPConfig{
		{Port: 25, From: "a@example.com"},
		{Host: "mail.example.com", From: "a@example.com"},
		{Host: "mail.example.com", Port: 25, From: "not an address"},
		{Host: "mail.example.com", Port: 25, From: "a@example.com", TLS: 7},
	} {
		if _, err := NewSender(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func assertClass(t *testing.T, err error, class string) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Errorf("error %v (%T), want a *SendError of class %s", err, err, class)
		return nil
	}
	if se.Class != class {
		t.Errorf("class %q (%v), want %q", se.Class, err, class)
	}
	return se
}
