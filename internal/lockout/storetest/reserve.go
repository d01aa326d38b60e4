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

// model drives a store and the reference functions side by side and fails
// the test at the first state that differs. Its reference is what the store
// holds: a refused Reserve that counted no expired hold stores nothing.
type model struct {
	t    *testing.T
	r    lockout.Rule
	hold time.Duration
	ref  map[lockout.Key]lockout.State
	ids  int
	// What the calls saw, so a random test can prove its reach.
	admitted, busy, locked, lockedNow, expired int
}

func newModel(t *testing.T, r lockout.Rule, hold time.Duration) *model {
	return &model{t: t, r: r, hold: hold, ref: map[lockout.Key]lockout.State{}}
}

// newID returns a reservation ID not used before by m.
func (m *model) newID() string {
	m.ids++
	return fmt.Sprintf("id-%d", m.ids)
}

func (m *model) saw(got lockout.State) {
	m.expired += got.Expired
	if got.LockedNow {
		m.lockedNow++
	}
}

func (m *model) fail(s lockout.Store, k lockout.Key, now time.Time) lockout.State {
	m.t.Helper()
	w := m.r.Apply(m.ref[k], now)
	m.ref[k] = stored(w)
	got := fail(m.t, s, k, now, m.r)
	want(m.t, fmt.Sprintf("Fail(%s) at T0+%v", k.Digest, now.Sub(T0)), got, w)
	m.saw(got)
	return got
}

// reserve reserves a new ID and returns it.
func (m *model) reserve(s lockout.Store, k lockout.Key, now time.Time) (lockout.State, bool, string) {
	m.t.Helper()
	id := m.newID()
	st, ok := m.reserveID(s, k, id, now)
	return st, ok, id
}

func (m *model) reserveID(s lockout.Store, k lockout.Key, id string, now time.Time) (lockout.State, bool) {
	m.t.Helper()
	w, wok := m.r.Reserve(m.ref[k], now, m.hold, id)
	if wok || w.Expired > 0 {
		m.ref[k] = stored(w)
	}
	got, ok := reserve(m.t, s, k, id, now, m.r, m.hold)
	switch {
	case ok:
		m.admitted++
	case got.Locked(now):
		m.locked++
	default:
		m.busy++
	}
	what := fmt.Sprintf("Reserve(%s, %s) at T0+%v", k.Digest, id, now.Sub(T0))
	if ok != wok {
		m.t.Fatalf("%s admitted=%v, want %v (state %s)", what, ok, wok, show(got))
	}
	want(m.t, what, got, w)
	m.saw(got)
	return got, ok
}

func (m *model) settle(s lockout.Store, k lockout.Key, id string, now time.Time, failed bool) lockout.State {
	m.t.Helper()
	w := m.r.Settle(m.ref[k], now, id, failed)
	m.ref[k] = stored(w)
	got := settle(m.t, s, k, id, now, m.r, failed)
	want(m.t, fmt.Sprintf("Settle(%s, %s, failed=%v) at T0+%v", k.Digest, id, failed, now.Sub(T0)), got, w)
	m.saw(got)
	return got
}

func (m *model) get(s lockout.Store, k lockout.Key, now time.Time) lockout.State {
	m.t.Helper()
	got := getRule(m.t, s, k, now, m.r)
	want(m.t, fmt.Sprintf("Get(%s) at T0+%v", k.Digest, now.Sub(T0)), got, stored(m.r.Current(m.ref[k], now)))
	return got
}

func (m *model) reset(s lockout.Store, k lockout.Key) {
	m.t.Helper()
	if err := s.Reset(ctx(m.t), k); err != nil {
		m.t.Fatalf("Reset(%s): %v", k, err)
	}
	delete(m.ref, k)
}

func reserve(t *testing.T, s lockout.Store, k lockout.Key, id string, now time.Time, r lockout.Rule, hold time.Duration) (lockout.State, bool) {
	t.Helper()
	st, ok, err := s.Reserve(ctx(t), k, id, now, r, hold)
	if err != nil {
		t.Fatalf("Reserve(%s, %s, %v): %v", k, id, now, err)
	}
	if st.LockedNow && st.Expired == 0 {
		t.Fatalf("Reserve(%s) reported LockedNow without an expired hold: %s", k, show(st))
	}
	return st, ok
}

