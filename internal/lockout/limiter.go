package lockout

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
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

// Rule returns the rule for kind.
func (l *Limiter) Rule(kind KeyKind) Rule {
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
		s, err := l.store.Get(ctx, k, now, l.Rule(k.Kind))
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
	l.expired(key, s)
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
	id         string // the hold's ID on every key
	keys       []Key  // admitted: each holds the hold id
	unreserved []Key  // not reserved because the store failed under FailOpen
	done       atomic.Bool
}

// newHoldID returns a random reservation ID: 16 bytes, unpadded base64url.
func newHoldID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Reserve admits one attempt on keys before its credential is forwarded to
// Kratos: each key, in order, holds it under one random ID (see
// [Rule.Reserve]), so concurrent attempts cannot all pass before the first
// failure is recorded. Call it with all the keys of the attempt (identifier
// and IP, or identity and IP, plus the device key if any) and
// [Limiter.Settle] the Reservation once Kratos answered. A reservation not
// settled within Config.Hold (the instance crashed) counts as a failure on
// every key it holds.
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
// non-nil so that Settle can still count a failure with Fail. (The failed
// Reserve may have stored its hold all the same; it then counts as a failure
// when its hold ends: over-counted, never under-counted.)
func (l *Limiter) Reserve(ctx context.Context, keys ...Key) (*Reservation, Decision, error) {
	for _, k := range keys {
		if err := l.checkKey(k); err != nil {
			return nil, Decision{Locked: true}, err
		}
	}
	keys = distinct(keys)
	now := l.cfg.Now()
	r := &Reservation{id: newHoldID()}
	var d Decision
	for _, k := range keys {
		st, ok, err := l.store.Reserve(ctx, k, r.id, now, l.Rule(k.Kind), l.cfg.Hold)
		if err != nil {
			err = errors.Join(storeErr("reserve", k, err), l.release(ctx, now, r))
			if !l.cfg.FailOpen {
				return nil, l.unavailable(), err
			}
			return &Reservation{id: r.id, unreserved: keys}, l.unavailable(), err
		}
		l.expired(k, st)
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
			return nil, d, l.release(ctx, now, r)
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

// expired hands the number of holds a store write on k counted as failures,
// because they ended unsettled, to Config.OnExpired.
func (l *Limiter) expired(k Key, st State) {
	if st.Expired > 0 && l.cfg.OnExpired != nil {
		l.cfg.OnExpired(k.Kind, st.Expired)
	}
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

// release settles the keys r admitted without a failure: the attempt was
// not forwarded. It runs even when ctx was cancelled, bounded by the store's
// own timeout, and retries like Settle: a hold left behind would count as a
// failure when it ends.
func (l *Limiter) release(ctx context.Context, now time.Time, r *Reservation) error {
	ctx = context.WithoutCancel(ctx)
	var rt retrier
	var errs []error
	for _, k := range r.keys {
		var st State
		err := rt.do(func() (err error) {
			st, err = l.store.Settle(ctx, k, r.id, now, l.Rule(k.Kind), false)
			return err
		})
		if err != nil {
			errs = append(errs, storeErr("release", k, err))
			continue
		}
		l.expired(k, st)
	}
	return errors.Join(errs...)
}

// settleBackoff is how long Settle waits before each further attempt of a
// store operation that failed: three attempts in all.
var settleBackoff = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond}

// retrier retries store operations after settleBackoff until one of them
// has failed every attempt: the store is down, and the operations after it
// get one attempt each, so that settling several keys does not wait for
// each in turn.
type retrier struct{ gaveUp bool }

func (r *retrier) do(op func() error) error {
	err := op()
	if r.gaveUp {
		return err
	}
	for _, d := range settleBackoff {
		if err == nil {
			return nil
		}
		time.Sleep(d)
		err = op()
	}
	r.gaveUp = err != nil
	return err
}

// Settle ends a reserved attempt once Kratos answered; o says how. Failure
// counts a failure on every key (with Fail for the keys the store could not
// reserve under FailOpen) and returns the keys whose lock this Settle
// engaged. Success frees the slots and then resets the keys other than IP
// keys, like [Limiter.Succeed]. Neutral only frees the slots. A nil r does
// nothing, as does settling r again.
//
// Settle runs even if ctx was cancelled (the client went away after Kratos
// judged its credential: the failure must count), bounded by the store's own
// timeout. A store operation that fails is tried up to three times (after
// 50 ms, then 200 ms), until one has failed all three: the operations after
// it are tried once. Settling a hold is idempotent; a retried Fail (keys
// not reserved under FailOpen) may count twice: over-counted, never
// under-counted. If settling a key
// still fails, its hold stays in the store and counts as a failure when it
// ends, Config.Hold after Reserve: a Neutral or Success outcome may then be
// counted as a failure, a Failure is never left uncounted. A reservation
// settled after its hold ended was counted as a failure then; settling it
// counts nothing more (a late Settle never double counts). Errors are
// joined and wrap [ErrUnavailable].
func (l *Limiter) Settle(ctx context.Context, r *Reservation, o Outcome) (engaged []Key, err error) {
	if r == nil || !r.done.CompareAndSwap(false, true) {
		return nil, nil
	}
	ctx = context.WithoutCancel(ctx)
	now := l.cfg.Now()
	var rt retrier
	var errs []error
	for _, k := range r.keys {
		var st State
		err := rt.do(func() (err error) {
			st, err = l.store.Settle(ctx, k, r.id, now, l.Rule(k.Kind), o == Failure)
			return err
		})
		if err != nil {
			errs = append(errs, storeErr("settle", k, err))
			continue
		}
		l.expired(k, st)
		if st.LockedNow {
			engaged = append(engaged, k)
		}
	}
	switch o {
	case Failure:
		for _, k := range r.unreserved {
			var st State
			err := rt.do(func() (err error) {
				st, err = l.store.Fail(ctx, k, now, l.Rule(k.Kind))
				return err
			})
			if err != nil {
				errs = append(errs, storeErr("fail", k, err))
				continue
			}
			l.expired(k, st)
			if st.LockedNow {
				engaged = append(engaged, k)
			}
		}
	case Success:
		for _, k := range slices.Concat(r.keys, r.unreserved) {
			if k.Kind == KindIP {
				continue
			}
			if err := rt.do(func() error { return l.store.Reset(ctx, k) }); err != nil {
				errs = append(errs, storeErr("reset", k, err))
			}
		}
	}
	return engaged, errors.Join(errs...)
}

// storeErr makes sure a store error wraps ErrUnavailable, whatever the store.
func storeErr(op string, k Key, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("lockout: %s %s: %w", op, k, err)
	}
	return fmt.Errorf("lockout: %s %s: %w: %w", op, k, ErrUnavailable, err)
}
