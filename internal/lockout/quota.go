package lockout

// Send quotas: how often Kratos may be asked to send a code or link to one
// address (per purpose, and in total) and for one client IP, counted in
// the lockout store before Kratos is asked.

import (
	"context"
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

// TakeSend spends one use of the send quotas before Kratos is asked to send
// a code for purpose: first the client IP's (Config.Sends.IP), then, for
// each distinct recipient, its quota for the purpose
// (Config.Sends.Recipient) and, for every purpose but recovery, its total
// over those purposes (Config.Sends.RecipientTotal). Recipients are
// Kratos's own form of the address (kratos.Address). It stops at the first
// refusal and returns it, so a refused IP never spends a recipient's quota;
// a quota refused after others were taken leaves theirs spent. With no
// recipients only the IP quota is taken. An accepted Quota's Used is the
// highest among the recipients' purpose quotas (the IP's if there are
// none).
//
// Recovery is outside the total on purpose: whatever is sent to an address
// for other purposes, its owner can still be sent a recovery code.
//
// When the store fails the error wraps [ErrUnavailable] and the Quota is
// refused (fail closed), or allowed with Config.FailOpen.
func (l *Limiter) TakeSend(ctx context.Context, purpose Purpose, ip string, recipients ...string) (Quota, error) {
	now := l.cfg.Now()
	take := func(k Key, limits []Limit) (Quota, error) {
		q, err := l.store.Take(ctx, k, now, limits)
		if err != nil {
			return Quota{OK: l.cfg.FailOpen}, storeErr("take", k, err)
		}
		return q, nil
	}
	q, err := take(l.IPKey(ip), l.cfg.Sends.IP)
	if err != nil || !q.OK {
		return q, err
	}
	seen := make([]Key, 0, len(recipients))
	for _, addr := range recipients {
		k := l.RecipientKey(purpose, addr)
		if slices.Contains(seen, k) {
			continue
		}
		rq, err := take(k, l.cfg.Sends.Recipient)
		if err != nil || !rq.OK {
			return rq, err
		}
		if purpose != PurposeRecovery {
			if tq, err := take(l.RecipientKey(purposeTotal, addr), l.cfg.Sends.RecipientTotal); err != nil || !tq.OK {
				return tq, err
			}
		}
		if len(seen) == 0 || rq.Used > q.Used {
			q = rq
		}
		seen = append(seen, k)
	}
	return q, nil
}
