// Package redis is the Redis activity store (go-redis v9), shared by every
// Hera replica; it uses the lockout store's client.
//
// An identity's events are two keys: a sorted set of event IDs scored by
// their time (Unix ms) and a hash of ID → the event's JSON. Add is one Lua
// script, so concurrent Adds of one identity from any replica apply the
// bound one after the other; List is one script too, reading the IDs within
// retention newest first (ties by ID, in byte order, as Redis orders
// members) and their events. Both keys get a TTL until a retention after
// the newest event, so Redis deletes an identity nobody writes to; events
// that went past retention before that are deleted by the identity's next
// Add, and never listed. The address record is a string
// "<expires ms>:<JSON array>" written by SET … GET with a TTL of the
// retention. Times come from the caller, never from the Redis clock.
//
// Keys are "<prefix>{<realm>:<identity>}:z", ":e" and ":a": the hash tag
// puts an identity's keys on one Redis Cluster slot, as its scripts and
// Forget's DEL need. A Seen record (PutSeen) is a string
// "<expires ms>:<JSON>" at "<prefix><realm>:seen:<key>" with its TTL.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/activity"
)

// Client is what the store needs from a go-redis client; *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient satisfy it.
type Client interface {
	redis.Scripter
	Del(ctx context.Context, keys ...string) *redis.IntCmd
	SetArgs(ctx context.Context, key string, value any, a redis.SetArgs) *redis.StatusCmd
	Get(ctx context.Context, key string) *redis.StringCmd
}

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// Prefix is prepended to every key. Default "hera:activity:".
	Prefix string
	// Realm namespaces the keys (HERA_LOCKOUT_REALM). Default "ciam".
	Realm string
	// Timeout bounds every operation. Default 1 s.
	Timeout time.Duration
}

// Defaults.
const (
	DefaultPrefix  = "hera:activity:"
	DefaultRealm   = "ciam"
	DefaultTimeout = time.Second
)

// Store is a Redis [activity.Store]. It is safe for concurrent use.
type Store struct {
	c   Client
	cfg Config
}

var _ activity.Store = (*Store)(nil)

