// Package postgres is the PostgreSQL lockout store (pgx v5), for several Hera
// instances sharing counters.
//
// Hera creates and migrates its tables at start ([New] runs [Store.Migrate]
// unless Config.SkipMigration): idempotent, serialized between instances by an
// advisory lock, and recorded in a schema-version table; a database at
// version 1 or 2 is upgraded in place. There are three tables: counters
// (Table), send quotas (Table_quota: the accepted uses' times as a
// bigint[]) and session links (Table_link).
//
// A counter row holds the failure window (failures, locks, locked_until_ms,
// expires_at_ms), the reservations (holds: a jsonb array of
// {"id": …, "until_ms": …}, sorted by until_ms, then id), and, for Hera
// versions before holds that share the database during a rolling deploy,
// pending and pending_until_ms: the number of attempts in flight (holds
// included) and their latest end, which those versions read and write. A
// row lives until GREATEST(expires_at_ms, pending_until_ms), and while it
// has holds until keep_until_ms (lockout.Rule.KeepUntil), so that a hold
// ending unsettled is still counted as a failure when the row is next read.
// Version 3 added holds and keep_until_ms with defaults, so version-2
// replicas keep working against it.
//
// Fail, Reserve, Settle and Take are short transactions: they lock the row
// (SELECT … FOR UPDATE, or insert it), apply the reference function in Go
// (expired holds first) and write the result, so they are exact across any
// number of pools and instances. Get reads the row and applies
// lockout.Rule.Current in Go. Times are Unix milliseconds taken from the
// caller, never from the database clock. Expired rows are deleted by
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
	"encoding/json"
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
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// Table is the name of the counter table, in the connection's search
	// path; quotas are kept in Table + "_quota", links in Table + "_link"
	// and the schema version in Table + "_schema". Default "hera_lockout".
	// Lower-case letters, digits and '_', at most 48.
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
	SchemaVersion = 3
	// sweepBatch is how many rows one sweep statement deletes at most.
	sweepBatch = 5000
	// maxTxAttempts bounds the retries of a transaction whose row was
	// inserted or deleted by another one meanwhile.
	maxTxAttempts = 10
)

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// Store is a PostgreSQL [lockout.Store]. It is safe for concurrent use if
// its DB is.
type Store struct {
	db  DB
	cfg Config

	migrateSQL, getSQL, resetSQL, sweepSQL           string
	lockSQL, insertSQL, updateSQL                    string
	lockQuotaSQL, insertQuotaSQL, updateQuotaSQL     string
	sweepQuotaSQL, linkSQL, resolveSQL, sweepLinkSQL string

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
		"{quota_table}", pgx.Identifier{cfg.Table + "_quota"}.Sanitize(),
		"{link_table}", pgx.Identifier{cfg.Table + "_link"}.Sanitize(),
		"{expires_index}", pgx.Identifier{cfg.Table + "_expires_at_ms"}.Sanitize(),
		"{lifetime_index}", pgx.Identifier{cfg.Table + "_lifetime"}.Sanitize(),
		"{quota_index}", pgx.Identifier{cfg.Table + "_q_exp"}.Sanitize(),
		"{link_index}", pgx.Identifier{cfg.Table + "_l_exp"}.Sanitize(),
		"{name}", cfg.Table, // validated: needs no quoting in a string literal
		"{batch}", strconv.Itoa(sweepBatch),
	)
	for _, q := range []struct {
		dst *string
		sql string
	}{
		{&s.migrateSQL, migrateSQL}, {&s.getSQL, getSQL}, {&s.resetSQL, resetSQL},
		{&s.sweepSQL, sweepSQL}, {&s.lockSQL, lockSQL}, {&s.insertSQL, insertSQL}, {&s.updateSQL, updateSQL},
		{&s.lockQuotaSQL, lockQuotaSQL}, {&s.insertQuotaSQL, insertQuotaSQL}, {&s.updateQuotaSQL, updateQuotaSQL},
		{&s.sweepQuotaSQL, sweepQuotaSQL}, {&s.linkSQL, linkSQL}, {&s.resolveSQL, resolveSQL}, {&s.sweepLinkSQL, sweepLinkSQL},
	} {
		*q.dst = r.Replace(q.sql)
	}
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
// A database already at a newer version is left alone. Version 2 adds the
// reservation columns (pending rows live until GREATEST(expires_at_ms,
// pending_until_ms), hence the expression index that replaces the
// expires_at_ms one) and the quota and link tables. Version 3 adds the holds
// (see the package documentation); its columns have defaults, so version-2
// replicas, which do not know them, keep inserting and updating rows.
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
  IF v < 2 THEN
    ALTER TABLE {table}
      ADD COLUMN IF NOT EXISTS pending          bigint NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS pending_until_ms bigint NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS {lifetime_index} ON {table} ((GREATEST(expires_at_ms, pending_until_ms)));
    DROP INDEX IF EXISTS {expires_index};
    CREATE TABLE IF NOT EXISTS {quota_table} (
      realm         text     NOT NULL,
      kind          text     NOT NULL,
      key_digest    text     NOT NULL,
      stamps        bigint[] NOT NULL,
      expires_at_ms bigint   NOT NULL,
      PRIMARY KEY (realm, kind, key_digest)
    );
    CREATE INDEX IF NOT EXISTS {quota_index} ON {quota_table} (expires_at_ms);
    COMMENT ON TABLE {quota_table} IS 'Hera send quotas (internal/lockout/postgres): times of accepted uses, Unix ms';
    CREATE TABLE IF NOT EXISTS {link_table} (
      realm         text   NOT NULL,
      kind          text   NOT NULL,
      key_digest    text   NOT NULL,
      subject       text   NOT NULL,
      expires_at_ms bigint NOT NULL,
      PRIMARY KEY (realm, kind, key_digest)
    );
    CREATE INDEX IF NOT EXISTS {link_index} ON {link_table} (expires_at_ms);
    COMMENT ON TABLE {link_table} IS 'Hera session links (internal/lockout/postgres); times are Unix ms';
    DELETE FROM {schema_table};
    INSERT INTO {schema_table} (version) VALUES (2);
  END IF;
  IF v < 3 THEN
    ALTER TABLE {table}
      ADD COLUMN IF NOT EXISTS holds         jsonb  NOT NULL DEFAULT '[]',
      ADD COLUMN IF NOT EXISTS keep_until_ms bigint NOT NULL DEFAULT 0;
    DELETE FROM {schema_table};
    INSERT INTO {schema_table} (version) VALUES (3);
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

