package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Hook kinds: the path under /hooks/kratos/ a Kratos web hook is posted
// to, as deploy/dev/kratos.yml.tmpl and docs/kratos-setup.md configure
// them. Settings hooks are per method, since a settings hook does not say
// which method changed what.
const (
	HookLogin        = "login"
	HookRegistration = "registration"
	HookRecovery     = "recovery"
	HookVerification = "verification"
	// HookSettings + "/" + method: password, profile, totp, webauthn,
	// passkey, lookup_secret.
	HookSettings = "settings"
)

// settingsMethods are the settings methods whose hooks Hera records.
var settingsMethods = []string{"password", "profile", "totp", "webauthn", "passkey", "lookup_secret"}

// ErrUnknownHook is ParseHook's error for a kind Hera does not know.
var ErrUnknownHook = errors.New("events: unknown hook")

// Hook is one web hook call, as deploy/dev/kratos-hook.jsonnet builds its
// body: nothing of the identity but its ID and addresses, nothing of the
// credentials.
type Hook struct {
	// Kind is HookLogin, …, or "settings/<method>".
	Kind     string        `json:"-"`
	Flow     HookFlow      `json:"flow"`
	Identity *HookIdentity `json:"identity"`
	Session  *HookSession  `json:"session"`
	// Client is the client's address and User-Agent as Kratos received
	// them (Hera's proxy and client set them): used when Hera did not see
	// the client itself.
	Client HookClient `json:"client"`

	// digest identifies the body: a retried call has the same.
	digest string
}

// HookFlow is the flow that completed.
type HookFlow struct {
	ID     string `json:"id"`
	Type   string `json:"type"`   // browser, api
	Active string `json:"active"` // the method, where Kratos sets it
}

// HookIdentity is the identity's ID and verifiable addresses.
type HookIdentity struct {
	ID        string        `json:"id"`
	Addresses []HookAddress `json:"addresses"`
}

// HookAddress is a verifiable address.
type HookAddress struct {
	Value    string `json:"value"`
	Via      string `json:"via"` // email, sms
	Verified bool   `json:"verified"`
}

// HookSession is the session a sign-in issued or upgraded.
type HookSession struct {
	ID      string       `json:"id"`
	AAL     string       `json:"aal"`
	Methods []HookMethod `json:"methods"`
}

// HookMethod is one authentication of a session, in order.
type HookMethod struct {
	Method      string    `json:"method"`
	AAL         string    `json:"aal"`
	Provider    string    `json:"provider"`
	CompletedAt time.Time `json:"completed_at"`
}

// HookClient is the request Kratos served.
type HookClient struct {
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

// Limits of a hook body.
const (
	// MaxHookBody bounds a hook's body (bytes).
	MaxHookBody = 64 << 10
	maxHookID   = 128
	maxHookText = 1024
	maxMethods  = 16
)

// HookKind returns the kind of hook path (the part after /hooks/kratos/),
// or ErrUnknownHook.
func HookKind(path string) (string, error) {
	switch path {
	case HookLogin, HookRegistration, HookRecovery, HookVerification:
		return path, nil
	}
	if m, ok := strings.CutPrefix(path, HookSettings+"/"); ok {
		for _, sm := range settingsMethods {
			if m == sm {
				return path, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownHook, path)
}

// ParseHook reads a hook body of kind strictly: unknown fields, a second
// value, missing IDs and oversized text are refused.
func ParseHook(kind string, body []byte) (*Hook, error) {
	if _, err := HookKind(kind); err != nil {
		return nil, err
	}
	if len(body) > MaxHookBody {
		return nil, fmt.Errorf("events: hook body of %d bytes", len(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var h Hook
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("events: hook body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("events: hook body: more than one value")
	}
	h.Kind = kind
	if err := h.validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(kind+"\n"), body...))
	h.digest = base64.RawURLEncoding.EncodeToString(sum[:9])
	return &h, nil
}

func (h *Hook) validate() error {
	var errs []error
	id := func(what, v string) {
		if v == "" || len(v) > maxHookID || !text(v) {
			errs = append(errs, fmt.Errorf("events: hook %s: missing or malformed", what))
		}
	}
	long := func(what string, vs ...string) {
		for _, v := range vs {
			if len(v) > maxHookText || !utf8.ValidString(v) {
				errs = append(errs, fmt.Errorf("events: hook %s: too long or not UTF-8", what))
			}
		}
	}
	id("flow id", h.Flow.ID)
	long("flow", h.Flow.Type, h.Flow.Active)
	long("client", h.Client.IP, h.Client.UserAgent)
	if h.Identity == nil {
		errs = append(errs, errors.New("events: hook without identity"))
	} else {
		id("identity id", h.Identity.ID)
		if len(h.Identity.Addresses) > 100 {
			errs = append(errs, errors.New("events: hook with more than 100 addresses"))
		}
		for _, a := range h.Identity.Addresses {
			long("address", a.Value, a.Via)
		}
	}
	if h.Kind == HookLogin {
		if h.Session == nil {
			errs = append(errs, errors.New("events: login hook without session"))
		} else {
			id("session id", h.Session.ID)
			long("session", h.Session.AAL)
			if len(h.Session.Methods) == 0 || len(h.Session.Methods) > maxMethods {
				errs = append(errs, errors.New("events: login hook without authentication methods"))
			}
			for _, m := range h.Session.Methods {
				long("method", m.Method, m.AAL, m.Provider)
			}
		}
	}
	return errors.Join(errs...)
}

// text reports whether s is printable ASCII without spaces: what Kratos's
// IDs are.
func text(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// nilUUID is the ID Kratos gives a session it has not stored yet: its
// login hooks may see one (the body is rendered while the session is
// being stored).
const nilUUID = "00000000-0000-0000-0000-000000000000"

// sessionID is the sign-in's session ID, "" when Kratos had not given it
// one yet.
func (h *Hook) sessionID() string {
	if h.Session == nil || h.Session.ID == nilUUID {
		return ""
	}
	return h.Session.ID
}

// Method returns the settings method of a settings hook ("" otherwise).
func (h *Hook) Method() string {
	m, _ := strings.CutPrefix(h.Kind, HookSettings+"/")
	if m == h.Kind {
		return ""
	}
	return m
}

// eventID is the ID of the event a hook writes: derived from its flow, its
// kind and its body, so a call Kratos retries is stored once, and two
// changes made in one settings flow (Kratos keeps the flow for the next)
// are two.
func (h *Hook) eventID(kind string) string {
	return "hook:" + h.Flow.ID + ":" + kind + ":" + h.digest
}
