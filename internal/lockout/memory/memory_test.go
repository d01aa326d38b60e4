package memory_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/lockout/storetest"
)

func newStore(t testing.TB, cfg memory.Config) *memory.Store {
	t.Helper()
	s, err := memory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	// One store in one process: Another is the store itself.
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		s := newStore(t, memory.Config{})
		return storetest.NewBackend(s, nil, legacy{s})
	})
}

// legacy is a counter as a version without holds wrote and read it: a
// State without Holds.
type legacy struct{ s *memory.Store }

func (l legacy) Write(t *testing.T, k lockout.Key, st lockout.State) { l.s.PutLegacy(k, st) }

func (l legacy) Read(t *testing.T, k lockout.Key) (lockout.State, bool) {
	st, ok := l.s.Raw(k)
	st.Holds = nil
	return st, ok
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := memory.New(memory.Config{MaxEntries: -1}); err == nil {
		t.Fatal("New accepted MaxEntries -1")
	}
}

func TestBackgroundSweep(t *testing.T) {
	now := storetest.T0
	var clock atomic.Int64
	clock.Store(now.UnixMilli())
	s := newStore(t, memory.Config{SweepInterval: 5 * time.Millisecond, Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
	for i := range 10 {
		if _, err := s.Fail(t.Context(), storetest.Key(string(rune('a'+i))), now, storetest.Rule); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if n := s.Len(); n != 10 {
		t.Fatalf("swept live entries: %d left", n)
	}
	clock.Store(now.Add(storetest.Rule.Window).UnixMilli())
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("background sweep left %d expired entries", s.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBounded(t *testing.T) {
	const max = 100
	s := newStore(t, memory.Config{MaxEntries: max, SweepInterval: -1})
	ctx := t.Context()
	// A locked key survives a flood of new keys as long as unlocked ones
	// can be evicted instead.
	victim := storetest.Key("victim")
	for range storetest.Rule.MaxFailures {
		if _, err := s.Fail(ctx, victim, storetest.T0, storetest.Rule); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 * max {
		if _, err := s.Fail(ctx, storetest.Key("flood"+string(rune(0x4e00+i))), storetest.T0, storetest.Rule); err != nil {
			t.Fatal(err)
		}
		if n := s.Len(); n > max {
			t.Fatalf("%d entries, bound is %d", n, max)
		}
	}
	st, err := s.Get(ctx, victim, storetest.T0, storetest.Rule)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Locked(storetest.T0) {
		t.Fatalf("a flood of unlocked keys evicted a locked one: %+v", st)
	}
	// Existing keys are still updated when full.
	if st, _ := s.Fail(ctx, victim, storetest.T0, storetest.Rule); st.Failures != int64(storetest.Rule.MaxFailures)+1 {
		t.Fatalf("victim: %+v", st)
	}
}

func TestGetDropsExpired(t *testing.T) {
	s := newStore(t, memory.Config{SweepInterval: -1})
	k := storetest.Key("a")
	if _, err := s.Fail(t.Context(), k, storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), k, storetest.T0.Add(storetest.Rule.Window), storetest.Rule); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Get of an expired entry kept it: %d entries", n)
	}
}

func BenchmarkCheckFail(b *testing.B) {
	storetest.BenchmarkCheckFail(b, newStore(b, memory.Config{}))
}

func BenchmarkReserveSettle(b *testing.B) {
	storetest.BenchmarkReserveSettle(b, newStore(b, memory.Config{}))
}

// TestBoundedAcrossMaps: counters, quotas and links share MaxEntries, and a
// flood of quotas and links evicts neither a locked counter nor one holding
// a reservation.
func TestBoundedAcrossMaps(t *testing.T) {
	const max = 50
	s := newStore(t, memory.Config{MaxEntries: max, SweepInterval: -1})
	ctx := t.Context()
	now := storetest.T0
	locked, reserved := storetest.Key("locked"), storetest.Key("reserved")
	for range storetest.Rule.MaxFailures {
		if _, err := s.Fail(ctx, locked, now, storetest.Rule); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := s.Reserve(ctx, reserved, "r", now, storetest.Rule, storetest.Hold); err != nil || !ok {
		t.Fatalf("Reserve = %v, %v", ok, err)
	}
	limits := []lockout.Limit{{Max: 1, Per: time.Hour}}
	for i := range 10 * max {
		k := storetest.Key("flood" + string(rune(0x4e00+i)))
		if i%2 == 0 {
			if _, err := s.Take(ctx, k, now, limits); err != nil {
				t.Fatal(err)
			}
		} else if err := s.Link(ctx, k, "subject", now, time.Hour); err != nil {
			t.Fatal(err)
		}
		if n := s.Len(); n > max {
			t.Fatalf("%d entries, bound is %d", n, max)
		}
	}
	if st, _ := s.Get(ctx, locked, now, storetest.Rule); !st.Locked(now) {
		t.Fatalf("the flood evicted a locked counter: %+v", st)
	}
	if st, _ := s.Get(ctx, reserved, now, storetest.Rule); st.Pending != 1 {
		t.Fatalf("the flood evicted a reservation: %+v", st)
	}
}

func TestSettleDeletesEmptyEntries(t *testing.T) {
	s := newStore(t, memory.Config{SweepInterval: -1})
	k := storetest.Key("a")
	if _, _, err := s.Reserve(t.Context(), k, "r", storetest.T0, storetest.Rule, storetest.Hold); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(t.Context(), k, "r", storetest.T0, storetest.Rule, false); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("a settled reservation left %d entries", n)
	}
}

// TestHoldKeepsEntry: an entry whose hold ended unsettled is kept (by the
// sweep and by Get) until the failure it counts is forgotten.
func TestHoldKeepsEntry(t *testing.T) {
	s := newStore(t, memory.Config{SweepInterval: -1})
	ctx, r, k := t.Context(), storetest.Rule, storetest.Key("a")
	if _, ok, err := s.Reserve(ctx, k, "h", storetest.T0, r, storetest.Hold); err != nil || !ok {
		t.Fatalf("Reserve = %v, %v", ok, err)
	}
	end := storetest.T0.Add(storetest.Hold)
	if n, err := s.Sweep(ctx, end.Add(r.Window-time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("Sweep while the hold's failure lasts = %d, %v", n, err)
	}
	if st, err := s.Get(ctx, k, end.Add(time.Minute), r); err != nil || st.Failures != 1 {
		t.Fatalf("Get after the hold ended = %+v, %v; want its failure", st, err)
	}
	if n, err := s.Sweep(ctx, end.Add(r.MaxLockDuration+r.Window)); err != nil || n != 1 {
		t.Fatalf("Sweep once the failure is forgotten = %d, %v; want 1", n, err)
	}
}
