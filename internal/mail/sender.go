package mail

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/heraproject/hera/internal/outbox"
)

// TLSMode is how the connection to the SMTP server is protected.
type TLSMode int

// The TLS modes.
const (
	// StartTLS: plain connection, then STARTTLS, which the server must
	// offer (smtp://).
	StartTLS TLSMode = iota
	// ImplicitTLS: TLS from the first byte (smtps://).
	ImplicitTLS
	// NoTLS: no TLS at all; only to a server on this host (the dev stack).
	NoTLS
)

func (m TLSMode) String() string {
	switch m {
	case StartTLS:
		return "STARTTLS"
	case ImplicitTLS:
		return "TLS"
	}
	return "no TLS"
}

// SMTPConfig is the SMTP server and how Hera signs in to it.
type SMTPConfig struct {
	Host string
	Port int
	TLS  TLSMode
	// User "" sends without SMTP AUTH.
	User, Password string
	// From is the sender, e.g. "Example <no-reply@example.com>".
	From string
	// Timeout bounds connecting and each answer of the server (10 s if
	// zero).
	Timeout time.Duration
	// RootCAs verify the server's certificate; nil: the system's. Tests
	// trust their own certificate authority with it.
	RootCAs *x509.CertPool
}

// DefaultTimeout bounds connecting and each answer of the server.
const DefaultTimeout = 10 * time.Second

// Sender sends mails over SMTP. It is safe for concurrent use: each Send
// has a connection of its own.
type Sender struct {
	cfg    SMTPConfig
	tls    *tls.Config
	client *gomail.Client
	domain string // of From, for Message-IDs
}

