package web

import (
	"context"
	"time"
)

// slots bounds how many submissions wait on Kratos at once. Under a burst
// the rest queue for a while, then get a 503 with Retry-After, rather than
// all piling onto Kratos and timing out together.
type slots struct {
	ch   chan struct{}
	wait time.Duration
}

func newSlots(n int, wait time.Duration) *slots {
	return &slots{ch: make(chan struct{}, max(n, 1)), wait: wait}
}

// acquire takes a slot, waiting at most s.wait; release gives it back.
func (s *slots) acquire(ctx context.Context) (release func(), ok bool) {
	release = func() { <-s.ch }
	select {
	case s.ch <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.ch <- struct{}{}:
		return release, true
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}
