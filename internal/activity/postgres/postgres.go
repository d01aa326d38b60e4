// Package postgres is the PostgreSQL activity store (pgx v5), shared by
// every Hera replica; it uses the lockout store's pool.
//
// Hera creates and migrates its tables at start ([New] runs [Store.Migrate]
// unless Config.SkipMigration): idempotent, serialized between instances by
// an advisory lock, and recorded in a schema-version table, as the lockout
// store does. There are two tables: events (Table: one row per event, its
// JSON in a json column, with at_ms and expires_at_ms beside it) and
// address records (Table_address), and, since version 2, what Hera saw
// of the client behind a flow or session (Table_seen, kept minutes). Rows carry the realm
// (HERA_LOCKOUT_REALM), so deployments can share a database.
//
// Add is one round trip: a batch that PostgreSQL runs as one implicit
// transaction — it takes a transaction advisory lock on the identity (so
// concurrent Adds of one identity, from any replica, apply the bound one
// after the other), inserts the event unless its ID is there, and deletes
// what is past retention and beyond the bound. SetAddresses takes the same
// lock to read the previous record and write the new one. Event IDs are
// ordered bytewise (COLLATE "C"), as the other stores order them.
//
// Times are Unix milliseconds taken from the caller, never from the
// database clock. A row lives until expires_at_ms (its time plus the
// retention it was written under; an address record: its last write plus
// the retention), and [Store.Sweep], run periodically, deletes rows past
// it — also of identities nobody writes to again.
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

	"github.com/heraproject/hera/internal/activity"
)

// DB is what the store needs from a database handle; *pgxpool.Pool
// satisfies it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// Realm namespaces the rows (HERA_LOCKOUT_REALM). Default "ciam".
	Realm string
	// Table is the name of the events table, in the connection's search
	// path; address records are kept in Table + "_address" and the schema
	// version in Table + "_schema". Default "hera_activity". Lower-case
	// letters, digits and '_', at most 48.
	Table string
	// Timeout bounds every operation. Default 2 s.
	Timeout time.Duration
	// SweepInterval is how often expired rows are deleted in the
	// background. Default 5 min; negative disables the background sweep.
	SweepInterval time.Duration
	// Now is the clock of the background sweep. Default time.Now.
	Now func() time.Time
	// SkipMigration makes New not create or migrate the schema.
	SkipMigration bool
}

