//go:build integration

package redis_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/dbtest"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/redis"
	"github.com/heraproject/hera/internal/lockout/storetest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// newClient returns a client of the test server and a fresh key prefix.
func newClient(t testing.TB) (*goredis.Client, string) {
	t.Helper()
	addr, prefix := dbtest.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32})
	t.Cleanup(func() { c.Close() })
	return c, prefix
}

func newStore(t testing.TB) (*redis.Store, *goredis.Client) {
	t.Helper()
	c, prefix := newClient(t)
	s, err := redis.New(c, redis.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// TestConformance runs the suite with a fresh key prefix per test; Another
// is a second client with the same prefix, as a second Hera instance would
// have.
// pttl is the TTL Redis holds for key.
func pttl(t *testing.T, c *goredis.Client, key string) time.Duration {
	t.Helper()
	d, err := c.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// nearTTL checks a TTL against what the caller's time says it should be,
// allowing for the time the test took.
func nearTTL(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got > want || got < want-2*time.Second {
		t.Fatalf("%s: TTL %v, want about %v", what, got, want)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		addr, prefix := dbtest.Redis(t)
		open := func(t *testing.T) (*redis.Store, *goredis.Client) {
			c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32})
			t.Cleanup(func() { c.Close() })
			s, err := redis.New(c, redis.Config{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			return s, c
		}
		s, c := open(t)
		return storetest.NewBackend(s, func(t *testing.T) lockout.Store { s, _ := open(t); return s }, legacy{s, c})
	})
}

// legacy reads and writes a counter as a version without holds did: the
// hash fields f, k, lu, ex, p, pu only.
type legacy struct {
	s *redis.Store
	c *goredis.Client
}

var legacyFields = []string{"f", "k", "lu", "ex", "p", "pu"}

func (l legacy) Write(t *testing.T, k lockout.Key, st lockout.State) {
	t.Helper()
	ms := func(x time.Time) int64 {
		if x.IsZero() {
			return 0
		}
		return x.UnixMilli()
	}
	if err := l.c.HSet(t.Context(), l.s.Key(k), "f", st.Failures, "k", st.Locks, "lu", ms(st.LockedUntil),
		"ex", ms(st.ExpiresAt), "p", st.Pending, "pu", ms(st.PendingUntil)).Err(); err != nil {
		t.Fatal(err)
	}
}

func (l legacy) Read(t *testing.T, k lockout.Key) (lockout.State, bool) {
	t.Helper()
	vals, err := l.c.HMGet(t.Context(), l.s.Key(k), legacyFields...).Result()
	if err != nil {
		t.Fatal(err)
	}
	if vals[0] == nil {
		return lockout.State{}, false
	}
	var n [6]int64
	for i, v := range vals {
		if n[i], err = strconv.ParseInt(v.(string), 10, 64); err != nil {
			t.Fatalf("field %s: %v", legacyFields[i], err)
		}
	}
	tm := func(ms int64) time.Time {
		if ms == 0 {
			return time.Time{}
		}
		return time.UnixMilli(ms)
	}
	return lockout.State{Failures: n[0], Locks: int(n[1]), LockedUntil: tm(n[2]), ExpiresAt: tm(n[3]),
		Pending: n[4], PendingUntil: tm(n[5])}, true
}

// TestTTL checks that every write sets a real TTL computed from the caller's
// time, so Redis deletes expired entries by itself.
func TestTTL(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	k := storetest.Key("a")
	r := storetest.Rule
	ttl := func() time.Duration { t.Helper(); return pttl(t, c, s.Key(k)) }
	near := func(what string, got, want time.Duration) { t.Helper(); nearTTL(t, what, got, want) }
	if _, err := s.Fail(ctx, k, storetest.T0, r); err != nil {
		t.Fatal(err)
	}
	near("first failure", ttl(), r.Window)
	// A later failure in the same window: the entry still ends with the
	// window, so the TTL shrinks by the time that passed (caller's clock).
	if _, err := s.Fail(ctx, k, storetest.T0.Add(time.Minute), r); err != nil {
		t.Fatal(err)
	}
	near("second failure a minute later", ttl(), r.Window-time.Minute)
	var st lockout.State
	for range r.MaxFailures {
		var err error
		if st, err = s.Fail(ctx, k, storetest.T0.Add(time.Minute), r); err != nil {
			t.Fatal(err)
		}
	}
	near("locked", ttl(), st.ExpiresAt.Sub(storetest.T0.Add(time.Minute)))

	// A really short window: Redis itself removes the key.
	short := lockout.Rule{MaxFailures: 5, Window: time.Second, LockDuration: time.Second, MaxLockDuration: time.Second}
	k2 := storetest.Key("short")
	if _, err := s.Fail(ctx, k2, time.Now(), short); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.Exists(ctx, s.Key(k2)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis did not expire the key")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReservationTTL checks the TTL of counters holding reservations: until
// the later of the window's end and the hold's, and gone when nothing is
// left.
func TestReservationTTL(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	k := storetest.Key("a")
	ttl := func() time.Duration { t.Helper(); return pttl(t, c, s.Key(k)) }
	near := func(what string, got, want time.Duration) { t.Helper(); nearTTL(t, what, got, want) }
	r := storetest.Rule
	// A hold keeps the key until the failure it counts if it ends unsettled
	// is forgotten: its end, the longest lock and a window.
	keep := storetest.Hold + r.MaxLockDuration + r.Window
	if _, ok, err := s.Reserve(ctx, k, "a", storetest.T0, r, storetest.Hold); err != nil || !ok {
		t.Fatalf("Reserve = %v, %v", ok, err)
	}
	near("a reservation", ttl(), keep)
	if _, err := s.Fail(ctx, k, storetest.T0, r); err != nil {
		t.Fatal(err)
	}
	near("a reservation and a failure", ttl(), keep)
	if _, err := s.Settle(ctx, k, "a", storetest.T0, r, false); err != nil {
		t.Fatal(err)
	}
	near("a failure, the reservation settled", ttl(), r.Window)
	late := storetest.T0.Add(r.Window - time.Second)
	if _, _, err := s.Reserve(ctx, k, "b", late, r, storetest.Hold); err != nil {
		t.Fatal(err)
	}
	near("a reservation outliving the window", ttl(), keep)
	if fields, err := c.HGetAll(ctx, s.Key(k)).Result(); err != nil || fields["h:b"] != strconv.FormatInt(late.Add(storetest.Hold).UnixMilli(), 10) || len(fields) != 7 {
		t.Fatalf("HGETALL = %v, %v; want f, k, lu, ex, p, pu and h:b", fields, err)
	}

	// Settling the only reservation of a key without failures deletes it.
	k2 := storetest.Key("b")
	if _, _, err := s.Reserve(ctx, k2, "a", storetest.T0, r, storetest.Hold); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(ctx, k2, "a", storetest.T0, r, false); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, s.Key(k2)).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after the last settle = %d, %v; want 0", n, err)
	}
}

// TestQuotaAndLinkKeys checks that quotas and links have their own keys,
// with TTLs from the caller's time.
func TestQuotaAndLinkKeys(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	k := lockout.Key{Realm: "ciam", Kind: lockout.KindIP, Digest: "abc"}
	if _, err := s.Fail(ctx, k, storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, k, storetest.T0, storetest.Sends); err != nil {
		t.Fatal(err)
	}
	if err := s.Link(ctx, k, "subject", storetest.T0, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	keys := map[string]time.Duration{s.Key(k): storetest.Rule.Window, s.QuotaKey(k): time.Hour, s.LinkKey(k): 10 * time.Minute}
	if len(keys) != 3 {
		t.Fatalf("counter, quota and link share keys: %v", keys)
	}
	for key, want := range keys {
		d, err := c.PTTL(ctx, key).Result()
		if err != nil || d > want || d < want-2*time.Second {
			t.Errorf("PTTL %s = %v, %v; want about %v", key, d, err, want)
		}
	}
}

func TestKeyLayout(t *testing.T) {
	s, c := newStore(t)
	k := lockout.Key{Realm: "ciam", Kind: lockout.KindIP, Digest: "abc"}
	if _, err := s.Fail(t.Context(), k, storetest.T0, storetest.Rule); err != nil {
		t.Fatal(err)
	}
	if got := s.Key(k); len(got) < len("ciam:ip:abc") || got[len(got)-len("ciam:ip:abc"):] != "ciam:ip:abc" {
		t.Fatalf("key %q", got)
	}
	if n, err := c.Exists(t.Context(), s.Key(k)).Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS %s = %d, %v", s.Key(k), n, err)
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := redis.New(nil, redis.Config{}); err == nil {
		t.Error("New accepted a nil client")
	}
	c, _ := newClient(t)
	if _, err := redis.New(c, redis.Config{Timeout: -1}); err == nil {
		t.Error("New accepted a negative timeout")
	}
}

// TestUnavailable points the store at a closed port: every method fails
// quickly with lockout.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: dbtest.ClosedAddr(t), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	s, err := redis.New(c, redis.Config{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	k := storetest.Key("a")
	_, errFail := s.Fail(t.Context(), k, storetest.T0, storetest.Rule)
	_, errGet := s.Get(t.Context(), k, storetest.T0, storetest.Rule)
	errReset := s.Reset(t.Context(), k)
	_, _, errReserve := s.Reserve(t.Context(), k, "id", storetest.T0, storetest.Rule, storetest.Hold)
	_, errSettle := s.Settle(t.Context(), k, "id", storetest.T0, storetest.Rule, true)
	_, errTake := s.Take(t.Context(), k, storetest.T0, storetest.Sends)
	errLink := s.Link(t.Context(), k, "subject", storetest.T0, time.Hour)
	_, errResolve := s.Resolve(t.Context(), k, storetest.T0)
	for name, err := range map[string]error{"Fail": errFail, "Get": errGet, "Reset": errReset,
		"Reserve": errReserve, "Settle": errSettle, "Take": errTake, "Link": errLink, "Resolve": errResolve} {
		if !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("%s = %v, want lockout.ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// Through the limiter, failing open: not locked, but a captcha.
	l, err := lockout.New(s, lockout.Config{FailOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Check(t.Context(), l.IdentifierKey("a@example.com"))
	if !errors.Is(err, lockout.ErrUnavailable) || d.Locked || !d.Unavailable || !d.CaptchaRequired {
		t.Fatalf("Check = %+v, %v; want not Locked, Unavailable, CaptchaRequired and lockout.ErrUnavailable", d, err)
	}
	r, d, err := l.Reserve(t.Context(), l.IdentifierKey("a@example.com"))
	if !errors.Is(err, lockout.ErrUnavailable) || d.Locked || !d.Unavailable || !d.CaptchaRequired || r == nil {
		t.Fatalf("Reserve = %v, %+v, %v; want a Reservation, not Locked, Unavailable, CaptchaRequired and lockout.ErrUnavailable", r, d, err)
	}
}

func BenchmarkCheckFail(b *testing.B) {
	s, _ := newStore(b)
	storetest.BenchmarkCheckFail(b, s)
}

func BenchmarkReserveSettle(b *testing.B) {
	s, _ := newStore(b)
	storetest.BenchmarkReserveSettle(b, s)
}

// TestLogger: go-redis's own lines go out through slog at WARN, with
// component=redis.
func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := redis.Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	l.Printf(t.Context(), "redis: connection pool: failed to dial after %d attempts: %v\n", 5, errors.New("refused"))
	got := buf.String()
	for _, want := range []string{`"level":"WARN"`, `"msg":"redis: connection pool: failed to dial after 5 attempts: refused"`, `"component":"redis"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log line %s lacks %s", got, want)
		}
	}
}

// Logger's result is what goredis.SetLogger takes (checked when compiling).
var _ = func() { goredis.SetLogger(redis.Logger(slog.Default())) }
