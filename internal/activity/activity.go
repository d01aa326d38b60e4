// Package activity is the record of what happened to each account — sign-ins
// and failed ones, locks, credential and address changes, sessions revoked,
// apps allowed and removed — that the account's owner sees on /activity and
// that alerts are mailed from.
//
// Events are kept per identity (Kratos identity ID) in a [Store] shared by
// every replica: memory/ (one instance, the dev stack), postgres/ and redis/
// (the same backend as the lockout store), all passing one conformance suite
// (activitytest/). A [Policy] bounds what is kept: events older than its
// Retention go, and only the newest MaxPerIdentity stay. Events hold no
// secrets: no passwords, codes, tokens or cookie values, and never an
// identifier submitted for an account that does not exist (they are keyed
// by identity, which such an identifier has none of).
//
// Times are the caller's (every method takes now), so tests move them
// freely and replicas never consult a database's clock. Stores keep times
// to the millisecond ([Event.Normalize]).
package activity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what happened.
type Kind string

// The kinds of event, and the fields each fills besides the common ones
// (ID, Identity, Kind, At, and where known IP, UserAgent, Device, Lang,
// Session).
const (
	SignIn             Kind = "sign_in"              // Method, AAL, Provider (oidc), NewDevice
	SignInFailed       Kind = "sign_in_failed"       // Method; one event per failure (grouped when shown)
	Locked             Kind = "locked"               // Until: end of the lock
	Registered         Kind = "registered"           //
	PasswordChanged    Kind = "password_changed"     //
	TOTPChanged        Kind = "totp_changed"         // Detail "added" | "removed"
	PasskeyChanged     Kind = "passkey_changed"      // Method "webauthn" | "passkey"; Detail "added" | "removed" | "changed"
	BackupCodesChanged Kind = "backup_codes_changed" //
	AddressChanged     Kind = "address_changed"      // Old, New: the e-mail/phone addresses before and after
	ProfileChanged     Kind = "profile_changed"      // other traits; no values stored
	SessionsRevoked    Kind = "sessions_revoked"     // Count
	AppAllowed         Kind = "app_allowed"          // Client (name), ClientID, Scopes
	AppRemoved         Kind = "app_removed"          // Client, ClientID
	Recovered          Kind = "recovered"            //
	Exported           Kind = "exported"             //
)

