//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/activity/activitytest"
	"github.com/heraproject/hera/internal/activity/postgres"
	"github.com/heraproject/hera/internal/dbtest"
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

func newStore(t testing.TB, db postgres.DB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = -1
	}
	s, err := postgres.New(t.Context(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite on a fresh database per test; Another is a
// second pool on the same database, as a second Hera replica would have.
func TestConformance(t *testing.T) {
	// Behaviour, not latency: a long timeout keeps the parallel cases,
	// which queue on one account's lock, from failing on a busy machine.
	cfg := postgres.Config{Timeout: 30 * time.Second}
	activitytest.Run(t, func(t *testing.T) activitytest.Backend {
		dsn := dbtest.Postgres(t)
		s := newStore(t, openPool(t, dsn), cfg)
		return activitytest.NewBackend(s, func(t *testing.T) activity.Store {
			return newStore(t, openPool(t, dsn), cfg)
		})
	})
}

// TestRealms: two realms on one database (two deployments sharing it) do
// not see each other's events or address records, and a second migration
// (another replica starting) changes nothing.
func TestRealms(t *testing.T) {
	dsn := dbtest.Postgres(t)
	pool := openPool(t, dsn)
	a := newStore(t, pool, postgres.Config{Realm: "a"})
	b := newStore(t, pool, postgres.Config{Realm: "b"})
	e := activity.Event{ID: "x", Identity: "id", Kind: activity.SignIn, At: activitytest.T0}
	if err := a.Add(t.Context(), e, activitytest.T0, activitytest.Policy); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetAddresses(t.Context(), "id", []string{"a@example.com"}, activitytest.T0, activitytest.Policy); err != nil {
		t.Fatal(err)
	}
	if evs, err := b.List(t.Context(), "id", activitytest.T0, activitytest.Policy, 0); err != nil || len(evs) != 0 {
		t.Fatalf("realm b lists %v, %v", evs, err)
	}
	if prev, err := b.SetAddresses(t.Context(), "id", nil, activitytest.T0, activitytest.Policy); err != nil || prev != nil {
		t.Fatalf("realm b's record: %q, %v", prev, err)
	}
	if err := b.Forget(t.Context(), "id"); err != nil {
		t.Fatal(err)
	}
	if evs, err := a.List(t.Context(), "id", activitytest.T0, activitytest.Policy, 0); err != nil || len(evs) != 1 {
		t.Fatalf("realm a after realm b forgot: %v, %v", evs, err)
	}
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var version int
	if err := pool.QueryRow(t.Context(), "SELECT max(version) FROM hera_activity_schema").Scan(&version); err != nil || version != postgres.SchemaVersion {
		t.Fatalf("schema version %d, %v", version, err)
	}
}

// TestSweep: rows past their retention go, also of identities nobody
// writes to again.
func TestSweep(t *testing.T) {
	pool := openPool(t, dbtest.Postgres(t))
	s := newStore(t, pool, postgres.Config{})
	p := activitytest.Policy
	t0 := activitytest.T0
	for i, id := range []string{"a", "b"} {
		e := activity.Event{ID: "x", Identity: id, Kind: activity.SignIn, At: t0.Add(time.Duration(i) * time.Hour)}
		if err := s.Add(t.Context(), e, t0, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetAddresses(t.Context(), "c", []string{"c@example.com"}, t0, p); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(t.Context(), t0.Add(p.Retention-time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("Sweep before anything ended = %d, %v", n, err)
	}
	if n, err := s.Sweep(t.Context(), t0.Add(p.Retention)); err != nil || n != 2 {
		t.Fatalf("Sweep at the end of a's event and c's record = %d, %v; want 2", n, err)
	}
	var events int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM hera_activity").Scan(&events); err != nil || events != 1 {
		t.Fatalf("%d rows left, %v; want b's", events, err)
	}
}

// TestBackgroundSweep: the store sweeps on its own.
func TestBackgroundSweep(t *testing.T) {
	pool := openPool(t, dbtest.Postgres(t))
	now := activitytest.T0.Add(activitytest.Policy.Retention)
	s := newStore(t, pool, postgres.Config{SweepInterval: 20 * time.Millisecond, Now: func() time.Time { return now }})
	e := activity.Event{ID: "x", Identity: "a", Kind: activity.SignIn, At: activitytest.T0}
	// Added a millisecond before its end, so the Add itself keeps it.
	if err := s.Add(t.Context(), e, now.Add(-time.Millisecond), activitytest.Policy); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM hera_activity").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not delete the expired event")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := postgres.New(t.Context(), nil, postgres.Config{}); err == nil {
		t.Error("New accepted a nil DB")
	}
	pool := openPool(t, dbtest.Postgres(t))
	for _, cfg := range []postgres.Config{{Table: "Bad-Name"}, {Timeout: -1}} {
		if _, err := postgres.New(t.Context(), pool, cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

// TestUnavailable stops the server under a store in use: every method
// fails quickly with activity.ErrUnavailable, and so does a store on a
// closed port.
func TestUnavailable(t *testing.T) {
	own := dbtest.OwnPostgres(t)
	pool := openPool(t, own.DSN)
	s := newStore(t, pool, postgres.Config{Timeout: 500 * time.Millisecond})
	e := activity.Event{ID: "x", Identity: "a", Kind: activity.SignIn, At: activitytest.T0}
	if err := s.Add(t.Context(), e, activitytest.T0, activitytest.Policy); err != nil {
		t.Fatal(err)
	}
	own.Stop()
	checkUnavailable(t, s)

	closed := openPool(t, "postgres://postgres@"+dbtest.ClosedAddr(t)+"/x?sslmode=disable&connect_timeout=1")
	if _, err := postgres.New(t.Context(), closed, postgres.Config{Timeout: 500 * time.Millisecond}); !errors.Is(err, activity.ErrUnavailable) {
		t.Fatalf("New on a closed port = %v, want activity.ErrUnavailable", err)
	}
	checkUnavailable(t, newStore(t, closed, postgres.Config{Timeout: 500 * time.Millisecond, SkipMigration: true}))
}

func checkUnavailable(t *testing.T, s *postgres.Store) {
	t.Helper()
	start := time.Now()
	e := activity.Event{ID: "y", Identity: "a", Kind: activity.SignIn, At: activitytest.T0}
	errAdd := s.Add(t.Context(), e, activitytest.T0, activitytest.Policy)
	_, errList := s.List(t.Context(), "a", activitytest.T0, activitytest.Policy, 0)
	errForget := s.Forget(t.Context(), "a")
	_, errSet := s.SetAddresses(t.Context(), "a", nil, activitytest.T0, activitytest.Policy)
	_, errSweep := s.Sweep(t.Context(), activitytest.T0)
	for name, err := range map[string]error{"Add": errAdd, "List": errList, "Forget": errForget, "SetAddresses": errSet, "Sweep": errSweep} {
		if !errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("%s = %v, want activity.ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func BenchmarkAdd(b *testing.B) {
	activitytest.BenchmarkAdd(b, newStore(b, openPool(b, dbtest.Postgres(b)), postgres.Config{}))
}

func BenchmarkList(b *testing.B) {
	activitytest.BenchmarkList(b, newStore(b, openPool(b, dbtest.Postgres(b)), postgres.Config{}))
}
