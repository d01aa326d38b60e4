package lockout

import (
	"errors"
	"fmt"
	"time"
)

// Rule is the lockout policy for one [Kind] of key.
type Rule struct {
	// MaxFailures within Window lock the key.
	MaxFailures int
	// Window is the fixed counting window; it starts with a key's first
	// failure and is extended to end one Window after a lock ends.
	Window time.Duration
	// LockDuration is the length of the first lock.
	LockDuration time.Duration
	// MaxLockDuration caps the doubling of further locks within the window.
	// Equal to LockDuration: no doubling.
	MaxLockDuration time.Duration
}

// Limits on rule values, which keep store arithmetic (milliseconds in 64-bit
// integers) far from overflow.
const (
	minDuration = time.Second
	maxDuration = 30 * 24 * time.Hour
	// maxShift caps the doubling exponent; every store uses the same cap.
	maxShift = 30
)

// Validate checks the rule on its own (not against ASVS; see
// [Config.Validate]).
func (r Rule) Validate() error {
	var errs []error
	if r.MaxFailures < 1 {
		errs = append(errs, fmt.Errorf("MaxFailures %d: must be at least 1", r.MaxFailures))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Window", r.Window}, {"LockDuration", r.LockDuration}, {"MaxLockDuration", r.MaxLockDuration}} {
		if d.v < minDuration || d.v > maxDuration {
			errs = append(errs, fmt.Errorf("%s %v: must be between %v and %v", d.name, d.v, minDuration, maxDuration))
		}
	}
	if r.MaxLockDuration < r.LockDuration {
		errs = append(errs, fmt.Errorf("MaxLockDuration %v: must not be shorter than LockDuration %v", r.MaxLockDuration, r.LockDuration))
	}
	return errors.Join(errs...)
}

// LockFor returns the duration of the level-th lock (1 for the first):
// LockDuration doubled level-1 times, at most MaxLockDuration, at millisecond
// precision.
func (r Rule) LockFor(level int) time.Duration {
	return time.Duration(lockMillis(r.LockDuration.Milliseconds(), r.MaxLockDuration.Milliseconds(), level)) * time.Millisecond
}

func lockMillis(base, max int64, level int) int64 {
	shift := level - 1
	if shift < 0 {
		shift = 0
	}
	if shift > maxShift {
		shift = maxShift
	}
	d := base << shift
	if d > max || d <= 0 {
		d = max
	}
	return d
}

// Current returns s as seen at now (times at millisecond precision):
//
//	if ExpiresAt is set and now >= ExpiresAt:
//	    Failures, Locks, LockedUntil, ExpiresAt = 0 (window forgotten; Pending kept)
//	if PendingUntil is set and now >= PendingUntil: Pending, PendingUntil = 0
//
// LockedNow is cleared: it describes an update, not a state.
func (s State) Current(now time.Time) State {
	nowMS := now.UnixMilli()
	s.LockedNow = false
	if !s.ExpiresAt.IsZero() && nowMS >= s.ExpiresAt.UnixMilli() {
		s.Failures, s.Locks, s.LockedUntil, s.ExpiresAt = 0, 0, time.Time{}, time.Time{}
	}
	if !s.PendingUntil.IsZero() && nowMS >= s.PendingUntil.UnixMilli() {
		s.Pending, s.PendingUntil = 0, time.Time{}
	}
	return s
}

// Expiry is when the entry is forgotten: the later of ExpiresAt and
// PendingUntil (zero if neither is set). Stores keep an entry until then.
func (s State) Expiry() time.Time {
	if s.PendingUntil.After(s.ExpiresAt) {
		return s.PendingUntil
	}
	return s.ExpiresAt
}

