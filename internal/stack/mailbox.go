package stack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/mail"
	"strings"
	"sync"
)

// Mail is one message: one Kratos's courier sent (HTTP delivery strategy,
// with the body template `function(ctx) ctx`), or one the SMTP sink took
// (Hera's alert mails), one per recipient.
type Mail struct {
	Recipient string `json:"recipient"`
	Subject   string `json:"subject"`
	// Body is the text; for a mail through SMTP, its text/plain part.
	Body string `json:"body"`
	// TemplateType is Kratos's template (recovery_code_valid, …); for a
	// mail through SMTP "hera_<kind>" (Hera's alert mails), else "smtp".
	TemplateType string         `json:"template_type"`
	TemplateData map[string]any `json:"template_data"`

	// Mails through the SMTP sink only:
	SMTP         bool        `json:"-"`
	From         string      `json:"-"` // the From header
	EnvelopeFrom string      `json:"-"` // MAIL FROM
	Kind         string      `json:"-"` // Hera's X-Hera-Kind: new_sign_in, password_changed, …
	HTML         string      `json:"-"` // the text/html part
	Header       mail.Header `json:"-"`
	TLS          bool        `json:"-"` // it came over TLS
}

// Code returns the one-time code the message carries (login, registration,
// recovery or verification), or "".
func (m Mail) Code() string {
	for _, k := range []string{"login_code", "registration_code", "recovery_code", "verification_code"} {
		if s, ok := m.TemplateData[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// Mailbox is the HTTP endpoint Kratos's courier delivers to, and where an
// SMTPSink puts what it takes. It keeps every message and can call OnMail
// for each (the dev stack prints them).
type Mailbox struct {
	OnMail func(Mail)

	mu    sync.Mutex
	mails []Mail
	added chan struct{} // closed and replaced on every new message
}

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox { return &Mailbox{added: make(chan struct{})} }

// ServeHTTP accepts one message.
func (mb *Mailbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m Mail
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	mb.add(m)
	w.WriteHeader(http.StatusNoContent)
}

// add keeps m and tells OnMail and the waiters.
func (mb *Mailbox) add(m Mail) {
	mb.mu.Lock()
	mb.mails = append(mb.mails, m)
	close(mb.added)
	mb.added = make(chan struct{})
	mb.mu.Unlock()
	if mb.OnMail != nil {
		mb.OnMail(m)
	}
}

// Wait returns the first message to recipient, received at or after index
// `after` of all messages, whose template type contains kind ("" for any).
// It blocks until one arrives or ctx ends. Use Len before triggering the mail
// to get `after`.
func (mb *Mailbox) Wait(ctx context.Context, after int, recipient, kind string) (Mail, error) {
	for {
		mb.mu.Lock()
		for _, m := range mb.mails[min(after, len(mb.mails)):] {
			if strings.EqualFold(m.Recipient, recipient) && strings.Contains(m.TemplateType, kind) {
				mb.mu.Unlock()
				return m, nil
			}
		}
		added := mb.added
		mb.mu.Unlock()
		select {
		case <-added:
		case <-ctx.Done():
			return Mail{}, ctx.Err()
		}
	}
}

// Since returns the messages received at or after index i.
func (mb *Mailbox) Since(i int) []Mail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]Mail(nil), mb.mails[min(i, len(mb.mails)):]...)
}

// Len is the number of messages received so far.
func (mb *Mailbox) Len() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.mails)
}