// Defaults.
const (
	DefaultRealm         = "ciam"
	DefaultTable         = "hera_activity"
	DefaultTimeout       = 2 * time.Second
	DefaultSweepInterval = 5 * time.Minute
	// SchemaVersion is the schema version this code migrates to.
	SchemaVersion = 2
	// sweepBatch is how many rows one sweep statement deletes at most.
	sweepBatch = 5000
	// lockClass is the first key of the advisory locks ("HeAc"); the
	// lockout store's migration uses 1213354561 ("HeLA").
	lockClass = 1214595427
)

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// Store is a PostgreSQL [activity.Store]. It is safe for concurrent use if
// its DB is.
type Store struct {
	db  DB
	cfg Config

	migrateSQL, lockSQL, insertSQL, expireSQL, boundSQL, listSQL string
	forgetSQL, forgetAddrSQL, getAddrSQL, setAddrSQL             string
	sweepSQL, sweepAddrSQL, sweepSeenSQL, putSeenSQL, getSeenSQL string

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var _ activity.Store = (*Store)(nil)

// New returns a store over db, migrates the schema (unless
// Config.SkipMigration) and starts the background sweep; Close stops it.
// Errors reaching the database wrap [activity.ErrUnavailable].
func New(ctx context.Context, db DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("postgres: nil DB")
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
		"{addr_table}", pgx.Identifier{cfg.Table + "_address"}.Sanitize(),
		"{order_index}", pgx.Identifier{cfg.Table + "_order"}.Sanitize(),
		"{expires_index}", pgx.Identifier{cfg.Table + "_exp"}.Sanitize(),
		"{addr_expires_index}", pgx.Identifier{cfg.Table + "_address_exp"}.Sanitize(),
		"{seen_table}", pgx.Identifier{cfg.Table + "_seen"}.Sanitize(),
		"{seen_expires_index}", pgx.Identifier{cfg.Table + "_seen_exp"}.Sanitize(),
		"{name}", cfg.Table, // validated: needs no quoting in a string literal
		"{class}", strconv.Itoa(lockClass),
		"{batch}", strconv.Itoa(sweepBatch),
	)
	for _, q := range []struct {
		dst *string
		sql string
	}{
		{&s.migrateSQL, migrateSQL}, {&s.lockSQL, lockSQL}, {&s.insertSQL, insertSQL}, {&s.expireSQL, expireSQL},
		{&s.boundSQL, boundSQL}, {&s.listSQL, listSQL}, {&s.forgetSQL, forgetSQL}, {&s.forgetAddrSQL, forgetAddrSQL},
		{&s.getAddrSQL, getAddrSQL}, {&s.setAddrSQL, setAddrSQL}, {&s.sweepSQL, sweepSQL}, {&s.sweepAddrSQL, sweepAddrSQL},
		{&s.sweepSeenSQL, sweepSeenSQL}, {&s.putSeenSQL, putSeenSQL}, {&s.getSeenSQL, getSeenSQL},
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

// migrateSQL creates the schema, as the lockout store's does: one implicit
// transaction serialized between instances by an advisory lock; a database
// at a newer version is left alone. The events are kept as json, not
// jsonb: json keeps any string Go encodes (jsonb refuses \u0000).
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
      realm         text   NOT NULL,
      identity      text   NOT NULL,
      id            text   COLLATE "C" NOT NULL,
      at_ms         bigint NOT NULL,
      expires_at_ms bigint NOT NULL,
      event         json   NOT NULL,
      PRIMARY KEY (realm, identity, id)
    );
    CREATE INDEX IF NOT EXISTS {order_index} ON {table} (realm, identity, at_ms DESC, id);
    CREATE INDEX IF NOT EXISTS {expires_index} ON {table} (expires_at_ms);
    COMMENT ON TABLE {table} IS 'Hera account activity (internal/activity/postgres); times are Unix ms';
    CREATE TABLE IF NOT EXISTS {addr_table} (
      realm         text   NOT NULL,
      identity      text   NOT NULL,
      addrs         json   NOT NULL,
      expires_at_ms bigint NOT NULL,
      PRIMARY KEY (realm, identity)
    );
    CREATE INDEX IF NOT EXISTS {addr_expires_index} ON {addr_table} (expires_at_ms);
    COMMENT ON TABLE {addr_table} IS 'Hera: each account''s verified addresses as last seen (internal/activity/postgres); times are Unix ms';
    INSERT INTO {schema_table} (version) VALUES (1);
  END IF;
  IF v < 2 THEN
    CREATE TABLE IF NOT EXISTS {seen_table} (
      realm         text   NOT NULL,
      key           text   NOT NULL,
      seen          json   NOT NULL,
      expires_at_ms bigint NOT NULL,
      PRIMARY KEY (realm, key)
    );
    CREATE INDEX IF NOT EXISTS {seen_expires_index} ON {seen_table} (expires_at_ms);
    COMMENT ON TABLE {seen_table} IS 'Hera: the client behind a flow or session, for minutes, until Kratos''s web hook is joined with it (internal/activity/postgres); times are Unix ms';
    INSERT INTO {schema_table} (version) VALUES (2);
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

// The statements. $1 is the realm, $2 the identity throughout.
const (
	// lockSQL serializes the writes of one identity until the end of the
	// (implicit) transaction. Two identities whose hashes collide only wait
	// on each other.
	lockSQL   = `SELECT pg_advisory_xact_lock({class}, hashtext($1 || ':' || $2))`
	insertSQL = `
INSERT INTO {table} (realm, identity, id, at_ms, expires_at_ms, event) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (realm, identity, id) DO NOTHING`
	expireSQL = `DELETE FROM {table} WHERE realm = $1 AND identity = $2 AND at_ms <= $3`
	boundSQL  = `
DELETE FROM {table} WHERE realm = $1 AND identity = $2 AND id IN (
  SELECT id FROM {table} WHERE realm = $1 AND identity = $2 ORDER BY at_ms DESC, id OFFSET $3)`
	listSQL = `
SELECT event FROM {table} WHERE realm = $1 AND identity = $2 AND at_ms > $3 ORDER BY at_ms DESC, id LIMIT $4`
	forgetSQL     = `DELETE FROM {table} WHERE realm = $1 AND identity = $2`
	forgetAddrSQL = `DELETE FROM {addr_table} WHERE realm = $1 AND identity = $2`
	getAddrSQL    = `SELECT addrs FROM {addr_table} WHERE realm = $1 AND identity = $2 AND expires_at_ms > $3`
	setAddrSQL    = `
INSERT INTO {addr_table} (realm, identity, addrs, expires_at_ms) VALUES ($1, $2, $3, $4)
ON CONFLICT (realm, identity) DO UPDATE SET addrs = EXCLUDED.addrs, expires_at_ms = EXCLUDED.expires_at_ms`
	sweepSQL = `
DELETE FROM {table} WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM {table} WHERE expires_at_ms <= $1 LIMIT {batch}))`
	sweepAddrSQL = `
DELETE FROM {addr_table} WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM {addr_table} WHERE expires_at_ms <= $1 LIMIT {batch}))`
	sweepSeenSQL = `
DELETE FROM {seen_table} WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM {seen_table} WHERE expires_at_ms <= $1 LIMIT {batch}))`
	putSeenSQL = `
INSERT INTO {seen_table} (realm, key, seen, expires_at_ms) VALUES ($1, $2, $3, $4)
ON CONFLICT (realm, key) DO UPDATE SET seen = EXCLUDED.seen, expires_at_ms = EXCLUDED.expires_at_ms`
	getSeenSQL = `SELECT seen FROM {seen_table} WHERE realm = $1 AND key = $2 AND expires_at_ms > $3`
)

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: postgres %s: %w", activity.ErrUnavailable, op, err)
}

