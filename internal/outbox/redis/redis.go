// Package redis is the Redis mail queue (go-redis v9), shared by every Hera
// replica; it uses the lockout store's client.
//
// A realm's queue is six keys, updated only by Lua scripts, so each
// operation is atomic across replicas:
//
//	<prefix>{<realm>}:q  sorted set: message ID → when it is claimable
//	                     (its due time, or the end of its lease; Unix ms)
//	<prefix>{<realm>}:m  hash: ID → the message as enqueued (JSON)
//	<prefix>{<realm>}:o  hash: ID → the owner of its lease
//	<prefix>{<realm>}:a  hash: ID → failed attempts
//	<prefix>{<realm>}:e  hash: ID → the last error
//	<prefix>{<realm>}:d  sorted set: ID → when its deduplication ends
//
// The hash tag puts them on one Redis Cluster slot (a queue holds at most
// Config.MaxQueued messages). Ended deduplication records are deleted at
// each Enqueue and Claim. Times come from the caller, never from the
// Redis clock. The queue is durable as Redis is: run it with AOF (see
// docs/operations.md).
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/outbox"
)

// Client is what the queue needs from a go-redis client; *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient satisfy it.
type Client interface {
	redis.Scripter
	HLen(ctx context.Context, key string) *redis.IntCmd
}

// Config configures a [Queue]. Zero fields take the defaults.
type Config struct {
	outbox.Config
	// Prefix is prepended to every key. Default "hera:outbox:".
	Prefix string
	// Realm namespaces the keys (HERA_LOCKOUT_REALM). Default "ciam".
	Realm string
	// Timeout bounds every operation. Default 1 s.
	Timeout time.Duration
}

// Defaults.
const (
	DefaultPrefix  = "hera:outbox:"
	DefaultRealm   = "ciam"
	DefaultTimeout = time.Second
)

// Queue is a Redis [outbox.Queue]. It is safe for concurrent use.
type Queue struct {
	c    Client
	cfg  Config
	keys []string // q, m, o, a, e, d
}

var _ outbox.Queue = (*Queue)(nil)

// New returns a queue over c. It does not contact Redis.
func New(c Client, cfg Config) (*Queue, error) {
	if c == nil {
		return nil, errors.New("redis: nil client")
	}
	cfg.Config = cfg.Config.WithDefaults()
	if err := cfg.Config.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("redis: Timeout %v: must be positive", cfg.Timeout)
	}
	base := cfg.Prefix + "{" + cfg.Realm + "}:"
	keys := []string{base + "q", base + "m", base + "o", base + "a", base + "e", base + "d"}
	return &Queue{c: c, cfg: cfg, keys: keys}, nil
}

// Keys returns the queue's keys (for tests and operations): the claimable
// set, messages, owners, attempts, errors, deduplication.
func (q *Queue) Keys() []string { return append([]string(nil), q.keys...) }

// keysLua names the keys for every script.
const keysLua = `
local q, m, o, a, e, d = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local function forget(id)
  redis.call('ZREM', q, id)
  redis.call('HDEL', m, id)
  redis.call('HDEL', o, id)
  redis.call('HDEL', a, id)
  redis.call('HDEL', e, id)
end
`

// enqueueScript is Enqueue.
//
//	ARGV: id, message JSON, now, end of deduplication, max queued
//	returns 1 queued, 0 duplicate, -1 full
var enqueueScript = redis.NewScript(keysLua + `
local id, now = ARGV[1], ARGV[3]
redis.call('ZREMRANGEBYSCORE', d, '-inf', now)
if redis.call('HEXISTS', m, id) == 1 or redis.call('ZSCORE', d, id) then
  return 0
end
if redis.call('HLEN', m) >= tonumber(ARGV[5]) then
  return -1
end
redis.call('HSET', m, id, ARGV[2])
redis.call('ZADD', q, now, id)
redis.call('ZADD', d, ARGV[4], id)
return 1
`)

// claimScript is Claim.
//
//	ARGV: now, end of the lease, max, owner
//	returns id, message JSON, attempts, last error for each message
var claimScript = redis.NewScript(keysLua + `
redis.call('ZREMRANGEBYSCORE', d, '-inf', ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', q, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', q, ARGV[2], id)
  redis.call('HSET', o, id, ARGV[4])
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', m, id) or ''
  out[#out + 1] = redis.call('HGET', a, id) or '0'
  out[#out + 1] = redis.call('HGET', e, id) or ''
end
return out
`)