func settle(t *testing.T, s lockout.Store, k lockout.Key, id string, now time.Time, r lockout.Rule, failed bool) lockout.State {
	t.Helper()
	st, err := s.Settle(ctx(t), k, id, now, r, failed)
	if err != nil {
		t.Fatalf("Settle(%s, %s, %v, %v): %v", k, id, now, failed, err)
	}
	return st
}

// holds returns the holds of ids, all until until.
func holds(until time.Time, ids ...string) []lockout.Hold {
	out := make([]lockout.Hold, len(ids))
	for i, id := range ids {
		out[i] = lockout.Hold{ID: id, Until: until}
	}
	return out
}

func testReserveAdmitsUpToMax(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	for i := 1; i <= Rule.MaxFailures; i++ {
		st, ok, id := m.reserve(s, k, T0)
		if !ok || st.Pending != int64(i) || !st.PendingUntil.Equal(T0.Add(Hold)) || st.Failures != 0 ||
			len(st.Holds) != i || st.Holds[i-1].ID != id || !st.Holds[i-1].Until.Equal(T0.Add(Hold)) {
			t.Fatalf("reservation %d: admitted=%v %s", i, ok, show(st))
		}
	}
	st, ok, _ := m.reserve(s, k, T0.Add(time.Second))
	if ok || st.Locked(T0) || st.Pending != int64(Rule.MaxFailures) {
		t.Fatalf("reservation %d: admitted=%v %s, want refused as busy", Rule.MaxFailures+1, ok, show(st))
	}
	m.get(s, k, T0.Add(time.Second))
}

func testReserveLocked(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	for range Rule.MaxFailures {
		m.fail(s, k, T0)
	}
	now := T0.Add(Rule.LockDuration - time.Millisecond)
	if st, ok, _ := m.reserve(s, k, now); ok || !st.Locked(now) || st.Pending != 0 {
		t.Fatalf("Reserve of a locked key: admitted=%v %s", ok, show(st))
	}
	m.get(s, k, now) // the refusal wrote nothing
}

func testSettleFailureLocksOnce(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	var ids []string
	for range Rule.MaxFailures {
		_, _, id := m.reserve(s, k, T0)
		ids = append(ids, id)
	}
	for i := 1; i <= Rule.MaxFailures; i++ {
		now := T0.Add(time.Duration(i) * time.Second)
		st := m.settle(s, k, ids[i-1], now, true)
		if st.LockedNow != (i == Rule.MaxFailures) || st.Failures != int64(i) || st.Pending != int64(Rule.MaxFailures-i) {
			t.Fatalf("settled failure %d: %s", i, show(st))
		}
	}
	g := m.get(s, k, T0.Add(time.Minute))
	if g.Locks != 1 || !g.PendingUntil.IsZero() || len(g.Holds) != 0 {
		t.Fatalf("after all failures: %s", show(g))
	}
	if _, ok, _ := m.reserve(s, k, T0.Add(time.Minute)); ok {
		t.Fatal("Reserve admitted while locked")
	}
}

func testSettleNeutralFreesSlot(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	var ids []string
	for range Rule.MaxFailures {
		_, _, id := m.reserve(s, k, T0)
		ids = append(ids, id)
	}
	if _, ok, _ := m.reserve(s, k, T0); ok {
		t.Fatal("admitted beyond MaxFailures")
	}
	if st := m.settle(s, k, ids[0], T0, false); st.Pending != int64(Rule.MaxFailures-1) || st.Failures != 0 || st.LockedNow {
		t.Fatalf("neutral settle: %s", show(st))
	}
	_, ok, id := m.reserve(s, k, T0)
	if !ok {
		t.Fatal("the freed slot was not admitted")
	}
	for _, id := range append(ids[1:], id) {
		m.settle(s, k, id, T0, false)
	}
	// Nothing left: the key is as if never seen. Settling again is harmless.
	want(t, "Get after settling everything", m.get(s, k, T0), lockout.State{})
	want(t, "Settle of a settled reservation", m.settle(s, k, ids[0], T0, false), lockout.State{})
}