// The counter statements. locked_at_failure is kept for version-2
// replicas, whose single-statement Fail reports LockedNow when its failure
// count equals it: it is the failure count at which the current lock
// engaged, and failures only grow within an entry.
const (
	getSQL = `
SELECT failures, locks, locked_until_ms, expires_at_ms, pending, pending_until_ms, holds FROM {table}
WHERE realm = $1 AND kind = $2 AND key_digest = $3`
	resetSQL = `DELETE FROM {table} WHERE realm = $1 AND kind = $2 AND key_digest = $3`
	// sweepSQL finds candidates through the lifetime index; keep_until_ms
	// is non-zero only on the few rows with holds.
	sweepSQL = `
DELETE FROM {table} WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM {table} WHERE GREATEST(expires_at_ms, pending_until_ms) <= $1 AND keep_until_ms <= $1 LIMIT {batch}))`
	lockSQL = `
SELECT failures, locks, locked_until_ms, locked_at_failure, expires_at_ms, pending, pending_until_ms, holds FROM {table}
WHERE realm = $1 AND kind = $2 AND key_digest = $3 FOR UPDATE`
	insertSQL = `
INSERT INTO {table} (realm, kind, key_digest, failures, locks, locked_until_ms, locked_at_failure, expires_at_ms,
  pending, pending_until_ms, holds, keep_until_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (realm, kind, key_digest) DO NOTHING`
	updateSQL = `
UPDATE {table} SET failures = $4, locks = $5, locked_until_ms = $6, locked_at_failure = $7, expires_at_ms = $8,
  pending = $9, pending_until_ms = $10, holds = $11, keep_until_ms = $12
WHERE realm = $1 AND kind = $2 AND key_digest = $3`
)

// The quota statements.
const (
	lockQuotaSQL = `
SELECT stamps, expires_at_ms FROM {quota_table} WHERE realm = $1 AND kind = $2 AND key_digest = $3 FOR UPDATE`
	insertQuotaSQL = `
INSERT INTO {quota_table} (realm, kind, key_digest, stamps, expires_at_ms) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (realm, kind, key_digest) DO NOTHING`
	updateQuotaSQL = `
UPDATE {quota_table} SET stamps = $4, expires_at_ms = $5 WHERE realm = $1 AND kind = $2 AND key_digest = $3`
	sweepQuotaSQL = `
DELETE FROM {quota_table} WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM {quota_table} WHERE expires_at_ms <= $1 LIMIT {batch}))`
)

// The link statements.
const (
	linkSQL = `
INSERT INTO {link_table} (realm, kind, key_digest, subject, expires_at_ms) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (realm, kind, key_digest) DO UPDATE SET subject = EXCLUDED.subject, expires_at_ms = EXCLUDED.expires_at_ms`
	resolveSQL = `
SELECT subject FROM {link_table} WHERE realm = $1 AND kind = $2 AND key_digest = $3 AND expires_at_ms > $4`
	sweepLinkSQL = `
DELETE FROM {link_table} WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM {link_table} WHERE expires_at_ms <= $1 LIMIT {batch}))`
)

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

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// holdJSON is one element of the holds column.
type holdJSON struct {
	ID      string `json:"id"`
	UntilMS int64  `json:"until_ms"`
}

