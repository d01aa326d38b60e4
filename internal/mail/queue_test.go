package mail

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/heraproject/hera/internal/outbox"
)

// memQueue is an outbox.Queue in memory, for the worker's tests, following
// the design's semantics (docs/security-centre.md): dedup by ID within
// DedupFor, the MaxQueued bound, leases that hand a message to one owner
// until they end, Retry that makes it due again with Attempts+1 or drops
// it once Attempts reaches maxAttempts. The real backends (memory,
// PostgreSQL, Redis) live in internal/outbox with their conformance suite.
type memQueue struct {
	cfg outbox.Config

	mu      sync.Mutex
	items   map[string]*item
	seen    map[string]time.Time // ID → when it was enqueued (dedup)
	claims  int                  // Claim calls that returned a message
	dropped []outbox.Message
	fail    error // every call fails with it while set
}

type item struct {
	m          outbox.Message
	due        time.Time
	owner      string
	leaseUntil time.Time
}

var _ outbox.Queue = (*memQueue)(nil)

func newMemQueue() *memQueue {
	return &memQueue{cfg: outbox.Config{MaxQueued: 1000, DedupFor: 24 * time.Hour}, items: map[string]*item{}, seen: map[string]time.Time{}}
}

func (q *memQueue) setFail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fail = err
}

func (q *memQueue) Enqueue(_ context.Context, m outbox.Message, now time.Time) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return false, q.fail
	}
	if t, ok := q.seen[m.ID]; ok && now.Sub(t) < q.cfg.DedupFor {
		return false, nil
	}
	if len(q.items) >= q.cfg.MaxQueued {
		return false, outbox.ErrFull
	}
	m.Attempts, m.LastError = 0, ""
	q.items[m.ID] = &item{m: m, due: now}
	q.seen[m.ID] = now
	return true, nil
}

func (q *memQueue) Claim(_ context.Context, owner string, now time.Time, lease time.Duration, max int) ([]outbox.Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return nil, q.fail
	}
	var due []*item
	for _, it := range q.items {
		if !it.due.After(now) && (it.owner == "" || !it.leaseUntil.After(now)) {
			due = append(due, it)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].due.Equal(due[j].due) {
			return due[i].due.Before(due[j].due)
		}
		return due[i].m.ID < due[j].m.ID
	})
	var out []outbox.Message
	for _, it := range due[:min(max, len(due))] {
		it.owner, it.leaseUntil = owner, now.Add(lease)
		out = append(out, it.m)
	}
	if len(out) > 0 {
		q.claims++
	}
	return out, nil
}

func (q *memQueue) held(id, owner string) (*item, error) {
	it, ok := q.items[id]
	if !ok {
		return nil, fmt.Errorf("outbox: %s is not queued", id)
	}
	if it.owner != owner {
		return nil, fmt.Errorf("outbox: %s is not leased to %s", id, owner)
	}
	return it, nil
}

func (q *memQueue) Done(_ context.Context, id, owner string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	if _, err := q.held(id, owner); err != nil {
		return err
	}
	delete(q.items, id)
	return nil
}

func (q *memQueue) Retry(_ context.Context, id, owner string, at time.Time, errText string, maxAttempts int) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return false, q.fail
	}
	it, err := q.held(id, owner)
	if err != nil {
		return false, err
	}
	it.m.Attempts++
	it.m.LastError = errText
	if it.m.Attempts >= maxAttempts {
		delete(q.items, id)
		q.dropped = append(q.dropped, it.m)
		return true, nil
	}
	it.due, it.owner, it.leaseUntil = at, "", time.Time{}
	return false, nil
}

func (q *memQueue) Len(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return 0, q.fail
	}
	return len(q.items), nil
}

// get is a copy of a queued message and when it is due; ok false if it
// is not queued.
func (q *memQueue) get(id string) (m outbox.Message, due time.Time, owner string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return outbox.Message{}, time.Time{}, "", false
	}
	return it.m, it.due, it.owner, true
}

func (q *memQueue) ids() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for id := range q.items {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

var errDown = fmt.Errorf("memQueue: %w", outbox.ErrUnavailable)