func testOneSlotAfterLock(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	for range Rule.MaxFailures {
		m.fail(s, k, T0)
	}
	now := T0.Add(Rule.LockDuration) // the lock has ended, the window has not
	_, ok, first := m.reserve(s, k, now)
	if !ok {
		t.Fatal("not admitted after the lock ended")
	}
	if st, ok, _ := m.reserve(s, k, now); ok || st.Locked(now) {
		t.Fatalf("second attempt after the lock: admitted=%v %s, want busy", ok, show(st))
	}
	// Neutral frees the one slot.
	m.settle(s, k, first, now, false)
	_, ok, second := m.reserve(s, k, now)
	if !ok {
		t.Fatal("not admitted after the neutral settle")
	}
	st := m.settle(s, k, second, now.Add(time.Second), true)
	if !st.LockedNow || st.Locks != 2 || !st.LockedUntil.Equal(now.Add(time.Second+2*Rule.LockDuration)) {
		t.Fatalf("failure after the lock: %s, want the second, doubled lock", show(st))
	}
	if _, ok, _ := m.reserve(s, k, now.Add(time.Second)); ok {
		t.Fatal("admitted while locked again")
	}
}

// testPendingExpiry: reservations that end unsettled stop being busy at
// their end, and count as failures as at that time.
func testPendingExpiry(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	for range Rule.MaxFailures - 1 {
		m.reserve(s, k, T0)
	}
	m.reserve(s, k, T0.Add(time.Second)) // the last to end
	if _, ok, _ := m.reserve(s, k, T0.Add(Hold-time.Millisecond)); ok {
		t.Fatal("admitted 1 ms before the first holds ended")
	}
	end := T0.Add(Hold)
	st, ok, _ := m.reserve(s, k, end)
	if ok || st.Expired != Rule.MaxFailures-1 || st.Failures != int64(Rule.MaxFailures-1) || st.Pending != 1 ||
		!st.ExpiresAt.Equal(end.Add(Rule.Window)) || st.Locks != 0 {
		t.Fatalf("when %d holds ended: admitted=%v %s, want them counted as failures, and busy: one failure left, one in flight",
			Rule.MaxFailures-1, ok, show(st))
	}
	// The refusal stored the failures it counted, once.
	if st, ok, _ := m.reserve(s, k, end); ok || st.Expired != 0 || st.Failures != int64(Rule.MaxFailures-1) {
		t.Fatalf("second attempt: admitted=%v %s, want busy, nothing counted again", ok, show(st))
	}
	// The last hold ends: the MaxFailures-th failure locks, as at its end.
	last := end.Add(time.Second)
	st = m.fail(s, k, last)
	if st.Expired != 1 || !st.LockedNow || st.Locks != 1 || !st.LockedUntil.Equal(last.Add(Rule.LockDuration)) ||
		st.Failures != int64(Rule.MaxFailures)+1 {
		t.Fatalf("the last hold ended: %s, want it counted, the lock engaged at its end and the failure counted", show(st))
	}
}

func testFailKeepsPending(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	m.reserve(s, k, T0)
	m.reserve(s, k, T0)
	if st := m.fail(s, k, T0.Add(time.Second)); st.Pending != 2 || len(st.Holds) != 2 || st.Failures != 1 {
		t.Fatalf("Fail dropped reservations: %s", show(st))
	}
	// The window ends before the hold: the failures go, the reservation
	// stays, and a new window keeps it.
	k2 := Key("b")
	m.fail(s, k2, T0)
	late := T0.Add(Rule.Window - time.Second)
	m.reserve(s, k2, late)
	st := m.get(s, k2, T0.Add(Rule.Window))
	if st.Failures != 0 || !st.ExpiresAt.IsZero() || st.Pending != 1 || len(st.Holds) != 1 {
		t.Fatalf("window over, reservation live: %s", show(st))
	}
	if st := m.fail(s, k2, T0.Add(Rule.Window)); st.Failures != 1 || st.Pending != 1 {
		t.Fatalf("Fail in a new window: %s", show(st))
	}
	// Fail at the end of the holds counts them first.
	if st := m.fail(s, k, T0.Add(Hold)); st.Expired != 2 || st.Failures != 4 || st.Pending != 0 {
		t.Fatalf("Fail at the end of the holds: %s", show(st))
	}
}

func testResetClearsReservations(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	var ids []string
	for range 3 {
		_, _, id := m.reserve(s, k, T0)
		ids = append(ids, id)
	}
	m.settle(s, k, ids[0], T0, true)
	m.settle(s, k, ids[1], T0, true)
	m.reset(s, k)
	want(t, "Get after Reset", m.get(s, k, T0), lockout.State{})
	want(t, "Get after Reset, once the hold would have ended", m.get(s, k, T0.Add(Hold)), lockout.State{})
	if st, ok, _ := m.reserve(s, k, T0); !ok || st.Pending != 1 || st.Failures != 0 {
		t.Fatalf("Reserve after Reset: admitted=%v %s", ok, show(st))
	}
	// The reset reservation counts nothing when settled.
	if st := m.settle(s, k, ids[2], T0, true); st.Failures != 0 || st.Pending != 1 {
		t.Fatalf("Settle of a reservation made before the Reset: %s", show(st))
	}
}