func decodeHolds(raw []byte) ([]lockout.Hold, error) {
	var hs []holdJSON
	if err := json.Unmarshal(raw, &hs); err != nil {
		return nil, fmt.Errorf("holds column: %w", err)
	}
	var out []lockout.Hold
	for _, h := range hs {
		out = append(out, lockout.Hold{ID: h.ID, Until: time.UnixMilli(h.UntilMS)})
	}
	return out, nil
}

func encodeHolds(holds []lockout.Hold) string {
	hs := make([]holdJSON, len(holds))
	for i, h := range holds {
		hs[i] = holdJSON{ID: h.ID, UntilMS: h.Until.UnixMilli()}
	}
	b, _ := json.Marshal(hs) // cannot fail
	return string(b)
}

// Fail implements [lockout.Store].
func (s *Store) Fail(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	if err := rule.Validate(); err != nil {
		return lockout.State{}, unavailable("fail", err)
	}
	return s.modify(ctx, "fail", key, now, rule, func(prev lockout.State) (lockout.State, bool) {
		return rule.Apply(prev, now), true
	})
}

// Get implements [lockout.Store].
func (s *Store) Get(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	if err := ctx.Err(); err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	if err := rule.Validate(); err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var st lockout.State
	var lu, ex, pu int64
	var holds []byte
	err := s.db.QueryRow(ctx, s.getSQL, key.Realm, string(key.Kind), key.Digest).
		Scan(&st.Failures, &st.Locks, &lu, &ex, &st.Pending, &pu, &holds)
	if errors.Is(err, pgx.ErrNoRows) {
		return lockout.State{}, nil
	}
	if err == nil {
		st.Holds, err = decodeHolds(holds)
	}
	if err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	st.LockedUntil, st.ExpiresAt, st.PendingUntil = msTime(lu), msTime(ex), msTime(pu)
	st = rule.Current(st, now)
	st.Expired, st.LockedNow = 0, false
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

// Sweep deletes the counters, quotas and links expired at now, in batches,
// and returns how many; it implements [lockout.Sweeper].
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, q := range []string{s.sweepSQL, s.sweepQuotaSQL, s.sweepLinkSQL} {
		for {
			if err := ctx.Err(); err != nil {
				return total, unavailable("sweep", err)
			}
			opCtx, cancel := s.op(ctx)
			tag, err := s.db.Exec(opCtx, q, now.UnixMilli())
			cancel()
			if err != nil {
				return total, unavailable("sweep", err)
			}
			total += int(tag.RowsAffected())
			if tag.RowsAffected() < sweepBatch {
				break
			}
		}
	}
	return total, nil
}

// inTx runs fn in a transaction, bounded by the store's timeout, and
// commits. fn asks for a retry when the row it meant to insert was inserted
// by another transaction meanwhile (or one it locked was deleted).
func (s *Store) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx pgx.Tx) (retry bool, err error)) error {
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	for range maxTxAttempts {
		tx, err := s.db.Begin(ctx)
		if err != nil {
			return unavailable(op, err)
		}
		retry, err := fn(ctx, tx)
		if err == nil && !retry {
			if err := tx.Commit(ctx); err != nil {
				return unavailable(op, err)
			}
			return nil
		}
		_ = tx.Rollback(ctx) // on a broken connection, the pool discards it
		if err != nil {
			return unavailable(op, err)
		}
	}
	return unavailable(op, errors.New("the row kept being inserted and deleted by others"))
}

// counter is a counter row.
type counter struct {
	st       lockout.State
	lockedAt int64 // locked_at_failure (see the counter statements)
}

