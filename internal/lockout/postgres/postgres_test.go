//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraproject/hera/internal/dbtest"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/postgres"
	"github.com/heraproject/hera/internal/lockout/storetest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// newPool returns a pool on a fresh database.
func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return openPool(t, dbtest.Postgres(t))
}

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
// second pool on the same database, as a second Hera instance would have.
func TestConformance(t *testing.T) {
	// The suite checks behaviour, not latency (TestTimeout does): a long
	// timeout keeps its parallel cases, which queue on one row's lock,
	// from failing on a machine that is busy with other work.
	cfg := postgres.Config{Timeout: 30 * time.Second}
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		dsn := dbtest.Postgres(t)
		pool := openPool(t, dsn)
		s := newStore(t, pool, cfg)
		return storetest.NewBackend(s, func(t *testing.T) lockout.Store {
			return newStore(t, openPool(t, dsn), cfg)
		}, legacy{pool, "hera_lockout"})
	})
}

// legacy reads and writes a counter row as a version-2 store did: its
// columns only (those of versions 1 and 2).
type legacy struct {
	db    *pgxpool.Pool
	table string
}

func ms(x time.Time) int64 {
	if x.IsZero() {
		return 0
	}
	return x.UnixMilli()
}

func msTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func (l legacy) Write(t *testing.T, k lockout.Key, st lockout.State) {
	t.Helper()
	var lockedAt int64
	if st.Locks > 0 {
		lockedAt = st.Failures
	}
	if _, err := l.db.Exec(t.Context(), `
		INSERT INTO `+l.table+` (realm, kind, key_digest, failures, locks, locked_until_ms, locked_at_failure, expires_at_ms, pending, pending_until_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (realm, kind, key_digest) DO UPDATE SET failures = $4, locks = $5, locked_until_ms = $6,
		  locked_at_failure = $7, expires_at_ms = $8, pending = $9, pending_until_ms = $10`,
		k.Realm, string(k.Kind), k.Digest, st.Failures, st.Locks, ms(st.LockedUntil), lockedAt, ms(st.ExpiresAt),
		st.Pending, ms(st.PendingUntil)); err != nil {
		t.Fatal(err)
	}
}

