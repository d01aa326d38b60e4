package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// The tests of reservation holds: a hold not settled by its end counts as a
// failure as at that time, exactly once, however it is noticed; a settle of
// a hold that is gone counts nothing; and Hera versions before holds, which
// share the store during a rolling deploy, see the holds in Pending and are
// seen in turn.

func reserveOK(t *testing.T, s lockout.Store, k lockout.Key, id string, now time.Time) lockout.State {
	t.Helper()
	st, ok := reserve(t, s, k, id, now, Rule, Hold)
	if !ok {
		t.Fatalf("Reserve(%s, %s) at T0+%v refused: %s", k.Digest, id, now.Sub(T0), show(st))
	}
	return st
}

// needLegacy fails a test of older versions when b has no Legacy (Run
// does not run them then).
func needLegacy(t *testing.T, b Backend) {
	t.Helper()
	if b.Legacy() == nil {
		t.Fatal("no Legacy: Run runs this test only for stores with one")
	}
}

func legacyRead(t *testing.T, b Backend, k lockout.Key) lockout.State {
	t.Helper()
	needLegacy(t, b)
	st, _ := b.Legacy().Read(t, k)
	if len(st.Holds) != 0 {
		t.Fatalf("Legacy.Read returned holds: %s", show(st))
	}
	return st
}

// testExpiredHoldCountsOnce: a hold that ends unsettled shows as a failure
// from its end on, Get writes nothing, and the first write counts it, once.
func testExpiredHoldCountsOnce(t *testing.T, b Backend) {
	s, k := b.Store(), Key("a")
	reserveOK(t, s, k, "h1", T0)
	end := T0.Add(Hold)
	want(t, "1 ms before the hold ends", get(t, s, k, end.Add(-time.Millisecond)),
		lockout.State{Pending: 1, PendingUntil: end, Holds: holds(end, "h1")})
	failed := lockout.State{Failures: 1, ExpiresAt: end.Add(Rule.Window)}
	want(t, "when the hold ends", get(t, s, k, end), failed)
	want(t, "a second later", get(t, s, k, end.Add(time.Second)), failed)
	if b.Legacy() != nil {
		// Get wrote nothing: what older versions read is still the reservation.
		want(t, "stored after the Gets", legacyRead(t, b, k), lockout.State{Pending: 1, PendingUntil: end})
	}
	st := fail(t, s, k, end.Add(2*time.Second), Rule)
	want(t, "the first write after the end", st, lockout.State{Failures: 2, ExpiresAt: end.Add(Rule.Window), Expired: 1})
	st = fail(t, s, k, end.Add(3*time.Second), Rule)
	want(t, "the second write", st, lockout.State{Failures: 3, ExpiresAt: end.Add(Rule.Window)})
}

// testExpiredHoldsLock: a hold that ends unsettled as the MaxFailures-th
// failure engages the lock as at its end; the write that counts it reports
// LockedNow, even a refused Reserve.
func testExpiredHoldsLock(t *testing.T, s lockout.Store) {
	k := Key("a")
	for range Rule.MaxFailures - 1 {
		fail(t, s, k, T0, Rule)
	}
	reserveOK(t, s, k, "h", T0.Add(time.Second))
	end := T0.Add(time.Second + Hold)
	lu := end.Add(Rule.LockDuration)
	locked := lockout.State{Failures: int64(Rule.MaxFailures), Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(Rule.Window)}
	want(t, "Get when the hold ends", get(t, s, k, end), locked)
	now := end.Add(time.Second)
	st, ok := reserve(t, s, k, "next", now, Rule, Hold)
	w := locked
	w.Expired, w.LockedNow = 1, true
	if ok {
		t.Fatalf("Reserve once the expired hold locked: admitted %s", show(st))
	}
	want(t, "the refused Reserve that counted the hold", st, w)
	want(t, "Get after it", get(t, s, k, now), locked)
	st = fail(t, s, k, now, Rule)
	w = locked
	w.Failures++
	want(t, "a failure while locked", st, w)
}