// modify applies fn to the counter of key under a row lock and writes the
// result when fn says so: an update, an insert, or a delete when nothing is
// left at now. rule gives keep_until_ms.
func (s *Store) modify(ctx context.Context, op string, key lockout.Key, now time.Time, rule lockout.Rule, fn func(prev lockout.State) (next lockout.State, write bool)) (lockout.State, error) {
	var out lockout.State
	err := s.inTx(ctx, op, func(ctx context.Context, tx pgx.Tx) (bool, error) {
		var prev counter
		var lu, ex, pu int64
		var holds []byte
		err := tx.QueryRow(ctx, s.lockSQL, key.Realm, string(key.Kind), key.Digest).
			Scan(&prev.st.Failures, &prev.st.Locks, &lu, &prev.lockedAt, &ex, &prev.st.Pending, &pu, &holds)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		err = nil
		if found {
			if prev.st.Holds, err = decodeHolds(holds); err != nil {
				return false, err
			}
		}
		prev.st.LockedUntil, prev.st.ExpiresAt, prev.st.PendingUntil = msTime(lu), msTime(ex), msTime(pu)
		next, write := fn(prev.st)
		out = next
		if !write {
			return false, nil
		}
		args := []any{key.Realm, string(key.Kind), key.Digest}
		if exp := next.Expiry(); exp.IsZero() || now.UnixMilli() >= exp.UnixMilli() {
			if found {
				_, err = tx.Exec(ctx, s.resetSQL, args...)
			}
			return false, err
		}
		lockedAt := prev.lockedAt
		switch {
		case next.Locks == 0:
			lockedAt = 0
		case next.LockedNow:
			lockedAt = next.Failures
		}
		var keep int64
		if len(next.Holds) > 0 {
			keep = rule.KeepUntil(next).UnixMilli()
		}
		args = append(args, next.Failures, next.Locks, unixMilli(next.LockedUntil), lockedAt,
			unixMilli(next.ExpiresAt), next.Pending, unixMilli(next.PendingUntil), encodeHolds(next.Holds), keep)
		if found {
			_, err = tx.Exec(ctx, s.updateSQL, args...)
			return false, err
		}
		tag, err := tx.Exec(ctx, s.insertSQL, args...)
		return err == nil && tag.RowsAffected() == 0, err
	})
	if err != nil {
		return lockout.State{}, err
	}
	return out, nil
}

// Reserve implements [lockout.Store]. A refusal writes only the expired
// holds it counted.
func (s *Store) Reserve(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, hold time.Duration) (lockout.State, bool, error) {
	if err := errors.Join(rule.Validate(), lockout.ValidateHoldID(id), lockout.ValidateHold(hold)); err != nil {
		return lockout.State{}, false, unavailable("reserve", err)
	}
	var ok bool
	st, err := s.modify(ctx, "reserve", key, now, rule, func(prev lockout.State) (lockout.State, bool) {
		var next lockout.State
		next, ok = rule.Reserve(prev, now, hold, id)
		return next, ok || next.Expired > 0
	})
	if err != nil {
		return lockout.State{}, false, err
	}
	return st, ok, nil
}

// Settle implements [lockout.Store].
func (s *Store) Settle(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, failed bool) (lockout.State, error) {
	if err := errors.Join(rule.Validate(), lockout.ValidateHoldID(id)); err != nil {
		return lockout.State{}, unavailable("settle", err)
	}
	return s.modify(ctx, "settle", key, now, rule, func(prev lockout.State) (lockout.State, bool) {
		return rule.Settle(prev, now, id, failed), true
	})
}

// Take implements [lockout.Store].
func (s *Store) Take(ctx context.Context, key lockout.Key, now time.Time, limits []lockout.Limit) (lockout.Quota, error) {
	if err := lockout.ValidateLimits(limits); err != nil {
		return lockout.Quota{}, unavailable("take", err)
	}
	longest, _ := lockout.QuotaSpan(limits)
	var q lockout.Quota
	err := s.inTx(ctx, "take", func(ctx context.Context, tx pgx.Tx) (bool, error) {
		var stamps []int64
		var exp int64
		args := []any{key.Realm, string(key.Kind), key.Digest}
		err := tx.QueryRow(ctx, s.lockQuotaSQL, args...).Scan(&stamps, &exp)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		if found && now.UnixMilli() >= exp { // expired, not yet swept
			stamps = nil
		}
		var next []int64
		q, next = lockout.TakeQuota(stamps, now, limits)
		if !q.OK {
			return false, nil
		}
		args = append(args, next, next[len(next)-1]+longest.Milliseconds())
		if found {
			_, err = tx.Exec(ctx, s.updateQuotaSQL, args...)
			return false, err
		}
		tag, err := tx.Exec(ctx, s.insertQuotaSQL, args...)
		return err == nil && tag.RowsAffected() == 0, err
	})
	if err != nil {
		return lockout.Quota{}, err
	}
	return q, nil
}

// Link implements [lockout.Store].
func (s *Store) Link(ctx context.Context, handle lockout.Key, subject string, now time.Time, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return unavailable("link", err)
	}
	if err := lockout.ValidateLink(subject, ttl); err != nil {
		return unavailable("link", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.db.Exec(ctx, s.linkSQL, handle.Realm, string(handle.Kind), handle.Digest, subject,
		now.UnixMilli()+ttl.Milliseconds()); err != nil {
		return unavailable("link", err)
	}
	return nil
}

// Resolve implements [lockout.Store].
func (s *Store) Resolve(ctx context.Context, handle lockout.Key, now time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", unavailable("resolve", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var subject string
	err := s.db.QueryRow(ctx, s.resolveSQL, handle.Realm, string(handle.Kind), handle.Digest, now.UnixMilli()).Scan(&subject)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", unavailable("resolve", err)
	}
	return subject, nil
}