func testGetShowsPending(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	_, _, id := m.reserve(s, k, T0)
	h := holds(T0.Add(Hold), id)
	want(t, "Get of a reservation", m.get(s, k, T0.Add(time.Second)), lockout.State{Pending: 1, PendingUntil: T0.Add(Hold), Holds: h})
	want(t, "Get 1 ms before the hold ends", m.get(s, k, T0.Add(Hold-time.Millisecond)), lockout.State{Pending: 1, PendingUntil: T0.Add(Hold), Holds: h})
	want(t, "Get when the hold has ended: a failure", m.get(s, k, T0.Add(Hold)), lockout.State{Failures: 1, ExpiresAt: T0.Add(Hold + Rule.Window)})
	// Sub-millisecond times are truncated, as everywhere.
	now := T0.Add(time.Hour + 1234567*time.Nanosecond)
	st, _, _ := m.reserve(s, k, now)
	if !st.PendingUntil.Equal(ms(now).Add(Hold)) || !st.Holds[0].Until.Equal(ms(now).Add(Hold)) {
		t.Fatalf("PendingUntil %v, want %v", st.PendingUntil, ms(now).Add(Hold))
	}
}

func testReserveInvalid(t *testing.T, s lockout.Store) {
	k := Key("a")
	for _, hold := range []time.Duration{0, time.Millisecond, 2 * time.Hour} {
		if _, _, err := s.Reserve(ctx(t), k, "id", T0, Rule, hold); !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("Reserve with hold %v: %v, want an error wrapping lockout.ErrUnavailable", hold, err)
		}
	}
	bad := lockout.Rule{MaxFailures: 0, Window: time.Minute, LockDuration: time.Minute, MaxLockDuration: time.Minute}
	if _, _, err := s.Reserve(ctx(t), k, "id", T0, bad, Hold); !errors.Is(err, lockout.ErrUnavailable) {
		t.Errorf("Reserve with an invalid rule: %v", err)
	}
	if _, err := s.Settle(ctx(t), k, "id", T0, bad, true); !errors.Is(err, lockout.ErrUnavailable) {
		t.Errorf("Settle with an invalid rule: %v", err)
	}
	for _, id := range []string{"", strings.Repeat("x", lockout.MaxHoldIDBytes+1), "a b", "a:b", "h\u00e9", "a\x00", "a*"} {
		if _, _, err := s.Reserve(ctx(t), k, id, T0, Rule, Hold); !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("Reserve with ID %q: %v, want an error wrapping lockout.ErrUnavailable", id, err)
		}
		if _, err := s.Settle(ctx(t), k, id, T0, Rule, true); !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("Settle with ID %q: %v, want an error wrapping lockout.ErrUnavailable", id, err)
		}
	}
	want(t, "Get after invalid calls", get(t, s, k, T0.Add(Hold)), lockout.State{})
	// The longest valid ID, of every valid byte.
	long := strings.Repeat("AZaz09_-", lockout.MaxHoldIDBytes/8)
	if st, ok := reserve(t, s, k, long, T0, Rule, Hold); !ok || len(st.Holds) != 1 || st.Holds[0].ID != long {
		t.Fatalf("Reserve with a %d-byte ID: admitted=%v %s", len(long), ok, show(st))
	}
	if st := settle(t, s, k, long, T0, Rule, true); st.Failures != 1 || len(st.Holds) != 0 {
		t.Fatalf("Settle with a %d-byte ID: %s", len(long), show(st))
	}
}

