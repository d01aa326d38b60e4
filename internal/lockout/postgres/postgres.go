// Package postgres is the PostgreSQL lockout store (pgx v5), for several Hera
// instances sharing counters.
//
// Hera creates and migrates its table at start ([New] runs [Store.Migrate]
// unless Config.SkipMigration): idempotent, serialized between instances by an
// advisory lock, and recorded in a schema-version table. Each failure is
// counted by one INSERT … ON CONFLICT DO UPDATE … RETURNING statement, so
// concurrent failures are counted exactly. Times are Unix milliseconds taken
// from the caller, never from the database clock. Expired rows are deleted by
// [Store.Sweep], which the store runs periodically.
//
// Wiring (any [DB] works; in production a *pgxpool.Pool):
//
//	pool, err := pgxpool.New(ctx, dsn) // e.g. "...?statement_timeout=2000&lock_timeout=2000"
//	store, err := postgres.New(ctx, pool, postgres.Config{})
//	defer store.Close()
//
// Config.Timeout bounds every call on the client side; statement_timeout and
// lock_timeout in the DSN make the server abandon the statements the client
// gave up on, too.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraproject/hera/internal/lockout"
)

// DB is what the store needs from a database handle. *pgxpool.Pool
// satisfies it (use a pool: the store is used concurrently), as do *pgx.Conn
// and pgx.Tx for single-goroutine use.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// Table is the name of the counter table, in the connection's search
	// path; the schema version is kept in Table + "_schema". Default
	// "hera_lockout". Lower-case letters, digits and '_', at most 48.
	Table string
	// Timeout bounds every operation (including each sweep batch and the
	// migration). Default 2 s.
	Timeout time.Duration
	// SweepInterval is how often expired rows are deleted in the background.
	// Default 5 min; negative disables the background sweep.
	SweepInterval time.Duration
	// Now is the clock of the background sweep. Default time.Now.
	Now func() time.Time
	// SkipMigration makes New not create or migrate the schema.
	SkipMigration bool
}

