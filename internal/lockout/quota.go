package lockout

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Limit allows at most Max uses within any Per (a sliding window).
type Limit struct {
	Max int
	Per time.Duration
}

// Quota is the outcome of one take of a send quota.
type Quota struct {
	// OK: the use is allowed and was recorded.
	OK bool
	// RetryAt is when a refused take would first be allowed; zero if OK.
	RetryAt time.Time
	// Used is the number of uses within the longest Per after this take.
	Used int
}

// Limits on send quotas (see [ValidateLimits]). MaxLimitMax bounds how many
// timestamps a key keeps.
const (
	MaxLimits   = 8
	MaxLimitMax = 10_000
)

// ValidateLimits checks the limits of a send quota: 1 to [MaxLimits] limits,
// each with Max from 1 to [MaxLimitMax] and Per from 1 s to 30 days.
func ValidateLimits(limits []Limit) error {
	if len(limits) < 1 || len(limits) > MaxLimits {
		return fmt.Errorf("%d limits: want 1 to %d", len(limits), MaxLimits)
	}
	var errs []error
	for i, l := range limits {
		if l.Max < 1 || l.Max > MaxLimitMax {
			errs = append(errs, fmt.Errorf("limit %d: Max %d: must be between 1 and %d", i, l.Max, MaxLimitMax))
		}
		if l.Per < minDuration || l.Per > maxDuration {
			errs = append(errs, fmt.Errorf("limit %d: Per %v: must be between %v and %v", i, l.Per, minDuration, maxDuration))
		}
	}
	return errors.Join(errs...)
}

// QuotaSpan returns the longest Per and the highest Max of limits: a key's
// uses are kept for the span after the newest, and at most keep of them.
func QuotaSpan(limits []Limit) (longest time.Duration, keep int) {
	for _, l := range limits {
		longest = max(longest, l.Per)
		keep = max(keep, l.Max)
	}
	return longest, keep
}

// TakeQuota is the reference semantics of [Store].Take. stamps are the Unix
// millisecond times of the key's accepted uses, ascending; next is what the
// key holds afterwards, nil when the take was refused (nothing is recorded).
//
//	drop the stamps <= now - longest Per
//	for each limit L: c = number of stamps > now - L.Per
//	    if c >= L.Max: refused, RetryAt_L = (the (c-L.Max+1)-th oldest of
//	    those c stamps) + L.Per
//	refused: RetryAt = the latest RetryAt_L; Used = len(stamps)
//	accepted: insert now (in order), keep the newest max(L.Max) stamps (older
//	    ones can never matter); Used = len(next)
//
// The entry expires at its newest stamp + longest Per. limits must pass
// [ValidateLimits].
func TakeQuota(stamps []int64, now time.Time, limits []Limit) (q Quota, next []int64) {
	nowMS := now.UnixMilli()
	longest, keep := QuotaSpan(limits)
	from := nowMS - longest.Milliseconds()
	live := make([]int64, 0, len(stamps)+1)
	for _, st := range stamps {
		if st > from {
			live = append(live, st)
		}
	}
	// Stamps from callers with other clocks may be out of order.
	slices.Sort(live)
	var retry int64
	refused := false
	for _, l := range limits {
		per := l.Per.Milliseconds()
		first, _ := slices.BinarySearch(live, nowMS-per+1) // first stamp > now - per
		if c := len(live) - first; c >= l.Max {
			refused = true
			retry = max(retry, live[first+c-l.Max]+per)
		}
	}
	if refused {
		return Quota{RetryAt: time.UnixMilli(retry), Used: len(live)}, nil
	}
	i, _ := slices.BinarySearch(live, nowMS+1) // after equal stamps
	live = slices.Insert(live, i, nowMS)
	if len(live) > keep {
		live = live[len(live)-keep:]
	}
	return Quota{OK: true, Used: len(live)}, live
}
