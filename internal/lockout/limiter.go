package lockout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync/atomic"
	"time"
)

// ErrInvalidKey is returned for a [Key] with an unknown kind, an empty
// digest or a realm other than the limiter's.
var ErrInvalidKey = errors.New("lockout: invalid key")

// Limiter applies a [Config] to a [Store]. It is safe for concurrent use.
type Limiter struct {
	store Store
	cfg   Config
}

// New returns a limiter over store. Zero fields of cfg take their defaults;
// the result must pass [Config.Validate].
func New(store Store, cfg Config) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("lockout: nil store")
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.KeySecret = append([]byte(nil), cfg.KeySecret...)
	return &Limiter{store: store, cfg: cfg}, nil
}

// Config returns the effective configuration (defaults filled in).
func (l *Limiter) Config() Config { return l.cfg }

// IdentifierKey returns the key for a login identifier as typed by the user;
// it is normalized with [NormalizeIdentifier].
func (l *Limiter) IdentifierKey(identifier string) Key {
	return l.key(KindIdentifier, NormalizeIdentifier(identifier))
}

// IPKey returns the key for a client IP address; it is normalized with
// [NormalizeIP].
func (l *Limiter) IPKey(ip string) Key {
	return l.key(KindIP, NormalizeIP(ip, l.cfg.IPv6Prefix))
}

// IdentityKey returns the key for a second-factor attempt on an identity
// (its Kratos identity ID).
func (l *Limiter) IdentityKey(identityID string) Key {
	return l.key(KindIdentity, NormalizeIdentityID(identityID))
}

// DeviceKey returns the key of a device cookie's own failure counter. id is
// the cookie's identifier, taken as it is: it is random, not typed.
func (l *Limiter) DeviceKey(id string) Key {
	return l.key(KindDevice, id)
}

// RecipientKey returns the send-quota key of an address Kratos sends codes
// to (email or phone); it is normalized with [NormalizeIdentifier].
func (l *Limiter) RecipientKey(address string) Key {
	return l.key(KindRecipient, NormalizeIdentifier(address))
}

// SessionKey returns the key of a Kratos session handle, for session links.
// The handle is taken as it is (it is a secret, not typed); stores only see
// its digest.
func (l *Limiter) SessionKey(handle string) Key {
	return l.key(KindSession, handle)
}

func (l *Limiter) key(kind Kind, normalized string) Key {
	var h hash.Hash
	if len(l.cfg.KeySecret) > 0 {
		h = hmac.New(sha256.New, l.cfg.KeySecret)
	} else {
		h = sha256.New()
	}
	// The kind is hashed in too, so equal values of different kinds never
	// share a digest.
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(normalized))
	return Key{Realm: l.cfg.Realm, Kind: kind, Digest: base64.RawURLEncoding.EncodeToString(h.Sum(nil))}
}

// Rule returns the rule for kind.
func (l *Limiter) Rule(kind Kind) Rule {
	switch kind {
	case KindIP:
		return l.cfg.IP
	case KindIdentity:
		return l.cfg.Identity
	case KindDevice:
		return l.cfg.Device
	default:
		return l.cfg.Identifier
	}
}

func (l *Limiter) checkKey(k Key) error {
	if !k.Kind.Valid() || k.Digest == "" || k.Realm != l.cfg.Realm {
		return fmt.Errorf("%w: %s", ErrInvalidKey, k)
	}
	return nil
}

// Decision is the outcome of [Limiter.Reserve] or [Limiter.Check]. It
// depends only on the counters of the keys, never on whether an account
// exists.
type Decision struct {
	// Locked: do not forward the credential; show the generic message.
	Locked bool
	// Busy (Reserve only): as many attempts on a key are in flight as it has
	// failures left before its lock; do not forward the credential, show the
	// generic message. Retrying after RetryAfter may succeed.
	Busy bool
	// Until is when the lock ends (Check: the longest among the keys;
	// Reserve: the refusing key's lock, or its reservations' end when Busy);
	// zero if neither or if the store is unavailable.
	Until time.Time
	// RetryAfter is Until - now rounded up to a whole second (for a
	// Retry-After header); zero if Until is.
	RetryAfter time.Duration
	// Failures is the highest failure count among the keys other than IP
	// keys; IPFailures the highest among IP keys.
	Failures   int64
	IPFailures int64
	// Slot (Reserve only) is this attempt's position: the highest Failures +
	// Pending among the keys other than IP keys once it was admitted (if it
	// was refused: the position it would have had).
	Slot int64
	// CaptchaRequired: Reserve: Slot is above Config.CaptchaAfter (the 4th
	// attempt in flight or after 3 failures, by default). Check: Failures +
	// Pending reached CaptchaAfter. Also set when the store is unavailable
	// and the limiter fails open. The caller decides what to do.
	CaptchaRequired bool
	// Unavailable: the store could not be asked; Locked then follows
	// Config.FailOpen.
	Unavailable bool
}

