package lockout_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

var (
	t0   = time.UnixMilli(1_750_000_000_000)
	rule = lockout.Rule{MaxFailures: 3, Window: 10 * time.Minute, LockDuration: time.Minute, MaxLockDuration: 4 * time.Minute}
)

func at(d time.Duration) time.Time { return t0.Add(d) }

func wantState(t *testing.T, what string, got, want lockout.State) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// TestCurrentCountsExpiredHolds: holds that ended count as failures as at
// their end, in order of their end; the one reaching MaxFailures locks from
// its end.
func TestCurrentCountsExpiredHolds(t *testing.T) {
	prev := lockout.State{
		Failures: 1, ExpiresAt: at(10 * time.Minute),
		// Unsorted, as a store may return them.
		Holds:   []lockout.Hold{{ID: "c", Until: at(3 * time.Minute)}, {ID: "a", Until: at(time.Minute)}, {ID: "b", Until: at(2 * time.Minute)}},
		Pending: 3, PendingUntil: at(3 * time.Minute),
	}
	got := rule.Current(prev, at(2*time.Minute))
	lu := at(2*time.Minute + time.Minute)
	wantState(t, "Current at the second hold's end", got, lockout.State{
		Failures: 3, Locks: 1, LockedUntil: lu, ExpiresAt: lu.Add(rule.Window),
		Holds:   []lockout.Hold{{ID: "c", Until: at(3 * time.Minute)}},
		Pending: 1, PendingUntil: at(3 * time.Minute), Expired: 2, LockedNow: true,
	})
	if len(prev.Holds) != 3 || prev.Holds[0].ID != "c" {
		t.Fatalf("Current modified its argument: %+v", prev.Holds)
	}
	// Apply counts them first too, then its own failure.
	got = rule.Apply(prev, at(2*time.Minute))
	if got.Failures != 4 || got.Expired != 2 || !got.LockedNow || got.Locks != 1 {
		t.Fatalf("Apply: %+v", got)
	}
}

// TestCurrentLegacyPending: Pending never counts fewer than the holds, and
// the anonymous reservations of older versions are forgotten at
// PendingUntil.
func TestCurrentLegacyPending(t *testing.T) {
	h := []lockout.Hold{{ID: "a", Until: at(time.Minute)}}
	// An older version settled what it thought was its own reservation.
	got := rule.Current(lockout.State{Holds: h}, t0)
	wantState(t, "holds without Pending", got, lockout.State{Holds: h, Pending: 1, PendingUntil: at(time.Minute)})
	// Anonymous reservations beside the hold, ending before it.
	prev := lockout.State{Holds: h, Pending: 3, PendingUntil: at(30 * time.Second)}
	wantState(t, "before PendingUntil", rule.Current(prev, at(10*time.Second)),
		lockout.State{Holds: h, Pending: 3, PendingUntil: at(time.Minute)})
	wantState(t, "at PendingUntil", rule.Current(prev, at(30*time.Second)),
		lockout.State{Holds: h, Pending: 1, PendingUntil: at(time.Minute)})
}

func TestRuleReserveSettle(t *testing.T) {
	st, ok := rule.Reserve(lockout.State{}, t0, time.Minute, "a")
	if !ok {
		t.Fatal("refused")
	}
	st, ok = rule.Reserve(st, at(time.Second), time.Minute, "a")
	if !ok || st.Pending != 1 || len(st.Holds) != 1 || !st.Holds[0].Until.Equal(at(time.Minute)) {
		t.Fatalf("Reserve of a held ID: %v %+v", ok, st)
	}
	st, _ = rule.Reserve(st, at(time.Second), time.Minute, "b")
	st = rule.Settle(st, at(2*time.Second), "a", true)
	if st.Failures != 1 || st.Pending != 1 || len(st.Holds) != 1 || st.Holds[0].ID != "b" {
		t.Fatalf("Settle(a): %+v", st)
	}
	again := rule.Settle(st, at(3*time.Second), "a", true)
	wantState(t, "Settle(a) again", again, st)
	// b ends unsettled: counted once, by the first state past its end.
	late := rule.Settle(st, at(2*time.Minute), "b", true)
	if late.Failures != 2 || late.Expired != 1 || late.Pending != 0 || late.Holds != nil {
		t.Fatalf("late Settle(b): %+v", late)
	}
}

// TestCurrentForgetsAtKeepUntil: an entry untouched until KeepUntil is gone,
// holds and all, as stores delete it then.
func TestCurrentForgetsAtKeepUntil(t *testing.T) {
	st, _ := rule.Reserve(lockout.State{}, t0, time.Minute, "a")
	keep := rule.KeepUntil(st)
	if want := at(time.Minute + rule.MaxLockDuration + rule.Window); !keep.Equal(want) {
		t.Fatalf("KeepUntil = %v, want %v", keep, want)
	}
	// 1 ms before, the hold still counts (Expired), though the failure at
	// its end was forgotten with its window already.
	if got := rule.Current(st, keep.Add(-time.Millisecond)); got.Expired != 1 || got.Failures != 0 || got.Pending != 0 {
		t.Fatalf("1 ms before KeepUntil: %+v", got)
	}
	wantState(t, "at KeepUntil", rule.Current(st, keep), lockout.State{})
}

func TestValidateHoldID(t *testing.T) {
	for _, id := range []string{"a", "A-z_0", strings.Repeat("x", 64)} {
		if err := lockout.ValidateHoldID(id); err != nil {
			t.Errorf("ValidateHoldID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", strings.Repeat("x", 65), "a b", "a:b", "é", "a/b", "a=", "a+"} {
		if err := lockout.ValidateHoldID(id); err == nil {
			t.Errorf("ValidateHoldID(%q) accepted", id)
		}
	}
}
