// Package redis is the Redis lockout store (go-redis v9), for several Hera
// instances sharing counters.
//
// Each counter is a hash updated by one Lua script per operation, so
// concurrent failures and reservations are counted exactly: fields f, k,
// lu, ex (failures, locks, locked until, window expires at), one field
// h:<id> per hold (its end), and p, pu (the attempts in flight, holds
// included, and their latest end: what Hera versions before holds read and
// write, so that they and this version honour each other's reservations
// during a rolling deploy). Times are Unix ms. Every counter script first
// counts the holds that ended unsettled as failures (lockout.Rule.Current);
// Get reads the whole hash and does the same in Go, writing nothing. A
// counter's TTL lasts until lockout.Rule.KeepUntil, so a hold that ends
// unsettled is still counted when the key is next read. A send quota is a string
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
	HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd
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
// A counter c is a table: f, k, lu, ex, p, pu as stored, holds (the live
// ones, {id, until}, sorted by until, then id), expired and locked (what
// this operation counted and engaged), drop and add (hold fields to delete
// and to write). rule reads the rule from ARGV[2..5]. load reads a counter
// as lockout.Rule.Current sees it at now (nothing once its TTL would have
// ended by the caller's clock); fail counts one failure at at
// (lockout.Rule.Apply after Current); pending restores the invariants of p
// and pu; save writes a counter with a TTL until lockout.Rule.KeepUntil, or
// deletes it when nothing is left; reply is what every script returns:
// {admitted (0/1), f, k, lu, ex, p, pu, locked now (0/1), expired, then id,
// until of each hold}.
const counterLua = `
local function rule()
  return {maxf = tonumber(ARGV[2]), win = tonumber(ARGV[3]), lockd = tonumber(ARGV[4]), maxlock = tonumber(ARGV[5])}
end
local function fail(at, r, c)
  if c.ex ~= 0 and at >= c.ex then
    c.ex = 0
  end
  if c.ex == 0 then
    c.f, c.k, c.lu, c.ex = 0, 0, 0, at + r.win
  end
  c.f = c.f + 1
  if c.f >= r.maxf and at >= c.lu then
    c.k = c.k + 1
    local shift = math.min(c.k - 1, 30)
    c.lu = at + math.min(r.maxlock, r.lockd * 2 ^ shift)
    if c.lu + r.win > c.ex then
      c.ex = c.lu + r.win
    end
    c.locked = 1
  end
end
local function byUntil(a, b)
  if a[2] ~= b[2] then
    return a[2] < b[2]
  end
  return a[1] < b[1]
end
local function pending(c)
  c.p = math.max(c.p, #c.holds)
  if #c.holds > 0 then
    c.pu = math.max(c.pu, c.holds[#c.holds][2])
  end
  if c.p == 0 then
    c.pu = 0
  end
end
local scalar = {f = true, k = true, lu = true, ex = true, p = true, pu = true}
local function load(key, now, r)
  local c = {f = 0, k = 0, lu = 0, ex = 0, p = 0, pu = 0, holds = {}, expired = 0, locked = 0, drop = {}}
  local raw = redis.call('HGETALL', key)
  local all = {}
  for i = 1, #raw, 2 do
    local name, v = raw[i], raw[i + 1]
    if string.sub(name, 1, 2) == 'h:' then
      all[#all + 1] = {string.sub(name, 3), tonumber(v) or 0}
    elseif scalar[name] then
      c[name] = tonumber(v) or 0
    end
  end
  local keep = math.max(c.ex, c.pu)
  for _, h in ipairs(all) do
    keep = math.max(keep, h[2] + r.maxlock + r.win)
  end
  if keep ~= 0 and now >= keep then
    c.f, c.k, c.lu, c.ex, c.p, c.pu = 0, 0, 0, 0, 0, 0
    for _, h in ipairs(all) do
      c.drop[#c.drop + 1] = 'h:' .. h[1]
    end
    return c
  end
  table.sort(all, byUntil)
  for _, h in ipairs(all) do
    if h[2] <= now then
      c.p = math.max(c.p - 1, 0)
      fail(h[2], r, c)
      c.expired = c.expired + 1
      c.drop[#c.drop + 1] = 'h:' .. h[1]
    else
      c.holds[#c.holds + 1] = h
    end
  end
  if c.ex ~= 0 and now >= c.ex then
    c.f, c.k, c.lu, c.ex = 0, 0, 0, 0
  end
  if c.pu ~= 0 and now >= c.pu then
    c.p, c.pu = 0, 0
  end
  pending(c)
  return c
end
local function save(key, now, r, c)
  local life, keep = math.max(c.ex, c.pu), math.max(c.ex, c.pu)
  for _, h in ipairs(c.holds) do
    life = math.max(life, h[2])
    keep = math.max(keep, h[2] + r.maxlock + r.win)
  end
  if life <= now then
    redis.call('DEL', key)
    return
  end
  if #c.drop > 0 then
    redis.call('HDEL', key, unpack(c.drop))
  end
  local args = {'f', string.format('%d', c.f), 'k', string.format('%d', c.k),
    'lu', string.format('%d', c.lu), 'ex', string.format('%d', c.ex),
    'p', string.format('%d', c.p), 'pu', string.format('%d', c.pu)}
  if c.add then
    args[#args + 1] = 'h:' .. c.add[1]
    args[#args + 1] = string.format('%d', c.add[2])
  end
  redis.call('HSET', key, unpack(args))
  redis.call('PEXPIRE', key, string.format('%d', keep - now))
end
local function reply(admitted, c)
  local out = {admitted, c.f, c.k, c.lu, c.ex, c.p, c.pu, c.locked, c.expired}
  for _, h in ipairs(c.holds) do
    out[#out + 1] = h[1]
    out[#out + 1] = h[2]
  end
  return out
end
local function find(c, id)
  for i, h in ipairs(c.holds) do
    if h[1] == id then
      return i
    end
  end
  return nil
end
`