// Event is one thing that happened to an account. No secrets, no codes,
// no passwords, no cookie values.
type Event struct {
	ID        string    `json:"id"`       // unique (random, or derived from the source, e.g. "hook:<flow>:<kind>"); Add is idempotent by ID
	Identity  string    `json:"identity"` // Kratos identity ID
	Kind      Kind      `json:"kind"`
	At        time.Time `json:"at"`
	Method    string    `json:"method,omitempty"`
	Provider  string    `json:"provider,omitempty"`
	AAL       string    `json:"aal,omitempty"`
	IP        string    `json:"ip,omitempty"`         // as Hera saw the client (full; pages shorten strangers')
	UserAgent string    `json:"user_agent,omitempty"` // raw, at most MaxUserAgent bytes
	Device    string    `json:"device,omitempty"`     // the device cookie's random ID (never the cookie), "" if none
	NewDevice bool      `json:"new_device,omitempty"`
	Lang      string    `json:"lang,omitempty"`    // the page language of the request, for mails
	Session   string    `json:"session,omitempty"` // Kratos session ID where one exists
	Until     time.Time `json:"until,omitzero"`
	Count     int       `json:"count,omitempty"`
	Client    string    `json:"client,omitempty"`
	ClientID  string    `json:"client_id,omitempty"`
	Scopes    []string  `json:"scopes,omitempty"`
	Old       []string  `json:"old,omitempty"`
	New       []string  `json:"new,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Limits of what a store accepts.
const (
	// MaxUserAgent is the longest User-Agent kept (bytes); Normalize cuts
	// longer ones at a character boundary.
	MaxUserAgent = 512
	// MaxIDLen bounds Event.ID and the identity (bytes).
	MaxIDLen = 256
	// MaxEventBytes bounds an event's JSON encoding, so one event cannot
	// fill a store.
	MaxEventBytes = 16 << 10
	// MaxAddresses bounds an address record (SetAddresses).
	MaxAddresses = 100
)

// Normalize returns e as stores keep it: times to the millisecond, in UTC,
// and the User-Agent cut to MaxUserAgent bytes.
func (e Event) Normalize() Event {
	e.At = ms(e.At)
	e.Until = ms(e.Until)
	if len(e.UserAgent) > MaxUserAgent {
		ua := e.UserAgent[:MaxUserAgent]
		// Drop a character the cut split (at most 3 bytes of one).
		for i := 0; i < utf8.UTFMax && !utf8.ValidString(ua); i++ {
			ua = ua[:len(ua)-1]
		}
		e.UserAgent = ua
	}
	return e
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// Validate reports what makes e unstorable: an empty or over-long ID or
// identity, no Kind, no time.
func (e Event) Validate() error {
	var errs []error
	if err := ValidateIdentity(e.Identity); err != nil {
		errs = append(errs, err)
	}
	switch {
	case e.ID == "":
		errs = append(errs, errors.New("activity: event without ID"))
	case len(e.ID) > MaxIDLen:
		errs = append(errs, fmt.Errorf("activity: event ID longer than %d bytes", MaxIDLen))
	case !isText(e.ID):
		errs = append(errs, errors.New("activity: event ID is not UTF-8 text without NUL"))
	}
	if e.Kind == "" {
		errs = append(errs, errors.New("activity: event without Kind"))
	}
	if e.At.IsZero() {
		errs = append(errs, errors.New("activity: event without At"))
	}
	return errors.Join(errs...)
}

// ValidateIdentity checks an identity ID as every Store method does.
func ValidateIdentity(identity string) error {
	switch {
	case identity == "":
		return errors.New("activity: empty identity")
	case len(identity) > MaxIDLen:
		return fmt.Errorf("activity: identity longer than %d bytes", MaxIDLen)
	case !isText(identity):
		return errors.New("activity: identity is not UTF-8 text without NUL")
	}
	return nil
}

// isText reports whether s can be a key in every store: valid UTF-8
// without NUL (PostgreSQL's text holds neither).
func isText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// Encode validates and normalizes e and returns it as stores keep it.
func Encode(e Event) (Event, []byte, error) {
	if err := e.Validate(); err != nil {
		return Event{}, nil, err
	}
	e = e.Normalize()
	b, err := json.Marshal(e)
	if err != nil {
		return Event{}, nil, fmt.Errorf("activity: encode: %w", err)
	}
	if len(b) > MaxEventBytes {
		return Event{}, nil, fmt.Errorf("activity: event of %d bytes, more than %d", len(b), MaxEventBytes)
	}
	return e, b, nil
}

// Decode reads an event Encode wrote.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("activity: decode: %w", err)
	}
	return e.Normalize(), nil
}

// Policy bounds what is kept per identity.
type Policy struct {
	Retention      time.Duration // HERA_ACTIVITY_RETENTION, default 90 days
	MaxPerIdentity int           // HERA_ACTIVITY_MAX_EVENTS, default 500
}

// Defaults of a Policy.
const (
	DefaultRetention      = 90 * 24 * time.Hour
	DefaultMaxPerIdentity = 500
)

// DefaultPolicy is 90 days, 500 events.
func DefaultPolicy() Policy {
	return Policy{Retention: DefaultRetention, MaxPerIdentity: DefaultMaxPerIdentity}
}

// Validate checks that p keeps something: a retention of at least a
// millisecond (stores count in milliseconds) and at least one event.
func (p Policy) Validate() error {
	var errs []error
	if p.Retention < time.Millisecond {
		errs = append(errs, fmt.Errorf("activity: retention %v: want at least 1ms", p.Retention))
	}
	if p.MaxPerIdentity < 1 {
		errs = append(errs, fmt.Errorf("activity: %d events per identity: want at least 1", p.MaxPerIdentity))
	}
	return errors.Join(errs...)
}

// Cutoff is the newest time of an event that is no longer kept at now: an
// event is within retention while At > Cutoff.
func (p Policy) Cutoff(now time.Time) time.Time { return ms(now).Add(-p.Retention) }

// Store keeps events per identity. Implementations: memory (dev stack),
// postgres, redis — the same backend as the lockout store
// (HERA_LOCKOUT_STORE and its URL), one conformance suite
// (activity/activitytest) run against each.
//
// Invalid arguments (an event Validate refuses, a policy that keeps
// nothing) are refused with a plain error; every failure of the backend
// wraps ErrUnavailable.
type Store interface {
	// Add stores e unless an event with its ID is already stored for the
	// identity; then it drops the identity's events older than
	// now-Retention and all but the newest MaxPerIdentity.
	Add(ctx context.Context, e Event, now time.Time, p Policy) error
	// List returns the identity's events within retention, newest first
	// (ties: by ID), at most limit (0: all kept) and at most
	// p.MaxPerIdentity.
	List(ctx context.Context, identity string, now time.Time, p Policy, limit int) ([]Event, error)
	// Forget deletes every event of the identity (account deleted), and
	// its address record.
	Forget(ctx context.Context, identity string) error
	// SetAddresses records the identity's verified addresses as last seen
	// (replacing the previous record) and returns the previous record: nil
	// if there was none (or it was older than Retention), a non-nil empty
	// slice if it held no address. The record is kept for Retention after
	// its last write, and deleted by Forget.
	SetAddresses(ctx context.Context, identity string, addrs []string, now time.Time, p Policy) (previous []string, err error)
	// PutSeen records what Hera saw of a client under key (a flow or a
	// session: see [Seen]) until now+ttl, replacing what was there.
	PutSeen(ctx context.Context, key string, s Seen, now time.Time, ttl time.Duration) error
	// GetSeen returns what PutSeen recorded under key, ok false when
	// nothing is (or it outlived its ttl).
	GetSeen(ctx context.Context, key string, now time.Time) (s Seen, ok bool, err error)
}

// Seen is what Hera saw of the client behind a self-service submission
// (keyed by its flow: "flow:<id>") or behind a sign-in Kratos accepted
// without its submission naming the account — a passkey, a social
// sign-in's callback — ("signin:<identity>"), kept a few minutes so that
// the web hook Kratos sends for the flow, which knows the identity but not
// the browser, can be joined with it. Like events, it holds no secret: the
// device cookie's random ID, never the cookie.
type Seen struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"` // at most MaxUserAgent bytes
	Lang      string `json:"lang,omitempty"`
	Device    string `json:"device,omitempty"` // the valid device cookie's ID for the account, "" if none
	// Checked: the browser's device cookies were checked for the account
	// (Device "" then means none was valid). False when the submission
	// named no account (passkeys, social sign-in): the check comes later,
	// under the session's key.
	Checked bool `json:"checked,omitempty"`
	// Detail is what a settings submission asked: "added" or "removed"
	// (a second factor, a passkey, backup codes).
	Detail string `json:"detail,omitempty"`
	// Method is the submission's method (password, code, passkey, …).
	Method string `json:"method,omitempty"`
	// Session is the Kratos session a sign-in issued, and At when Hera
	// saw it issued (signin: records).
	Session string    `json:"session,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// Limits of what PutSeen accepts.
const (
	// MaxSeenKey bounds a Seen key (bytes).
	MaxSeenKey = MaxIDLen
	// MaxSeenTTL bounds how long a Seen is kept.
	MaxSeenTTL = 24 * time.Hour
	// maxSeenField bounds the other fields of a Seen (bytes).
	maxSeenField = 256
)

// EncodeSeen validates key, s and ttl and returns s as stores keep it
// (the User-Agent cut like an event's).
func EncodeSeen(key string, s Seen, ttl time.Duration) ([]byte, error) {
	if err := ValidateSeenKey(key); err != nil {
		return nil, err
	}
	if ttl < time.Millisecond || ttl > MaxSeenTTL {
		return nil, fmt.Errorf("activity: seen ttl %v: want 1ms to %v", ttl, MaxSeenTTL)
	}
	s.UserAgent = Event{UserAgent: s.UserAgent}.Normalize().UserAgent
	s.At = ms(s.At)
	for _, f := range []string{s.IP, s.Lang, s.Device, s.Detail, s.Method, s.Session} {
		if len(f) > maxSeenField {
			return nil, fmt.Errorf("activity: seen field longer than %d bytes", maxSeenField)
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("activity: encode seen: %w", err)
	}
	return b, nil
}

// DecodeSeen reads what EncodeSeen wrote.
func DecodeSeen(b []byte) (Seen, error) {
	var s Seen
	if err := json.Unmarshal(b, &s); err != nil {
		return Seen{}, fmt.Errorf("activity: decode seen: %w", err)
	}
	return s, nil
}

// ValidateSeenKey checks a Seen key as PutSeen and GetSeen do.
func ValidateSeenKey(key string) error {
	switch {
	case key == "":
		return errors.New("activity: empty seen key")
	case len(key) > MaxSeenKey:
		return fmt.Errorf("activity: seen key longer than %d bytes", MaxSeenKey)
	case !isText(key):
		return errors.New("activity: seen key is not UTF-8 text without NUL")
	}
	return nil
}

// ErrUnavailable is wrapped by every error a Store returns when its
// backend cannot answer.
var ErrUnavailable = errors.New("activity: store unavailable")

// Sort orders events as List returns them: newest first, ties by ID
// (byte order).
func Sort(events []Event) {
	slices.SortFunc(events, Compare)
}

// Compare orders two events as List does.
func Compare(a, b Event) int {
	if c := b.At.Compare(a.At); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// ListLimit is how many events List returns at most: limit, capped at
// p.MaxPerIdentity (limit 0: p.MaxPerIdentity).
func ListLimit(p Policy, limit int) int {
	if limit <= 0 || limit > p.MaxPerIdentity {
		return p.MaxPerIdentity
	}
	return limit
}

// ValidateAddresses checks an address record.
func ValidateAddresses(addrs []string) error {
	if len(addrs) > MaxAddresses {
		return fmt.Errorf("activity: %d addresses, more than %d", len(addrs), MaxAddresses)
	}
	return nil
}
