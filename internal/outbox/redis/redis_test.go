//go:build integration

package redis_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/dbtest"
	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/outbox/outboxtest"
	"github.com/heraproject/hera/internal/outbox/redis"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func open(t testing.TB, addr string, cfg redis.Config) (*redis.Queue, *goredis.Client) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32})
	t.Cleanup(func() { c.Close() })
	q, err := redis.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q, c
}

// TestConformance runs the suite with a fresh key prefix per test; Another
// is a second client with the same prefix, as a second Hera replica would
// have.
func TestConformance(t *testing.T) {
	outboxtest.Run(t, func(t *testing.T, cfg outbox.Config) outboxtest.Backend {
		addr, prefix := dbtest.Redis(t)
		rc := redis.Config{Config: cfg, Prefix: prefix}
		q, _ := open(t, addr, rc)
		return outboxtest.NewBackend(q, func(t *testing.T) outbox.Queue { q, _ := open(t, addr, rc); return q })
	})
}

// TestKeys: a realm's keys share a Redis Cluster hash tag; realms do not
// meet.
func TestKeys(t *testing.T) {
	addr, prefix := dbtest.Redis(t)
	a, c := open(t, addr, redis.Config{Prefix: prefix, Realm: "a"})
	b, _ := open(t, addr, redis.Config{Prefix: prefix, Realm: "b"})
	for _, k := range a.Keys() {
		if !strings.HasPrefix(k, prefix+"{a}:") {
			t.Errorf("key %q", k)
		}
	}
	m := outbox.Message{ID: "x", To: []string{"a@example.com"}}
	if ok, err := a.Enqueue(t.Context(), m, outboxtest.T0); !ok || err != nil {
		t.Fatalf("Enqueue = %v, %v", ok, err)
	}
	if ok, err := b.Enqueue(t.Context(), m, outboxtest.T0); !ok || err != nil {
		t.Fatalf("Enqueue in realm b = %v, %v", ok, err)
	}
	if n, err := c.Exists(t.Context(), a.Keys()...).Result(); err != nil || n != 3 {
		t.Fatalf("%d of realm a's keys exist, %v; want q, m and d", n, err)
	}
	if ms, err := b.Claim(t.Context(), "w", outboxtest.T0, time.Minute, 10); err != nil || len(ms) != 1 {
		t.Fatalf("Claim in realm b = %v, %v", ms, err)
	}
	if ms, err := a.Claim(t.Context(), "w", outboxtest.T0, time.Minute, 10); err != nil || len(ms) != 1 {
		t.Fatalf("Claim in realm a = %v, %v", ms, err)
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := redis.New(nil, redis.Config{}); err == nil {
		t.Error("New accepted a nil client")
	}
	c := goredis.NewClient(&goredis.Options{Addr: dbtest.ClosedAddr(t)})
	t.Cleanup(func() { c.Close() })
	for _, cfg := range []redis.Config{{Timeout: -1}, {Config: outbox.Config{DedupFor: -1}}} {
		if _, err := redis.New(c, cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

// TestUnavailable stops the server under a queue in use: every method
// fails quickly with outbox.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	own := dbtest.OwnRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: own.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	q, err := redis.New(c, redis.Config{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(t.Context(), outbox.Message{ID: "a", To: []string{"x@example.com"}}, outboxtest.T0); err != nil {
		t.Fatal(err)
	}
	own.Stop()
	start := time.Now()
	_, errEnqueue := q.Enqueue(t.Context(), outbox.Message{ID: "b", To: []string{"x@example.com"}}, outboxtest.T0)
	_, errClaim := q.Claim(t.Context(), "w", outboxtest.T0, time.Minute, 1)
	errDone := q.Done(t.Context(), "a", "w")
	_, errRetry := q.Retry(t.Context(), "a", "w", outboxtest.T0, "x", 8)
	_, errLen := q.Len(t.Context())
	for name, err := range map[string]error{"Enqueue": errEnqueue, "Claim": errClaim, "Done": errDone, "Retry": errRetry, "Len": errLen} {
		if !errors.Is(err, outbox.ErrUnavailable) {
			t.Errorf("%s = %v, want outbox.ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func BenchmarkEnqueueClaimDone(b *testing.B) {
	addr, prefix := dbtest.Redis(b)
	q, _ := open(b, addr, redis.Config{Prefix: prefix})
	outboxtest.BenchmarkEnqueueClaimDone(b, q)
}