// failScript is lockout.Rule.Apply.
//
//	KEYS[1] key
//	ARGV: now, max failures, window, lock duration, max lock duration (ms)
//	returns as counterLua's reply
var failScript = redis.NewScript(counterLua + `
local now = tonumber(ARGV[1])
local r = rule()
local c = load(KEYS[1], now, r)
fail(now, r, c)
save(KEYS[1], now, r, c)
return reply(1, c)
`)

// reserveScript is lockout.Rule.Reserve; a refusal writes only the expired
// holds it counted.
//
//	KEYS[1] key
//	ARGV: now, max failures, window, lock duration, max lock duration,
//	hold (ms), id
//	returns as counterLua's reply
var reserveScript = redis.NewScript(counterLua + `
local now = tonumber(ARGV[1])
local r = rule()
local id = ARGV[7]
local c = load(KEYS[1], now, r)
local admitted = 0
if find(c, id) then
  admitted = 1
elseif now >= c.lu and c.p < math.max(r.maxf - c.f, 1) then
  admitted = 1
  local h = {id, now + tonumber(ARGV[6])}
  c.holds[#c.holds + 1] = h
  table.sort(c.holds, byUntil)
  c.add = h
  c.p = c.p + 1
  c.pu = math.max(c.pu, h[2])
end
if admitted == 1 or c.expired > 0 then
  save(KEYS[1], now, r, c)
end
return reply(admitted, c)
`)

