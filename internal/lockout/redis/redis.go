// Package redis is the Redis lockout store (go-redis v9), for several Hera
// instances sharing counters.
//
// Each counter is a hash (fields f, k, lu, ex, p, pu: failures, locks,
// locked until, window expires at, pending reservations, pending until;
// times in Unix ms) updated by one Lua script per operation, so concurrent
// failures and reservations are counted exactly. A send quota is a string
// "expires:stamp,stamp,..." (the accepted uses, Unix ms) updated by one Lua
// script; a session link is a string "expires:subject" written by SET with
// a TTL. The time comes from the caller as an argument, never from the Redis
// clock; every write also sets a real TTL (the entry's end - now), so Redis
// deletes expired entries by itself.
//
// Keys are "<prefix><realm>:<kind>:<digest>" for counters,
// "<prefix>#quota:<realm>:<kind>:<digest>" for quotas and
// "<prefix>#link:<realm>:<kind>:<digest>" for links (realms never contain
// '#', so these never collide); one key per script, so Redis Cluster works.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
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

// counterLua is shared by the counter scripts. Lua numbers are doubles:
// exact for millisecond timestamps, and a lock duration too large to be
// exact is capped at the (exact) maximum anyway.
//
// load reads a counter as lockout.State.Current sees it at now; save writes
// it with a TTL until its end (the later of ex and pu), or deletes it when
// nothing is left; fail is lockout.Rule.Apply on a loaded counter.
const counterLua = `
local function load(key, now)
  local v = redis.call('HMGET', key, 'f', 'k', 'lu', 'ex', 'p', 'pu')
  local f, k, lu, ex = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
  local p, pu = tonumber(v[5]) or 0, tonumber(v[6]) or 0
  if ex ~= 0 and now >= ex then
    f, k, lu, ex = 0, 0, 0, 0
  end
  if pu ~= 0 and now >= pu then
    p, pu = 0, 0
  end
  return f, k, lu, ex, p, pu
end
local function save(key, now, f, k, lu, ex, p, pu)
  local life = math.max(ex, pu)
  if life <= now then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'f', string.format('%d', f), 'k', string.format('%d', k),
    'lu', string.format('%d', lu), 'ex', string.format('%d', ex),
    'p', string.format('%d', p), 'pu', string.format('%d', pu))
  redis.call('PEXPIRE', key, string.format('%d', life - now))
end
local function fail(now, maxf, win, lockd, maxlock, f, k, lu, ex)
  if ex == 0 then
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
  return f, k, lu, ex, locked
end
`

// failScript is lockout.Rule.Apply.
//
//	KEYS[1] key
//	ARGV: now, max failures, window, lock duration, max lock duration (ms)
//	returns {failures, locks, locked until, expires at, pending, pending
//	until, locked now (0/1)}
var failScript = redis.NewScript(counterLua + `
local now = tonumber(ARGV[1])
local f, k, lu, ex, p, pu = load(KEYS[1], now)
local locked
f, k, lu, ex, locked = fail(now, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), f, k, lu, ex)
save(KEYS[1], now, f, k, lu, ex, p, pu)
return {f, k, lu, ex, p, pu, locked}
`)

// reserveScript is lockout.Rule.Reserve; a refusal writes nothing.
//
//	KEYS[1] key
//	ARGV: now, max failures, hold (ms)
//	returns {admitted (0/1), failures, locks, locked until, expires at,
//	pending, pending until}
var reserveScript = redis.NewScript(counterLua + `
local now = tonumber(ARGV[1])
local maxf = tonumber(ARGV[2])
local f, k, lu, ex, p, pu = load(KEYS[1], now)
if now < lu then
  return {0, f, k, lu, ex, p, pu}
end
local remaining = math.max(maxf - f, 1)
if p >= remaining then
  return {0, f, k, lu, ex, p, pu}
end
p = p + 1
pu = math.max(pu, now + tonumber(ARGV[3]))
save(KEYS[1], now, f, k, lu, ex, p, pu)
return {1, f, k, lu, ex, p, pu}
`)

