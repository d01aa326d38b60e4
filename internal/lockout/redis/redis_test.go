package redis_test

import (
	"errors"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/redis"
	"github.com/heraproject/hera/internal/lockout/storetest"
	"github.com/heraproject/hera/internal/stack/dbtest"
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

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lockout.Store { s, _ := newStore(t); return s })
}

// TestTTL checks that every write sets a real TTL computed from the caller's
// time, so Redis deletes expired entries by itself.
func TestTTL(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	k := storetest.Key("a")
	r := storetest.Rule
	ttl := func() time.Duration {
		t.Helper()
		d, err := c.PTTL(ctx, s.Key(k)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if got > want || got < want-2*time.Second {
			t.Fatalf("%s: TTL %v, want about %v", what, got, want)
		}
	}
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
	_, errGet := s.Get(t.Context(), k, storetest.T0)
	errReset := s.Reset(t.Context(), k)
	for name, err := range map[string]error{"Fail": errFail, "Get": errGet, "Reset": errReset} {
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
}

func BenchmarkCheckFail(b *testing.B) {
	s, _ := newStore(b)
	storetest.BenchmarkCheckFail(b, s)
}