// Check reports whether an attempt on keys may go ahead, without reserving
// anything. Prefer [Limiter.Reserve]: attempts that all pass Check before
// the first failure is recorded are all judged. Check reports Locked only;
// it does not report Busy.
//
// The Decision is always usable. When the store is unavailable, Check also
// returns an error wrapping [ErrUnavailable] and the Decision is Locked
// (fail closed) unless Config.FailOpen. An invalid key yields a Locked
// Decision and an error wrapping [ErrInvalidKey].
func (l *Limiter) Check(ctx context.Context, keys ...Key) (Decision, error) {
	now := l.cfg.Now()
	var d Decision
	var attempts int64 // highest Failures + Pending of account keys
	for _, k := range keys {
		if err := l.checkKey(k); err != nil {
			return Decision{Locked: true}, err
		}
		s, err := l.store.Get(ctx, k, now)
		if err != nil {
			return l.unavailable(), storeErr("check", k, err)
		}
		if s.Locked(now) {
			d.Locked = true
			if s.LockedUntil.After(d.Until) {
				d.Until = s.LockedUntil
			}
		}
		d.count(k, s)
		if k.Kind != KindIP {
			attempts = max(attempts, s.Failures+s.Pending)
		}
	}
	d.RetryAfter = retryAfter(d.Until, now)
	d.CaptchaRequired = l.cfg.CaptchaAfter >= 0 && attempts >= int64(l.cfg.CaptchaAfter)
	return d, nil
}

// count adds the failures of key's state s to d.
func (d *Decision) count(k Key, s State) {
	if k.Kind == KindIP {
		d.IPFailures = max(d.IPFailures, s.Failures)
	} else {
		d.Failures = max(d.Failures, s.Failures)
	}
}

// retryAfter is until - now rounded up to a whole second, zero if until is.
func retryAfter(until, now time.Time) time.Duration {
	if until.IsZero() {
		return 0
	}
	return max(until.Sub(now)+time.Second-1, 0).Truncate(time.Second)
}

func (l *Limiter) unavailable() Decision {
	if l.cfg.FailOpen {
		return Decision{Unavailable: true, CaptchaRequired: l.cfg.CaptchaAfter >= 0}
	}
	return Decision{Unavailable: true, Locked: true}
}

// Fail records that Kratos rejected a credential for key and returns the new
// state; State.LockedNow reports that this failure engaged a lock. Call it
// once per key of the attempt. Errors wrap [ErrUnavailable] or
// [ErrInvalidKey]; a failure whose Fail returned ErrUnavailable may still
// have been counted.
func (l *Limiter) Fail(ctx context.Context, key Key) (State, error) {
	if err := l.checkKey(key); err != nil {
		return State{}, err
	}
	s, err := l.store.Fail(ctx, key, l.cfg.Now(), l.Rule(key.Kind))
	if err != nil {
		return State{}, storeErr("fail", key, err)
	}
	return s, nil
}

// Succeed records that Kratos accepted a credential: it resets the
// identifier and identity keys among keys. IP keys are left alone, so one
// valid account cannot be used to reset an IP's counter. Errors wrap
// [ErrUnavailable] or [ErrInvalidKey].
func (l *Limiter) Succeed(ctx context.Context, keys ...Key) error {
	var errs []error
	for _, k := range keys {
		if err := l.checkKey(k); err != nil {
			errs = append(errs, err)
			continue
		}
		if k.Kind == KindIP {
			continue
		}
		if err := l.store.Reset(ctx, k); err != nil {
			errs = append(errs, storeErr("reset", k, err))
		}
	}
	return errors.Join(errs...)
}

// Outcome is what Kratos made of a reserved attempt.
type Outcome int

// The outcomes of an attempt.
const (
	// Neutral: Kratos judged no credential (it failed, the flow expired, the
	// form was incomplete). The slot is freed, nothing is counted.
	Neutral Outcome = iota
	// Failure: Kratos rejected the credential. Every key counts a failure.
	Failure
	// Success: Kratos accepted the credential. The keys other than IP keys
	// are reset.
	Success
)

