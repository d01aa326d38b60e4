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

// Apply returns the state after one failure at now, given the previous state.
// It is the reference semantics every [Store] implements atomically:
//
//	if there is no entry, or now >= ExpiresAt: start afresh,
//	    Failures = 0, Locks = 0, LockedUntil = 0, ExpiresAt = now + Window
//	Failures++
//	if Failures >= MaxFailures and now >= LockedUntil:
//	    Locks++; LockedUntil = now + LockFor(Locks)
//	    ExpiresAt = max(ExpiresAt, LockedUntil + Window); LockedNow = true
//
// Times are truncated to milliseconds.
func (r Rule) Apply(prev State, now time.Time) State {
	nowMS := now.UnixMilli()
	winMS := r.Window.Milliseconds()
	s := prev
	s.LockedNow = false
	if s.ExpiresAt.IsZero() || nowMS >= s.ExpiresAt.UnixMilli() {
		s = State{ExpiresAt: time.UnixMilli(nowMS + winMS)}
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