// testExpiredHoldInNewWindow: a hold's failure counts in the window of its
// end: a new one when the window had ended by then.
func testExpiredHoldInNewWindow(t *testing.T, s lockout.Store) {
	same, next := Key("same"), Key("next")
	fail(t, s, same, T0, Rule)
	reserveOK(t, s, same, "h", T0.Add(time.Second))
	want(t, "hold ending within the window", get(t, s, same, T0.Add(time.Second+Hold)),
		lockout.State{Failures: 2, ExpiresAt: T0.Add(Rule.Window)})
	fail(t, s, next, T0, Rule)
	late := T0.Add(Rule.Window - 10*time.Second)
	reserveOK(t, s, next, "h", late)
	end := late.Add(Hold)
	want(t, "hold ending after the window", get(t, s, next, end),
		lockout.State{Failures: 1, ExpiresAt: end.Add(Rule.Window)})
	want(t, "and the first write", settle(t, s, next, "h", end, Rule, true),
		lockout.State{Failures: 1, ExpiresAt: end.Add(Rule.Window), Expired: 1})
}

// testConcurrentExpiry: Parallel failures right after a hold ended, split
// between two stores: exactly one counts the hold, each failure counts once
// and exactly one engages the lock.
func testConcurrentExpiry(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	k := Key("exp")
	reserveOK(t, stores[0], k, "h", T0)
	now := T0.Add(Hold)
	states := make([]lockout.State, Parallel)
	parallel(t, Parallel, stores, func(i int, s lockout.Store) (err error) {
		states[i], err = s.Fail(ctx(t), k, now, Rule)
		return err
	})
	expired := 0
	for _, st := range states {
		switch st.Expired {
		case 0:
		case 1:
			expired++
			if st.Failures != 2 {
				t.Errorf("the failure that counted the hold is failure %d, want 2 (the hold's first)", st.Failures)
			}
		default:
			t.Errorf("a failure counted %d expired holds, want at most 1", st.Expired)
		}
	}
	if expired != 1 {
		t.Fatalf("%d concurrent failures counted the expired hold, want exactly 1", expired)
	}
	checkConcurrent(t, states, 2, int64(Rule.MaxFailures))
	if st := get(t, stores[1], k, now); st.Failures != Parallel+1 || st.Pending != 0 || len(st.Holds) != 0 {
		t.Fatalf("after the concurrent failures: %s, want %d failures and no hold", show(st), Parallel+1)
	}
}

// testConcurrentExpiryLocks: MaxFailures holds end unsettled; Parallel
// operations of every kind right after, split between two stores: exactly
// one counts them all and reports the lock they engage.
func testConcurrentExpiryLocks(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	k := Key("exp")
	for i := range Rule.MaxFailures {
		reserveOK(t, stores[i%2], k, fmt.Sprintf("e%d", i), T0)
	}
	now := T0.Add(Hold)
	states := make([]lockout.State, Parallel)
	parallel(t, Parallel, stores, func(i int, s lockout.Store) (err error) {
		switch i % 3 {
		case 0:
			var ok bool
			states[i], ok, err = s.Reserve(ctx(t), k, fmt.Sprintf("n%d", i), now, Rule, Hold)
			if ok {
				err = fmt.Errorf("reserve %d admitted once the expired holds locked: %s", i, show(states[i]))
			}
		case 1:
			states[i], err = s.Settle(ctx(t), k, fmt.Sprintf("u%d", i), now, Rule, true)
		default:
			states[i], err = s.Fail(ctx(t), k, now, Rule)
		}
		return err
	})
	counted, lockers, fails := 0, 0, 0
	for i, st := range states {
		if st.Expired != 0 {
			counted++
			if st.Expired != Rule.MaxFailures || !st.LockedNow {
				t.Errorf("the operation that counted the holds: %s, want %d expired and LockedNow", show(st), Rule.MaxFailures)
			}
		}
		if st.LockedNow {
			lockers++
		}
		if i%3 == 2 {
			fails++
		}
	}
	if counted != 1 || lockers != 1 {
		t.Fatalf("%d operations counted the expired holds and %d reported the lock, want 1 and 1", counted, lockers)
	}
	lu := now.Add(Rule.LockDuration)
	want(t, "after the concurrent operations", get(t, stores[0], k, now),
		lockout.State{Failures: int64(Rule.MaxFailures + fails), Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(Rule.Window)})
}

