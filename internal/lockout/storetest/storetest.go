// Package storetest is the conformance suite every lockout.Store must pass.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Backend {
//			s := newStore(t)
//			return storetest.NewBackend(s, func(t *testing.T) lockout.Store { return anotherStoreOnTheSameData(t) }, legacyOf(s))
//		})
//	}
//
// Each Backend's store must be empty, isolated from every other Backend's (a
// fresh database, key prefix, ...), and cleaned up with t.Cleanup. Another
// returns a second store on the same data, as a second Hera instance would
// have (a second pool or client): the concurrency tests split their calls
// between both, so atomicity is proven across instances. Legacy reads and
// writes counters the way the store's previous version (Hera before
// reservation holds) did, for the rolling-deploy tests; every store provides
// it (a wrapper of a store tested on its own may pass nil, which skips
// them). Stores implementing lockout.Sweeper also get their sweep tested.
//
// Expected states come from the reference functions (lockout.Rule.Apply,
// Rule.Reserve, Rule.Settle, Rule.Current, lockout.TakeQuota) wherever a
// test does not spell them out.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// Parallel is the number of concurrent operations on one key in the
// concurrency tests.
const Parallel = 200

// Hold is the reservation hold most tests use.
const Hold = time.Minute

// T0 is the (millisecond-precise) time tests start at; the stores take their
// time from the caller, so tests move it freely.
var T0 = time.UnixMilli(1_750_000_000_000)

// Rule is the rule most tests use: 5 failures in 15 min lock for 5 min,
// doubling up to 1 h.
var Rule = lockout.Rule{MaxFailures: 5, Window: 15 * time.Minute, LockDuration: 5 * time.Minute, MaxLockDuration: time.Hour}

// Key returns a test key.
func Key(digest string) lockout.Key {
	return lockout.Key{Realm: "test", Kind: lockout.KindIdentifier, Digest: digest}
}

// Backend is a store under test.
type Backend interface {
	// Store returns the store under test.
	Store() lockout.Store
	// Another returns another store on the same data (the same store for an
	// in-process one).
	Another(t *testing.T) lockout.Store
	// Legacy accesses the store's data as its previous version did; nil
	// skips the tests that need it.
	Legacy() Legacy
}

// Legacy reads and writes a counter the way a Hera version before
// reservation holds did, on the data of the store under test: it knows
// only Failures, Locks, LockedUntil, ExpiresAt, Pending and PendingUntil.
type Legacy interface {
	// Write stores those six fields of st for k (creating the counter if
	// need be), as that version's writes did: anything else the counter
	// holds (its holds) stays as it is.
	Write(t *testing.T, k lockout.Key, st lockout.State)
	// Read returns those six fields of k's counter as stored (no expiry
	// applied), and whether there is one.
	Read(t *testing.T, k lockout.Key) (lockout.State, bool)
}

// NewBackend returns a Backend of s; another makes a second store on the
// same data (nil: s itself); legacy accesses the data as the previous store
// version did (nil only for a wrapper of a store tested on its own).
func NewBackend(s lockout.Store, another func(t *testing.T) lockout.Store, legacy Legacy) Backend {
	return backend{s, another, legacy}
}

type backend struct {
	s       lockout.Store
	another func(t *testing.T) lockout.Store
	legacy  Legacy
}

func (b backend) Store() lockout.Store { return b.s }

func (b backend) Legacy() Legacy { return b.legacy }

func (b backend) Another(t *testing.T) lockout.Store {
	if b.another == nil {
		return b.s
	}
	return b.another(t)
}

