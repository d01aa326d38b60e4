//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraproject/hera/internal/dbtest"
	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/outbox/outboxtest"
	"github.com/heraproject/hera/internal/outbox/postgres"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func openPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn+"&pool_max_conns=16")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newQueue(t testing.TB, db postgres.DB, cfg postgres.Config) *postgres.Queue {
	t.Helper()
	q, err := postgres.New(t.Context(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestConformance runs the suite on a fresh database per test; Another is a
// second pool on the same database, as a second Hera replica would have.
func TestConformance(t *testing.T) {
	outboxtest.Run(t, func(t *testing.T, cfg outbox.Config) outboxtest.Backend {
		dsn := dbtest.Postgres(t)
		// Behaviour, not latency: a long timeout keeps the parallel
		// cases, which queue on the realm's lock, from failing on a busy
		// machine.
		pc := postgres.Config{Config: cfg, Timeout: 30 * time.Second}
		q := newQueue(t, openPool(t, dsn), pc)
		return outboxtest.NewBackend(q, func(t *testing.T) outbox.Queue {
			return newQueue(t, openPool(t, dsn), pc)
		})
	})
}

// TestRealms: two realms on one database (two deployments sharing it) have
// their own queues, bounds and deduplication; a second migration changes
// nothing.
func TestRealms(t *testing.T) {
	pool := openPool(t, dbtest.Postgres(t))
	cfg := outbox.Config{MaxQueued: 1}
	a := newQueue(t, pool, postgres.Config{Config: cfg, Realm: "a"})
	b := newQueue(t, pool, postgres.Config{Config: cfg, Realm: "b"})
	m := outbox.Message{ID: "x", To: []string{"a@example.com"}}
	for name, q := range map[string]*postgres.Queue{"a": a, "b": b} {
		if ok, err := q.Enqueue(t.Context(), m, outboxtest.T0); !ok || err != nil {
			t.Fatalf("Enqueue in realm %s = %v, %v", name, ok, err)
		}
	}
	if ms, err := b.Claim(t.Context(), "w", outboxtest.T0, time.Minute, 10); err != nil || len(ms) != 1 {
		t.Fatalf("Claim in realm b = %v, %v", ms, err)
	}
	if n, err := a.Len(t.Context()); err != nil || n != 1 {
		t.Fatalf("realm a's Len = %d, %v", n, err)
	}
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestDedupSweep: Enqueue deletes ended deduplication records.
func TestDedupSweep(t *testing.T) {
	pool := openPool(t, dbtest.Postgres(t))
	q := newQueue(t, pool, postgres.Config{Config: outbox.Config{DedupFor: time.Hour}})
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if _, err := q.Enqueue(ctx, outbox.Message{ID: id, To: []string{"x@example.com"}}, outboxtest.T0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Enqueue(ctx, outbox.Message{ID: "c", To: []string{"x@example.com"}}, outboxtest.T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	rows, _ := pool.Query(ctx, "SELECT id FROM hera_outbox_dedup ORDER BY id")
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Err() != nil || len(ids) != 1 || ids[0] != "c" {
		t.Fatalf("deduplication records %q, %v; want c's only", ids, rows.Err())
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := postgres.New(t.Context(), nil, postgres.Config{}); err == nil {
		t.Error("New accepted a nil DB")
	}
	pool := openPool(t, dbtest.Postgres(t))
	for _, cfg := range []postgres.Config{{Table: "Bad-Name"}, {Timeout: -1}, {Config: outbox.Config{MaxQueued: -1}}} {
		if _, err := postgres.New(t.Context(), pool, cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

// TestUnavailable stops the server under a queue in use: every method
// fails quickly with outbox.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	own := dbtest.OwnPostgres(t)
	q := newQueue(t, openPool(t, own.DSN), postgres.Config{Timeout: 500 * time.Millisecond})
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
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	closed := openPool(t, "postgres://postgres@"+dbtest.ClosedAddr(t)+"/x?sslmode=disable&connect_timeout=1")
	if _, err := postgres.New(t.Context(), closed, postgres.Config{Timeout: 500 * time.Millisecond}); !errors.Is(err, outbox.ErrUnavailable) {
		t.Fatalf("New on a closed port = %v, want outbox.ErrUnavailable", err)
	}
}

func BenchmarkEnqueueClaimDone(b *testing.B) {
	outboxtest.BenchmarkEnqueueClaimDone(b, newQueue(b, openPool(b, dbtest.Postgres(b)), postgres.Config{}))
}
