package memory_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/activity/activitytest"
	"github.com/heraproject/hera/internal/activity/memory"
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
	activitytest.Run(t, func(t *testing.T) activitytest.Backend {
		return activitytest.NewBackend(newStore(t, memory.Config{}), nil)
	})
}

// TestSweep: what outlived the retention it was written with goes, even for
// identities nobody writes to again.
func TestSweep(t *testing.T) {
	s := newStore(t, memory.Config{SweepInterval: -1})
	p := activitytest.Policy
	t0 := activitytest.T0
	for i, id := range []string{"a", "b"} {
		e := activity.Event{ID: "x", Identity: id, Kind: activity.SignIn, At: t0.Add(time.Duration(i) * time.Hour)}
		if err := s.Add(t.Context(), e, t0, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetAddresses(t.Context(), "c", []string{"c@example.com"}, t0, p); err != nil {
		t.Fatal(err)
	}
	if n := s.Sweep(t0.Add(p.Retention - time.Millisecond)); n != 0 {
		t.Fatalf("swept %d before anything ended", n)
	}
	if n := s.Sweep(t0.Add(p.Retention)); n != 2 || s.Len() != 1 {
		t.Fatalf("swept %d at the end of a's event and c's record, %d events left; want 2 swept, 1 left", n, s.Len())
	}
	if prev, err := s.SetAddresses(t.Context(), "c", nil, t0, p); err != nil || prev != nil {
		t.Fatalf("c's record after the sweep: %q, %v", prev, err)
	}
}

func TestBackgroundSweep(t *testing.T) {
	var clock atomic.Int64
	clock.Store(activitytest.T0.UnixMilli())
	s := newStore(t, memory.Config{SweepInterval: 5 * time.Millisecond, Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
	e := activity.Event{ID: "x", Identity: "a", Kind: activity.SignIn, At: activitytest.T0}
	if err := s.Add(t.Context(), e, activitytest.T0, activitytest.Policy); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if s.Len() != 1 {
		t.Fatal("swept before the retention ended")
	}
	clock.Store(activitytest.T0.Add(activitytest.Policy.Retention).UnixMilli())
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not delete the expired event")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkAdd(b *testing.B) { activitytest.BenchmarkAdd(b, newStore(b, memory.Config{})) }

func BenchmarkList(b *testing.B) { activitytest.BenchmarkList(b, newStore(b, memory.Config{})) }

// TestSeenBound: a flood of submissions cannot grow the Seen records
// beyond MaxSeen; expired ones go first.
func TestSeenBound(t *testing.T) {
	s := newStore(t, memory.Config{SweepInterval: -1, MaxSeen: 3})
	t0 := time.UnixMilli(1_750_000_000_000)
	put := func(key string, at time.Time, ttl time.Duration) {
		t.Helper()
		if err := s.PutSeen(t.Context(), key, activity.Seen{IP: "192.0.2.1"}, at, ttl); err != nil {
			t.Fatal(err)
		}
	}
	has := func(key string, at time.Time) bool {
		_, ok, err := s.GetSeen(t.Context(), key, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	put("short", t0, time.Second)
	put("a", t0, time.Hour)
	put("b", t0, time.Hour)
	// Full; "short" has expired by then and makes room.
	put("c", t0.Add(2*time.Second), time.Hour)
	for _, k := range []string{"a", "b", "c"} {
		if !has(k, t0.Add(2*time.Second)) {
			t.Fatalf("%s went while an expired record was there", k)
		}
	}
	for i := range 10 {
		put(fmt.Sprintf("x%d", i), t0.Add(3*time.Second), time.Hour)
	}
	n := 0
	for _, k := range []string{"a", "b", "c", "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9"} {
		if has(k, t0.Add(3*time.Second)) {
			n++
		}
	}
	if n != 3 || !has("x9", t0.Add(3*time.Second)) {
		t.Fatalf("%d records kept (want 3, the last one among them)", n)
	}
}