// New returns a store over c. It does not contact Redis.
func New(c Client, cfg Config) (*Store, error) {
	if c == nil {
		return nil, errors.New("redis: nil client")
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
	return &Store{c: c, cfg: cfg}, nil
}

// Keys returns the keys of identity's events (sorted set, hash) and its
// address record (for tests and operations).
func (s *Store) Keys(identity string) (set, events, addrs string) {
	base := s.cfg.Prefix + "{" + s.cfg.Realm + ":" + identity + "}"
	return base + ":z", base + ":e", base + ":a"
}

// SeenKey returns the key of a Seen record (for tests and operations).
func (s *Store) SeenKey(key string) string { return s.cfg.Prefix + s.cfg.Realm + ":seen:" + key }

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
	exp := now.UnixMilli() + ttl.Milliseconds()
	if err := s.c.SetArgs(ctx, s.SeenKey(key), strconv.FormatInt(exp, 10)+":"+string(data), redis.SetArgs{TTL: ttl}).Err(); err != nil {
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
	raw, err := s.c.Get(ctx, s.SeenKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return activity.Seen{}, false, nil
	}
	if err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	expStr, data, ok := strings.Cut(raw, ":")
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if !ok || err != nil {
		return activity.Seen{}, false, unavailable("get seen", fmt.Errorf("malformed seen record at %s", s.SeenKey(key)))
	}
	if exp <= now.UnixMilli() { // ended by the caller's clock, not yet Redis's
		return activity.Seen{}, false, nil
	}
	v, err := activity.DecodeSeen([]byte(data))
	if err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	return v, true, nil
}

// dropLua deletes members (a table) from the set and the hash, in chunks
// (Lua's unpack has a bounded stack).
const dropLua = `
local function drop(z, e, ids)
  for i = 1, #ids, 1000 do
    local chunk = {}
    for j = i, math.min(i + 999, #ids) do
      chunk[#chunk + 1] = ids[j]
    end
    redis.call('ZREM', z, unpack(chunk))
    redis.call('HDEL', e, unpack(chunk))
  end
end
`

// addScript is Add.
//
//	KEYS: the set, the hash
//	ARGV: at, id, event JSON, cutoff, max per identity, retention, now (ms)
//	returns 1 if the event was stored, 0 if its ID was there
//
// The bound drops the last events in List's order: the oldest, and among
// those of one time the last by ID — the set orders members of one score
// by ID, so those are the last of their score.
var addScript = redis.NewScript(dropLua + `
local z, e = KEYS[1], KEYS[2]
local cutoff, max, ret, now = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local stored = redis.call('HSETNX', e, ARGV[2], ARGV[3])
if stored == 1 then
  redis.call('ZADD', z, ARGV[1], ARGV[2])
end
drop(z, e, redis.call('ZRANGEBYSCORE', z, '-inf', cutoff))
local n = redis.call('ZCARD', z) - max
if n > 0 then
  local b = redis.call('ZRANGE', z, n - 1, n - 1, 'WITHSCORES')[2]
  local ids = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. b)
  local ties = redis.call('ZRANGEBYSCORE', z, b, b)
  for i = #ties - (n - #ids) + 1, #ties do
    ids[#ids + 1] = ties[i]
  end
  drop(z, e, ids)
end
local newest = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')[2]
if newest == nil then
  redis.call('DEL', z, e)
else
  local ttl = tonumber(newest) + ret - now
  redis.call('PEXPIRE', z, string.format('%d', ttl))
  redis.call('PEXPIRE', e, string.format('%d', ttl))
end
return stored
`)

// listScript is List.
//
//	KEYS: the set, the hash
//	ARGV: cutoff, limit (ms, count)
//	returns the events' JSON, newest first, ties by ID
//
// ZREVRANGEBYSCORE returns members of one score in reverse ID order; each
// such run is turned around.
var listScript = redis.NewScript(`
local limit = tonumber(ARGV[2])
local r = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. ARGV[1], 'WITHSCORES')
local ids = {}
local i = 1
while i <= #r and #ids < limit do
  local j = i
  while j + 2 <= #r and r[j + 3] == r[i + 1] do
    j = j + 2
  end
  for k = j, i, -2 do
    if #ids < limit then
      ids[#ids + 1] = r[k]
    end
  end
  i = j + 2
end
local out = {}
for i = 1, #ids, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #ids) do
    chunk[#chunk + 1] = ids[j]
  end
  local vals = redis.call('HMGET', KEYS[2], unpack(chunk))
  for _, v in ipairs(vals) do
    out[#out + 1] = v
  end
end
return out
`)

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", activity.ErrUnavailable, op, err)
}

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
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
	z, h, _ := s.Keys(e.Identity)
	err = addScript.Run(ctx, s.c, []string{z, h}, e.At.UnixMilli(), e.ID, data, p.Cutoff(now).UnixMilli(),
		p.MaxPerIdentity, p.Retention.Milliseconds(), now.UnixMilli()).Err()
	if err != nil {
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
	z, h, _ := s.Keys(identity)
	res, err := listScript.Run(ctx, s.c, []string{z, h}, p.Cutoff(now).UnixMilli(), activity.ListLimit(p, limit)).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("list", err)
	}
	out := make([]activity.Event, 0, len(res))
	for _, v := range res {
		raw, ok := v.(string)
		if !ok { // an ID without its event: cannot happen within a script
			return nil, unavailable("list", fmt.Errorf("event missing from %s", h))
		}
		e, err := activity.Decode([]byte(raw))
		if err != nil {
			return nil, unavailable("list", err)
		}
		out = append(out, e)
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
	z, h, a := s.Keys(identity)
	if err := s.c.Del(ctx, z, h, a).Err(); err != nil {
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
	_, _, key := s.Keys(identity)
	exp := now.UnixMilli() + p.Retention.Milliseconds()
	old, err := s.c.SetArgs(ctx, key, strconv.FormatInt(exp, 10)+":"+string(data), redis.SetArgs{TTL: p.Retention, Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("set addresses", err)
	}
	expStr, raw, ok := strings.Cut(old, ":")
	oldExp, err := strconv.ParseInt(expStr, 10, 64)
	if !ok || err != nil {
		return nil, unavailable("set addresses", fmt.Errorf("malformed address record at %s", key))
	}
	if oldExp <= now.UnixMilli() { // ended by the caller's clock, not yet Redis's
		return nil, nil
	}
	prev := []string{}
	if err := json.Unmarshal([]byte(raw), &prev); err != nil {
		return nil, unavailable("set addresses", err)
	}
	return prev, nil
}