// Run runs the conformance suite.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	one := func(f func(t *testing.T, s lockout.Store)) func(t *testing.T, b Backend) {
		return func(t *testing.T, b Backend) { f(t, b.Store()) }
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
		// legacy: the test reads or writes data as an older Hera version
		// did, through Backend.Legacy.
		legacy bool
	}{
		{name: "GetAbsent", fn: one(testGetAbsent)},
		{name: "CountsBelowThreshold", fn: one(testCountsBelowThreshold)},
		{name: "LockAtThreshold", fn: one(testLockAtThreshold)},
		{name: "FailWhileLocked", fn: one(testFailWhileLocked)},
		{name: "LockDoublingAndCap", fn: one(testLockDoublingAndCap)},
		{name: "ThresholdOne", fn: one(testThresholdOne)},
		{name: "WindowExpiry", fn: one(testWindowExpiry)},
		{name: "FixedWindow", fn: one(testFixedWindow)},
		{name: "ExpiryAfterLock", fn: one(testExpiryAfterLock)},
		{name: "Reset", fn: one(testReset)},
		{name: "GetInvalidRule", fn: one(testGetInvalidRule)},
		{name: "IndependentKeys", fn: one(testIndependentKeys)},
		{name: "MillisecondPrecision", fn: one(testMillisecondPrecision)},
		{name: "MatchesReference", fn: one(testMatchesReference)},
		{name: "ConcurrentFailures", fn: one(testConcurrentFailures)},
		{name: "ConcurrentKeys", fn: one(testConcurrentKeys)},
		{name: "ConcurrentRelock", fn: one(testConcurrentRelock)},
		{name: "CancelledContext", fn: one(testCancelledContext)},
		{name: "Sweep", fn: one(testSweep)},

		{name: "ReserveAdmitsUpToMax", fn: one(testReserveAdmitsUpToMax)},
		{name: "ReserveLocked", fn: one(testReserveLocked)},
		{name: "SettleFailureLocksOnce", fn: one(testSettleFailureLocksOnce)},
		{name: "SettleNeutralFreesSlot", fn: one(testSettleNeutralFreesSlot)},
		{name: "OneSlotAfterLock", fn: one(testOneSlotAfterLock)},
		{name: "PendingExpiry", fn: one(testPendingExpiry)},
		{name: "FailKeepsPending", fn: one(testFailKeepsPending)},
		{name: "ResetClearsReservations", fn: one(testResetClearsReservations)},
		{name: "GetShowsPending", fn: one(testGetShowsPending)},
		{name: "ReserveInvalid", fn: one(testReserveInvalid)},
		{name: "ReserveSameID", fn: one(testReserveSameID)},
		{name: "ExpiredHoldCountsOnce", fn: testExpiredHoldCountsOnce},
		{name: "ExpiredHoldsLock", fn: one(testExpiredHoldsLock)},
		{name: "ExpiredHoldInNewWindow", fn: one(testExpiredHoldInNewWindow)},
		{name: "ConcurrentExpiry", fn: testConcurrentExpiry},
		{name: "ConcurrentExpiryLocks", fn: testConcurrentExpiryLocks},
		{name: "LateSettle", fn: one(testLateSettle)},
		{name: "SettleUnknownID", fn: one(testSettleUnknownID)},
		{name: "SettleTwice", fn: one(testSettleTwice)},
		{name: "CrashedReservationsCount", fn: testCrashedReservationsCount},
		{name: "LegacyPendingHonoured", fn: testLegacyPendingHonoured, legacy: true},
		{name: "PendingForOlderVersions", fn: testPendingForOlderVersions, legacy: true},
		{name: "LegacyFieldsRead", fn: testLegacyFieldsRead, legacy: true},
		{name: "ReservationsMatchReference", fn: testReservationsMatchReference},
		{name: "ConcurrentReserve", fn: testConcurrentReserve},
		{name: "AtMostMaxJudged", fn: testAtMostMaxJudged},
		{name: "TakeLimits", fn: one(testTakeLimits)},
		{name: "TakeRetryAtLatest", fn: one(testTakeRetryAtLatest)},
		{name: "TakeInvalid", fn: one(testTakeInvalid)},
		{name: "TakeMatchesReference", fn: testTakeMatchesReference},
		{name: "ConcurrentTake", fn: testConcurrentTake},
		{name: "Links", fn: testLinks},
		{name: "LinkInvalid", fn: one(testLinkInvalid)},
		{name: "Namespaces", fn: one(testNamespaces)},
		{name: "SweepAll", fn: one(testSweepAll)},
	}
	// A store tested without Legacy (a wrapper of another store) has no
	// data of its own to be read by older versions: those tests are not
	// its to pass.
	legacy := newBackend(t).Legacy() != nil
	for _, tc := range tests {
		if tc.legacy && !legacy {
			continue
		}
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// show renders a state comparably: times as Unix milliseconds, zero as "-".
func show(s lockout.State) string {
	tm := func(x time.Time) string {
		if x.IsZero() {
			return "-"
		}
		return fmt.Sprint(x.UnixMilli())
	}
	holds := make([]string, len(s.Holds))
	for i, h := range s.Holds {
		holds[i] = h.ID + "@" + tm(h.Until)
	}
	return fmt.Sprintf("failures=%d locks=%d lockedUntil=%s expiresAt=%s pending=%d pendingUntil=%s holds=[%s] expired=%d lockedNow=%v",
		s.Failures, s.Locks, tm(s.LockedUntil), tm(s.ExpiresAt), s.Pending, tm(s.PendingUntil), strings.Join(holds, " "), s.Expired, s.LockedNow)
}

func want(t *testing.T, what string, got, want lockout.State) {
	t.Helper()
	if g, w := show(got), show(want); g != w {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func fail(t *testing.T, s lockout.Store, k lockout.Key, now time.Time, r lockout.Rule) lockout.State {
	t.Helper()
	st, err := s.Fail(ctx(t), k, now, r)
	if err != nil {
		t.Fatalf("Fail(%s, %v): %v", k, now, err)
	}
	return st
}

// get is Get under Rule.
func get(t *testing.T, s lockout.Store, k lockout.Key, now time.Time) lockout.State {
	t.Helper()
	return getRule(t, s, k, now, Rule)
}

func getRule(t *testing.T, s lockout.Store, k lockout.Key, now time.Time, r lockout.Rule) lockout.State {
	t.Helper()
	st, err := s.Get(ctx(t), k, now, r)
	if err != nil {
		t.Fatalf("Get(%s, %v): %v", k, now, err)
	}
	if st.LockedNow || st.Expired != 0 {
		t.Fatalf("Get(%s) reported an update: %s", k, show(st))
	}
	return st
}

// stored is s without what describes the update that returned it.
func stored(s lockout.State) lockout.State { s.LockedNow, s.Expired = false, 0; return s }

func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

func testGetAbsent(t *testing.T, s lockout.Store) {
	want(t, "Get of a key never seen", get(t, s, Key("absent"), T0), lockout.State{})
	if err := s.Reset(ctx(t), Key("absent")); err != nil {
		t.Fatalf("Reset of a key never seen: %v", err)
	}
}

func testCountsBelowThreshold(t *testing.T, s lockout.Store) {
	k := Key("a")
	for i := int64(1); i < int64(Rule.MaxFailures); i++ {
		now := T0.Add(time.Duration(i) * time.Second)
		st := fail(t, s, k, now, Rule)
		w := lockout.State{Failures: i, ExpiresAt: T0.Add(time.Second + Rule.Window)}
		want(t, fmt.Sprintf("failure %d", i), st, w)
		want(t, fmt.Sprintf("Get after failure %d", i), get(t, s, k, now), w)
		if st.Locked(now) {
			t.Fatalf("locked after %d failures", i)
		}
	}
}

func testLockAtThreshold(t *testing.T, s lockout.Store) {
	k := Key("a")
	for i := 1; i < Rule.MaxFailures; i++ {
		if st := fail(t, s, k, T0, Rule); st.LockedNow {
			t.Fatalf("failure %d locked", i)
		}
	}
	now := T0.Add(time.Minute)
	st := fail(t, s, k, now, Rule)
	lu := now.Add(Rule.LockDuration)
	w := lockout.State{Failures: int64(Rule.MaxFailures), Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(Rule.Window), LockedNow: true}
	want(t, "failure at threshold", st, w)
	g := get(t, s, k, now)
	want(t, "Get after lock", g, stored(w))
	if !g.Locked(now) || !g.Locked(lu.Add(-time.Millisecond)) || g.Locked(lu) {
		t.Fatalf("lock until %v: Locked wrong", lu)
	}
}

func testFailWhileLocked(t *testing.T, s lockout.Store) {
	k := Key("a")
	var st lockout.State
	for range Rule.MaxFailures {
		st = fail(t, s, k, T0, Rule)
	}
	locked := stored(st)
	for i := 1; i <= 3; i++ {
		now := T0.Add(time.Duration(i) * time.Minute)
		got := fail(t, s, k, now, Rule)
		w := locked
		w.Failures += int64(i)
		want(t, "failure while locked (counted, lock unchanged)", got, w)
	}
	// The last millisecond of the lock is still locked.
	got := fail(t, s, k, locked.LockedUntil.Add(-time.Millisecond), Rule)
	if got.LockedNow || got.Locks != 1 || !got.LockedUntil.Equal(locked.LockedUntil) {
		t.Fatalf("failure in the last ms of the lock changed it: %s", show(got))
	}
}

func testLockDoublingAndCap(t *testing.T, s lockout.Store) {
	r := lockout.Rule{MaxFailures: 2, Window: 15 * time.Minute, LockDuration: 5 * time.Minute, MaxLockDuration: 20 * time.Minute}
	k := Key("a")
	fail(t, s, k, T0, r)
	now := T0
	wantDur := []time.Duration{5, 10, 20, 20, 20}
	for i, d := range wantDur {
		d *= time.Minute
		st := fail(t, s, k, now, r)
		if !st.LockedNow || st.Locks != i+1 {
			t.Fatalf("lock %d: %s", i+1, show(st))
		}
		if got := st.LockedUntil.Sub(now); got != d {
			t.Fatalf("lock %d lasts %v, want %v", i+1, got, d)
		}
		if got := st.ExpiresAt.Sub(st.LockedUntil); got != r.Window {
			t.Fatalf("lock %d: entry expires %v after the lock ends, want %v", i+1, got, r.Window)
		}
		if got := r.LockFor(i + 1); got != d {
			t.Fatalf("Rule.LockFor(%d) = %v, want %v", i+1, got, d)
		}
		now = st.LockedUntil // the first moment it is unlocked
	}
}

func testThresholdOne(t *testing.T, s lockout.Store) {
	r := lockout.Rule{MaxFailures: 1, Window: time.Minute, LockDuration: time.Minute, MaxLockDuration: time.Minute}
	k := Key("a")
	st := fail(t, s, k, T0, r)
	lu := T0.Add(time.Minute)
	want(t, "first failure with MaxFailures 1", st, lockout.State{Failures: 1, Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(time.Minute), LockedNow: true})
	st = fail(t, s, k, lu, r)
	if !st.LockedNow || st.Locks != 2 || st.Failures != 2 {
		t.Fatalf("failure after the lock ended: %s", show(st))
	}
}

func testWindowExpiry(t *testing.T, s lockout.Store) {
	k := Key("a")
	for range Rule.MaxFailures - 1 {
		fail(t, s, k, T0, Rule)
	}
	end := T0.Add(Rule.Window)
	if st := get(t, s, k, end.Add(-time.Millisecond)); st.Failures != int64(Rule.MaxFailures-1) {
		t.Fatalf("1 ms before the window ends: %s", show(st))
	}
	want(t, "Get when the window has ended", get(t, s, k, end), lockout.State{})
	st := fail(t, s, k, end, Rule)
	want(t, "failure after the window ended", st, lockout.State{Failures: 1, ExpiresAt: end.Add(Rule.Window)})
}

func testFixedWindow(t *testing.T, s lockout.Store) {
	k := Key("a")
	fail(t, s, k, T0, Rule)
	st := fail(t, s, k, T0.Add(14*time.Minute), Rule)
	want(t, "second failure (window starts at the first)", st, lockout.State{Failures: 2, ExpiresAt: T0.Add(Rule.Window)})
}

func testExpiryAfterLock(t *testing.T, s lockout.Store) {
	k := Key("a")
	var st lockout.State
	for range Rule.MaxFailures {
		st = fail(t, s, k, T0, Rule)
	}
	end := st.LockedUntil.Add(Rule.Window)
	if !st.ExpiresAt.Equal(end) {
		t.Fatalf("entry expires at %v, want lock end + window %v", st.ExpiresAt, end)
	}
	if g := get(t, s, k, end.Add(-time.Millisecond)); g.Locks != 1 || g.Locked(end.Add(-time.Millisecond)) {
		t.Fatalf("1 ms before expiry: %s", show(g))
	}
	want(t, "Get at expiry", get(t, s, k, end), lockout.State{})
	want(t, "failure after expiry (escalation forgotten)", fail(t, s, k, end, Rule),
		lockout.State{Failures: 1, ExpiresAt: end.Add(Rule.Window)})
}

func testGetInvalidRule(t *testing.T, s lockout.Store) {
	bad := lockout.Rule{MaxFailures: 0, Window: time.Minute, LockDuration: time.Minute, MaxLockDuration: time.Minute}
	if _, err := s.Get(ctx(t), Key("a"), T0, bad); !errors.Is(err, lockout.ErrUnavailable) {
		t.Errorf("Get with an invalid rule: %v, want an error wrapping lockout.ErrUnavailable", err)
	}
}

func testReset(t *testing.T, s lockout.Store) {
	k := Key("a")
	for range Rule.MaxFailures {
		fail(t, s, k, T0, Rule)
	}
	if err := s.Reset(ctx(t), k); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	want(t, "Get after Reset", get(t, s, k, T0), lockout.State{})
	want(t, "failure after Reset", fail(t, s, k, T0, Rule), lockout.State{Failures: 1, ExpiresAt: T0.Add(Rule.Window)})
	if err := s.Reset(ctx(t), k); err != nil {
		t.Fatalf("second Reset: %v", err)
	}
	if err := s.Reset(ctx(t), k); err != nil {
		t.Fatalf("Reset of an absent key: %v", err)
	}
}

func testIndependentKeys(t *testing.T, s lockout.Store) {
	base := lockout.Key{Realm: "r1", Kind: lockout.KindIdentifier, Digest: "d"}
	others := []lockout.Key{
		{Realm: "r2", Kind: lockout.KindIdentifier, Digest: "d"},
		{Realm: "r1", Kind: lockout.KindIP, Digest: "d"},
		{Realm: "r1", Kind: lockout.KindIdentity, Digest: "d"},
		{Realm: "r1", Kind: lockout.KindIdentifier, Digest: "e"},
		{Realm: "r", Kind: lockout.KindIdentifier, Digest: "d"},
		{Realm: "r1:identifier", Kind: lockout.KindIdentifier, Digest: "d"},
	}
	for range Rule.MaxFailures {
		fail(t, s, base, T0, Rule)
	}
	for _, o := range others {
		want(t, fmt.Sprintf("Get(%s) after locking %s", o, base), get(t, s, o, T0), lockout.State{})
		want(t, fmt.Sprintf("first failure of %s", o), fail(t, s, o, T0, Rule), lockout.State{Failures: 1, ExpiresAt: T0.Add(Rule.Window)})
	}
	if err := s.Reset(ctx(t), base); err != nil {
		t.Fatal(err)
	}
	for _, o := range others {
		if st := get(t, s, o, T0); st.Failures != 1 {
			t.Fatalf("Reset(%s) changed %s: %s", base, o, show(st))
		}
	}
	if st := get(t, s, base, T0); st.Failures != 0 {
		t.Fatalf("Reset(%s) left %s", base, show(st))
	}
}

func testMillisecondPrecision(t *testing.T, s lockout.Store) {
	k := Key("a")
	now := T0.Add(1234567891 * time.Nanosecond) // T0 + 1234.567891 ms
	var prev lockout.State
	for i := range Rule.MaxFailures {
		st := fail(t, s, k, now, Rule)
		prev = Rule.Apply(prev, now)
		want(t, fmt.Sprintf("failure %d at a sub-millisecond time", i+1), st, prev)
	}
	if st := get(t, s, k, ms(now)); !st.Locked(ms(now)) {
		t.Fatalf("not locked: %s", show(st))
	}
}

// testMatchesReference drives the store and lockout.Rule.Apply with the same
// pseudo-random sequence and compares every state.
func testMatchesReference(t *testing.T, s lockout.Store) {
	rules := []lockout.Rule{
		Rule,
		{MaxFailures: 3, Window: 10 * time.Second, LockDuration: 2 * time.Second, MaxLockDuration: 9 * time.Second},
		{MaxFailures: 2, Window: 5 * time.Second, LockDuration: 3 * time.Second, MaxLockDuration: 3 * time.Second},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for ri, r := range rules {
		keys := []lockout.Key{Key(fmt.Sprintf("ref%d-a", ri)), Key(fmt.Sprintf("ref%d-b", ri))}
		ref := map[lockout.Key]lockout.State{}
		now := T0
		for step := range 60 {
			now = now.Add(time.Duration(rng.Int64N(int64(r.LockDuration))) / 2)
			k := keys[rng.IntN(len(keys))]
			switch rng.IntN(10) {
			case 0:
				if err := s.Reset(ctx(t), k); err != nil {
					t.Fatal(err)
				}
				delete(ref, k)
			case 1, 2:
				w := ref[k]
				if w.ExpiresAt.IsZero() || !now.Before(w.ExpiresAt) {
					w = lockout.State{}
				}
				want(t, fmt.Sprintf("rule %d step %d: Get(%s)", ri, step, k), getRule(t, s, k, now, r), stored(w))
			default:
				w := r.Apply(ref[k], now)
				ref[k] = w
				want(t, fmt.Sprintf("rule %d step %d: Fail(%s)", ri, step, k), fail(t, s, k, now, r), w)
			}
		}
	}
}

// concurrentFails runs n failures of each key at now, all in parallel, and
// returns the states per key.
func concurrentFails(t *testing.T, s lockout.Store, now time.Time, r lockout.Rule, n int, keys ...lockout.Key) [][]lockout.State {
	t.Helper()
	states := make([][]lockout.State, len(keys))
	errs := make([]error, len(keys)*n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for ki, k := range keys {
		states[ki] = make([]lockout.State, n)
		for i := range n {
			wg.Go(func() {
				<-start
				states[ki][i], errs[ki*n+i] = s.Fail(ctx(t), k, now, r)
			})
		}
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Fail: %v", err)
	}
	return states
}

// checkConcurrent checks that the failures counted from..from+n-1, each
// exactly once, and that exactly the one that reached lockAt locked.
func checkConcurrent(t *testing.T, states []lockout.State, from, lockAt int64) {
	t.Helper()
	counts := make([]int64, len(states))
	lockers := 0
	for i, st := range states {
		counts[i] = st.Failures
		if st.LockedNow {
			lockers++
			if st.Failures != lockAt {
				t.Errorf("failure %d engaged the lock, want failure %d", st.Failures, lockAt)
			}
		}
	}
	if lockers != 1 {
		t.Errorf("%d concurrent failures reported engaging the lock, want exactly 1", lockers)
	}
	sort.Slice(counts, func(i, j int) bool { return counts[i] < counts[j] })
	for i, c := range counts {
		if c != from+int64(i) {
			t.Fatalf("concurrent failures returned counts %v..., want each of %d..%d once (first mismatch at %d: %d)",
				counts[:min(len(counts), 10)], from, from+int64(len(counts))-1, i, c)
		}
	}
}

func testConcurrentFailures(t *testing.T, s lockout.Store) {
	k := Key("hot")
	states := concurrentFails(t, s, T0, Rule, Parallel, k)[0]
	checkConcurrent(t, states, 1, int64(Rule.MaxFailures))
	st := get(t, s, k, T0)
	lu := T0.Add(Rule.LockDuration)
	want(t, fmt.Sprintf("Get after %d concurrent failures", Parallel), st,
		lockout.State{Failures: Parallel, Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(Rule.Window)})
	if !st.Locked(T0) {
		t.Fatal("not locked")
	}
}

func testConcurrentKeys(t *testing.T, s lockout.Store) {
	const perKey = 50
	keys := []lockout.Key{Key("k1"), Key("k2"), {Realm: "other", Kind: lockout.KindIdentifier, Digest: "k1"}, {Realm: "test", Kind: lockout.KindIP, Digest: "k1"}}
	results := concurrentFails(t, s, T0, Rule, perKey, keys...)
	for i, k := range keys {
		checkConcurrent(t, results[i], 1, int64(Rule.MaxFailures))
		if st := get(t, s, k, T0); st.Failures != perKey || st.Locks != 1 {
			t.Fatalf("%s: %s, want %d failures and 1 lock", k, show(st), perKey)
		}
	}
}

func testConcurrentRelock(t *testing.T, s lockout.Store) {
	k := Key("a")
	var st lockout.State
	for range Rule.MaxFailures {
		st = fail(t, s, k, T0, Rule)
	}
	now := st.LockedUntil
	states := concurrentFails(t, s, now, Rule, 50, k)[0]
	checkConcurrent(t, states, int64(Rule.MaxFailures)+1, int64(Rule.MaxFailures)+1)
	g := get(t, s, k, now)
	if g.Locks != 2 || !g.LockedUntil.Equal(now.Add(2*Rule.LockDuration)) {
		t.Fatalf("after the second lock: %s", show(g))
	}
}

func testCancelledContext(t *testing.T, s lockout.Store) {
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	k := Key("a")
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, lockout.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error wrapping lockout.ErrUnavailable and context.Canceled", op, err)
		}
	}
	_, err := s.Fail(c, k, T0, Rule)
	check("Fail", err)
	_, err = s.Get(c, k, T0, Rule)
	check("Get", err)
	check("Reset", s.Reset(c, k))
	_, _, err = s.Reserve(c, k, "id", T0, Rule, Hold)
	check("Reserve", err)
	_, err = s.Settle(c, k, "id", T0, Rule, true)
	check("Settle", err)
	_, err = s.Take(c, k, T0, []lockout.Limit{{Max: 1, Per: time.Hour}})
	check("Take", err)
	check("Link", s.Link(c, k, "subject", T0, time.Hour))
	_, err = s.Resolve(c, k, T0)
	check("Resolve", err)
	if sw, ok := s.(lockout.Sweeper); ok {
		_, err = sw.Sweep(c, T0)
		check("Sweep", err)
	}
	// The cancelled calls changed nothing.
	want(t, "Get after cancelled calls", get(t, s, k, T0), lockout.State{})
	if q := take(t, s, k, T0, []lockout.Limit{{Max: 1, Per: time.Hour}}); !q.OK {
		t.Errorf("the cancelled Take was recorded: %+v", q)
	}
	if got := resolve(t, s, k, T0); got != "" {
		t.Errorf("the cancelled Link was recorded: %q", got)
	}
}

func testSweep(t *testing.T, s lockout.Store) {
	sw, ok := s.(lockout.Sweeper)
	if !ok {
		t.Logf("%T does not implement lockout.Sweeper; its own tests check expiry", s)
		return
	}
	short, locked, late := Key("short"), Key("locked"), Key("late")
	fail(t, s, short, T0, Rule) // expires T0+15m
	for range Rule.MaxFailures {
		fail(t, s, locked, T0, Rule) // expires T0+5m+15m
	}
	fail(t, s, late, T0.Add(10*time.Minute), Rule) // expires T0+25m

	sweep := func(now time.Time, wantN int) {
		t.Helper()
		n, err := sw.Sweep(ctx(t), now)
		if err != nil {
			t.Fatalf("Sweep(%v): %v", now, err)
		}
		if n != wantN {
			t.Fatalf("Sweep(T0+%v) deleted %d entries, want %d", now.Sub(T0), n, wantN)
		}
	}
	sweep(T0.Add(Rule.Window-time.Millisecond), 0)
	sweep(T0.Add(Rule.Window), 1)
	sweep(T0.Add(Rule.Window), 0)
	if st := get(t, s, locked, T0.Add(Rule.Window)); st.Locks != 1 {
		t.Fatalf("Sweep deleted a live entry: %s", show(st))
	}
	sweep(T0.Add(20*time.Minute), 1)
	sweep(T0.Add(time.Hour), 1)
	sweep(T0.Add(time.Hour), 0)
}

// BenchmarkCheckFail measures one login attempt's lockout work against
// store: Check of an identifier and an IP key, then Fail of the identifier,
// over 1000 identifiers. "serial" runs one attempt at a time, "parallel"
// GOMAXPROCS×4 at once.
func BenchmarkCheckFail(b *testing.B, store lockout.Store) {
	l, err := lockout.New(store, lockout.Config{Realm: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]lockout.Key, 1000)
	for i := range ids {
		ids[i] = l.IdentifierKey(fmt.Sprintf("user%d@example.com", i))
	}
	ip := l.IPKey("192.0.2.1")
	attempt := func(i int) {
		k := ids[i%len(ids)]
		if _, err := l.Check(context.Background(), k, ip); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Fail(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}
	serialAndParallel(b, attempt)
}

// testNamespaces: counters, quotas and links of one key are independent,
// and Reset forgets only the counter.
func testNamespaces(t *testing.T, s lockout.Store) {
	k := Key("same")
	limits := []lockout.Limit{{Max: 1, Per: time.Hour}}
	fail(t, s, k, T0, Rule)
	reserve(t, s, k, "ns", T0, Rule, Hold)
	if q := take(t, s, k, T0, limits); !q.OK {
		t.Fatalf("the counter of a key spent its quota: %s", showQuota(q))
	}
	link(t, s, k, "subject", T0, time.Hour)
	want(t, "counter next to a quota and a link", get(t, s, k, T0),
		lockout.State{Failures: 1, ExpiresAt: T0.Add(Rule.Window), Pending: 1, PendingUntil: T0.Add(Hold),
			Holds: []lockout.Hold{{ID: "ns", Until: T0.Add(Hold)}}})
	if err := s.Reset(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	want(t, "counter after Reset", get(t, s, k, T0), lockout.State{})
	if q := take(t, s, k, T0, limits); q.OK {
		t.Fatal("Reset forgot the quota")
	}
	if got := resolve(t, s, k, T0); got != "subject" {
		t.Fatalf("Reset forgot the link: %q", got)
	}
}

// testSweepAll: Sweep deletes expired counters, quotas and links, but not a
// counter whose window is over while a reservation is live, nor one whose
// hold ended unsettled while the failure it counts is remembered.
func testSweepAll(t *testing.T, s lockout.Store) {
	sw, ok := s.(lockout.Sweeper)
	if !ok {
		t.Logf("%T does not implement lockout.Sweeper; its own tests check expiry", s)
		return
	}
	counter, pending, settled, quota, lnk := Key("counter"), Key("pending"), Key("settled"), Key("quota"), Key("link")
	once := []lockout.Limit{{Max: 1, Per: 10 * time.Minute}}
	fail(t, s, counter, T0, Rule) // expires T0+15m
	fail(t, s, pending, T0, Rule)
	late := T0.Add(Rule.Window - Hold/2)
	reserve(t, s, pending, "h", late, Rule, Hold) // window ends T0+15m, the hold half a Hold later
	reserve(t, s, settled, "s", T0, Rule, Hold)
	settle(t, s, settled, "s", T0, Rule, false) // nothing left
	take(t, s, quota, T0, once)                 // expires T0+10m
	link(t, s, lnk, "subject", T0, 5*time.Minute)

	sweep := func(at time.Time, wantN int) {
		t.Helper()
		n, err := sw.Sweep(ctx(t), at)
		if err != nil {
			t.Fatalf("Sweep(T0+%v): %v", at.Sub(T0), err)
		}
		if n != wantN {
			t.Fatalf("Sweep(T0+%v) deleted %d entries, want %d", at.Sub(T0), n, wantN)
		}
	}
	sweep(T0.Add(5*time.Minute-time.Millisecond), 0)
	sweep(T0.Add(5*time.Minute), 1)
	if got := resolve(t, s, lnk, T0); got != "" {
		t.Fatalf("the swept link still resolves (asked at T0): %q", got)
	}
	sweep(T0.Add(10*time.Minute), 1)
	if q := take(t, s, quota, T0.Add(time.Minute), once); !q.OK { // expires T0+11m
		t.Fatalf("the swept quota still counts (asked at T0+1m): %s", showQuota(q))
	}
	sweep(T0.Add(11*time.Minute), 1)
	sweep(T0.Add(Rule.Window), 1) // the counter; the reservation is live
	want(t, "window over, reservation live", get(t, s, pending, T0.Add(Rule.Window)),
		lockout.State{Pending: 1, PendingUntil: late.Add(Hold), Holds: []lockout.Hold{{ID: "h", Until: late.Add(Hold)}}})
	end := late.Add(Hold)
	sweep(end, 0) // the hold ended unsettled: its failure must not be swept away
	want(t, "hold ended unsettled, after sweeping", get(t, s, pending, end.Add(time.Minute)),
		lockout.State{Failures: 1, ExpiresAt: end.Add(Rule.Window)})
	keep := end.Add(Rule.MaxLockDuration + Rule.Window) // lockout.Rule.KeepUntil
	sweep(keep.Add(-time.Millisecond), 0)
	sweep(keep, 1)
	sweep(T0.Add(24*time.Hour), 0)
}

// serialAndParallel runs attempt (given a distinct number each time) one at
// a time, then from 4×GOMAXPROCS goroutines.
func serialAndParallel(b *testing.B, attempt func(i int)) {
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			attempt(i)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				attempt(int(n.Add(1)))
			}
		})
	})
}