// testLateSettle: a settle after the hold ended counts the hold as a
// failure (its end), never the settle too, whatever the outcome.
func testLateSettle(t *testing.T, s lockout.Store) {
	for _, failed := range []bool{true, false} {
		k := Key(fmt.Sprintf("late-%v", failed))
		reserveOK(t, s, k, "h", T0)
		end := T0.Add(Hold)
		w := lockout.State{Failures: 1, ExpiresAt: end.Add(Rule.Window)}
		got := settle(t, s, k, "h", end.Add(time.Second), Rule, failed)
		w.Expired = 1
		want(t, fmt.Sprintf("late Settle(failed=%v)", failed), got, w)
		w.Expired = 0
		want(t, "settled again", settle(t, s, k, "h", end.Add(2*time.Second), Rule, failed), w)
		want(t, "Get", get(t, s, k, end.Add(3*time.Second)), w)
	}
}

// testSettleUnknownID: settling an ID that was never held counts nothing
// and frees no slot.
func testSettleUnknownID(t *testing.T, s lockout.Store) {
	fresh, held, failed := Key("fresh"), Key("held"), Key("failed")
	want(t, "Settle of an unknown ID on a fresh key", settle(t, s, fresh, "nope", T0, Rule, true), lockout.State{})
	want(t, "Get after it", get(t, s, fresh, T0), lockout.State{})
	reserveOK(t, s, held, "a", T0)
	want(t, "Settle of an unknown ID beside a hold", settle(t, s, held, "nope", T0, Rule, true),
		lockout.State{Pending: 1, PendingUntil: T0.Add(Hold), Holds: holds(T0.Add(Hold), "a")})
	fail(t, s, failed, T0, Rule)
	want(t, "Settle of an unknown ID beside a failure", settle(t, s, failed, "nope", T0, Rule, true),
		lockout.State{Failures: 1, ExpiresAt: T0.Add(Rule.Window)})
}

// testSettleTwice: a reservation settled twice counts once and frees one
// slot.
func testSettleTwice(t *testing.T, s lockout.Store) {
	k := Key("a")
	reserveOK(t, s, k, "a", T0)
	reserveOK(t, s, k, "b", T0)
	w := lockout.State{Failures: 1, ExpiresAt: T0.Add(Rule.Window), Pending: 1, PendingUntil: T0.Add(Hold), Holds: holds(T0.Add(Hold), "b")}
	want(t, "first Settle", settle(t, s, k, "a", T0, Rule, true), w)
	want(t, "second Settle, failed", settle(t, s, k, "a", T0.Add(time.Second), Rule, true), w)
	want(t, "third Settle, neutral", settle(t, s, k, "a", T0.Add(time.Second), Rule, false), w)
}

// testCrashedReservationsCount is the incident: MaxFailures guesses are
// reserved, one replica dies before settling its guess, the others' fail.
// Once the dead replica's hold has ended no further guess is admitted on
// either store: MaxFailures judged, not one more.
func testCrashedReservationsCount(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	k := Key("victim")
	for i := range Rule.MaxFailures {
		reserveOK(t, stores[i%2], k, fmt.Sprintf("g%d", i), T0)
	}
	for i := 1; i < Rule.MaxFailures; i++ { // g0 was on the dead replica
		settle(t, stores[i%2], k, fmt.Sprintf("g%d", i), T0.Add(time.Second), Rule, true)
	}
	if st, ok := reserve(t, stores[1], k, "next", T0.Add(Hold-time.Millisecond), Rule, Hold); ok || st.Locked(T0) {
		t.Fatalf("while the dead replica's hold lasts: admitted=%v %s, want busy", ok, show(st))
	}
	for _, s := range stores {
		for _, now := range []time.Time{T0.Add(Hold), T0.Add(Hold + time.Minute)} {
			if st, ok := reserve(t, s, k, "next", now, Rule, Hold); ok || !st.Locked(now) {
				t.Fatalf("once the dead replica's hold ended (T0+%v): admitted=%v %s, want locked", now.Sub(T0), ok, show(st))
			}
		}
	}
}

