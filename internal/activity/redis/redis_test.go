//go:build integration

package redis_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/activity/activitytest"
	"github.com/heraproject/hera/internal/activity/redis"
	"github.com/heraproject/hera/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func open(t testing.TB, addr, prefix string) (*redis.Store, *goredis.Client) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32})
	t.Cleanup(func() { c.Close() })
	s, err := redis.New(c, redis.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// TestConformance runs the suite with a fresh key prefix per test; Another
// is a second client with the same prefix, as a second Hera replica would
// have.
func TestConformance(t *testing.T) {
	activitytest.Run(t, func(t *testing.T) activitytest.Backend {
		addr, prefix := dbtest.Redis(t)
		s, _ := open(t, addr, prefix)
		return activitytest.NewBackend(s, func(t *testing.T) activity.Store { s, _ := open(t, addr, prefix); return s })
	})
}

// TestKeys: an identity's keys share a Redis Cluster hash tag and carry a
// TTL until a retention after its newest event; Forget deletes them.
func TestKeys(t *testing.T) {
	addr, prefix := dbtest.Redis(t)
	s, c := open(t, addr, prefix)
	ctx := t.Context()
	p := activitytest.Policy
	t0 := activitytest.T0
	for i := range 2 {
		e := activity.Event{ID: string(rune('a' + i)), Identity: "id-1", Kind: activity.SignIn, At: t0.Add(time.Duration(i) * time.Hour)}
		if err := s.Add(ctx, e, t0.Add(time.Hour), p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetAddresses(ctx, "id-1", []string{"a@example.com"}, t0, p); err != nil {
		t.Fatal(err)
	}
	z, h, a := s.Keys("id-1")
	for _, k := range []string{z, h, a} {
		if !strings.HasPrefix(k, prefix+"{ciam:id-1}:") {
			t.Errorf("key %q", k)
		}
	}
	// Redis Cluster hashes only the hash tag: the text between the first
	// '{' and the next '}'.
	tag := func(k string) string {
		_, rest, _ := strings.Cut(k, "{")
		tag, _, _ := strings.Cut(rest, "}")
		return tag
	}
	if tag(z) != "ciam:id-1" || tag(h) != tag(z) || tag(a) != tag(z) {
		t.Errorf("hash tags %q, %q, %q; want ciam:id-1", tag(z), tag(h), tag(a))
	}
	for k, want := range map[string]time.Duration{z: p.Retention, h: p.Retention, a: p.Retention} {
		if d, err := c.PTTL(ctx, k).Result(); err != nil || d > want || d < want-2*time.Second {
			t.Errorf("PTTL %s = %v, %v; want about %v", k, d, err, want)
		}
	}
	if err := s.Forget(ctx, "id-1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, z, h, a).Result(); err != nil || n != 0 {
		t.Fatalf("%d keys left after Forget, %v", n, err)
	}
	// An Add that leaves nothing (its event is past retention) leaves no key.
	old := activity.Event{ID: "x", Identity: "id-2", Kind: activity.SignIn, At: t0}
	if err := s.Add(ctx, old, t0.Add(p.Retention), p); err != nil {
		t.Fatal(err)
	}
	z, h, _ = s.Keys("id-2")
	if n, err := c.Exists(ctx, z, h).Result(); err != nil || n != 0 {
		t.Fatalf("%d keys for an identity with nothing kept, %v", n, err)
	}
}

// TestRealms: stores of two realms on one Redis do not meet.
func TestRealms(t *testing.T) {
	addr, prefix := dbtest.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	a, _ := redis.New(c, redis.Config{Prefix: prefix, Realm: "a"})
	b, _ := redis.New(c, redis.Config{Prefix: prefix, Realm: "b"})
	e := activity.Event{ID: "x", Identity: "id", Kind: activity.SignIn, At: activitytest.T0}
	if err := a.Add(t.Context(), e, activitytest.T0, activitytest.Policy); err != nil {
		t.Fatal(err)
	}
	if evs, err := b.List(t.Context(), "id", activitytest.T0, activitytest.Policy, 0); err != nil || len(evs) != 0 {
		t.Fatalf("realm b lists %v, %v", evs, err)
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := redis.New(nil, redis.Config{}); err == nil {
		t.Error("New accepted a nil client")
	}
	c := goredis.NewClient(&goredis.Options{Addr: dbtest.ClosedAddr(t)})
	t.Cleanup(func() { c.Close() })
	if _, err := redis.New(c, redis.Config{Timeout: -1}); err == nil {
		t.Error("New accepted a negative timeout")
	}
}

// TestUnavailable stops the server under a store in use: every method
// fails quickly with activity.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	own := dbtest.OwnRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: own.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	s, err := redis.New(c, redis.Config{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := activity.Event{ID: "x", Identity: "a", Kind: activity.SignIn, At: activitytest.T0}
	if err := s.Add(t.Context(), e, activitytest.T0, activitytest.Policy); err != nil {
		t.Fatal(err)
	}
	own.Stop()
	start := time.Now()
	e.ID = "y"
	errAdd := s.Add(t.Context(), e, activitytest.T0, activitytest.Policy)
	_, errList := s.List(t.Context(), "a", activitytest.T0, activitytest.Policy, 0)
	errForget := s.Forget(t.Context(), "a")
	_, errSet := s.SetAddresses(t.Context(), "a", nil, activitytest.T0, activitytest.Policy)
	for name, err := range map[string]error{"Add": errAdd, "List": errList, "Forget": errForget, "SetAddresses": errSet} {
		if !errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("%s = %v, want activity.ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func BenchmarkAdd(b *testing.B) {
	addr, prefix := dbtest.Redis(b)
	s, _ := open(b, addr, prefix)
	activitytest.BenchmarkAdd(b, s)
}

func BenchmarkList(b *testing.B) {
	addr, prefix := dbtest.Redis(b)
	s, _ := open(b, addr, prefix)
	activitytest.BenchmarkList(b, s)
}