// Reservation is what one Reserve admitted; Settle it exactly once (later
// calls do nothing).
type Reservation struct {
	at         time.Time
	keys       []Key // admitted: each holds one slot of Pending
	unreserved []Key // not reserved because the store failed under FailOpen
	done       atomic.Bool
}

// Reserve admits one attempt on keys before its credential is forwarded to
// Kratos: each key, in order, counts it as pending (see [Rule.Reserve]), so
// concurrent attempts cannot all pass before the first failure is recorded.
// Call it with all the keys of the attempt (identifier and IP, or identity
// and IP, plus the device key if any) and [Limiter.Settle] the Reservation
// once Kratos answered.
//
// When a key refuses, the keys already admitted are released, the
// Reservation is nil and the Decision is Locked or Busy, with Until and
// RetryAfter from the refusing key. An invalid key yields a nil
// Reservation, a Locked Decision and an error wrapping [ErrInvalidKey].
//
// When the store fails, the keys already admitted are released and the error
// wraps [ErrUnavailable]. The Decision is then Locked and Unavailable (fail
// closed) with a nil Reservation; with Config.FailOpen it is Unavailable and,
// unless captchas are disabled, CaptchaRequired, and the Reservation is
// non-nil so that Settle can still count a failure with Fail.
func (l *Limiter) Reserve(ctx context.Context, keys ...Key) (*Reservation, Decision, error) {
	for _, k := range keys {
		if err := l.checkKey(k); err != nil {
			return nil, Decision{Locked: true}, err
		}
	}
	keys = distinct(keys)
	now := l.cfg.Now()
	r := &Reservation{at: now}
	var d Decision
	for _, k := range keys {
		st, ok, err := l.store.Reserve(ctx, k, now, l.Rule(k.Kind), l.cfg.Hold)
		if err != nil {
			err = errors.Join(storeErr("reserve", k, err), l.release(ctx, now, r.keys))
			if !l.cfg.FailOpen {
				return nil, l.unavailable(), err
			}
			return &Reservation{at: now, unreserved: keys}, l.unavailable(), err
		}
		d.count(k, st)
		if !ok {
			if st.Locked(now) {
				d.Locked, d.Until = true, st.LockedUntil
			} else {
				d.Busy, d.Until = true, st.PendingUntil
			}
			d.RetryAfter = retryAfter(d.Until, now)
			if k.Kind != KindIP {
				d.Slot = max(d.Slot, st.Failures+st.Pending+1)
			}
			d.CaptchaRequired = l.captcha(d.Slot)
			return nil, d, l.release(ctx, now, r.keys)
		}
		if k.Kind != KindIP {
			d.Slot = max(d.Slot, st.Failures+st.Pending)
		}
		r.keys = append(r.keys, k)
	}
	d.CaptchaRequired = l.captcha(d.Slot)
	return r, d, nil
}

func (l *Limiter) captcha(slot int64) bool {
	return l.cfg.CaptchaAfter >= 0 && slot > int64(l.cfg.CaptchaAfter)
}

// distinct returns a copy of keys without repetitions: one attempt takes one
// slot of a key, however often the caller names it.
func distinct(keys []Key) []Key {
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// release settles admitted keys without a failure: their attempt was not
// forwarded. It runs even when ctx was cancelled, bounded by the store's own
// timeout, or the slots would stay taken until the hold ends.
func (l *Limiter) release(ctx context.Context, now time.Time, keys []Key) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, k := range keys {
		if _, err := l.store.Settle(ctx, k, now, l.Rule(k.Kind), false); err != nil {
			errs = append(errs, storeErr("release", k, err))
		}
	}
	return errors.Join(errs...)
}

