package stack

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPSinkConfig describes an SMTP sink.
type SMTPSinkConfig struct {
	// Addr is where it listens; "" picks a free port on 127.0.0.1.
	Addr string
	// TLS gives it a certificate of its own for 127.0.0.1, ::1 and
	// localhost (SMTPSink.RootCAs trusts it) and offers STARTTLS; with
	// Implicit it speaks TLS from the first byte instead (smtps://).
	TLS, Implicit bool
	// User and Password, when set, must sign in (SMTP AUTH PLAIN, offered
	// only over TLS) before any mail is taken.
	User, Password string
	// Refuse, when set, is asked about every recipient: a non-nil error
	// refuses it (an *smtp.SMTPError sets the reply code).
	Refuse func(rcpt string) error
	// Log receives the server's internal errors; nil discards them.
	Log io.Writer
}

// SMTPSink is a real SMTP server that takes every mail (Hera's alert
// mails) into a Mailbox, beside the HTTP endpoint Kratos's courier uses.
type SMTPSink struct {
	// URL is what HERA_SMTP_URL should be: smtp://127.0.0.1:<port> (with
	// ?tls=none unless TLS), or smtps:// with Implicit.
	URL  string
	Addr string
	// RootCAs trusts the sink's certificate (nil without TLS).
	RootCAs *x509.CertPool

	srv *smtp.Server
}

// maxMailBytes bounds one mail.
const maxMailBytes = 1 << 20

// StartSMTPSink starts a sink that puts what it receives into mb.
func StartSMTPSink(mb *Mailbox, c SMTPSinkConfig) (*SMTPSink, error) {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Implicit {
		c.TLS = true
	}
	s := &SMTPSink{}
	var tlsConfig *tls.Config
	if c.TLS {
		cert, pool, err := selfSigned()
		if err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.RootCAs = pool
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("stack: smtp sink: %w", err)
	}
	s.Addr = ln.Addr().String()
	switch {
	case c.Implicit:
		s.URL = "smtps://" + s.Addr
		ln = tls.NewListener(ln, tlsConfig)
	case c.TLS:
		s.URL = "smtp://" + s.Addr
	default:
		s.URL = "smtp://" + s.Addr + "?tls=none"
	}
	out := c.Log
	if out == nil {
		out = io.Discard
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{cfg: &c, mb: mb, conn: conn}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = maxMailBytes
	s.srv.MaxRecipients = 50
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(out, "smtp sink: ", 0)
	if !c.Implicit {
		s.srv.TLSConfig = tlsConfig // offers STARTTLS when set
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the sink and drops its connections.
func (s *SMTPSink) Close() error { return s.srv.Close() }

// sinkSession is one SMTP connection.
type sinkSession struct {
	cfg    *SMTPSinkConfig
	mb     *Mailbox
	conn   *smtp.Conn
	authed bool
	from   string
	rcpts  []string
}

func (s *sinkSession) AuthMechanisms() []string {
	if s.cfg.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.cfg.User || pass != s.cfg.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.cfg.User != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.cfg.Refuse != nil {
		if err := s.cfg.Refuse(to); err != nil {
			return err
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := ParseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "cannot parse the message: " + err.Error()}
	}
	_, m.TLS = s.conn.TLSConnectionState()
	m.EnvelopeFrom = s.from
	for _, to := range s.rcpts {
		one := m
		one.Recipient = to
		s.mb.add(one)
	}
	return nil
}

func (s *sinkSession) Reset() { s.from, s.rcpts = "", nil }

func (s *sinkSession) Logout() error { return nil }

// ParseMail reads an Internet message (RFC 5322, MIME) as the sink
// receives it: its headers, decoded subject, and its plain-text and HTML
// parts. Recipient is left to the envelope.
func ParseMail(raw []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Mail{}, fmt.Errorf("subject: %w", err)
	}
	m := Mail{
		SMTP:    true,
		Subject: subject,
		From:    msg.Header.Get("From"),
		Kind:    msg.Header.Get("X-Hera-Kind"),
		Header:  msg.Header,
	}
	m.TemplateType = "smtp"
	if m.Kind != "" {
		m.TemplateType = "hera_" + m.Kind
	}
	if err := readParts(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); err != nil {
		return Mail{}, err
	}
	return m, nil
}

// readParts puts the text/plain part into m.Body and the text/html one
// into m.HTML, descending into multipart containers.
func readParts(m *Mail, ctype, encoding string, body io.Reader, depth int) error {
	if ctype == "" {
		ctype = "text/plain; charset=us-ascii"
	}
	media, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(media, "multipart/") {
		if depth > 4 {
			return errors.New("multipart nested too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readParts(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s part: %w", media, err)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return fmt.Errorf("%s part: charset %q (Hera writes UTF-8)", media, cs)
	}
	switch media {
	case "text/plain":
		m.Body = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}

var certOnce struct {
	sync.Once
	cert tls.Certificate
	pool *x509.CertPool
	err  error
}

// selfSigned is a certificate for 127.0.0.1, ::1 and localhost, made
// once per process, and a pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certOnce.err = err
			return
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: "Hera test SMTP sink"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(30 * 24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			DNSNames:              []string{"localhost"},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certOnce.err = err
			return
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			certOnce.err = err
			return
		}
		certOnce.pool = x509.NewCertPool()
		certOnce.pool.AddCert(leaf)
		certOnce.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	})
	return certOnce.cert, certOnce.pool, certOnce.err
}