// v2 is what a Hera version before holds did to a counter, on the six
// fields it knew (lockout.Rule.Reserve and Settle of that version), through
// Legacy: it sees holds only in Pending.
type v2 struct {
	t *testing.T
	b Backend
}

func (v v2) current(st lockout.State, now time.Time) lockout.State {
	if !st.ExpiresAt.IsZero() && !now.Before(st.ExpiresAt) {
		st.Failures, st.Locks, st.LockedUntil, st.ExpiresAt = 0, 0, time.Time{}, time.Time{}
	}
	if !st.PendingUntil.IsZero() && !now.Before(st.PendingUntil) {
		st.Pending, st.PendingUntil = 0, time.Time{}
	}
	return st
}

func (v v2) reserve(k lockout.Key, now time.Time, r lockout.Rule, hold time.Duration) bool {
	v.t.Helper()
	raw, _ := v.b.Legacy().Read(v.t, k)
	st := v.current(raw, now)
	if now.Before(st.LockedUntil) || st.Pending >= max(int64(r.MaxFailures)-st.Failures, 1) {
		return false
	}
	st.Pending++
	if until := now.Add(hold); until.After(st.PendingUntil) {
		st.PendingUntil = until
	}
	v.b.Legacy().Write(v.t, k, st)
	return true
}

func (v v2) settle(k lockout.Key, now time.Time) {
	v.t.Helper()
	raw, _ := v.b.Legacy().Read(v.t, k)
	st := v.current(raw, now)
	if st.Pending > 0 {
		st.Pending--
		if st.Pending == 0 {
			st.PendingUntil = time.Time{}
		}
	}
	v.b.Legacy().Write(v.t, k, st)
}

// testLegacyPendingHonoured: a counter as an older version left it, with
// anonymous reservations (Pending and PendingUntil only) or failures, is
// read as it was: the reservations keep keys busy until PendingUntil, then
// are forgotten without counting; a settle of another ID leaves them.
func testLegacyPendingHonoured(t *testing.T, b Backend) {
	needLegacy(t, b)
	s := b.Store()
	r := Rule
	r.MaxFailures = 2
	k := Key("legacy")
	b.Legacy().Write(t, k, lockout.State{Pending: 2, PendingUntil: T0.Add(30 * time.Second)})
	old := lockout.State{Pending: 2, PendingUntil: T0.Add(30 * time.Second)}
	want(t, "Get of the older version's reservations", getRule(t, s, k, T0, r), old)
	st, ok := reserve(t, s, k, "new", T0.Add(time.Second), r, Hold)
	if ok {
		t.Fatalf("Reserve beside 2 anonymous reservations with MaxFailures 2: admitted %s", show(st))
	}
	want(t, "the refused Reserve", st, old)
	want(t, "stored after the refusal", legacyRead(t, b, k), old)
	want(t, "Settle of an unknown ID", settle(t, s, k, "nope", T0.Add(time.Second), r, true), old)
	end := T0.Add(30 * time.Second)
	want(t, "Get when they end: forgotten, not counted", getRule(t, s, k, end, r), lockout.State{})
	st, ok = reserve(t, s, k, "new", end, r, Hold)
	w := lockout.State{Pending: 1, PendingUntil: end.Add(Hold), Holds: holds(end.Add(Hold), "new")}
	if !ok {
		t.Fatalf("Reserve once they ended: refused %s", show(st))
	}
	want(t, "Reserve once they ended", st, w)

	// An older version's lock.
	locked := Key("legacy-locked")
	lu := T0.Add(5 * time.Minute)
	lst := lockout.State{Failures: 5, Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(Rule.Window)}
	b.Legacy().Write(t, locked, lst)
	want(t, "Get of the older version's lock", get(t, s, locked, T0), lst)
	if st, ok := reserve(t, s, locked, "x", T0, Rule, Hold); ok || !st.Locked(T0) {
		t.Fatalf("Reserve of the older version's locked counter: admitted=%v %s", ok, show(st))
	}
	st = fail(t, s, locked, lu, Rule)
	if !st.LockedNow || st.Locks != 2 || st.Failures != 6 {
		t.Fatalf("failure once the older version's lock ended: %s, want the second lock", show(st))
	}
}

