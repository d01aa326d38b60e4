package memory_test

import (
	"testing"

	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/outbox/memory"
	"github.com/heraproject/hera/internal/outbox/outboxtest"
)

func newQueue(t testing.TB, cfg outbox.Config) *memory.Queue {
	t.Helper()
	q, err := memory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestConformance(t *testing.T) {
	// One queue in one process: Another is the queue itself.
	outboxtest.Run(t, func(t *testing.T, cfg outbox.Config) outboxtest.Backend {
		return outboxtest.NewBackend(newQueue(t, cfg), nil)
	})
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []outbox.Config{{MaxQueued: -1}, {DedupFor: -1}} {
		if _, err := memory.New(cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

func BenchmarkEnqueueClaimDone(b *testing.B) {
	outboxtest.BenchmarkEnqueueClaimDone(b, newQueue(b, outbox.Config{}))
}
