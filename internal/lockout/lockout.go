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
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	return k == KindIdentifier || k == KindIP || k == KindIdentity
}

// Key identifies one failure counter. Build keys with the [Limiter] methods
// (IdentifierKey, IPKey, IdentityKey), which normalize and hash the value.
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
// expired, has the zero State.
type State struct {
	// Failures counted since the key's window started.
	Failures int64
	// Locks engaged since the window started (the escalation level).
	Locks int
	// LockedUntil is the end of the current or last lock; zero if none.
	LockedUntil time.Time
	// ExpiresAt is when the entry is forgotten; zero if there is none.
	ExpiresAt time.Time
	// LockedNow is set only in the State returned by Fail: this very failure
	// engaged the lock. Exactly one failure per lock reports it, however many
	// run concurrently.
	LockedNow bool
}

// Locked reports whether the key is locked at now.
func (s State) Locked(now time.Time) bool {
	return now.Before(s.LockedUntil)
}

// Store keeps failure counters. Implementations must be safe for concurrent
// use, apply [Rule.Apply] atomically in Fail (N concurrent failures for one key
// count exactly N, and exactly one of them reports LockedNow per lock), take
// the time from now (never from their own clock), work at millisecond
// precision, honour ctx and wrap every error in [ErrUnavailable].
//
// An operation that failed may still have taken effect: a database finishes
// a statement whose client timed out. So a Fail that returned an error may
// have been counted (failures are over-counted, never under-counted).
//
// The conformance suite in package storetest checks all of this.
type Store interface {
	// Fail records one failure of key at now under rule and returns the new
	// state. rule must be valid ([Rule.Validate]).
	Fail(ctx context.Context, key Key, now time.Time, rule Rule) (State, error)
	// Get returns the state of key at now (the zero State when absent or
	// expired).
	Get(ctx context.Context, key Key, now time.Time) (State, error)
	// Reset forgets key. Resetting an absent key is not an error.
	Reset(ctx context.Context, key Key) error
}

// Sweeper is implemented by stores that delete expired entries on demand
// (memory, postgres; they also sweep periodically on their own). Redis expires
// entries itself through TTLs.
type Sweeper interface {
	// Sweep deletes the entries expired at now and returns how many.
	Sweep(ctx context.Context, now time.Time) (int, error)
}
