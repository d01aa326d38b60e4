// Package memory is the in-process mail queue, for one Hera instance (the
// dev stack, HERA_LOCKOUT_STORE=memory): queued mails are lost on restart.
// Everything is under one mutex, so each operation is atomic; the queue is
// bounded by Config.MaxQueued, and ended deduplication records are dropped
// whenever their number doubled.
package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/heraproject/hera/internal/outbox"
)

// Queue is an in-memory [outbox.Queue]. It is safe for concurrent use.
type Queue struct {
	cfg   outbox.Config
	mu    sync.Mutex
	msgs  map[string]*entry
	dedup map[string]int64 // ID → end of its deduplication (Unix ms)
	// swept is how many deduplication records the last sweep left: the
	// next sweeps when there are twice as many (amortized, not at every
	// call).
	swept int
}

// entry is a queued message: claimable from at (its due time, or the end
// of its lease), leased to owner ("" if none).
type entry struct {
	m     outbox.Message
	at    int64
	owner string
}

var _ outbox.Queue = (*Queue)(nil)

// New returns an empty queue.
func New(cfg outbox.Config) (*Queue, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Queue{cfg: cfg, msgs: map[string]*entry{}, dedup: map[string]int64{}}, nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: memory %s: %w", outbox.ErrUnavailable, op, err)
}

// sweep drops the deduplication records ended at now (ms), once their
// number doubled since the last sweep.
func (q *Queue) sweep(now int64) {
	if len(q.dedup) < max(2*q.swept, 1024) {
		return
	}
	for id, end := range q.dedup {
		if end <= now {
			delete(q.dedup, id)
		}
	}
	q.swept = len(q.dedup)
}

// Enqueue implements [outbox.Queue].
func (q *Queue) Enqueue(ctx context.Context, m outbox.Message, now time.Time) (bool, error) {
	m, err := outbox.Prepare(m, now)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, unavailable("enqueue", err)
	}
	n := now.UnixMilli()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweep(n)
	if _, ok := q.msgs[m.ID]; ok {
		return false, nil
	}
	if end, ok := q.dedup[m.ID]; ok && end > n {
		return false, nil
	}
	if len(q.msgs) >= q.cfg.MaxQueued {
		return false, outbox.ErrFull
	}
	q.msgs[m.ID] = &entry{m: m, at: n}
	q.dedup[m.ID] = n + q.cfg.DedupFor.Milliseconds()
	return true, nil
}

// Claim implements [outbox.Queue].
func (q *Queue) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]outbox.Message, error) {
	if err := outbox.ValidateClaim(owner, lease, max); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("claim", err)
	}
	n := now.UnixMilli()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweep(n)
	var due []*entry
	for _, e := range q.msgs {
		if e.at <= n {
			due = append(due, e)
		}
	}
	slices.SortFunc(due, func(a, b *entry) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.m.ID, b.m.ID)) })
	out := []outbox.Message{}
	for _, e := range due[:min(max, len(due))] {
		e.owner, e.at = owner, n+lease.Milliseconds()
		m := e.m
		m.To = slices.Clone(m.To)
		out = append(out, m)
	}
	return out, nil
}

// leased returns the message id leased to owner, or ErrLeaseLost.
func (q *Queue) leased(id, owner string) (*entry, error) {
	e := q.msgs[id]
	if e == nil || e.owner != owner {
		return nil, outbox.ErrLeaseLost
	}
	return e, nil
}

// Done implements [outbox.Queue].
func (q *Queue) Done(ctx context.Context, id, owner string) error {
	if err := errors.Join(outbox.ValidateID("message ID", id), outbox.ValidateID("owner", owner)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("done", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, err := q.leased(id, owner); err != nil {
		return err
	}
	delete(q.msgs, id)
	return nil
}

// Retry implements [outbox.Queue].
func (q *Queue) Retry(ctx context.Context, id, owner string, at time.Time, errText string, maxAttempts int) (bool, error) {
	if err := outbox.ValidateRetry(id, owner, maxAttempts); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, unavailable("retry", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.leased(id, owner)
	if err != nil {
		return false, err
	}
	if e.m.Attempts+1 >= maxAttempts {
		delete(q.msgs, id)
		return true, nil
	}
	e.m.Attempts++
	e.m.LastError = outbox.CutError(errText)
	e.owner, e.at = "", at.UnixMilli()
	return false, nil
}

// Len implements [outbox.Queue].
func (q *Queue) Len(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("len", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs), nil
}