// testPendingForOlderVersions: during a rolling deploy, this version and an
// older one share a key: each honours the other's reservations in its busy
// check, and the older one's settles leave the holds alone.
func testPendingForOlderVersions(t *testing.T, b Backend) {
	needLegacy(t, b)
	s, old := b.Store(), v2{t, b}
	k := Key("mixed")
	reserveOK(t, s, k, "a", T0)
	reserveOK(t, s, k, "b", T0.Add(time.Second))
	want(t, "what the older version reads after 2 Reserves", legacyRead(t, b, k),
		lockout.State{Pending: 2, PendingUntil: T0.Add(time.Second + Hold)})
	if !old.reserve(k, T0.Add(10*time.Second), Rule, Hold) {
		t.Fatal("the older version refused its reservation beside 2 holds")
	}
	st := reserveOK(t, s, k, "c", T0.Add(20*time.Second))
	if st.Pending != 4 || len(st.Holds) != 3 || !st.PendingUntil.Equal(T0.Add(20*time.Second+Hold)) {
		t.Fatalf("Reserve beside the older version's reservation: %s, want 4 pending, 3 holds", show(st))
	}
	reserveOK(t, s, k, "d", T0.Add(20*time.Second))
	if st, ok := reserve(t, s, k, "e", T0.Add(20*time.Second), Rule, Hold); ok || st.Pending != int64(Rule.MaxFailures) {
		t.Fatalf("Reserve with 4 holds and 1 older reservation in flight: admitted=%v %s, want busy", ok, show(st))
	}
	if old.reserve(k, T0.Add(20*time.Second), Rule, Hold) {
		t.Fatal("the older version admitted a reservation beside 4 holds and its own: it does not see the holds")
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		st := settle(t, s, k, id, T0.Add(30*time.Second), Rule, false)
		if st.Pending != int64(4-i) {
			t.Fatalf("after settling %s: %s, want %d pending", id, show(st), 4-i)
		}
	}
	want(t, "what the older version reads once the holds are settled", legacyRead(t, b, k),
		lockout.State{Pending: 1, PendingUntil: T0.Add(20*time.Second + Hold)})
	old.settle(k, T0.Add(31*time.Second))
	want(t, "Get once the older version settled", get(t, s, k, T0.Add(31*time.Second)), lockout.State{})

	// The older version settles beside a hold: the hold stays counted.
	k2 := Key("mixed2")
	if !old.reserve(k2, T0, Rule, Hold) {
		t.Fatal("the older version refused a reservation of a fresh key")
	}
	reserveOK(t, s, k2, "a", T0.Add(time.Second))
	old.settle(k2, T0.Add(2*time.Second))
	want(t, "Get after the older version settled beside a hold", get(t, s, k2, T0.Add(2*time.Second)),
		lockout.State{Pending: 1, PendingUntil: T0.Add(time.Second + Hold), Holds: holds(T0.Add(time.Second+Hold), "a")})
}

// testLegacyFieldsRead: what an older version reads stays what it would have
// written itself: Pending counts the holds, PendingUntil is their latest
// end, failures as they are.
func testLegacyFieldsRead(t *testing.T, b Backend) {
	needLegacy(t, b)
	s, k := b.Store(), Key("a")
	reserveOK(t, s, k, "a", T0)
	reserveOK(t, s, k, "b", T0.Add(time.Second))
	end := T0.Add(time.Second + Hold)
	want(t, "after 2 Reserves", legacyRead(t, b, k), lockout.State{Pending: 2, PendingUntil: end})
	settle(t, s, k, "b", T0.Add(2*time.Second), Rule, true)
	want(t, "after settling the later one", legacyRead(t, b, k),
		lockout.State{Failures: 1, ExpiresAt: T0.Add(2*time.Second + Rule.Window), Pending: 1, PendingUntil: end})
	fail(t, s, k, T0.Add(Hold), Rule) // a's hold ends: counted first
	want(t, "after a's hold ended", legacyRead(t, b, k),
		lockout.State{Failures: 3, ExpiresAt: T0.Add(2*time.Second + Rule.Window)})
}