// settleScript is lockout.Rule.Settle.
//
//	KEYS[1] key
//	ARGV: now, max failures, window, lock duration, max lock duration (ms),
//	id, failed (0/1)
//	returns as counterLua's reply
var settleScript = redis.NewScript(counterLua + `
local now = tonumber(ARGV[1])
local r = rule()
local c = load(KEYS[1], now, r)
local i = find(c, ARGV[6])
if i then
  table.remove(c.holds, i)
  c.drop[#c.drop + 1] = 'h:' .. ARGV[6]
  c.p = math.max(c.p - 1, 0)
  if c.p == 0 then
    c.pu = 0
  end
  if ARGV[7] == '1' then
    fail(now, r, c)
  end
  pending(c)
end
save(KEYS[1], now, r, c)
return reply(1, c)
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

// counterReply reads what a counter script returns (see counterLua):
// whether it admitted, and the state.
func counterReply(op string, v any) (lockout.State, bool, error) {
	res, ok := v.([]any)
	if !ok || len(res) < 9 || (len(res)-9)%2 != 0 {
		return lockout.State{}, false, unavailable(op, fmt.Errorf("malformed script answer"))
	}
	var n [9]int64
	for i := range n {
		if n[i], ok = res[i].(int64); !ok {
			return lockout.State{}, false, unavailable(op, fmt.Errorf("script answer %d: %T, want an integer", i, res[i]))
		}
	}
	st := lockout.State{
		Failures:     n[1],
		Locks:        int(n[2]),
		LockedUntil:  msTime(n[3]),
		ExpiresAt:    msTime(n[4]),
		Pending:      n[5],
		PendingUntil: msTime(n[6]),
		LockedNow:    n[7] == 1,
		Expired:      int(n[8]),
	}
	for i := 9; i < len(res); i += 2 {
		id, ok1 := res[i].(string)
		until, ok2 := res[i+1].(int64)
		if !ok1 || !ok2 {
			return lockout.State{}, false, unavailable(op, fmt.Errorf("script answer %d: malformed hold", i))
		}
		st.Holds = append(st.Holds, lockout.Hold{ID: id, Until: time.UnixMilli(until)})
	}
	return st, n[0] == 1, nil
}

// runCounter runs a counter script bounded by the store's timeout.
func (s *Store) runCounter(ctx context.Context, op string, script *redis.Script, key lockout.Key, now time.Time, rule lockout.Rule, args ...any) (lockout.State, bool, error) {
	if err := ctx.Err(); err != nil {
		return lockout.State{}, false, unavailable(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	argv := append([]any{now.UnixMilli(), rule.MaxFailures, rule.Window.Milliseconds(),
		rule.LockDuration.Milliseconds(), rule.MaxLockDuration.Milliseconds()}, args...)
	v, err := script.Run(ctx, s.c, []string{s.key(key)}, argv...).Result()
	if err != nil {
		return lockout.State{}, false, unavailable(op, err)
	}
	return counterReply(op, v)
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
	st, _, err := s.runCounter(ctx, "fail", failScript, key, now, rule)
	return st, err
}

// Reserve implements [lockout.Store].
func (s *Store) Reserve(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, hold time.Duration) (lockout.State, bool, error) {
	if err := errors.Join(rule.Validate(), lockout.ValidateHoldID(id), lockout.ValidateHold(hold)); err != nil {
		return lockout.State{}, false, unavailable("reserve", err)
	}
	return s.runCounter(ctx, "reserve", reserveScript, key, now, rule, hold.Milliseconds(), id)
}

// Settle implements [lockout.Store].
func (s *Store) Settle(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, failed bool) (lockout.State, error) {
	if err := errors.Join(rule.Validate(), lockout.ValidateHoldID(id)); err != nil {
		return lockout.State{}, unavailable("settle", err)
	}
	f := 0
	if failed {
		f = 1
	}
	st, _, err := s.runCounter(ctx, "settle", settleScript, key, now, rule, id, f)
	return st, err
}

// Get implements [lockout.Store]: the whole hash, as lockout.Rule.Current
// sees it at now. Fields a version before reservations or holds did not
// write read as zero.
func (s *Store) Get(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	if err := ctx.Err(); err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	if err := rule.Validate(); err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	fields, err := s.c.HGetAll(ctx, s.key(key)).Result()
	if err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	if len(fields) == 0 { // no entry
		return lockout.State{}, nil
	}
	st, err := parseCounter(fields)
	if err != nil {
		return lockout.State{}, unavailable("get", err)
	}
	st = rule.Current(st, now)
	st.Expired, st.LockedNow = 0, false
	return st, nil
}

// parseCounter reads a counter hash.
func parseCounter(fields map[string]string) (lockout.State, error) {
	var st lockout.State
	num := func(name string) (int64, error) {
		v, ok := fields[name]
		if !ok {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %s: %w", name, err)
		}
		return n, nil
	}
	var n [6]int64
	for i, name := range []string{"f", "k", "lu", "ex", "p", "pu"} {
		var err error
		if n[i], err = num(name); err != nil {
			return lockout.State{}, err
		}
	}
	st.Failures, st.Locks, st.LockedUntil, st.ExpiresAt = n[0], int(n[1]), msTime(n[2]), msTime(n[3])
	st.Pending, st.PendingUntil = n[4], msTime(n[5])
	for name := range fields {
		id, ok := strings.CutPrefix(name, "h:")
		if !ok {
			continue
		}
		until, err := num(name)
		if err != nil {
			return lockout.State{}, err
		}
		st.Holds = append(st.Holds, lockout.Hold{ID: id, Until: time.UnixMilli(until)})
	}
	return st, nil
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
