// Package postgres is the PostgreSQL mail queue (pgx v5), shared by every
// Hera replica; it uses the lockout store's pool.
//
// Hera creates and migrates its tables at start ([New] runs [Queue.Migrate]
// unless Config.SkipMigration), as the lockout store does: idempotent,
// serialized between instances by an advisory lock, recorded in a
// schema-version table. There are two tables: messages (Table: one row per
// queued message, the message as json, its due time, lease owner and
// end, attempts and last error) and deduplication records (Table_dedup:
// each ID enqueued, until its deduplication ends). Rows carry the realm
// (HERA_LOCKOUT_REALM), so deployments can share a database.
//
// Enqueue is one round trip: a batch that PostgreSQL runs as one implicit
// transaction, taking an advisory lock on the realm's queue (so the bound
// and deduplication hold across replicas) and then deciding and writing in
// one statement; it also deletes a batch of ended deduplication records. Claim is one UPDATE of
// rows chosen with FOR UPDATE SKIP LOCKED: concurrent claims, from any
// replica, never take the same message. Done and Retry act only on a row
// leased to their owner. Times are Unix milliseconds taken from the caller,
// never from the database clock.
package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraproject/hera/internal/outbox"
)

// DB is what the queue needs from a database handle; *pgxpool.Pool
// satisfies it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Config configures a [Queue]. Zero fields take the defaults.
type Config struct {
	outbox.Config
	// Realm namespaces the rows (HERA_LOCKOUT_REALM). Default "ciam".
	Realm string
	// Table is the name of the messages table, in the connection's search
	// path; deduplication records are kept in Table + "_dedup" and the
	// schema version in Table + "_schema". Default "hera_outbox".
	// Lower-case letters, digits and '_', at most 48.
	Table string
	// Timeout bounds every operation. Default 2 s.
	Timeout time.Duration
	// SkipMigration makes New not create or migrate the schema.
	SkipMigration bool
}

// Defaults.
const (
	DefaultRealm   = "ciam"
	DefaultTable   = "hera_outbox"
	DefaultTimeout = 2 * time.Second
	// SchemaVersion is the schema version this code migrates to.
	SchemaVersion = 1
	// sweepBatch is how many ended deduplication records an Enqueue
	// deletes at most.
	sweepBatch = 100
	// lockClass is the first key of the advisory locks ("HeOb").
	lockClass = 1214599010
)

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// Queue is a PostgreSQL [outbox.Queue]. It is safe for concurrent use if
// its DB is.
type Queue struct {
	db  DB
	cfg Config

	migrateSQL, lockSQL, enqueueSQL                         string
	claimSQL, doneSQL, leasedSQL, dropSQL, retrySQL, lenSQL string
}

var _ outbox.Queue = (*Queue)(nil)