// Settle ends a reserved attempt once Kratos answered; o says how. Failure
// counts a failure on every key (with Fail for the keys the store could not
// reserve under FailOpen) and returns the keys whose lock this failure
// engaged. Success frees the slots and then resets the keys other than IP
// keys, like [Limiter.Succeed]. Neutral only frees the slots. A nil r does
// nothing, as does settling r again.
//
// Settle runs even if ctx was cancelled (the client went away after Kratos
// judged its credential: the failure must count), bounded by the store's own
// timeout. A reservation settled after Config.Hold may no longer hold its
// slot, so its keys are then treated as unreserved: a failure is counted with
// Fail and no slot is freed (at worst a slot stays taken until the other
// reservations' hold ends; never is one freed twice). Errors are joined and
// wrap [ErrUnavailable].
func (l *Limiter) Settle(ctx context.Context, r *Reservation, o Outcome) (engaged []Key, err error) {
	if r == nil || !r.done.CompareAndSwap(false, true) {
		return nil, nil
	}
	ctx = context.WithoutCancel(ctx)
	now := l.cfg.Now()
	admitted, unreserved := r.keys, r.unreserved
	if now.Sub(r.at) >= l.cfg.Hold {
		admitted, unreserved = nil, slices.Concat(r.keys, r.unreserved)
	}
	var errs []error
	for _, k := range admitted {
		st, err := l.store.Settle(ctx, k, now, l.Rule(k.Kind), o == Failure)
		if err != nil {
			errs = append(errs, storeErr("settle", k, err))
			continue
		}
		if st.LockedNow {
			engaged = append(engaged, k)
		}
	}
	switch o {
	case Failure:
		for _, k := range unreserved {
			st, err := l.store.Fail(ctx, k, now, l.Rule(k.Kind))
			if err != nil {
				errs = append(errs, storeErr("fail", k, err))
				continue
			}
			if st.LockedNow {
				engaged = append(engaged, k)
			}
		}
	case Success:
		for _, k := range slices.Concat(r.keys, r.unreserved) {
			if k.Kind == KindIP {
				continue
			}
			if err := l.store.Reset(ctx, k); err != nil {
				errs = append(errs, storeErr("reset", k, err))
			}
		}
	}
	return engaged, errors.Join(errs...)
}

// TakeSend spends one use of the send quotas before Kratos is asked to send
// a code: first the client IP's (Config.Sends.IP), then each distinct
// recipient's (Config.Sends.Recipient; addresses normalized with
// [NormalizeIdentifier]). It stops at the first refusal and returns it, so a
// refused IP never spends a recipient's quota; a recipient refused after
// others were taken leaves theirs spent. With no recipients only the IP
// quota is taken. An accepted Quota's Used is the highest among the
// recipients (the IP's if there are none).
//
// When the store fails the error wraps [ErrUnavailable] and the Quota is
// refused (fail closed), or allowed with Config.FailOpen.
func (l *Limiter) TakeSend(ctx context.Context, ip string, recipients ...string) (Quota, error) {
	now := l.cfg.Now()
	take := func(k Key, limits []Limit) (Quota, error) {
		q, err := l.store.Take(ctx, k, now, limits)
		if err != nil {
			return Quota{OK: l.cfg.FailOpen}, storeErr("take", k, err)
		}
		return q, nil
	}
	q, err := take(l.IPKey(ip), l.cfg.Sends.IP)
	if err != nil || !q.OK {
		return q, err
	}
	seen := make([]Key, 0, len(recipients))
	for _, addr := range recipients {
		k := l.RecipientKey(addr)
		if slices.Contains(seen, k) {
			continue
		}
		rq, err := take(k, l.cfg.Sends.Recipient)
		if err != nil || !rq.OK {
			return rq, err
		}
		if len(seen) == 0 || rq.Used > q.Used {
			q = rq
		}
		seen = append(seen, k)
	}
	return q, nil
}

// Link makes the Kratos session handle resolve to subject (say, the
// identifier the session logged in with) for Config.LinkTTL, replacing any
// earlier link. A subject failing [ValidateLink] is refused with an error
// that does not wrap ErrUnavailable; store errors do.
func (l *Limiter) Link(ctx context.Context, handle, subject string) error {
	if err := ValidateLink(subject, l.cfg.LinkTTL); err != nil {
		return fmt.Errorf("lockout: link: %w", err)
	}
	k := l.SessionKey(handle)
	if err := l.store.Link(ctx, k, subject, l.cfg.Now(), l.cfg.LinkTTL); err != nil {
		return storeErr("link", k, err)
	}
	return nil
}

// Resolve returns the subject the session handle is linked to, or "" when
// there is no live link. Errors wrap [ErrUnavailable].
func (l *Limiter) Resolve(ctx context.Context, handle string) (string, error) {
	k := l.SessionKey(handle)
	subject, err := l.store.Resolve(ctx, k, l.cfg.Now())
	if err != nil {
		return "", storeErr("resolve", k, err)
	}
	return subject, nil
}

// storeErr makes sure a store error wraps ErrUnavailable, whatever the store.
func storeErr(op string, k Key, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("lockout: %s %s: %w", op, k, err)
	}
	return fmt.Errorf("lockout: %s %s: %w: %w", op, k, ErrUnavailable, err)
}
