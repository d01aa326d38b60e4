// Package redis is the Redis lockout store (go-redis v9), for several Hera
// instances sharing counters.
//
// Each key is a hash (fields f, k, lu, la, ex: failures, locks, locked until,
// failure that engaged the lock, expires at; times in Unix ms) updated by one
// Lua script, so concurrent failures are counted exactly. The time comes from
// the caller as a script argument, never from the Redis clock; every write
// also sets a real TTL (ExpiresAt - now), so Redis deletes expired entries by
// itself. Keys are "<prefix><realm>:<kind>:<digest>"; one key per script, so
// Redis Cluster works.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/lockout"
)

// Client is what the store needs from a go-redis client; *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient satisfy it.
type Client interface {
	redis.Scripter
	HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd
	Del(ctx context.Context, keys ...string) *redis.IntCmd
}

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// Prefix is prepended to every key. Default "hera:lockout:".
	Prefix string
	// Timeout bounds every operation. Default 1 s.
	Timeout time.Duration
}

// Defaults.
const (
	DefaultPrefix  = "hera:lockout:"
	DefaultTimeout = time.Second
)

// Store is a Redis [lockout.Store]. It is safe for concurrent use.
type Store struct {
	c   Client
	cfg Config
}

var _ lockout.Store = (*Store)(nil)

// New returns a store over c. It does not contact Redis.
func New(c Client, cfg Config) (*Store, error) {
	if c == nil {
		return nil, errors.New("redis: nil client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("redis: Timeout %v: must be positive", cfg.Timeout)
	}
	return &Store{c: c, cfg: cfg}, nil
}

// failScript is lockout.Rule.Apply. Lua numbers are doubles: exact for
// millisecond timestamps, and a lock duration too large to be exact is
// capped at the (exact) maximum anyway.
//
//	KEYS[1] key
//	ARGV: now, max failures, window, lock duration, max lock duration (ms)
//	returns {failures, locks, locked until, expires at, locked now (0/1)}
var failScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local maxf = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
local lockd = tonumber(ARGV[4])
local maxlock = tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'f', 'k', 'lu', 'ex')
local f, k, lu, ex = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]), tonumber(v[4])
if not ex or now >= ex then
  f, k, lu, ex = 0, 0, 0, now + win
end
f = f + 1
local locked = 0
if f >= maxf and now >= lu then
  k = k + 1
  local shift = math.min(k - 1, 30)
  lu = now + math.min(maxlock, lockd * 2 ^ shift)
  if lu + win > ex then
    ex = lu + win
  end
  locked = 1
end
redis.call('HSET', KEYS[1], 'f', string.format('%d', f), 'k', string.format('%d', k),
  'lu', string.format('%d', lu), 'ex', string.format('%d', ex))
redis.call('PEXPIRE', KEYS[1], string.format('%d', ex - now))
return {f, k, lu, ex, locked}
`)

func (s *Store) key(k lockout.Key) string { return s.cfg.Prefix + k.String() }

// Key returns the Redis key used for k (for tests and operations).
func (s *Store) Key(k lockout.Key) string { return s.key(k) }

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", lockout.ErrUnavailable, op, err)
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
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := failScript.Run(ctx, s.c, []string{s.key(key)},
		now.UnixMilli(), rule.MaxFailures, rule.Window.Milliseconds(),
		rule.LockDuration.Milliseconds(), rule.MaxLockDuration.Milliseconds()).Int64Slice()
	if err != nil {
		return lockout.State{}, unavailable("fail", err)
	}
	if len(res) != 5 {
		return lockout.State{}, unavailable("fail", fmt.Errorf("script returned %d values, want 5", len(res)))
	}
	return lockout.State{
		Failures:    res[0],
		Locks:       int(res[1]),
		LockedUntil: msTime(res[2]),
		ExpiresAt:   msTime(res[3]),
		LockedNow:   res[4] == 1,
	}, nil
}

// Get implements [lockout.Store].
func (s *Store) Get(ctx context.Context, key lockout.Key, now time.Time) (lockout.State, error) {
	if err := ctx.Err(); err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	vals, err := s.c.HMGet(ctx, s.key(key), "f", "k", "lu", "ex").Result()
	if err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	var n [4]int64
	for i, v := range vals {
		str, ok := v.(string)
		if !ok { // absent field: no entry
			return lockout.State{}, nil
		}
		if n[i], err = strconv.ParseInt(str, 10, 64); err != nil {
			return lockout.State{}, unavailable("get", fmt.Errorf("field %d: %w", i, err))
		}
	}
	if now.UnixMilli() >= n[3] {
		return lockout.State{}, nil
	}
	return lockout.State{Failures: n[0], Locks: int(n[1]), LockedUntil: msTime(n[2]), ExpiresAt: msTime(n[3])}, nil
}

// Reset implements [lockout.Store].
func (s *Store) Reset(ctx context.Context, key lockout.Key) error {
	if err := ctx.Err(); err != nil {
		return unavailable("reset", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.c.Del(ctx, s.key(key)).Err(); err != nil {
		return unavailable("reset", err)
	}
	return nil
}