// testReserveSameID: reserving an ID already held admits it again without
// taking a second slot (a retried Reserve is harmless).
func testReserveSameID(t *testing.T, s lockout.Store) {
	m := newModel(t, Rule, Hold)
	k := Key("a")
	_, _, id := m.reserve(s, k, T0)
	st, ok := m.reserveID(s, k, id, T0.Add(time.Second))
	if !ok || st.Pending != 1 || len(st.Holds) != 1 || !st.Holds[0].Until.Equal(T0.Add(Hold)) {
		t.Fatalf("Reserve of a held ID: admitted=%v %s, want admitted with the first hold unchanged", ok, show(st))
	}
	m.settle(s, k, id, T0.Add(2*time.Second), true)
	// Once settled, the ID is a new reservation.
	if st, ok := m.reserveID(s, k, id, T0.Add(3*time.Second)); !ok || st.Pending != 1 || st.Failures != 1 {
		t.Fatalf("Reserve of a settled ID: admitted=%v %s", ok, show(st))
	}
}

// testReservationsMatchReference drives both stores of b and the reference
// with the same pseudo-random mix of Fail, Reserve, Settle (of held,
// settled, expired and unknown IDs), Reset and Get.
func testReservationsMatchReference(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	cases := []struct {
		rule lockout.Rule
		hold time.Duration
	}{
		{Rule, Hold},
		{lockout.Rule{MaxFailures: 3, Window: 10 * time.Second, LockDuration: 2 * time.Second, MaxLockDuration: 9 * time.Second}, 3 * time.Second},
		{lockout.Rule{MaxFailures: 2, Window: 5 * time.Second, LockDuration: 3 * time.Second, MaxLockDuration: 3 * time.Second}, 7 * time.Second},
		{lockout.Rule{MaxFailures: 1, Window: 4 * time.Second, LockDuration: time.Second, MaxLockDuration: 8 * time.Second}, 2 * time.Second},
		{lockout.Rule{MaxFailures: 4, Window: time.Minute, LockDuration: 10 * time.Second, MaxLockDuration: 40 * time.Second}, 5 * time.Second},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for ci, c := range cases {
		m := newModel(t, c.rule, c.hold)
		keys := []lockout.Key{Key(fmt.Sprintf("rref%d-a", ci)), Key(fmt.Sprintf("rref%d-b", ci))}
		ids := map[lockout.Key][]string{}
		now := T0
		for range 200 {
			switch rng.IntN(4) {
			case 0: // same millisecond
			case 1:
				now = now.Add(time.Duration(rng.Int64N(int64(time.Second))))
			default:
				now = now.Add(time.Duration(rng.Int64N(int64(min(c.rule.LockDuration, c.hold)))))
			}
			s, k := stores[rng.IntN(len(stores))], keys[rng.IntN(len(keys))]
			switch op := rng.IntN(20); {
			case op == 0:
				m.reset(s, k)
			case op < 3:
				m.get(s, k, now)
			case op < 6:
				m.fail(s, k, now)
			case op < 12:
				if _, ok, id := m.reserve(s, k, now); ok {
					ids[k] = append(ids[k], id)
				}
			default:
				id := "unknown"
				if n := len(ids[k]); n > 0 && rng.IntN(6) > 0 {
					// Mostly the latest: most settle in time; some late or twice.
					id = ids[k][max(n-1-rng.IntN(3), 0)]
				}
				m.settle(s, k, id, now, rng.IntN(2) == 0)
			}
		}
		if m.admitted == 0 || m.busy == 0 || m.locked == 0 || m.lockedNow == 0 || m.expired == 0 {
			t.Fatalf("case %d reached too little: %d admitted, %d busy, %d locked, %d locks engaged, %d holds expired",
				ci, m.admitted, m.busy, m.locked, m.lockedNow, m.expired)
		}
		t.Logf("case %d: %d admitted, %d busy, %d locked, %d locks engaged, %d holds expired", ci, m.admitted, m.busy, m.locked, m.lockedNow, m.expired)
	}
}

// parallel runs f(i) for i in 0..n-1 at once, each with one of stores in
// turn, and returns the first error.
func parallel(t *testing.T, n int, stores []lockout.Store, f func(i int, s lockout.Store) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i, stores[i%len(stores)])
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// testConcurrentReserve: Parallel reservations of a fresh key, half on each
// store, admit exactly MaxFailures; settling those as failures engages the
// lock exactly once.
func testConcurrentReserve(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	k := Key("hot")
	states := make([]lockout.State, Parallel)
	admitted := make([]bool, Parallel)
	parallel(t, Parallel, stores, func(i int, s lockout.Store) (err error) {
		states[i], admitted[i], err = s.Reserve(ctx(t), k, fmt.Sprintf("c%d", i), T0, Rule, Hold)
		return err
	})
	var pendings []int64
	var winners []int
	for i, st := range states {
		if admitted[i] {
			pendings = append(pendings, st.Pending)
			winners = append(winners, i)
		} else if st.Locked(T0) || st.Pending != int64(Rule.MaxFailures) {
			t.Fatalf("refused reservation: %s, want busy with %d pending", show(st), Rule.MaxFailures)
		}
	}
	sort.Slice(pendings, func(i, j int) bool { return pendings[i] < pendings[j] })
	if len(pendings) != Rule.MaxFailures {
		t.Fatalf("%d of %d concurrent reservations admitted, want %d", len(pendings), Parallel, Rule.MaxFailures)
	}
	for i, p := range pendings {
		if p != int64(i+1) {
			t.Fatalf("admitted reservations saw pending %v, want 1..%d once each", pendings, Rule.MaxFailures)
		}
	}
	if st := get(t, stores[1], k, T0); len(st.Holds) != Rule.MaxFailures {
		t.Fatalf("after the concurrent reservations: %s, want a hold per admitted one", show(st))
	}
	settled := make([]lockout.State, len(winners))
	parallel(t, len(winners), stores, func(i int, s lockout.Store) (err error) {
		settled[i], err = s.Settle(ctx(t), k, fmt.Sprintf("c%d", winners[i]), T0, Rule, true)
		return err
	})
	checkConcurrent(t, settled, 1, int64(Rule.MaxFailures))
	if st, ok := reserve(t, stores[1], k, "after", T0, Rule, Hold); ok || !st.Locked(T0) {
		t.Fatalf("Reserve after the lock: admitted=%v %s", ok, show(st))
	}
	lu := T0.Add(Rule.LockDuration)
	want(t, "Get after the settled failures", get(t, stores[0], k, T0),
		lockout.State{Failures: int64(Rule.MaxFailures), Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(Rule.Window)})
}

// testAtMostMaxJudged: Parallel attempts, each Reserve and, if admitted,
// Settle as a failure, judge exactly MaxFailures credentials on a fresh key,
// and exactly one once its lock has ended.
func testAtMostMaxJudged(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	k := Key("hot")
	run := func(round int, now time.Time) (judged, locks int64) {
		var j, l atomic.Int64
		parallel(t, Parallel, stores, func(i int, s lockout.Store) error {
			id := fmt.Sprintf("r%d-%d", round, i)
			_, ok, err := s.Reserve(ctx(t), k, id, now, Rule, Hold)
			if err != nil || !ok {
				return err
			}
			j.Add(1)
			st, err := s.Settle(ctx(t), k, id, now, Rule, true)
			if st.LockedNow {
				l.Add(1)
			}
			return err
		})
		return j.Load(), l.Load()
	}
	if judged, locks := run(1, T0); judged != int64(Rule.MaxFailures) || locks != 1 {
		t.Fatalf("fresh key: %d judged and %d locks engaged, want %d and 1", judged, locks, Rule.MaxFailures)
	}
	st := get(t, stores[1], k, T0)
	if judged, locks := run(2, st.LockedUntil); judged != 1 || locks != 1 {
		t.Fatalf("after the lock: %d judged and %d locks engaged, want 1 and 1", judged, locks)
	}
	if st := get(t, stores[0], k, st.LockedUntil); st.Failures != int64(Rule.MaxFailures)+1 || st.Locks != 2 || st.Pending != 0 {
		t.Fatalf("at the end: %s", show(st))
	}
}

// BenchmarkReserveSettle measures one login attempt's lockout work against
// store with reservations: Reserve of an identifier and an IP key, then
// Settle as a failure, over 1000 identifiers. "serial" runs one attempt at a
// time, "parallel" GOMAXPROCS×4 at once.
func BenchmarkReserveSettle(b *testing.B, store lockout.Store) {
	l, err := lockout.New(store, lockout.Config{Realm: "bench", IP: lockout.Rule{MaxFailures: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]lockout.Key, 1000)
	for i := range ids {
		ids[i] = l.IdentifierKey(fmt.Sprintf("user%d@example.com", i))
	}
	ip := l.IPKey("192.0.2.1")
	attempt := func(i int) {
		r, _, err := l.Reserve(context.Background(), ids[i%len(ids)], ip)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Settle(context.Background(), r, lockout.Failure); err != nil {
			b.Fatal(err)
		}
	}
	serialAndParallel(b, attempt)
}
