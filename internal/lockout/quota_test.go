package lockout_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// naiveTake is a sliding window over the whole history: what TakeQuota must
// agree with, though it keeps only the newest max(L.Max) uses.
func naiveTake(all []int64, nowMS int64, limits []lockout.Limit) (lockout.Quota, bool) {
	longest, _ := lockout.QuotaSpan(limits)
	var retry int64
	refused := false
	for _, l := range limits {
		var in []int64
		for _, s := range all {
			if s > nowMS-l.Per.Milliseconds() {
				in = append(in, s)
			}
		}
		if c := len(in); c >= l.Max {
			refused = true
			retry = max(retry, in[c-l.Max]+l.Per.Milliseconds())
		}
	}
	used := 0
	for _, s := range all {
		if s > nowMS-longest.Milliseconds() {
			used++
		}
	}
	if refused {
		return lockout.Quota{RetryAt: time.UnixMilli(retry), Used: used}, false
	}
	return lockout.Quota{OK: true, Used: used + 1}, true
}

func TestTakeQuotaMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := range 200 {
		limits := make([]lockout.Limit, 1+rng.IntN(3))
		for i := range limits {
			limits[i] = lockout.Limit{Max: 1 + rng.IntN(6), Per: time.Duration(1+rng.IntN(20)) * time.Second}
		}
		if err := lockout.ValidateLimits(limits); err != nil {
			t.Fatal(err)
		}
		var all, kept []int64
		now := t0ms
		for step := range 100 {
			now += rng.Int64N(3000)
			want, ok := naiveTake(all, now, limits)
			got, next := lockout.TakeQuota(kept, time.UnixMilli(now), limits)
			if got != want {
				t.Fatalf("round %d step %d, limits %v: TakeQuota = %+v, naive = %+v", round, step, limits, got, want)
			}
			if ok {
				all = append(all, now)
				kept = next
			} else if next != nil {
				t.Fatalf("a refused take returned stamps %v", next)
			}
			if _, keep := lockout.QuotaSpan(limits); len(kept) > keep || !slices.IsSorted(kept) {
				t.Fatalf("kept %v (at most %d, ascending)", kept, keep)
			}
		}
	}
}

// t0ms is storetest.T0 in Unix ms.
const t0ms int64 = 1_750_000_000_000

func TestTakeQuotaUnorderedStamps(t *testing.T) {
	// Another instance's clock ran ahead: its stamp is newer than now.
	limits := []lockout.Limit{{Max: 3, Per: time.Minute}}
	q, next := lockout.TakeQuota([]int64{t0ms + 5000, t0ms}, time.UnixMilli(t0ms+1000), limits)
	if !q.OK || q.Used != 3 || !slices.Equal(next, []int64{t0ms, t0ms + 1000, t0ms + 5000}) {
		t.Fatalf("TakeQuota = %+v, %v", q, next)
	}
	q, _ = lockout.TakeQuota(next, time.UnixMilli(t0ms+2000), limits)
	if q.OK || !q.RetryAt.Equal(time.UnixMilli(t0ms+60_000)) {
		t.Fatalf("TakeQuota = %+v", q)
	}
}
