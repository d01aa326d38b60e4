package lockout

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rule is the lockout policy for one [KeyKind] of key.
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

// Current returns prev as seen at now under r (times at millisecond
// precision). Reservations that expired unsettled count as failures:
//
//	if now >= KeepUntil(prev): the zero State (the entry is gone: whatever
//	    its holds would count has been forgotten by then too)
//	for each hold with Until <= now, in (Until, ID) order:
//	    remove it; Pending-- (not below 0); Expired++
//	    count a failure as at Until (see Apply; it may set LockedNow)
//	if ExpiresAt is set and now >= ExpiresAt:
//	    Failures, Locks, LockedUntil, ExpiresAt = 0 (window forgotten; Pending kept)
//	if PendingUntil is set and now >= PendingUntil: Pending, PendingUntil = 0
//	    (the anonymous reservations of older versions are forgotten)
//	Pending = max(Pending, len(Holds)); PendingUntil = max(PendingUntil, the holds' Until)
//	if Pending == 0: PendingUntil = 0
//
// LockedNow and Expired describe this very update: both start cleared, so
// the State a read returns has them unset. Current never modifies prev.
func (r Rule) Current(prev State, now time.Time) State {
	nowMS := now.UnixMilli()
	if k := r.KeepUntil(prev); !k.IsZero() && nowMS >= k.UnixMilli() {
		return State{}
	}
	s := prev
	s.LockedNow, s.Expired = false, 0
	holds := sortedHolds(prev.Holds)
	n := 0
	for ; n < len(holds) && holds[n].Until.UnixMilli() <= nowMS; n++ {
		s.Pending = max(s.Pending-1, 0)
		s = r.failAt(s, holds[n].Until.UnixMilli())
		s.Expired++
	}
	s.Holds = nil
	if n < len(holds) {
		s.Holds = holds[n:]
	}
	if !s.ExpiresAt.IsZero() && nowMS >= s.ExpiresAt.UnixMilli() {
		s.Failures, s.Locks, s.LockedUntil, s.ExpiresAt = 0, 0, time.Time{}, time.Time{}
	}
	if !s.PendingUntil.IsZero() && nowMS >= s.PendingUntil.UnixMilli() {
		s.Pending, s.PendingUntil = 0, time.Time{}
	}
	return s.withPending()
}

// withPending restores the invariants of the legacy fields: Pending counts
// at least the holds, PendingUntil is at least their latest end, and zero
// when nothing is pending.
func (s State) withPending() State {
	s.Pending = max(s.Pending, int64(len(s.Holds)))
	if n := len(s.Holds); n > 0 && s.Holds[n-1].Until.After(s.PendingUntil) {
		s.PendingUntil = s.Holds[n-1].Until
	}
	if s.Pending == 0 {
		s.PendingUntil = time.Time{}
	}
	return s
}

// sortedHolds returns a copy of holds at millisecond precision, sorted by
// Until, then ID.
func sortedHolds(holds []Hold) []Hold {
	if len(holds) == 0 {
		return nil
	}
	out := make([]Hold, len(holds))
	for i, h := range holds {
		out[i] = Hold{ID: h.ID, Until: time.UnixMilli(h.Until.UnixMilli())}
	}
	slices.SortFunc(out, compareHolds)
	return out
}