// batch sends b as one round trip — one implicit transaction — and reads
// every result, so the first error is the batch's.
func (s *Store) batch(ctx context.Context, b *pgx.Batch) error {
	br := s.db.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return err
		}
	}
	return br.Close()
}

// Add implements [activity.Store].
func (s *Store) Add(ctx context.Context, e activity.Event, now time.Time, p activity.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	e, data, err := activity.Encode(e)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("add", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	at := e.At.UnixMilli()
	var b pgx.Batch
	b.Queue(s.lockSQL, s.cfg.Realm, e.Identity)
	b.Queue(s.insertSQL, s.cfg.Realm, e.Identity, e.ID, at, at+p.Retention.Milliseconds(), string(data))
	b.Queue(s.expireSQL, s.cfg.Realm, e.Identity, p.Cutoff(now).UnixMilli())
	b.Queue(s.boundSQL, s.cfg.Realm, e.Identity, p.MaxPerIdentity)
	if err := s.batch(ctx, &b); err != nil {
		return unavailable("add", err)
	}
	return nil
}

// List implements [activity.Store].
func (s *Store) List(ctx context.Context, identity string, now time.Time, p activity.Policy, limit int) ([]activity.Event, error) {
	if err := errors.Join(p.Validate(), activity.ValidateIdentity(identity)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("list", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	rows, err := s.db.Query(ctx, s.listSQL, s.cfg.Realm, identity, p.Cutoff(now).UnixMilli(), activity.ListLimit(p, limit))
	if err != nil {
		return nil, unavailable("list", err)
	}
	defer rows.Close()
	out := []activity.Event{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, unavailable("list", err)
		}
		e, err := activity.Decode(raw)
		if err != nil {
			return nil, unavailable("list", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list", err)
	}
	return out, nil
}

// Forget implements [activity.Store].
func (s *Store) Forget(ctx context.Context, identity string) error {
	if err := activity.ValidateIdentity(identity); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("forget", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var b pgx.Batch
	b.Queue(s.lockSQL, s.cfg.Realm, identity)
	b.Queue(s.forgetSQL, s.cfg.Realm, identity)
	b.Queue(s.forgetAddrSQL, s.cfg.Realm, identity)
	if err := s.batch(ctx, &b); err != nil {
		return unavailable("forget", err)
	}
	return nil
}

// SetAddresses implements [activity.Store].
func (s *Store) SetAddresses(ctx context.Context, identity string, addrs []string, now time.Time, p activity.Policy) ([]string, error) {
	if err := errors.Join(p.Validate(), activity.ValidateIdentity(identity), activity.ValidateAddresses(addrs)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("set addresses", err)
	}
	if addrs == nil {
		addrs = []string{}
	}
	data, err := json.Marshal(addrs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var b pgx.Batch
	b.Queue(s.lockSQL, s.cfg.Realm, identity)
	var prev []string
	b.Queue(s.getAddrSQL, s.cfg.Realm, identity, now.UnixMilli()).QueryRow(func(row pgx.Row) error {
		var raw []byte
		err := row.Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		prev = []string{}
		return json.Unmarshal(raw, &prev)
	})
	b.Queue(s.setAddrSQL, s.cfg.Realm, identity, string(data), now.UnixMilli()+p.Retention.Milliseconds())
	if err := s.db.SendBatch(ctx, &b).Close(); err != nil {
		return nil, unavailable("set addresses", err)
	}
	return prev, nil
}

// PutSeen implements [activity.Store].
func (s *Store) PutSeen(ctx context.Context, key string, v activity.Seen, now time.Time, ttl time.Duration) error {
	data, err := activity.EncodeSeen(key, v, ttl)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("put seen", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if _, err := s.db.Exec(ctx, s.putSeenSQL, s.cfg.Realm, key, string(data), now.UnixMilli()+ttl.Milliseconds()); err != nil {
		return unavailable("put seen", err)
	}
	return nil
}

// GetSeen implements [activity.Store].
func (s *Store) GetSeen(ctx context.Context, key string, now time.Time) (activity.Seen, bool, error) {
	if err := activity.ValidateSeenKey(key); err != nil {
		return activity.Seen{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	rows, err := s.db.Query(ctx, s.getSeenSQL, s.cfg.Realm, key, now.UnixMilli())
	if err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return activity.Seen{}, false, unavailable("get seen", err)
		}
		return activity.Seen{}, false, nil
	}
	var raw []byte
	if err := rows.Scan(&raw); err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	v, err := activity.DecodeSeen(raw)
	if err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	return v, true, nil
}

// Sweep deletes the events, address records and Seen records expired at
// now, in batches, and returns how many.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, q := range []string{s.sweepSQL, s.sweepAddrSQL, s.sweepSeenSQL} {
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
