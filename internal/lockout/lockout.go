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

// KeyKind says what a [Key] counts failures for.
type KeyKind string

// The kinds of key.
const (
	// KindIdentifier is a login identifier (email, username, phone).
	KindIdentifier KeyKind = "identifier"
	// KindIP is a client IP address (IPv6: its /64 by default).
	KindIP KeyKind = "ip"
	// KindIdentity is an identity ID, for second factors (TOTP, lookup
	// secrets, codes).
	KindIdentity KeyKind = "identity"
	// KindDevice is a device cookie: its own failure counter, so a device
	// that proved itself is not locked out with an attacked identifier.
	KindDevice KeyKind = "device"
	// KindRecipient is where Kratos sends codes (an email address or phone
	// number), for send quotas.
	KindRecipient KeyKind = "recipient"
	// KindSession is a Kratos session handle, for session links.
	KindSession KeyKind = "session"
)

// Valid reports whether k is one of the defined kinds.
func (k KeyKind) Valid() bool {
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
	Kind   KeyKind
	Digest string // unpadded base64url SHA-256 or HMAC-SHA-256 of the normalized value
}

// String returns "realm:kind:digest", the key stores use. It is unambiguous:
// the kind and the digest contain no colon. It is safe to log.
func (k Key) String() string {
	return k.Realm + ":" + string(k.Kind) + ":" + k.Digest
}

// State is the stored state of one key. A key never seen, or whose entry has
// expired, has the zero State. The entry lives at least until
// [State.Expiry]; stores keep it until [Rule.KeepUntil].
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
	// Holds are the reservations admitted by Reserve and not yet settled,
	// sorted by Until, then ID. A hold still there at its Until counts as a
	// failure as at that time ([Rule.Current]).
	Holds []Hold
	// Pending is the number of attempts in flight: the Holds, plus the
	// anonymous reservations of older Hera versions sharing the store (they
	// keep only this count and PendingUntil). PendingUntil is the latest
	// end among them all; the anonymous ones are forgotten then. Both are
	// kept up to date for those older versions: Pending is never below
	// len(Holds), PendingUntil never before a hold's Until.
	Pending      int64
	PendingUntil time.Time
	// Expired is set only in the State returned by a write (Fail, Reserve,
	// Settle): how many holds this very operation counted as failures
	// because they ended unsettled. Exactly one operation reports each.
	Expired int
	// LockedNow is set only in the State returned by a write: this very
	// operation engaged the lock, by its own failure or by an expired
	// hold's. Exactly one operation per lock reports it, however many run
	// concurrently.
	LockedNow bool
}

// Hold is one reservation ([Store].Reserve) not yet settled.
type Hold struct {
	// ID is the caller's opaque reservation ID ([ValidateHoldID]).
	ID string
	// Until is when the hold ends: unsettled by then, it counts as a
	// failure.
	Until time.Time
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
// [Rule.Reserve] in Reserve, [Rule.Settle] in Settle, [Rule.Current] in Get
// and [TakeQuota] in Take. Every counter write first counts the holds that
// ended unsettled ([Rule.Current]), each exactly once across all instances.
// They take the time from now (never from their own clock), work at
// millisecond precision, honour ctx and wrap every error in
// [ErrUnavailable], invalid arguments included.
//
// An operation that failed may still have taken effect: a database finishes
// a statement whose client timed out. So a Fail that returned an error may
// have been counted (failures are over-counted, never under-counted), and a
// Reserve that returned an error may have stored its hold, which counts as a
// failure when it ends unless settled. Settle is idempotent (a hold is
// removed once), so it can be retried.
//
// The conformance suite in package storetest checks all of this.
type Store interface {
	// Fail records one failure of key at now under rule and returns the new
	// state. rule must be valid ([Rule.Validate]).
	Fail(ctx context.Context, key Key, now time.Time, rule Rule) (State, error)
	// Get returns the state of key at now under rule ([Rule.Current]: holds
	// that ended show as failures; the zero State when absent or expired).
	// It writes nothing; Expired and LockedNow are unset.
	Get(ctx context.Context, key Key, now time.Time, rule Rule) (State, error)
	// Reset forgets the counter of key, holds and pending reservations
	// included. Resetting an absent key is not an error.
	Reset(ctx context.Context, key Key) error

	// Reserve admits one attempt on key as the hold id ([Rule.Reserve])
	// and returns the state and whether it was admitted. A refused Reserve
	// writes only the expired holds it counted. id must pass
	// [ValidateHoldID], hold [ValidateHold].
	Reserve(ctx context.Context, key Key, id string, now time.Time, rule Rule, hold time.Duration) (State, bool, error)
	// Settle ends the attempt held as id ([Rule.Settle]); failed counts it
	// as a failure. An id not held (expired, settled already, never
	// stored) counts nothing.
	Settle(ctx context.Context, key Key, id string, now time.Time, rule Rule, failed bool) (State, error)

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
	// returns how many. A counter lives until [Rule.KeepUntil], so one
	// with a hold is kept until the failure it may count is forgotten.
	Sweep(ctx context.Context, now time.Time) (int, error)
}