// Apply returns the state after one failure at now, given the previous state.
// It is the reference semantics every [Store] implements atomically in Fail:
//
//	s = prev.Current(now)
//	if s has no window (ExpiresAt zero): start afresh,
//	    Failures = 0, Locks = 0, LockedUntil = 0, ExpiresAt = now + Window
//	    (Pending and PendingUntil are kept: attempts in flight stay counted)
//	Failures++
//	if Failures >= MaxFailures and now >= LockedUntil:
//	    Locks++; LockedUntil = now + LockFor(Locks)
//	    ExpiresAt = max(ExpiresAt, LockedUntil + Window); LockedNow = true
//
// Apply keeps a live Pending as it is; see [Rule.Settle]. Times are
// truncated to milliseconds.
func (r Rule) Apply(prev State, now time.Time) State {
	nowMS := now.UnixMilli()
	winMS := r.Window.Milliseconds()
	s := prev.Current(now)
	if s.ExpiresAt.IsZero() {
		s = State{ExpiresAt: time.UnixMilli(nowMS + winMS), Pending: s.Pending, PendingUntil: s.PendingUntil}
	}
	s.Failures++
	if s.Failures >= int64(r.MaxFailures) && (s.LockedUntil.IsZero() || nowMS >= s.LockedUntil.UnixMilli()) {
		s.Locks++
		lu := nowMS + lockMillis(r.LockDuration.Milliseconds(), r.MaxLockDuration.Milliseconds(), s.Locks)
		s.LockedUntil = time.UnixMilli(lu)
		if lu+winMS > s.ExpiresAt.UnixMilli() {
			s.ExpiresAt = time.UnixMilli(lu + winMS)
		}
		s.LockedNow = true
	}
	return s
}

// Limits on Hold (see [ValidateHold]).
const (
	minHold = time.Second
	maxHold = time.Hour
)

// ValidateHold checks how long a reservation may be held: 1 s to 1 h.
func ValidateHold(hold time.Duration) error {
	if hold < minHold || hold > maxHold {
		return fmt.Errorf("hold %v: must be between %v and %v", hold, minHold, maxHold)
	}
	return nil
}

// Reserve admits one attempt at now, to be settled by [Rule.Settle] within
// hold, and reports whether it was admitted. It is the reference semantics
// of [Store].Reserve:
//
//	s = prev.Current(now)
//	if now < LockedUntil: refused (locked)
//	remaining = MaxFailures - Failures, at least 1
//	    (after a lock ended within the window, one attempt at a time: its
//	    failure locks again)
//	if Pending >= remaining: refused (busy: as many attempts in flight as
//	    failures remain)
//	Pending++; PendingUntil = max(PendingUntil, now + hold)
//
// So the attempts admitted while a key has no lock can, all failing, at most
// reach the lock: no more credentials are judged than MaxFailures allows. A
// refused Reserve returns s and changes nothing. PendingUntil never moves
// back, so a caller with a slower clock cannot shorten the others' holds.
func (r Rule) Reserve(prev State, now time.Time, hold time.Duration) (State, bool) {
	nowMS := now.UnixMilli()
	s := prev.Current(now)
	if !s.LockedUntil.IsZero() && nowMS < s.LockedUntil.UnixMilli() {
		return s, false
	}
	remaining := max(int64(r.MaxFailures)-s.Failures, 1)
	if s.Pending >= remaining {
		return s, false
	}
	s.Pending++
	if until := nowMS + hold.Milliseconds(); s.PendingUntil.IsZero() || until > s.PendingUntil.UnixMilli() {
		s.PendingUntil = time.UnixMilli(until)
	}
	return s, true
}

// Settle ends one attempt admitted by [Rule.Reserve] at now; failed counts
// it as a failure ([Rule.Apply], which reports LockedNow). It is the
// reference semantics of [Store].Settle:
//
//	s = prev.Current(now)
//	if Pending > 0: Pending--; if Pending == 0: PendingUntil = 0
//	if failed: s = Apply(s, now)
//
// An attempt settled after its hold has no slot left to free (its Pending
// was forgotten), but its failure still counts.
func (r Rule) Settle(prev State, now time.Time, failed bool) State {
	s := prev.Current(now)
	if s.Pending > 0 {
		s.Pending--
		if s.Pending == 0 {
			s.PendingUntil = time.Time{}
		}
	}
	if failed {
		s = r.Apply(s, now)
	}
	return s
}

// MaxFailuresPerHour is a worst-case bound on the failures one key can record
// in any hour when the caller honours Check:
//
//	MaxFailures × (⌈1h / Window⌉ + 1) + ⌊1h / LockDuration⌋ + 1
//
// Entries last at least one Window, so at most ⌈1h/Window⌉+1 of them overlap
// an hour, each allowing MaxFailures failures up to its first lock; every
// later failure in an entry engages a lock of at least LockDuration.
func (r Rule) MaxFailuresPerHour() int {
	if r.Window <= 0 || r.LockDuration <= 0 {
		return -1 // invalid; Validate reports it
	}
	windows := int64((time.Hour + r.Window - 1) / r.Window)
	return int(int64(r.MaxFailures)*(windows+1) + int64(time.Hour/r.LockDuration) + 1)
}
