package memory_test

import (
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