// settleScript is lockout.Rule.Settle.
//
//	KEYS[1] key
//	ARGV: now, max failures, window, lock duration, max lock duration (ms),
//	failed (0/1)
//	returns as failScript
var settleScript = redis.NewScript(counterLua + `
local now = tonumber(ARGV[1])
local f, k, lu, ex, p, pu = load(KEYS[1], now)
if p > 0 then
  p = p - 1
  if p == 0 then
    pu = 0
  end
end
local locked = 0
if ARGV[6] == '1' then
  f, k, lu, ex, locked = fail(now, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), f, k, lu, ex)
end
save(KEYS[1], now, f, k, lu, ex, p, pu)
return {f, k, lu, ex, p, pu, locked}
`)

// takeScript is lockout.TakeQuota.
//
//	KEYS[1] quota key
//	ARGV: now, number of limits n, then n pairs of max, per (ms)
//	returns {ok (0/1), retry at, used}
var takeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local maxes, pers, longest, keep = {}, {}, 0, 0
for i = 1, n do
  maxes[i] = tonumber(ARGV[1 + 2 * i])
  pers[i] = tonumber(ARGV[2 + 2 * i])
  longest = math.max(longest, pers[i])
  keep = math.max(keep, maxes[i])
end
local live = {}
local raw = redis.call('GET', KEYS[1])
if raw then
  local exp, list = string.match(raw, '^(%d+):(.*)$')
  if exp and now < tonumber(exp) then
    for w in string.gmatch(list, '%d+') do
      local x = tonumber(w)
      if x > now - longest then
        live[#live + 1] = x
      end
    end
  end
end
table.sort(live)
local ok, retry = 1, 0
for i = 1, n do
  local first = #live + 1
  for j = 1, #live do
    if live[j] > now - pers[i] then
      first = j
      break
    end
  end
  local c = #live - first + 1
  if c >= maxes[i] then
    ok = 0
    retry = math.max(retry, live[first + c - maxes[i]] + pers[i])
  end
end
if ok == 0 then
  return {0, retry, #live}
end
local pos = #live + 1
for j = 1, #live do
  if live[j] > now then
    pos = j
    break
  end
end
table.insert(live, pos, now)
local parts = {}
for j = math.max(1, #live - keep + 1), #live do
  parts[#parts + 1] = string.format('%d', live[j])
end
local exp = live[#live] + longest
redis.call('SET', KEYS[1], string.format('%d', exp) .. ':' .. table.concat(parts, ','), 'PX', string.format('%d', exp - now))
return {1, 0, #parts}
`)

func (s *Store) key(k lockout.Key) string { return s.cfg.Prefix + k.String() }

// Key returns the Redis key of k's counter (for tests and operations).
func (s *Store) Key(k lockout.Key) string { return s.key(k) }

// QuotaKey returns the Redis key of k's send quota.
func (s *Store) QuotaKey(k lockout.Key) string { return s.cfg.Prefix + "#quota:" + k.String() }

// LinkKey returns the Redis key of k's session link.
func (s *Store) LinkKey(k lockout.Key) string { return s.cfg.Prefix + "#link:" + k.String() }

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", lockout.ErrUnavailable, op, err)
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// state reads the 6 counter values a script returns from res[i:].
func state(res []int64, i int) lockout.State {
	return lockout.State{
		Failures:     res[i],
		Locks:        int(res[i+1]),
		LockedUntil:  msTime(res[i+2]),
		ExpiresAt:    msTime(res[i+3]),
		Pending:      res[i+4],
		PendingUntil: msTime(res[i+5]),
	}
}

// run runs a script bounded by the store's timeout and checks the length of
// its answer.
func (s *Store) run(ctx context.Context, op string, script *redis.Script, key string, n int, args ...any) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := script.Run(ctx, s.c, []string{key}, args...).Int64Slice()
	if err != nil {
		return nil, unavailable(op, err)
	}
	if len(res) != n {
		return nil, unavailable(op, fmt.Errorf("script returned %d values, want %d", len(res), n))
	}
	return res, nil
}

// Fail implements [lockout.Store].
func (s *Store) Fail(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	if err := rule.Validate(); err != nil {
		return lockout.State{}, unavailable("fail", err)
	}
	res, err := s.run(ctx, "fail", failScript, s.key(key), 7,
		now.UnixMilli(), rule.MaxFailures, rule.Window.Milliseconds(),
		rule.LockDuration.Milliseconds(), rule.MaxLockDuration.Milliseconds())
	if err != nil {
		return lockout.State{}, err
	}
	st := state(res, 0)
	st.LockedNow = res[6] == 1
	return st, nil
}

// Reserve implements [lockout.Store].
func (s *Store) Reserve(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule, hold time.Duration) (lockout.State, bool, error) {
	if err := errors.Join(rule.Validate(), lockout.ValidateHold(hold)); err != nil {
		return lockout.State{}, false, unavailable("reserve", err)
	}
	res, err := s.run(ctx, "reserve", reserveScript, s.key(key), 7,
		now.UnixMilli(), rule.MaxFailures, hold.Milliseconds())
	if err != nil {
		return lockout.State{}, false, err
	}
	return state(res, 1), res[0] == 1, nil
}

// Settle implements [lockout.Store].
func (s *Store) Settle(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule, failed bool) (lockout.State, error) {
	if err := rule.Validate(); err != nil {
		return lockout.State{}, unavailable("settle", err)
	}
	f := 0
	if failed {
		f = 1
	}
	res, err := s.run(ctx, "settle", settleScript, s.key(key), 7,
		now.UnixMilli(), rule.MaxFailures, rule.Window.Milliseconds(),
		rule.LockDuration.Milliseconds(), rule.MaxLockDuration.Milliseconds(), f)
	if err != nil {
		return lockout.State{}, err
	}
	st := state(res, 0)
	st.LockedNow = res[6] == 1
	return st, nil
}

// Get implements [lockout.Store].
func (s *Store) Get(ctx context.Context, key lockout.Key, now time.Time) (lockout.State, error) {
	if err := ctx.Err(); err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	vals, err := s.c.HMGet(ctx, s.key(key), "f", "k", "lu", "ex", "p", "pu").Result()
	if err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	if len(vals) != 6 {
		return lockout.State{}, unavailable("get", fmt.Errorf("HMGET returned %d values, want 6", len(vals)))
	}
	if vals[0] == nil { // no entry
		return lockout.State{}, nil
	}
	var n [6]int64
	for i, v := range vals {
		str, ok := v.(string)
		if !ok { // a field written before reservations existed
			continue
		}
		if n[i], err = strconv.ParseInt(str, 10, 64); err != nil {
			return lockout.State{}, unavailable("get", fmt.Errorf("field %d: %w", i, err))
		}
	}
	return state(n[:], 0).Current(now), nil
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

// Take implements [lockout.Store].
func (s *Store) Take(ctx context.Context, key lockout.Key, now time.Time, limits []lockout.Limit) (lockout.Quota, error) {
	if err := lockout.ValidateLimits(limits); err != nil {
		return lockout.Quota{}, unavailable("take", err)
	}
	args := make([]any, 0, 2+2*len(limits))
	args = append(args, now.UnixMilli(), len(limits))
	for _, l := range limits {
		args = append(args, l.Max, l.Per.Milliseconds())
	}
	res, err := s.run(ctx, "take", takeScript, s.QuotaKey(key), 3, args...)
	if err != nil {
		return lockout.Quota{}, err
	}
	return lockout.Quota{OK: res[0] == 1, RetryAt: msTime(res[1]), Used: int(res[2])}, nil
}

// Link implements [lockout.Store].
func (s *Store) Link(ctx context.Context, handle lockout.Key, subject string, now time.Time, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return unavailable("link", err)
	}
	if err := lockout.ValidateLink(subject, ttl); err != nil {
		return unavailable("link", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	// The end is stored too: callers' clocks, not Redis's, decide expiry.
	ttl = ttl.Truncate(time.Millisecond)
	v := strconv.FormatInt(now.UnixMilli()+ttl.Milliseconds(), 10) + ":" + subject
	if err := s.c.Set(ctx, s.LinkKey(handle), v, ttl).Err(); err != nil {
		return unavailable("link", err)
	}
	return nil
}

// Resolve implements [lockout.Store].
func (s *Store) Resolve(ctx context.Context, handle lockout.Key, now time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", unavailable("resolve", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	v, err := s.c.Get(ctx, s.LinkKey(handle)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", unavailable("resolve", err)
	}
	end, subject, ok := strings.Cut(v, ":")
	exp, perr := strconv.ParseInt(end, 10, 64)
	if !ok || perr != nil {
		return "", unavailable("resolve", fmt.Errorf("malformed link value"))
	}
	if now.UnixMilli() >= exp {
		return "", nil
	}
	return subject, nil
}