func compareHolds(a, b Hold) int {
	if c := cmp.Compare(a.Until.UnixMilli(), b.Until.UnixMilli()); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Expiry is when the entry is forgotten if nothing else happens to it and
// none of its holds expires unsettled: the latest of ExpiresAt, PendingUntil
// and the holds' Until (zero if none is set). See [Rule.KeepUntil] for how
// long a store must keep it.
func (s State) Expiry() time.Time {
	e := s.ExpiresAt
	if s.PendingUntil.After(e) {
		e = s.PendingUntil
	}
	for _, h := range s.Holds {
		if h.Until.After(e) {
			e = h.Until
		}
	}
	return e
}

// KeepUntil is how long a store keeps an entry in state s: until
// [State.Expiry], and while it has holds, until the failure each would count
// on expiring has been forgotten too, at the latest its Until +
// MaxLockDuration + Window. Stores delete (or let expire) entries then, not
// sooner; [Rule.Current] sees them gone from then on.
func (r Rule) KeepUntil(s State) time.Time {
	e := s.Expiry()
	for _, h := range s.Holds {
		if k := h.Until.Add(r.MaxLockDuration + r.Window); k.After(e) {
			e = k
		}
	}
	return e
}

// Apply returns the state after one failure at now, given the previous state.
// It is the reference semantics every [Store] implements atomically in Fail:
//
//	s = Current(prev, now) (expired holds count first)
//	if s has no window (ExpiresAt zero): start afresh,
//	    Failures = 0, Locks = 0, LockedUntil = 0, ExpiresAt = now + Window
//	    (Pending, PendingUntil and Holds are kept: attempts in flight stay counted)
//	Failures++
//	if Failures >= MaxFailures and now >= LockedUntil:
//	    Locks++; LockedUntil = now + LockFor(Locks)
//	    ExpiresAt = max(ExpiresAt, LockedUntil + Window); LockedNow = true
//
// Times are truncated to milliseconds.
func (r Rule) Apply(prev State, now time.Time) State {
	return r.failAt(r.Current(prev, now), now.UnixMilli())
}

// failAt counts one failure at Unix millisecond at: Apply's steps after
// Current, with the window's end checked at at. An expired hold counts as at
// its Until through it. LockedNow and Expired are kept.
func (r Rule) failAt(s State, at int64) State {
	winMS := r.Window.Milliseconds()
	if !s.ExpiresAt.IsZero() && at >= s.ExpiresAt.UnixMilli() {
		s.ExpiresAt = time.Time{}
	}
	if s.ExpiresAt.IsZero() {
		s.Failures, s.Locks, s.LockedUntil, s.ExpiresAt = 0, 0, time.Time{}, time.UnixMilli(at+winMS)
	}
	s.Failures++
	if s.Failures >= int64(r.MaxFailures) && (s.LockedUntil.IsZero() || at >= s.LockedUntil.UnixMilli()) {
		s.Locks++
		lu := at + lockMillis(r.LockDuration.Milliseconds(), r.MaxLockDuration.Milliseconds(), s.Locks)
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

// MaxHoldIDBytes is the longest reservation ID ([ValidateHoldID]).
const MaxHoldIDBytes = 64

// ValidateHoldID checks a reservation ID: 1 to 64 bytes of A-Z a-z 0-9 _ -
// (base64url without padding fits). Stores treat IDs as opaque.
func ValidateHoldID(id string) error {
	if len(id) < 1 || len(id) > MaxHoldIDBytes {
		return fmt.Errorf("reservation ID of %d bytes: want 1 to %d", len(id), MaxHoldIDBytes)
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return fmt.Errorf("reservation ID: byte %d is not one of A-Z a-z 0-9 _ -", i)
		}
	}
	return nil
}

// Reserve admits one attempt at now as the hold id, to be settled by
// [Rule.Settle] within hold, and reports whether it was admitted. It is the
// reference semantics of [Store].Reserve:
//
//	s = Current(prev, now) (expired holds count first)
//	if s already holds id: admitted, nothing changes (a retried Reserve)
//	if now < LockedUntil: refused (locked)
//	remaining = MaxFailures - Failures, at least 1
//	    (after a lock ended within the window, one attempt at a time: its
//	    failure locks again)
//	if Pending >= remaining: refused (busy: as many attempts in flight as
//	    failures remain, older versions' anonymous reservations included)
//	Holds += {id, now + hold}; Pending++; PendingUntil = max(PendingUntil, now + hold)
//
// So the attempts admitted while a key has no lock can, all failing, at most
// reach the lock: no more credentials are judged than MaxFailures allows,
// since a hold never settled counts as a failure when it ends. A refused
// Reserve stores nothing but the expired holds it counted (s.Expired > 0:
// then s must be written, so that they are counted, and reported, once).
// PendingUntil never moves back, so a caller with a slower clock cannot
// shorten the others' holds.
func (r Rule) Reserve(prev State, now time.Time, hold time.Duration, id string) (State, bool) {
	nowMS := now.UnixMilli()
	s := r.Current(prev, now)
	if s.holdIndex(id) >= 0 {
		return s, true
	}
	if !s.LockedUntil.IsZero() && nowMS < s.LockedUntil.UnixMilli() {
		return s, false
	}
	remaining := max(int64(r.MaxFailures)-s.Failures, 1)
	if s.Pending >= remaining {
		return s, false
	}
	h := Hold{ID: id, Until: time.UnixMilli(nowMS + hold.Milliseconds())}
	i, _ := slices.BinarySearchFunc(s.Holds, h, compareHolds)
	s.Holds = slices.Insert(s.Holds, i, h)
	s.Pending++
	if s.PendingUntil.IsZero() || h.Until.After(s.PendingUntil) {
		s.PendingUntil = h.Until
	}
	return s, true
}

// holdIndex returns the index of the hold id in s.Holds, or -1.
func (s State) holdIndex(id string) int {
	return slices.IndexFunc(s.Holds, func(h Hold) bool { return h.ID == id })
}

// Settle ends the attempt admitted by [Rule.Reserve] as the hold id at now;
// failed counts it as a failure (as [Rule.Apply] does, reporting LockedNow).
// It is the reference semantics of [Store].Settle:
//
//	s = Current(prev, now) (expired holds count first)
//	if s holds id:
//	    remove it; Pending-- (not below 0); if Pending == 0: PendingUntil = 0
//	    if failed: count a failure at now
//	else: nothing more (the hold expired and was counted as a failure
//	    already, was settled already, or was never stored)
//
// So every reservation counts at most once: a late or repeated Settle never
// counts again.
func (r Rule) Settle(prev State, now time.Time, id string, failed bool) State {
	s := r.Current(prev, now)
	i := s.holdIndex(id)
	if i < 0 {
		return s
	}
	s.Holds = slices.Delete(slices.Clone(s.Holds), i, i+1)
	if len(s.Holds) == 0 {
		s.Holds = nil
	}
	s.Pending = max(s.Pending-1, 0)
	if s.Pending == 0 {
		s.PendingUntil = time.Time{}
	}
	if failed {
		s = r.failAt(s, now.UnixMilli())
	}
	return s.withPending()
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