func (l legacy) Read(t *testing.T, k lockout.Key) (lockout.State, bool) {
	t.Helper()
	var st lockout.State
	var lu, ex, pu int64
	err := l.db.QueryRow(t.Context(), `
		SELECT failures, locks, locked_until_ms, expires_at_ms, pending, pending_until_ms FROM `+l.table+`
		WHERE realm = $1 AND kind = $2 AND key_digest = $3`, k.Realm, string(k.Kind), k.Digest).
		Scan(&st.Failures, &st.Locks, &lu, &ex, &st.Pending, &pu)
	if errors.Is(err, pgx.ErrNoRows) {
		return lockout.State{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	st.LockedUntil, st.ExpiresAt, st.PendingUntil = msTime(lu), msTime(ex), msTime(pu)
	return st, true
}

// v1Schema is the schema of version 1, as the first release created it.
const v1Schema = `
CREATE TABLE hera_lockout_schema (version integer NOT NULL);
CREATE TABLE hera_lockout (
  realm             text   NOT NULL,
  kind              text   NOT NULL,
  key_digest        text   NOT NULL,
  failures          bigint NOT NULL,
  locks             integer NOT NULL,
  locked_until_ms   bigint NOT NULL,
  locked_at_failure bigint NOT NULL,
  expires_at_ms     bigint NOT NULL,
  PRIMARY KEY (realm, kind, key_digest)
);
CREATE INDEX hera_lockout_expires_at_ms ON hera_lockout (expires_at_ms);
INSERT INTO hera_lockout_schema (version) VALUES (1);`

// TestMigrateFromVersion1 upgrades a version-1 database in place: its
// counters survive and the new operations work.
func TestMigrateFromVersion1(t *testing.T) {
	pool := newPool(t)
	if _, err := pool.Exec(t.Context(), v1Schema); err != nil {
		t.Fatal(err)
	}
	lu := storetest.T0.Add(5 * time.Minute)
	if _, err := pool.Exec(t.Context(), `INSERT INTO hera_lockout VALUES ('test', 'identifier', 'old', 5, 1, $1, 5, $2)`,
		lu.UnixMilli(), lu.Add(15*time.Minute).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	// Several instances start at once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = postgres.New(t.Context(), pool, postgres.Config{SweepInterval: -1}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("migrating from version 1: %v", err)
	}
	var rows, version int
	if err := pool.QueryRow(t.Context(), "SELECT count(*), max(version) FROM hera_lockout_schema").Scan(&rows, &version); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || version != postgres.SchemaVersion {
		t.Fatalf("schema table: %d rows, version %d; want 1 row, version %d", rows, version, postgres.SchemaVersion)
	}
	s := newStore(t, pool, postgres.Config{})
	old := storetest.Key("old")
	st, err := s.Get(t.Context(), old, storetest.T0, storetest.Rule)
	if err != nil || st.Failures != 5 || !st.Locked(storetest.T0) || st.Pending != 0 {
		t.Fatalf("the version-1 counter after migrating: %+v, %v", st, err)
	}
	if st, ok, err := s.Reserve(t.Context(), old, "a", storetest.T0, storetest.Rule, storetest.Hold); err != nil || ok || !st.Locked(storetest.T0) {
		t.Fatalf("Reserve of the locked version-1 counter: %v %+v, %v", ok, st, err)
	}
	if st, ok, err := s.Reserve(t.Context(), old, "a", lu, storetest.Rule, storetest.Hold); err != nil || !ok || st.Pending != 1 || len(st.Holds) != 1 {
		t.Fatalf("Reserve once its lock ended: %v %+v, %v", ok, st, err)
	}
	if q, err := s.Take(t.Context(), old, storetest.T0, storetest.Sends); err != nil || !q.OK {
		t.Fatalf("Take after migrating: %+v, %v", q, err)
	}
	if err := s.Link(t.Context(), old, "subject", storetest.T0, time.Hour); err != nil {
		t.Fatalf("Link after migrating: %v", err)
	}
	var oldIndex bool
	if err := pool.QueryRow(t.Context(), "SELECT to_regclass('hera_lockout_expires_at_ms') IS NOT NULL").Scan(&oldIndex); err != nil || oldIndex {
		t.Fatalf("the version-1 index is still there (%v): the sweep no longer uses it", err)
	}
}

// v2Migration is what version 2 added to version 1.
const v2Migration = `
ALTER TABLE hera_lockout
  ADD COLUMN pending          bigint NOT NULL DEFAULT 0,
  ADD COLUMN pending_until_ms bigint NOT NULL DEFAULT 0;
CREATE INDEX hera_lockout_lifetime ON hera_lockout ((GREATEST(expires_at_ms, pending_until_ms)));
DROP INDEX hera_lockout_expires_at_ms;
CREATE TABLE hera_lockout_quota (realm text NOT NULL, kind text NOT NULL, key_digest text NOT NULL,
  stamps bigint[] NOT NULL, expires_at_ms bigint NOT NULL, PRIMARY KEY (realm, kind, key_digest));
CREATE TABLE hera_lockout_link (realm text NOT NULL, kind text NOT NULL, key_digest text NOT NULL,
  subject text NOT NULL, expires_at_ms bigint NOT NULL, PRIMARY KEY (realm, kind, key_digest));
UPDATE hera_lockout_schema SET version = 2;`

// TestMigrateFromVersion2 upgrades a version-2 database in place: its
// counters, anonymous reservations included, survive, and a version-2
// replica's writes (its columns only) keep working beside this version's
// holds.
func TestMigrateFromVersion2(t *testing.T) {
	pool := newPool(t)
	if _, err := pool.Exec(t.Context(), v1Schema+v2Migration); err != nil {
		t.Fatal(err)
	}
	pu := storetest.T0.Add(30 * time.Second)
	if _, err := pool.Exec(t.Context(), `INSERT INTO hera_lockout VALUES ('test', 'identifier', 'old', 2, 0, 0, 0, $1, 3, $2)`,
		storetest.T0.Add(15*time.Minute).UnixMilli(), pu.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, pool, postgres.Config{})
	var version int
	if err := pool.QueryRow(t.Context(), "SELECT max(version) FROM hera_lockout_schema").Scan(&version); err != nil || version != postgres.SchemaVersion {
		t.Fatalf("schema version %d (%v), want %d", version, err, postgres.SchemaVersion)
	}
	old := storetest.Key("old")
	st, err := s.Get(t.Context(), old, storetest.T0, storetest.Rule)
	if err != nil || st.Failures != 2 || st.Pending != 3 || !st.PendingUntil.Equal(pu) || len(st.Holds) != 0 {
		t.Fatalf("the version-2 counter after migrating: %+v, %v", st, err)
	}
	// 2 failures and 3 anonymous reservations: busy.
	if st, ok, err := s.Reserve(t.Context(), old, "a", storetest.T0, storetest.Rule, storetest.Hold); err != nil || ok {
		t.Fatalf("Reserve beside the version-2 reservations: %v %+v, %v", ok, st, err)
	}
	if st, ok, err := s.Reserve(t.Context(), old, "a", pu, storetest.Rule, storetest.Hold); err != nil || !ok || st.Pending != 1 {
		t.Fatalf("Reserve once they ended: %v %+v, %v", ok, st, err)
	}
	// A version-2 replica inserts a row of its own (its columns only).
	if _, err := pool.Exec(t.Context(), `INSERT INTO hera_lockout (realm, kind, key_digest, failures, locks, locked_until_ms, locked_at_failure, expires_at_ms, pending, pending_until_ms)
		VALUES ('test', 'identifier', 'v2', 1, 0, 0, 0, $1, 0, 0)`, storetest.T0.Add(15*time.Minute).UnixMilli()); err != nil {
		t.Fatalf("a version-2 insert into the version-3 table: %v", err)
	}
	if st, err := s.Fail(t.Context(), storetest.Key("v2"), storetest.T0, storetest.Rule); err != nil || st.Failures != 2 {
		t.Fatalf("Fail of the version-2 row: %+v, %v", st, err)
	}
}

// TestSweepKeepsHolds: the sweep keeps a row whose hold ended unsettled
// until its keep_until_ms.
func TestSweepKeepsHolds(t *testing.T) {
	pool := newPool(t)
	s := newStore(t, pool, postgres.Config{})
	r := storetest.Rule
	k := storetest.Key("a")
	if _, ok, err := s.Reserve(t.Context(), k, "h", storetest.T0, r, storetest.Hold); err != nil || !ok {
		t.Fatalf("Reserve = %v, %v", ok, err)
	}
	var holds string
	var keep int64
	if err := pool.QueryRow(t.Context(), "SELECT holds::text, keep_until_ms FROM hera_lockout").Scan(&holds, &keep); err != nil {
		t.Fatal(err)
	}
	end := storetest.T0.Add(storetest.Hold)
	if want := fmt.Sprintf(`[{"id": "h", "until_ms": %d}]`, end.UnixMilli()); holds != want {
		t.Errorf("holds column %s, want %s", holds, want)
	}
	if want := end.Add(r.MaxLockDuration + r.Window).UnixMilli(); keep != want {
		t.Errorf("keep_until_ms %d, want %d", keep, want)
	}
	if n, err := s.Sweep(t.Context(), end.Add(r.Window)); err != nil || n != 0 {
		t.Fatalf("Sweep while the hold may count = %d, %v", n, err)
	}
	if st, err := s.Get(t.Context(), k, end.Add(time.Minute), r); err != nil || st.Failures != 1 {
		t.Fatalf("Get after the hold ended = %+v, %v; want its failure", st, err)
	}
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	pool := newPool(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = postgres.New(t.Context(), pool, postgres.Config{SweepInterval: -1, Table: "lockout_x"})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent migrations: %v", err)
	}
	var versions, rows int
	if err := pool.QueryRow(t.Context(), "SELECT count(*), max(version) FROM lockout_x_schema").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || versions != postgres.SchemaVersion {
		t.Fatalf("schema table: %d rows, version %d; want 1 row, version %d", rows, versions, postgres.SchemaVersion)
	}
	s := newStore(t, pool, postgres.Config{Table: "lockout_x"})
	if _, err := s.Fail(t.Context(), storetest.Key("a"), storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	if st, err := s.Get(t.Context(), storetest.Key("a"), storetest.T0, storetest.Rule); err != nil || st.Failures != 1 {
		t.Fatalf("after migrating again: %+v, %v", st, err)
	}
}

func TestTablesAreSeparate(t *testing.T) {
	pool := newPool(t)
	a := newStore(t, pool, postgres.Config{Table: "a"})
	b := newStore(t, pool, postgres.Config{Table: "user"}) // a reserved word: names are quoted
	k := storetest.Key("k")
	if _, err := a.Fail(t.Context(), k, storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	if st, err := b.Get(t.Context(), k, storetest.T0, storetest.Rule); err != nil || st.Failures != 0 {
		t.Fatalf("table user sees table a: %+v, %v", st, err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []postgres.Config{{Table: "Bad-Name"}, {Table: "x; DROP TABLE y"}, {Timeout: -time.Second}} {
		if _, err := postgres.New(t.Context(), unreachable(t), cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

// TestSweepRemovesRows checks that Sweep really deletes rows, in batches.
func TestSweepRemovesRows(t *testing.T) {
	pool := newPool(t)
	s := newStore(t, pool, postgres.Config{})
	const n = 5000 + 17 // more than one batch
	if _, err := pool.Exec(t.Context(), `
		INSERT INTO hera_lockout (realm, kind, key_digest, failures, locks, locked_until_ms, locked_at_failure, expires_at_ms)
		SELECT 'test', 'identifier', 'k' || i, 1, 0, 0, 0, $1 FROM generate_series(1, $2) i`,
		storetest.T0.UnixMilli(), n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fail(t.Context(), storetest.Key("live"), storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	got, err := s.Sweep(t.Context(), storetest.T0)
	if err != nil || got != n {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, n)
	}
	var left int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM hera_lockout").Scan(&left); err != nil || left != 1 {
		t.Fatalf("%d rows left (%v), want 1", left, err)
	}
}

func TestBackgroundSweep(t *testing.T) {
	pool := newPool(t)
	s := newStore(t, pool, postgres.Config{SweepInterval: 10 * time.Millisecond,
		Now: func() time.Time { return storetest.T0.Add(time.Hour) }})
	if _, err := s.Fail(t.Context(), storetest.Key("a"), storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM hera_lockout").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("background sweep did not delete the expired row")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// unreachable returns a pool for a closed port (pgxpool connects lazily).
func unreachable(t testing.TB) *pgxpool.Pool {
	return openPool(t, "postgres://postgres@"+dbtest.ClosedAddr(t)+"/x?sslmode=disable&connect_timeout=1")
}

// TestUnavailable points the store at a closed port: every method fails
// quickly with lockout.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	pool := unreachable(t)
	cfg := postgres.Config{Timeout: 300 * time.Millisecond, SweepInterval: -1}
	start := time.Now()
	if _, err := postgres.New(t.Context(), pool, cfg); !errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("New (migrating) = %v, want lockout.ErrUnavailable", err)
	}
	cfg.SkipMigration = true
	s := newStore(t, pool, cfg)
	k := storetest.Key("a")
	_, errFail := s.Fail(t.Context(), k, storetest.T0, storetest.Rule)
	_, errGet := s.Get(t.Context(), k, storetest.T0, storetest.Rule)
	errReset := s.Reset(t.Context(), k)
	_, errSweep := s.Sweep(t.Context(), storetest.T0)
	_, _, errReserve := s.Reserve(t.Context(), k, "id", storetest.T0, storetest.Rule, storetest.Hold)
	_, errSettle := s.Settle(t.Context(), k, "id", storetest.T0, storetest.Rule, true)
	_, errTake := s.Take(t.Context(), k, storetest.T0, storetest.Sends)
	errLink := s.Link(t.Context(), k, "subject", storetest.T0, time.Hour)
	_, errResolve := s.Resolve(t.Context(), k, storetest.T0)
	for name, err := range map[string]error{"Fail": errFail, "Get": errGet, "Reset": errReset, "Sweep": errSweep,
		"Reserve": errReserve, "Settle": errSettle, "Take": errTake, "Link": errLink, "Resolve": errResolve} {
		if !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("%s = %v, want lockout.ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// Through the limiter: fail closed by default.
	l, err := lockout.New(s, lockout.Config{Now: func() time.Time { return storetest.T0 }})
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Check(t.Context(), l.IdentifierKey("a@example.com"), l.IPKey("192.0.2.1"))
	if !errors.Is(err, lockout.ErrUnavailable) || !d.Locked || !d.Unavailable {
		t.Fatalf("Check = %+v, %v; want Locked, Unavailable and lockout.ErrUnavailable", d, err)
	}
}

// TestTimeout checks that the configured timeout bounds an operation that
// the database does not answer in time: another transaction holds the row.
func TestTimeout(t *testing.T) {
	dsn := dbtest.Postgres(t)
	pool := openPool(t, dsn)
	s := newStore(t, pool, postgres.Config{Timeout: 200 * time.Millisecond})
	k := storetest.Key("a")
	if _, err := s.Fail(t.Context(), k, storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), "SELECT * FROM hera_lockout FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Fail(t.Context(), k, storetest.T0, storetest.Rule)
	if !errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("Fail on a locked row = %v, want lockout.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Fail took %v with a 200ms timeout", d)
	}
	start = time.Now()
	if _, _, err := s.Reserve(t.Context(), k, "id", storetest.T0, storetest.Rule, storetest.Hold); !errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("Reserve on a locked row = %v, want lockout.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Reserve took %v with a 200ms timeout", d)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The store recovers. The timed-out failure may or may not have been
	// recorded: the server finishes a statement whose client went away. The
	// timed-out reservation's transaction was rolled back.
	if st, err := s.Fail(t.Context(), k, storetest.T0, storetest.Rule); err != nil || st.Failures < 2 || st.Failures > 3 || st.Pending != 0 {
		t.Fatalf("Fail after the row was released = %+v, %v; want 2 or 3 failures, nothing pending", st, err)
	}
}

func BenchmarkCheckFail(b *testing.B) {
	storetest.BenchmarkCheckFail(b, newStore(b, newPool(b), postgres.Config{}))
}

func BenchmarkReserveSettle(b *testing.B) {
	storetest.BenchmarkReserveSettle(b, newStore(b, newPool(b), postgres.Config{}))
}
