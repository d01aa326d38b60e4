package lockout

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable is wrapped by every error a [Store] returns: the store could
// not answer (unreachable, timed out, cancelled, or failed). Callers fail
// closed on it unless configured otherwise.
var ErrUnavailable = errors.New("lockout: store unavailable")

// Kind says what a [Key] counts failures for.
type Kind string

// The kinds of key.
const (
	// KindIdentifier is a login identifier (email, username, phone).
	KindIdentifier Kind = "identifier"
	// KindIP is a client IP address (IPv6: its /64 by default).
	KindIP Kind = "ip"
	// KindIdentity is an identity ID, for second factors (TOTP, lookup
	// secrets, codes).
	KindIdentity Kind = "identity"
	// KindDevice is a device cookie: its own failure counter, so a device
	// that proved itself is not locked out with an attacked identifier.
	KindDevice Kind = "device"
	// KindRecipient is where Kratos sends codes (an email address or phone
	// number), for send quotas.
	KindRecipient Kind = "recipient"
	// KindSession is a Kratos session handle, for session links.
	KindSession Kind = "session"
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindIdentifier, KindIP, KindIdentity, KindDevice, KindRecipient, KindSession:
		return true
	}
	return false
}

// Key identifies one failure counter, send quota or session link. Build keys
// with the [Limiter] methods (IdentifierKey, IPKey, ...), which normalize and
// hash the value.
type Key struct {
	Realm  string
	Kind   Kind
	Digest string // unpadded base64url SHA-256 or HMAC-SHA-256 of the normalized value
}

// String returns "realm:kind:digest", the key stores use. It is unambiguous:
// the kind and the digest contain no colon. It is safe to log.
func (k Key) String() string {
	return k.Realm + ":" + string(k.Kind) + ":" + k.Digest
}

// State is the stored state of one key. A key never seen, or whose entry has
// expired, has the zero State. The entry lives until [State.Expiry].
type State struct {
	// Failures counted since the key's window started.
	Failures int64
	// Locks engaged since the window started (the escalation level).
	Locks int
	// LockedUntil is the end of the current or last lock; zero if none.
	LockedUntil time.Time
	// ExpiresAt is when the failure window (Failures, Locks, LockedUntil) is
	// forgotten; zero if there is none.
	ExpiresAt time.Time
	// Pending is the number of attempts admitted by Reserve and not yet
	// settled; they are forgotten at PendingUntil.
	Pending      int64
	PendingUntil time.Time
	// LockedNow is set only in the State returned by Fail or Settle: this
	// very failure engaged the lock. Exactly one failure per lock reports it,
	// however many run concurrently.
	LockedNow bool
}

// Locked reports whether the key is locked at now.
func (s State) Locked(now time.Time) bool {
	return now.Before(s.LockedUntil)
}

// Store keeps failure counters, send quotas and session links, three
// separate namespaces: the same Key may have a counter, a quota and a link,
// and Reset forgets only the counter.
//
// Implementations must be safe for concurrent use, also between instances
// sharing the data (two pools on one database), and apply the reference
// functions atomically: [Rule.Apply] in Fail (N concurrent failures for one
// key count exactly N, and exactly one of them reports LockedNow per lock),
// [Rule.Reserve] in Reserve, [Rule.Settle] in Settle and [TakeQuota] in
// Take. They take the time from now (never from their own clock), work at
// millisecond precision, honour ctx and wrap every error in
// [ErrUnavailable], invalid arguments included.
//
// An operation that failed may still have taken effect: a database finishes
// a statement whose client timed out. So a Fail that returned an error may
// have been counted (failures are over-counted, never under-counted), and a
// Reserve that returned an error may hold a slot until its hold ends.
//
// The conformance suite in package storetest checks all of this.
type Store interface {
	// Fail records one failure of key at now under rule and returns the new
	// state. rule must be valid ([Rule.Validate]).
	Fail(ctx context.Context, key Key, now time.Time, rule Rule) (State, error)
	// Get returns the state of key at now ([State.Current]; the zero State
	// when absent or expired).
	Get(ctx context.Context, key Key, now time.Time) (State, error)
	// Reset forgets the counter of key, pending reservations included.
	// Resetting an absent key is not an error.
	Reset(ctx context.Context, key Key) error

	// Reserve admits one attempt on key ([Rule.Reserve]) and returns the
	// state and whether it was admitted. A refused Reserve changes nothing.
	// hold must pass [ValidateHold].
	Reserve(ctx context.Context, key Key, now time.Time, rule Rule, hold time.Duration) (State, bool, error)
	// Settle ends one attempt admitted by Reserve ([Rule.Settle]); failed
	// counts it as a failure.
	Settle(ctx context.Context, key Key, now time.Time, rule Rule, failed bool) (State, error)

	// Take spends one use of key's send quota ([TakeQuota]); limits must
	// pass [ValidateLimits]. A refused take is not recorded.
	Take(ctx context.Context, key Key, now time.Time, limits []Limit) (Quota, error)

	// Link makes handle resolve to subject until now + ttl, replacing any
	// earlier link; subject and ttl must pass [ValidateLink].
	Link(ctx context.Context, handle Key, subject string, now time.Time, ttl time.Duration) error
	// Resolve returns the subject handle is linked to at now, or "" when
	// there is none or it has expired.
	Resolve(ctx context.Context, handle Key, now time.Time) (string, error)
}

// Sweeper is implemented by stores that delete expired entries on demand
// (memory, postgres; they also sweep periodically on their own). Redis expires
// entries itself through TTLs.
type Sweeper interface {
	// Sweep deletes the counters, quotas and links expired at now and
	// returns how many. A counter lives until [State.Expiry], so one that
	// only holds a live reservation is kept.
	Sweep(ctx context.Context, now time.Time) (int, error)
}