// Defaults.
const (
	DefaultTable         = "hera_lockout"
	DefaultTimeout       = 2 * time.Second
	DefaultSweepInterval = 5 * time.Minute
	// SchemaVersion is the schema version this code migrates to.
	SchemaVersion = 1
	// sweepBatch is how many rows one sweep statement deletes at most.
	sweepBatch = 5000
)

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// Store is a PostgreSQL [lockout.Store]. It is safe for concurrent use if
// its DB is.
type Store struct {
	db  DB
	cfg Config

	migrateSQL, failSQL, getSQL, resetSQL, sweepSQL string

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var (
	_ lockout.Store   = (*Store)(nil)
	_ lockout.Sweeper = (*Store)(nil)
)

// New returns a store over db, migrates the schema (unless
// Config.SkipMigration) and starts the background sweep; Close stops it.
// Errors reaching the database wrap [lockout.ErrUnavailable].
func New(ctx context.Context, db DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("postgres: nil DB")
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if !tableRE.MatchString(cfg.Table) {
		return nil, fmt.Errorf("postgres: Table %q: want [a-z_][a-z0-9_]*, at most 48", cfg.Table)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("postgres: Timeout %v: must be positive", cfg.Timeout)
	}
	s := &Store{db: db, cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	r := strings.NewReplacer(
		"{table}", pgx.Identifier{cfg.Table}.Sanitize(),
		"{schema_table}", pgx.Identifier{cfg.Table + "_schema"}.Sanitize(),
		"{expires_index}", pgx.Identifier{cfg.Table + "_expires_at_ms"}.Sanitize(),
		"{name}", cfg.Table, // validated: needs no quoting in a string literal
		"{batch}", strconv.Itoa(sweepBatch),
	)
	s.migrateSQL = r.Replace(migrateSQL)
	s.failSQL = r.Replace(failSQL)
	s.getSQL = r.Replace(getSQL)
	s.resetSQL = r.Replace(resetSQL)
	s.sweepSQL = r.Replace(sweepSQL)
	if !cfg.SkipMigration {
		if err := s.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.SweepInterval > 0 {
		go s.sweepLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background sweep. It does not close the DB.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *Store) sweepLoop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-s.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			_, _ = s.Sweep(ctx, s.cfg.Now()) // errors: the next sweep retries
			cancel()
		}
	}
}

// migrateSQL creates the schema. It runs as one implicit transaction (one
// simple-protocol Exec), serialized between instances by an advisory lock.
// A database already at a newer version is left alone.
const migrateSQL = `
DO $hera$
DECLARE v integer;
BEGIN
  PERFORM pg_advisory_xact_lock(1213354561, hashtext('{name}'));
  CREATE TABLE IF NOT EXISTS {schema_table} (version integer NOT NULL);
  SELECT max(version) INTO v FROM {schema_table};
  IF v IS NULL THEN
    v := 0;
  END IF;
  IF v < 1 THEN
    CREATE TABLE IF NOT EXISTS {table} (
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
    CREATE INDEX IF NOT EXISTS {expires_index} ON {table} (expires_at_ms);
    COMMENT ON TABLE {table} IS 'Hera brute-force lockout counters (internal/lockout/postgres); times are Unix ms';
    INSERT INTO {schema_table} (version) VALUES (1);
  END IF;
END
$hera$`

// Migrate creates or migrates the schema. It is idempotent and safe to run
// from several instances at once.
func (s *Store) Migrate(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.db.Exec(ctx, s.migrateSQL); err != nil {
		return unavailable("migrate", err)
	}
	return nil
}

// failSQL applies lockout.Rule.Apply in one statement. The insert path (no
// row yet) gets its values from Go ($9..$12); the update path computes them
// from the existing row l. locked_at_failure remembers which failure engaged
// the current lock: failures only grow within an entry, so exactly one
// statement sees failures = locked_at_failure for each lock.
//
//	$1 realm  $2 kind  $3 digest  $4 now  $5 max failures  $6 window
//	$7 lock duration  $8 max lock duration  (all times ms)
const failSQL = `
INSERT INTO {table} AS l (realm, kind, key_digest, failures, locks, locked_until_ms, locked_at_failure, expires_at_ms)
VALUES ($1, $2, $3, 1, $9, $10, $11, $12)
ON CONFLICT (realm, kind, key_digest) DO UPDATE SET
  (failures, locks, locked_until_ms, locked_at_failure, expires_at_ms) = (
    SELECT c.f,
           c.k + c.lk,
           CASE WHEN c.lk = 1 THEN c.nlu ELSE c.lu END,
           CASE WHEN c.lk = 1 THEN c.f ELSE c.la END,
           CASE WHEN c.lk = 1 THEN GREATEST(c.ex, c.nlu + $6::bigint) ELSE c.ex END
    FROM (
      SELECT b.f, b.k, b.lu, b.la, b.ex,
             CASE WHEN b.f >= $5::bigint AND $4::bigint >= b.lu THEN 1 ELSE 0 END AS lk,
             $4::bigint + LEAST($8::bigint, $7::bigint << LEAST(b.k, 30)) AS nlu
      FROM (
        SELECT CASE WHEN l.expires_at_ms <= $4::bigint THEN 1 ELSE l.failures + 1 END AS f,
               CASE WHEN l.expires_at_ms <= $4::bigint THEN 0 ELSE l.locks END AS k,
               CASE WHEN l.expires_at_ms <= $4::bigint THEN 0 ELSE l.locked_until_ms END AS lu,
               CASE WHEN l.expires_at_ms <= $4::bigint THEN 0 ELSE l.locked_at_failure END AS la,
               CASE WHEN l.expires_at_ms <= $4::bigint THEN $4::bigint + $6::bigint ELSE l.expires_at_ms END AS ex
      ) b
    ) c
  )
RETURNING failures, locks, locked_until_ms, locked_at_failure, expires_at_ms`

const getSQL = `
SELECT failures, locks, locked_until_ms, expires_at_ms FROM {table}
WHERE realm = $1 AND kind = $2 AND key_digest = $3 AND expires_at_ms > $4`

const resetSQL = `DELETE FROM {table} WHERE realm = $1 AND kind = $2 AND key_digest = $3`

const sweepSQL = `
DELETE FROM {table} WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM {table} WHERE expires_at_ms <= $1 LIMIT {batch}))`

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: postgres %s: %w", lockout.ErrUnavailable, op, err)
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Fail implements [lockout.Store].
func (s *Store) Fail(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	if err := ctx.Err(); err != nil {
		return lockout.State{}, unavailable("fail", err)
	}
	if err := rule.Validate(); err != nil {
		return lockout.State{}, unavailable("fail", err)
	}
	// The values of a new row: lockout.Rule.Apply on the zero State.
	first := rule.Apply(lockout.State{}, now)
	var la int64
	if first.LockedNow {
		la = 1
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var st lockout.State
	var lu, ex, lockedAt int64
	err := s.db.QueryRow(ctx, s.failSQL,
		key.Realm, string(key.Kind), key.Digest, now.UnixMilli(), int64(rule.MaxFailures),
		rule.Window.Milliseconds(), rule.LockDuration.Milliseconds(), rule.MaxLockDuration.Milliseconds(),
		first.Locks, unixMilli(first.LockedUntil), la, first.ExpiresAt.UnixMilli(),
	).Scan(&st.Failures, &st.Locks, &lu, &lockedAt, &ex)
	if err != nil {
		return lockout.State{}, unavailable("fail", err)
	}
	st.LockedUntil, st.ExpiresAt = msTime(lu), msTime(ex)
	st.LockedNow = st.Locks > 0 && lockedAt == st.Failures
	return st, nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Get implements [lockout.Store].
func (s *Store) Get(ctx context.Context, key lockout.Key, now time.Time) (lockout.State, error) {
	if err := ctx.Err(); err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var st lockout.State
	var lu, ex int64
	err := s.db.QueryRow(ctx, s.getSQL, key.Realm, string(key.Kind), key.Digest, now.UnixMilli()).
		Scan(&st.Failures, &st.Locks, &lu, &ex)
	if errors.Is(err, pgx.ErrNoRows) {
		return lockout.State{}, nil
	}
	if err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	st.LockedUntil, st.ExpiresAt = msTime(lu), msTime(ex)
	return st, nil
}

// Reset implements [lockout.Store].
func (s *Store) Reset(ctx context.Context, key lockout.Key) error {
	if err := ctx.Err(); err != nil {
		return unavailable("reset", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.db.Exec(ctx, s.resetSQL, key.Realm, string(key.Kind), key.Digest); err != nil {
		return unavailable("reset", err)
	}
	return nil
}

// Sweep deletes the rows expired at now, in batches, and returns how many;
// it implements [lockout.Sweeper].
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, unavailable("sweep", err)
		}
		opCtx, cancel := s.op(ctx)
		tag, err := s.db.Exec(opCtx, s.sweepSQL, now.UnixMilli())
		cancel()
		if err != nil {
			return total, unavailable("sweep", err)
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() < sweepBatch {
			return total, nil
		}
	}
}