// NewSender checks cfg and prepares the client; it connects only when
// sending (or checking).
func NewSender(cfg SMTPConfig) (*Sender, error) {
	if cfg.Host == "" || cfg.Port < 1 || cfg.Port > 65535 {
		return nil, errors.New("mail: SMTP host and port required")
	}
	if cfg.TLS == NoTLS && !loopback(cfg.Host) {
		return nil, fmt.Errorf("mail: an SMTP connection without TLS is allowed only to this host, not %q", cfg.Host)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: sender %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	snd := &Sender{cfg: cfg, tls: &tls.Config{ServerName: cfg.Host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(snd.tls),
		gomail.WithDialContextFunc(snd.dial),
	}
	switch cfg.TLS {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case ImplicitTLS, NoTLS:
		// Implicit TLS is dial's; no STARTTLS on top.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("mail: unknown TLS mode %d", cfg.TLS)
	}
	if cfg.User != "" {
		// The strongest mechanism both sides know. PLAIN and LOGIN send
		// the password as it is: go-mail's smtp refuses them on a
		// connection without TLS to another host.
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(
			gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1,
			gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(cfg.User), gomail.WithPassword(cfg.Password))
	}
	c, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	snd.client = c
	_, snd.domain, _ = strings.Cut(from.Address, "@")
	return snd, nil
}

// sendCtxKey carries a send's own context to dial: go-mail hands dial a
// context that ends when dialing does.
type sendCtxKey struct{}

// dial connects (and, for ImplicitTLS, speaks TLS). The connection is
// closed when the send's context ends, so a shutdown or a send's time
// limit stops a server that is slow to greet, start TLS or sign in too,
// not only one slow to accept.
func (s *Sender) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if sendCtx, ok := ctx.Value(sendCtxKey{}).(context.Context); ok {
		context.AfterFunc(sendCtx, func() { _ = conn.Close() })
	}
	if s.cfg.TLS != ImplicitTLS {
		return conn, nil
	}
	tc := tls.Client(conn, s.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

// connect dials, greets, starts TLS and signs in as configured; the
// connection lives until ctx ends.
func (s *Sender) connect(ctx context.Context) (*gosmtp.Client, error) {
	sc, err := s.client.DialToSMTPClientWithContext(context.WithValue(ctx, sendCtxKey{}, ctx))
	if err != nil {
		return nil, dialError(ctx, err)
	}
	return sc, nil
}

// String names the server and how it is reached, for reports: no user,
// no password.
func (s *Sender) String() string {
	scheme := "smtp"
	if s.cfg.TLS == ImplicitTLS {
		scheme = "smtps"
	}
	auth := ""
	if s.cfg.User != "" {
		auth = ", signed in"
	}
	return fmt.Sprintf("%s://%s (%s%s)", scheme, net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)), s.cfg.TLS, auth)
}

// Check connects as Send does — greeting, TLS as configured, SMTP AUTH if
// a user is set — and quits: whether mails could be sent now.
func (s *Sender) Check(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sc, err := s.connect(ctx)
	if err != nil {
		return err
	}
	if err := s.client.CloseWithSMTPClient(sc); err != nil {
		return dialError(ctx, err)
	}
	return nil
}

// Send delivers m to each of its recipients in a mail of its own, so that
// no recipient sees another's address, over one connection. A nil error:
// every recipient's server accepted it. Otherwise the error is a
// *SendError, which says how many recipients got the mail and names
// none.
func (s *Sender) Send(ctx context.Context, m outbox.Message) error {
	if len(m.To) == 0 {
		return &SendError{Class: "address", Permanent: true}
	}
	msgs := make([]*gomail.Msg, 0, len(m.To))
	res := &SendError{}
	for _, to := range m.To {
		msg, err := s.message(m, to)
		if err != nil {
			res.add("address", 0, "", true)
			continue
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return res
	}
	// A shutdown stops a send at once (dial): its lease hands the mail
	// to another sender later.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sc, err := s.connect(ctx)
	if err != nil {
		de := err.(*SendError)
		de.Failed = res.Failed + len(msgs)
		return de
	}
	defer func() { _ = s.client.CloseWithSMTPClient(sc) }() // the mails are out; QUIT is a courtesy
	for i, msg := range msgs {
		err := s.client.SendWithSMTPClient(sc, msg)
		if err == nil || msg.IsDelivered() {
			res.Delivered++
			continue
		}
		class, code, status, permanent := classifySend(err)
		switch ctx.Err() {
		case context.Canceled:
			class, permanent = "canceled", false
		case context.DeadlineExceeded:
			class, permanent = "timeout", false
		}
		res.add(class, code, status, permanent)
		if class == "connect" || class == "timeout" || class == "canceled" {
			// The connection is gone: the rest fail the same way.
			for range msgs[i+1:] {
				res.add(class, code, status, false)
			}
			break
		}
	}
	if res.Failed == 0 {
		return nil
	}
	return res
}

// message builds the mail to one recipient.
func (s *Sender) message(m outbox.Message, to string) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.cfg.From); err != nil {
		return nil, err
	}
	if err := msg.To(to); err != nil {
		return nil, err
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// The same mail to the same recipient has the same Message-ID, so a
	// mail client shows a resent one (after a lost answer) once. Hashed:
	// the ID names the account.
	sum := sha256.Sum256([]byte(m.ID + "\x00" + strings.ToLower(to)))
	msg.SetMessageIDWithValue(hex.EncodeToString(sum[:16]) + "@" + s.domain)
	// RFC 3834: no auto-replies (vacation notices) to an alert.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Hera-Kind", m.Kind)
	if m.Lang != "" {
		msg.SetGenHeader(gomail.HeaderContentLang, m.Lang)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// SendError is why a mail did not reach every recipient. It names no
// recipient and quotes no server text (which may name one).
type SendError struct {
	// Class is the first failure's kind: connect, timeout, tls, auth,
	// sender, recipient, data, address, canceled or other (the reason
	// label of hera_mail_failed_total).
	Class string
	// Code and Status are the server's SMTP reply code and enhanced
	// status code (0 and "" if none).
	Code   int
	Status string
	// Permanent: every failed recipient was refused for good (an unknown
	// mailbox, an invalid address): sending again cannot reach them.
	Permanent bool
	// Delivered and Failed count the recipients.
	Delivered, Failed int
	// detail is the error of connecting, greeting, TLS or AUTH — which
	// involve no recipient — for hera doctor.
	detail string
}

func (e *SendError) add(class string, code int, status string, permanent bool) {
	if e.Failed == 0 {
		e.Class, e.Code, e.Status, e.Permanent = class, code, status, permanent
	} else {
		e.Permanent = e.Permanent && permanent
	}
	e.Failed++
}

// Error is the class, the server's codes and the counts: safe to log and
// to store as the queue's LastError.
func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString(e.Class)
	if e.Code != 0 {
		b.WriteString(" " + strconv.Itoa(e.Code))
	}
	if e.Status != "" {
		b.WriteString(" " + e.Status)
	}
	if e.detail != "" {
		b.WriteString(": " + e.detail)
	}
	if e.Delivered > 0 || e.Failed > 1 {
		fmt.Fprintf(&b, " (%d of %d recipients)", e.Failed, e.Failed+e.Delivered)
	}
	return b.String()
}

// dialError classifies a failure to connect, greet, start TLS or sign in.
func dialError(ctx context.Context, err error) *SendError {
	e := &SendError{Failed: 1}
	e.Class = classifyDial(err)
	switch ctx.Err() {
	case context.Canceled:
		e.Class = "canceled"
	case context.DeadlineExceeded:
		e.Class = "timeout"
	}
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		e.Code = tpe.Code
	}
	e.detail = err.Error()
	return e
}

// classifyDial: go-mail wraps the phases' errors in text only, so the
// phase is read from the error's types, and else from its words.
func classifyDial(err error) string {
	var (
		ne  net.Error
		ope *net.OpError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
	)
	msg := err.Error()
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &cve), errors.As(err, &rhe), errors.As(err, &ae), errors.As(err, &uae), errors.As(err, &he), errors.As(err, &cie),
		strings.Contains(msg, "STARTTLS"), strings.HasPrefix(msg, "tls: "):
		return "tls"
	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered), strings.Contains(msg, "SMTP AUTH"), strings.Contains(msg, "AUTH"):
		return "auth"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ope), strings.Contains(msg, "EHLO"), errors.Is(err, net.ErrClosed), errors.As(err, new(*textproto.Error)):
		// (An SMTP reply here, not about TLS or AUTH: the server refused
		// the session, e.g. 421 or 554 as its greeting.)
		return "connect"
	}
	return "other"
}

// classifySend reads go-mail's error for one mail.
func classifySend(err error) (class string, code int, status string, permanent bool) {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return classifyDial(err), 0, "", false
	}
	code, status = se.ErrorCode(), se.EnhancedStatusCode()
	switch se.Reason {
	case gomail.ErrSMTPMailFrom, gomail.ErrGetSender:
		class = "sender"
	case gomail.ErrSMTPRcptTo:
		// 5xx: this mailbox is refused for good.
		class, permanent = "recipient", code >= 500
	case gomail.ErrGetRcpts:
		class, permanent = "address", true
	case gomail.ErrSMTPData, gomail.ErrWriteContent, gomail.ErrSMTPDataClose, gomail.ErrNoUnencoded:
		class = "data"
	case gomail.ErrConnCheck:
		class = "connect"
	default:
		class = "other"
	}
	if code == 0 && (class == "data" || class == "other") {
		// No answer at all: the connection broke or timed out.
		class = "connect"
	}
	return class, code, status, permanent
}

// loopback: "localhost" or a loopback IP, as written.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