// doneScript is Done.
//
//	ARGV: id, owner
//	returns 1 done, 0 not leased to owner
var doneScript = redis.NewScript(keysLua + `
if redis.call('HGET', o, ARGV[1]) ~= ARGV[2] then
  return 0
end
forget(ARGV[1])
return 1
`)

// retryScript is Retry.
//
//	ARGV: id, owner, due again at, error, max attempts
//	returns 0 retried, 1 dropped, -1 not leased to owner
var retryScript = redis.NewScript(keysLua + `
local id = ARGV[1]
if redis.call('HGET', o, id) ~= ARGV[2] then
  return -1
end
local n = redis.call('HINCRBY', a, id, 1)
if n >= tonumber(ARGV[5]) then
  forget(id)
  return 1
end
redis.call('HSET', e, id, ARGV[4])
redis.call('HDEL', o, id)
redis.call('ZADD', q, ARGV[3], id)
return 0
`)

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", outbox.ErrUnavailable, op, err)
}

// run runs a script bounded by the queue's timeout.
func (q *Queue) run(ctx context.Context, op string, s *redis.Script, args ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	v, err := s.Run(ctx, q.c, q.keys, args...).Result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	return v, nil
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
	n := now.UnixMilli()
	v, err := q.run(ctx, "enqueue", enqueueScript, m.ID, data, n, n+q.cfg.DedupFor.Milliseconds(), q.cfg.MaxQueued)
	if err != nil {
		return false, err
	}
	switch v {
	case int64(1):
		return true, nil
	case int64(0):
		return false, nil
	case int64(-1):
		return false, outbox.ErrFull
	}
	return false, unavailable("enqueue", fmt.Errorf("script answered %v", v))
}

// Claim implements [outbox.Queue].
func (q *Queue) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]outbox.Message, error) {
	if err := outbox.ValidateClaim(owner, lease, max); err != nil {
		return nil, err
	}
	n := now.UnixMilli()
	v, err := q.run(ctx, "claim", claimScript, n, n+lease.Milliseconds(), max, owner)
	if err != nil {
		return nil, err
	}
	res, ok := v.([]any)
	if !ok || len(res)%4 != 0 {
		return nil, unavailable("claim", fmt.Errorf("malformed script answer"))
	}
	out := make([]outbox.Message, 0, len(res)/4)
	for i := 0; i < len(res); i += 4 {
		id, _ := res[i].(string)
		raw, _ := res[i+1].(string)
		attempts, _ := res[i+2].(string)
		lastError, _ := res[i+3].(string)
		var m outbox.Message
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, unavailable("claim", fmt.Errorf("message %q: %w", id, err))
		}
		if m.Attempts, err = strconv.Atoi(attempts); err != nil {
			return nil, unavailable("claim", fmt.Errorf("message %q: attempts: %w", id, err))
		}
		m.LastError, m.Created = lastError, outbox.Millis(m.Created)
		out = append(out, m)
	}
	return out, nil
}

// Done implements [outbox.Queue].
func (q *Queue) Done(ctx context.Context, id, owner string) error {
	if err := errors.Join(outbox.ValidateID("message ID", id), outbox.ValidateID("owner", owner)); err != nil {
		return err
	}
	v, err := q.run(ctx, "done", doneScript, id, owner)
	if err != nil {
		return err
	}
	if v != int64(1) {
		return outbox.ErrLeaseLost
	}
	return nil
}

// Retry implements [outbox.Queue].
func (q *Queue) Retry(ctx context.Context, id, owner string, at time.Time, errText string, maxAttempts int) (bool, error) {
	if err := outbox.ValidateRetry(id, owner, maxAttempts); err != nil {
		return false, err
	}
	v, err := q.run(ctx, "retry", retryScript, id, owner, at.UnixMilli(), outbox.CutError(errText), maxAttempts)
	if err != nil {
		return false, err
	}
	switch v {
	case int64(0):
		return false, nil
	case int64(1):
		return true, nil
	}
	return false, outbox.ErrLeaseLost
}

// Len implements [outbox.Queue].
func (q *Queue) Len(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("len", err)
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	n, err := q.c.HLen(ctx, q.keys[1]).Result()
	if err != nil {
		return 0, unavailable("len", err)
	}
	return int(n), nil
}