// New returns a queue over db and migrates the schema (unless
// Config.SkipMigration). Errors reaching the database wrap
// [outbox.ErrUnavailable].
func New(ctx context.Context, db DB, cfg Config) (*Queue, error) {
	if db == nil {
		return nil, errors.New("postgres: nil DB")
	}
	cfg.Config = cfg.Config.WithDefaults()
	if err := cfg.Config.Validate(); err != nil {
		return nil, err
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if !tableRE.MatchString(cfg.Table) {
		return nil, fmt.Errorf("postgres: Table %q: want [a-z_][a-z0-9_]*, at most 48", cfg.Table)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("postgres: Timeout %v: must be positive", cfg.Timeout)
	}
	q := &Queue{db: db, cfg: cfg}
	r := strings.NewReplacer(
		"{table}", pgx.Identifier{cfg.Table}.Sanitize(),
		"{schema_table}", pgx.Identifier{cfg.Table + "_schema"}.Sanitize(),
		"{dedup_table}", pgx.Identifier{cfg.Table + "_dedup"}.Sanitize(),
		"{claim_index}", pgx.Identifier{cfg.Table + "_claim"}.Sanitize(),
		"{dedup_index}", pgx.Identifier{cfg.Table + "_dedup_exp"}.Sanitize(),
		"{name}", cfg.Table, // validated: needs no quoting in a string literal
		"{class}", strconv.Itoa(lockClass),
		"{batch}", strconv.Itoa(sweepBatch),
	)
	for _, s := range []struct {
		dst *string
		sql string
	}{
		{&q.migrateSQL, migrateSQL}, {&q.lockSQL, lockSQL}, {&q.enqueueSQL, enqueueSQL}, {&q.claimSQL, claimSQL},
		{&q.doneSQL, doneSQL}, {&q.leasedSQL, leasedSQL}, {&q.dropSQL, dropSQL}, {&q.retrySQL, retrySQL}, {&q.lenSQL, lenSQL},
	} {
		*s.dst = r.Replace(s.sql)
	}
	if !cfg.SkipMigration {
		if err := q.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// migrateSQL creates the schema, as the lockout store's does. A message's
// claimable time is GREATEST(due_ms, lease_until_ms): its due time, or
// the end of its lease. The message is json, not jsonb: json keeps any
// string Go encodes (jsonb refuses \u0000).
const migrateSQL = `
DO $hera$
DECLARE v integer;
BEGIN
  PERFORM pg_advisory_xact_lock({class}, hashtext('{name}'));
  CREATE TABLE IF NOT EXISTS {schema_table} (version integer NOT NULL);
  SELECT max(version) INTO v FROM {schema_table};
  IF v IS NULL THEN
    v := 0;
  END IF;
  IF v < 1 THEN
    CREATE TABLE IF NOT EXISTS {table} (
      realm          text    NOT NULL,
      id             text    COLLATE "C" NOT NULL,
      due_ms         bigint  NOT NULL,
      lease_owner    text    NOT NULL DEFAULT '',
      lease_until_ms bigint  NOT NULL DEFAULT 0,
      attempts       integer NOT NULL DEFAULT 0,
      last_error     text    NOT NULL DEFAULT '',
      message        json    NOT NULL,
      PRIMARY KEY (realm, id)
    );
    CREATE INDEX IF NOT EXISTS {claim_index} ON {table} (realm, (GREATEST(due_ms, lease_until_ms)), id);
    COMMENT ON TABLE {table} IS 'Hera mail queue (internal/outbox/postgres); times are Unix ms';
    CREATE TABLE IF NOT EXISTS {dedup_table} (
      realm         text   NOT NULL,
      id            text   NOT NULL,
      expires_at_ms bigint NOT NULL,
      PRIMARY KEY (realm, id)
    );
    CREATE INDEX IF NOT EXISTS {dedup_index} ON {dedup_table} (expires_at_ms);
    COMMENT ON TABLE {dedup_table} IS 'Hera mail queue: IDs enqueued, until their deduplication ends (internal/outbox/postgres); Unix ms';
    INSERT INTO {schema_table} (version) VALUES (1);
  END IF;
END
$hera$`

// Migrate creates or migrates the schema. It is idempotent and safe to run
// from several instances at once.
func (q *Queue) Migrate(ctx context.Context) error {
	ctx, cancel := q.op(ctx)
	defer cancel()
	if _, err := q.db.Exec(ctx, q.migrateSQL); err != nil {
		return unavailable("migrate", err)
	}
	return nil
}

// The statements. $1 is the realm throughout.
const (
	lockSQL = `SELECT pg_advisory_xact_lock({class}, hashtext($1))`
	// enqueueSQL is Enqueue after the lock, as one statement: it deletes a
	// batch of ended deduplication records (not the ID's own: one command
	// must not touch a row twice), finds whether the ID is queued or
	// deduplicated, counts the queue, and inserts the message and its
	// record unless either says no. Its parts share one snapshot.
	// $2 ID, $3 now, $4 message, $5 end of deduplication, $6 bound.
	enqueueSQL = `
WITH sweep AS (
  DELETE FROM {dedup_table} WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM {dedup_table} WHERE expires_at_ms <= $3 AND NOT (realm = $1 AND id = $2) LIMIT {batch}))
), dup AS (
  SELECT EXISTS (SELECT 1 FROM {table} WHERE realm = $1 AND id = $2)
      OR EXISTS (SELECT 1 FROM {dedup_table} WHERE realm = $1 AND id = $2 AND expires_at_ms > $3) AS yes
), queued AS (
  SELECT count(*) AS n FROM {table} WHERE realm = $1
), ins AS (
  INSERT INTO {table} (realm, id, due_ms, message)
  SELECT $1, $2, $3, $4 WHERE NOT (SELECT yes FROM dup) AND (SELECT n FROM queued) < $6
  RETURNING id
), dedup AS (
  INSERT INTO {dedup_table} (realm, id, expires_at_ms) SELECT $1, id, $5 FROM ins
  ON CONFLICT (realm, id) DO UPDATE SET expires_at_ms = EXCLUDED.expires_at_ms
)
SELECT (SELECT yes FROM dup), (SELECT n FROM queued)`
	claimSQL = `
WITH c AS (
  SELECT id, GREATEST(due_ms, lease_until_ms) AS at FROM {table} WHERE realm = $1 AND GREATEST(due_ms, lease_until_ms) <= $4
  ORDER BY GREATEST(due_ms, lease_until_ms), id LIMIT $5 FOR UPDATE SKIP LOCKED)
UPDATE {table} t SET lease_owner = $2, lease_until_ms = $3 FROM c WHERE t.realm = $1 AND t.id = c.id
RETURNING t.id, c.at, t.attempts, t.last_error, t.message`
	doneSQL   = `DELETE FROM {table} WHERE realm = $1 AND id = $2 AND lease_owner = $3`
	leasedSQL = `SELECT attempts FROM {table} WHERE realm = $1 AND id = $2 AND lease_owner = $3 FOR UPDATE`
	dropSQL   = `DELETE FROM {table} WHERE realm = $1 AND id = $2`
	retrySQL  = `
UPDATE {table} SET attempts = $3, last_error = $4, due_ms = $5, lease_owner = '', lease_until_ms = 0
WHERE realm = $1 AND id = $2`
	lenSQL = `SELECT count(*) FROM {table} WHERE realm = $1`
)

func (q *Queue) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, q.cfg.Timeout)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: postgres %s: %w", outbox.ErrUnavailable, op, err)
}

// inTx runs fn in a transaction bounded by the queue's timeout and commits
// unless fn fails. An error fn returns as is (ErrFull, ErrLeaseLost) is
// returned as is; every other one wraps ErrUnavailable.
func (q *Queue) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	ctx, cancel := q.op(ctx)
	defer cancel()
	tx, err := q.db.Begin(ctx)
	if err != nil {
		return unavailable(op, err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback(ctx) // on a broken connection, the pool discards it
		if errors.Is(err, outbox.ErrFull) || errors.Is(err, outbox.ErrLeaseLost) {
			return err
		}
		return unavailable(op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// Enqueue implements [outbox.Queue].
func (q *Queue) Enqueue(ctx context.Context, m outbox.Message, now time.Time) (bool, error) {
	m, err := outbox.Prepare(m, now)
	if err != nil {
		return false, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, unavailable("enqueue", err)
	}
	ctx, cancel := q.op(ctx)
	defer cancel()
	n := now.UnixMilli()
	var dup bool
	var count int
	var b pgx.Batch
	b.Queue(q.lockSQL, q.cfg.Realm)
	b.Queue(q.enqueueSQL, q.cfg.Realm, m.ID, n, string(data), n+q.cfg.DedupFor.Milliseconds(), q.cfg.MaxQueued).
		QueryRow(func(row pgx.Row) error { return row.Scan(&dup, &count) })
	if err := q.db.SendBatch(ctx, &b).Close(); err != nil {
		return false, unavailable("enqueue", err)
	}
	switch {
	case dup:
		return false, nil
	case count >= q.cfg.MaxQueued:
		return false, outbox.ErrFull
	}
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
	ctx, cancel := q.op(ctx)
	defer cancel()
	n := now.UnixMilli()
	rows, err := q.db.Query(ctx, q.claimSQL, q.cfg.Realm, owner, n+lease.Milliseconds(), n, max)
	if err != nil {
		return nil, unavailable("claim", err)
	}
	defer rows.Close()
	type claimed struct {
		m  outbox.Message
		at int64
	}
	var cs []claimed
	for rows.Next() {
		var c claimed
		var id string
		var raw []byte
		if err := rows.Scan(&id, &c.at, &c.m.Attempts, &c.m.LastError, &raw); err != nil {
			return nil, unavailable("claim", err)
		}
		attempts, lastError := c.m.Attempts, c.m.LastError
		if err := json.Unmarshal(raw, &c.m); err != nil {
			return nil, unavailable("claim", fmt.Errorf("message %q: %w", id, err))
		}
		c.m.Attempts, c.m.LastError, c.m.Created = attempts, lastError, outbox.Millis(c.m.Created)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("claim", err)
	}
	// RETURNING has no order.
	slices.SortFunc(cs, func(a, b claimed) int { return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.m.ID, b.m.ID)) })
	out := make([]outbox.Message, len(cs))
	for i, c := range cs {
		out[i] = c.m
	}
	return out, nil
}

// Done implements [outbox.Queue].
func (q *Queue) Done(ctx context.Context, id, owner string) error {
	if err := errors.Join(outbox.ValidateID("message ID", id), outbox.ValidateID("owner", owner)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("done", err)
	}
	ctx, cancel := q.op(ctx)
	defer cancel()
	tag, err := q.db.Exec(ctx, q.doneSQL, q.cfg.Realm, id, owner)
	if err != nil {
		return unavailable("done", err)
	}
	if tag.RowsAffected() == 0 {
		return outbox.ErrLeaseLost
	}
	return nil
}

// Retry implements [outbox.Queue].
func (q *Queue) Retry(ctx context.Context, id, owner string, at time.Time, errText string, maxAttempts int) (bool, error) {
	if err := outbox.ValidateRetry(id, owner, maxAttempts); err != nil {
		return false, err
	}
	dropped := false
	err := q.inTx(ctx, "retry", func(ctx context.Context, tx pgx.Tx) error {
		var attempts int
		err := tx.QueryRow(ctx, q.leasedSQL, q.cfg.Realm, id, owner).Scan(&attempts)
		if errors.Is(err, pgx.ErrNoRows) {
			return outbox.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		if attempts+1 >= maxAttempts {
			dropped = true
			_, err = tx.Exec(ctx, q.dropSQL, q.cfg.Realm, id)
			return err
		}
		_, err = tx.Exec(ctx, q.retrySQL, q.cfg.Realm, id, attempts+1, outbox.CutError(errText), at.UnixMilli())
		return err
	})
	if err != nil {
		return false, err
	}
	return dropped, nil
}

// Len implements [outbox.Queue].
func (q *Queue) Len(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("len", err)
	}
	ctx, cancel := q.op(ctx)
	defer cancel()
	var n int
	if err := q.db.QueryRow(ctx, q.lenSQL, q.cfg.Realm).Scan(&n); err != nil {
		return 0, unavailable("len", err)
	}
	return n, nil
}
