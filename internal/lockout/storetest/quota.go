package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// Sends are the limits most quota tests use: 3 per 15 min, 10 per hour.
var Sends = []lockout.Limit{{Max: 3, Per: 15 * time.Minute}, {Max: 10, Per: time.Hour}}

func take(t *testing.T, s lockout.Store, k lockout.Key, now time.Time, limits []lockout.Limit) lockout.Quota {
	t.Helper()
	q, err := s.Take(ctx(t), k, now, limits)
	if err != nil {
		t.Fatalf("Take(%s, %v): %v", k, now, err)
	}
	return q
}

func showQuota(q lockout.Quota) string {
	r := "-"
	if !q.RetryAt.IsZero() {
		r = fmt.Sprintf("T0+%v", q.RetryAt.Sub(T0))
	}
	return fmt.Sprintf("ok=%v retryAt=%s used=%d", q.OK, r, q.Used)
}

// quotaModel drives a store and lockout.TakeQuota side by side.
type quotaModel struct {
	t      *testing.T
	limits []lockout.Limit
	stamps map[lockout.Key][]int64
}

func (m *quotaModel) take(s lockout.Store, k lockout.Key, now time.Time) lockout.Quota {
	m.t.Helper()
	w, next := lockout.TakeQuota(m.stamps[k], now, m.limits)
	if w.OK {
		m.stamps[k] = next
	}
	got := take(m.t, s, k, now, m.limits)
	if g, w := showQuota(got), showQuota(w); g != w {
		m.t.Fatalf("Take(%s) at T0+%v:\n got  %s\n want %s", k.Digest, now.Sub(T0), g, w)
	}
	return got
}

func wantQuota(t *testing.T, what string, got, want lockout.Quota) {
	t.Helper()
	if g, w := showQuota(got), showQuota(want); g != w {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func testTakeLimits(t *testing.T, s lockout.Store) {
	m := &quotaModel{t: t, limits: Sends, stamps: map[lockout.Key][]int64{}}
	k := Key("q")
	for i := range 3 {
		wantQuota(t, fmt.Sprintf("take %d", i+1), m.take(s, k, T0.Add(time.Duration(i)*time.Minute)), lockout.Quota{OK: true, Used: i + 1})
	}
	// Refused takes are not recorded: however many, the quota frees up when
	// the first use leaves the 15-minute window.
	for _, d := range []time.Duration{3 * time.Minute, 10 * time.Minute, 15*time.Minute - time.Millisecond} {
		wantQuota(t, fmt.Sprintf("take at T0+%v", d), m.take(s, k, T0.Add(d)), lockout.Quota{RetryAt: T0.Add(15 * time.Minute), Used: 3})
	}
	wantQuota(t, "take when the first use left the window", m.take(s, k, T0.Add(15*time.Minute)), lockout.Quota{OK: true, Used: 4})
	wantQuota(t, "take right after", m.take(s, k, T0.Add(15*time.Minute)), lockout.Quota{RetryAt: T0.Add(16 * time.Minute), Used: 4})
	// Slide along, against both limits.
	rng := rand.New(rand.NewPCG(9, 10))
	now := T0.Add(15 * time.Minute)
	for range 100 {
		now = now.Add(time.Duration(1+rng.IntN(5)) * time.Minute)
		m.take(s, k, now)
	}
	// A quiet hour forgets everything.
	now = now.Add(time.Hour)
	wantQuota(t, "take after a quiet hour", m.take(s, k, now), lockout.Quota{OK: true, Used: 1})
}

func testTakeRetryAtLatest(t *testing.T, s lockout.Store) {
	limits := []lockout.Limit{{Max: 2, Per: 10 * time.Minute}, {Max: 3, Per: time.Hour}}
	k := Key("q")
	at := func(d time.Duration) lockout.Quota { t.Helper(); return take(t, s, k, T0.Add(d), limits) }
	wantQuota(t, "first", at(0), lockout.Quota{OK: true, Used: 1})
	wantQuota(t, "second", at(time.Minute), lockout.Quota{OK: true, Used: 2})
	wantQuota(t, "third, refused by 2/10m", at(5*time.Minute), lockout.Quota{RetryAt: T0.Add(10 * time.Minute), Used: 2})
	wantQuota(t, "third at its RetryAt", at(10*time.Minute), lockout.Quota{OK: true, Used: 3})
	// Both limits refuse: 2/10m until T0+11m, 3/1h until T0+1h.
	wantQuota(t, "fourth, refused by both", at(10*time.Minute+30*time.Second), lockout.Quota{RetryAt: T0.Add(time.Hour), Used: 3})
	wantQuota(t, "fourth 1 ms early", at(time.Hour-time.Millisecond), lockout.Quota{RetryAt: T0.Add(time.Hour), Used: 3})
	wantQuota(t, "fourth at its RetryAt", at(time.Hour), lockout.Quota{OK: true, Used: 3})
}

func testTakeInvalid(t *testing.T, s lockout.Store) {
	k := Key("q")
	nine := make([]lockout.Limit, 9)
	for i := range nine {
		nine[i] = lockout.Limit{Max: 1, Per: time.Hour}
	}
	for name, limits := range map[string][]lockout.Limit{
		"none":      nil,
		"nine":      nine,
		"max 0":     {{Max: 0, Per: time.Hour}},
		"huge max":  {{Max: lockout.MaxLimitMax + 1, Per: time.Hour}},
		"short per": {{Max: 1, Per: 999 * time.Millisecond}},
		"long per":  {{Max: 1, Per: 31 * 24 * time.Hour}},
	} {
		if _, err := s.Take(ctx(t), k, T0, limits); !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("Take with %s limits: %v, want an error wrapping lockout.ErrUnavailable", name, err)
		}
	}
	wantQuota(t, "Take after invalid takes", take(t, s, k, T0, []lockout.Limit{{Max: 1, Per: time.Hour}}), lockout.Quota{OK: true, Used: 1})
}

// testTakeMatchesReference drives both stores of b and lockout.TakeQuota
// with the same pseudo-random takes.
func testTakeMatchesReference(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	rng := rand.New(rand.NewPCG(7, 8))
	for ci, limits := range [][]lockout.Limit{
		Sends,
		{{Max: 1, Per: time.Second}},
		{{Max: 2, Per: 3 * time.Second}, {Max: 4, Per: 10 * time.Second}, {Max: 5, Per: 7 * time.Second}},
		{{Max: 4, Per: 5 * time.Second}, {Max: 2, Per: 9 * time.Second}}, // the longer, stricter limit governs
	} {
		longest, _ := lockout.QuotaSpan(limits)
		m := &quotaModel{t: t, limits: limits, stamps: map[lockout.Key][]int64{}}
		keys := []lockout.Key{Key(fmt.Sprintf("qref%d-a", ci)), Key(fmt.Sprintf("qref%d-b", ci))}
		now := T0
		for range 150 {
			if rng.IntN(4) > 0 { // else the same millisecond
				now = now.Add(time.Duration(rng.Int64N(int64(longest) / 4)))
			}
			m.take(stores[rng.IntN(len(stores))], keys[rng.IntN(len(keys))], now)
		}
	}
}

// testConcurrentTake: Parallel takes of one quota, half on each store,
// accept exactly Max.
func testConcurrentTake(t *testing.T, b Backend) {
	stores := []lockout.Store{b.Store(), b.Another(t)}
	limits := []lockout.Limit{{Max: 3, Per: time.Hour}}
	k := Key("q")
	var ok atomic.Int64
	parallel(t, Parallel, stores, func(i int, s lockout.Store) error {
		q, err := s.Take(ctx(t), k, T0, limits)
		if err != nil {
			return err
		}
		if q.OK {
			ok.Add(1)
		} else if !q.RetryAt.Equal(T0.Add(time.Hour)) || q.Used != 3 {
			return fmt.Errorf("refused take: %s", showQuota(q))
		}
		return nil
	})
	if n := ok.Load(); n != 3 {
		t.Fatalf("%d of %d concurrent takes accepted, want 3", n, Parallel)
	}
}
