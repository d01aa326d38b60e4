package lockout_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/lockout/storetest"
)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time           { return c.now }
func (c *clock) Add(d time.Duration)      { c.now = c.now.Add(d) }
func newClock() *clock                    { return &clock{now: storetest.T0} }
func memStore(t testing.TB) lockout.Store { return mustMem(t) }

func mustMem(t testing.TB) *memory.Store {
	t.Helper()
	s, err := memory.New(memory.Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newLimiter(t testing.TB, store lockout.Store, cfg lockout.Config) *lockout.Limiter {
	t.Helper()
	l, err := lockout.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDefaults(t *testing.T) {
	c := lockout.DefaultConfig()
	want := lockout.Config{
		Realm:        "ciam",
		Identifier:   lockout.Rule{MaxFailures: 5, Window: 15 * time.Minute, LockDuration: 5 * time.Minute, MaxLockDuration: time.Hour},
		IP:           lockout.Rule{MaxFailures: 50, Window: 15 * time.Minute, LockDuration: 15 * time.Minute, MaxLockDuration: 15 * time.Minute},
		Identity:     lockout.Rule{MaxFailures: 5, Window: 15 * time.Minute, LockDuration: 5 * time.Minute, MaxLockDuration: time.Hour},
		CaptchaAfter: 3,
		IPv6Prefix:   64,
	}
	if c.Now == nil {
		t.Fatal("no default clock")
	}
	c.Now = nil
	if c.Realm != want.Realm || c.Identifier != want.Identifier || c.IP != want.IP || c.Identity != want.Identity ||
		c.CaptchaAfter != want.CaptchaAfter || c.IPv6Prefix != want.IPv6Prefix || c.FailOpen || c.KeySecret != nil {
		t.Fatalf("DefaultConfig() = %+v, want %+v", c, want)
	}
	if err := lockout.DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if n := c.Identifier.MaxFailuresPerHour(); n > 100 {
		t.Fatalf("default identifier rule allows %d failures/hour", n)
	}
	l := newLimiter(t, memStore(t), lockout.Config{Identifier: lockout.Rule{MaxFailures: 4}})
	if got := l.Config().Identifier; got != (lockout.Rule{MaxFailures: 4, Window: 15 * time.Minute, LockDuration: 5 * time.Minute, MaxLockDuration: time.Hour}) {
		t.Fatalf("partial rule not completed with defaults: %+v", got)
	}
	l = newLimiter(t, memStore(t), lockout.Config{IP: lockout.Rule{LockDuration: time.Hour}})
	if got := l.Config().IP; got.MaxLockDuration != time.Hour {
		t.Fatalf("IP MaxLockDuration defaults below LockDuration: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	bad := map[string]lockout.Config{
		"ASVS identifier":      {Identifier: lockout.Rule{MaxFailures: 20}},
		"ASVS identity":        {Identity: lockout.Rule{MaxFailures: 5, Window: time.Minute, LockDuration: time.Minute}},
		"ASVS short lock":      {Identifier: lockout.Rule{MaxFailures: 1, Window: time.Hour, LockDuration: 30 * time.Second, MaxLockDuration: time.Hour}},
		"zero failures":        {Identifier: lockout.Rule{MaxFailures: -1}},
		"short window":         {IP: lockout.Rule{Window: time.Millisecond}},
		"max below lock":       {Identifier: lockout.Rule{LockDuration: 10 * time.Minute, MaxLockDuration: 5 * time.Minute}},
		"huge lock":            {Identifier: lockout.Rule{LockDuration: 60 * 24 * time.Hour}},
		"realm with colon":     {Realm: "a:b"},
		"realm too long":       {Realm: strings.Repeat("a", 65)},
		"ipv6 prefix":          {IPv6Prefix: 129},
		"ipv6 prefix negative": {IPv6Prefix: -1},
	}
	for name, cfg := range bad {
		if _, err := lockout.New(memStore(t), cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if strings.HasPrefix(name, "ASVS") && !strings.Contains(err.Error(), "ASVS") {
			t.Errorf("%s: error does not name ASVS: %v", name, err)
		}
	}
	// IP rules are not per account: more than 100/hour is fine.
	if _, err := lockout.New(memStore(t), lockout.Config{IP: lockout.Rule{MaxFailures: 500}}); err != nil {
		t.Errorf("IP rule with 500 failures rejected: %v", err)
	}
	if _, err := lockout.New(nil, lockout.Config{}); err == nil {
		t.Error("New accepted a nil store")
	}
}

// TestASVSBound simulates attackers who try as fast as Check allows, under
// random valid configurations, and checks that no hour ever sees more
// failures than Rule.MaxFailuresPerHour (and so, for accepted account rules,
// never more than 100).
func TestASVSBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	durations := []time.Duration{time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	tried := 0
	for attempt := 0; tried < 12; attempt++ {
		if attempt > 10000 {
			t.Fatal("no accepted random configuration")
		}
		r := lockout.Rule{
			MaxFailures:  1 + rng.IntN(30),
			Window:       durations[rng.IntN(len(durations))],
			LockDuration: durations[rng.IntN(len(durations))],
		}
		r.MaxLockDuration = r.LockDuration * time.Duration(1+rng.IntN(8))
		if tried == 0 {
			r = lockout.DefaultConfig().Identifier
		}
		c := newClock()
		l, err := lockout.New(memStore(t), lockout.Config{Identifier: r, Identity: r, IP: lockout.Rule{MaxFailures: 1 << 20}, Now: c.Now})
		if err != nil {
			continue // not an accepted configuration
		}
		tried++
		k := l.IdentifierKey("victim@example.com")
		var failures []time.Time
		step := time.Second / 2
		for end := c.now.Add(4 * time.Hour); c.now.Before(end); c.Add(step) {
			d, err := l.Check(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if d.Locked {
				continue
			}
			if _, err := l.Fail(ctx, k); err != nil {
				t.Fatal(err)
			}
			failures = append(failures, c.now)
		}
		worst := 0
		for i, j := 0, 0; j < len(failures); j++ {
			for failures[j].Sub(failures[i]) >= time.Hour {
				i++
			}
			worst = max(worst, j-i+1)
		}
		bound := r.MaxFailuresPerHour()
		if worst > bound || worst > lockout.MaxFailuresPerHourPerAccount {
			t.Errorf("rule %+v: %d failures in one hour, bound %d", r, worst, bound)
		}
		t.Logf("rule %+v: worst hour %d failures, bound %d", r, worst, bound)
	}
}

func TestCheckFailSucceed(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newLimiter(t, memStore(t), lockout.Config{Now: c.Now})
	id, ip := l.IdentifierKey("Alice@Example.com"), l.IPKey("192.0.2.7")
	check := func() lockout.Decision {
		t.Helper()
		d, err := l.Check(ctx, id, ip)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	failBoth := func() lockout.State {
		t.Helper()
		st, err := l.Fail(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Fail(ctx, ip); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if d := check(); d != (lockout.Decision{}) {
		t.Fatalf("fresh: %+v", d)
	}
	for i := 1; i <= 2; i++ {
		failBoth()
		if d := check(); d.Locked || d.CaptchaRequired || d.Failures != int64(i) || d.IPFailures != int64(i) {
			t.Fatalf("after %d failures: %+v", i, d)
		}
	}
	failBoth()
	if d := check(); d.Locked || !d.CaptchaRequired || d.Failures != 3 {
		t.Fatalf("after 3 failures, want a captcha: %+v", d)
	}
	failBoth()
	if st := failBoth(); !st.LockedNow {
		t.Fatalf("5th failure did not lock: %+v", st)
	}
	c.Add(1500 * time.Millisecond)
	d := check()
	if !d.Locked || !d.Until.Equal(storetest.T0.Add(5*time.Minute)) || d.RetryAfter != 299*time.Second {
		t.Fatalf("locked: %+v", d)
	}
	// The same spelling in another form is the same counter.
	if d2, _ := l.Check(ctx, l.IdentifierKey(" alice@EXAMPLE.com\u200b")); !d2.Locked {
		t.Fatalf("variant spelling not locked: %+v", d2)
	}
	// An unrelated identifier from another IP is not affected.
	if d2, _ := l.Check(ctx, l.IdentifierKey("bob@example.com"), l.IPKey("198.51.100.1")); d2.Locked || d2.Failures != 0 {
		t.Fatalf("unrelated: %+v", d2)
	}
	c.Add(5 * time.Minute)
	if d := check(); d.Locked {
		t.Fatalf("lock did not end: %+v", d)
	}
	if err := l.Succeed(ctx, id, ip); err != nil {
		t.Fatal(err)
	}
	if d := check(); d.Locked || d.Failures != 0 || d.IPFailures != 5 || d.CaptchaRequired {
		t.Fatalf("after success, identifier reset but not IP: %+v", d)
	}
}

func TestIPLock(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newLimiter(t, memStore(t), lockout.Config{Now: c.Now})
	ip := l.IPKey("2001:db8:1:2::1")
	for i := range 50 {
		// Many identifiers from one IP (password spraying).
		k := l.IdentifierKey(strings.Repeat("x", i+1))
		if d, _ := l.Check(ctx, k, ip); d.Locked {
			t.Fatalf("locked after %d failures", i)
		}
		l.Fail(ctx, k)
		l.Fail(ctx, ip)
	}
	// Another address in the same /64 is locked too.
	d, err := l.Check(ctx, l.IdentifierKey("new@example.com"), l.IPKey("2001:db8:1:2::ffff"))
	if err != nil || !d.Locked || d.RetryAfter != 15*time.Minute || d.CaptchaRequired {
		t.Fatalf("IP not locked for 15 min: %+v, %v", d, err)
	}
}

func TestIdentityKeys(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(t, memStore(t), lockout.Config{})
	k := l.IdentityKey("5F0C2B3A-0000-4000-8000-00000000000A")
	if k != l.IdentityKey(" 5f0c2b3a-0000-4000-8000-00000000000a") {
		t.Fatal("identity IDs not normalized")
	}
	for range 5 {
		l.Fail(ctx, k)
	}
	if d, _ := l.Check(ctx, k); !d.Locked {
		t.Fatalf("identity not locked: %+v", d)
	}
	if err := l.Succeed(ctx, k); err != nil {
		t.Fatal(err)
	}
	if d, _ := l.Check(ctx, k); d.Locked || d.Failures != 0 {
		t.Fatalf("identity not reset: %+v", d)
	}
}

func TestKeys(t *testing.T) {
	a := newLimiter(t, memStore(t), lockout.Config{})
	b := newLimiter(t, memStore(t), lockout.Config{Realm: "other"})
	s := newLimiter(t, memStore(t), lockout.Config{KeySecret: []byte("secret")})
	ka := a.IdentifierKey("alice")
	if ka.Realm != "ciam" || ka.Kind != lockout.KindIdentifier || len(ka.Digest) != 43 || strings.Contains(ka.String(), "alice") {
		t.Fatalf("key %s", ka)
	}
	if kb := b.IdentifierKey("alice"); kb.Digest != ka.Digest || kb.Realm != "other" || kb == ka {
		t.Fatalf("realm: %s vs %s", kb, ka)
	}
	if ks := s.IdentifierKey("alice"); ks.Digest == ka.Digest {
		t.Fatal("KeySecret does not change the digest")
	}
	if a.IdentifierKey("192.0.2.1").Digest == a.IPKey("192.0.2.1").Digest {
		t.Fatal("kinds share digests")
	}
	if a.IPKey("junk") != a.IPKey("more junk") {
		t.Fatal("invalid IPs not grouped")
	}
	// A limiter refuses keys of another realm or kind: fail closed.
	for _, k := range []lockout.Key{b.IdentifierKey("alice"), {Realm: "ciam", Kind: "password", Digest: "x"}, {Realm: "ciam", Kind: lockout.KindIP}} {
		d, err := a.Check(context.Background(), k)
		if !errors.Is(err, lockout.ErrInvalidKey) || !d.Locked {
			t.Errorf("Check(%s) = %+v, %v; want Locked and ErrInvalidKey", k, d, err)
		}
		if _, err := a.Fail(context.Background(), k); !errors.Is(err, lockout.ErrInvalidKey) {
			t.Errorf("Fail(%s) = %v", k, err)
		}
		if err := a.Succeed(context.Background(), k); !errors.Is(err, lockout.ErrInvalidKey) {
			t.Errorf("Succeed(%s) = %v", k, err)
		}
	}
}

// brokenStore fails every call with an error that does not wrap
// ErrUnavailable; the limiter wraps it.
type brokenStore struct{}

var errBroken = errors.New("broken")

func (brokenStore) Fail(context.Context, lockout.Key, time.Time, lockout.Rule) (lockout.State, error) {
	return lockout.State{}, errBroken
}
func (brokenStore) Get(context.Context, lockout.Key, time.Time) (lockout.State, error) {
	return lockout.State{}, errBroken
}
func (brokenStore) Reset(context.Context, lockout.Key) error { return errBroken }

func TestOutage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  lockout.Config
		want lockout.Decision
	}{
		{lockout.Config{}, lockout.Decision{Locked: true, Unavailable: true}},
		{lockout.Config{FailOpen: true}, lockout.Decision{Unavailable: true, CaptchaRequired: true}},
		{lockout.Config{FailOpen: true, CaptchaAfter: -1}, lockout.Decision{Unavailable: true}},
	} {
		l := newLimiter(t, brokenStore{}, tc.cfg)
		k := l.IdentifierKey("a")
		d, err := l.Check(ctx, k, l.IPKey("192.0.2.1"))
		if d != tc.want || !errors.Is(err, lockout.ErrUnavailable) || !errors.Is(err, errBroken) {
			t.Errorf("FailOpen=%v: Check = %+v, %v; want %+v and ErrUnavailable", tc.cfg.FailOpen, d, err, tc.want)
		}
		if _, err := l.Fail(ctx, k); !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("Fail = %v", err)
		}
		if err := l.Succeed(ctx, k); !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("Succeed = %v", err)
		}
		if err := l.Succeed(ctx, l.IPKey("192.0.2.1")); err != nil {
			t.Errorf("Succeed(IP) touched the store: %v", err)
		}
	}
}

// TestDecisionIgnoresExistence: a Decision depends only on the counters, so
// two identifiers with the same history get the same Decision, whether or
// not an account exists for either (the limiter cannot even tell).
func TestDecisionIgnoresExistence(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newLimiter(t, memStore(t), lockout.Config{Now: c.Now})
	known, unknown := l.IdentifierKey("alice@example.com"), l.IdentifierKey("nobody-7f3a@example.com")
	for range 6 {
		for _, k := range []lockout.Key{known, unknown} {
			l.Fail(ctx, k)
		}
		c.Add(time.Second)
		d1, _ := l.Check(ctx, known)
		d2, _ := l.Check(ctx, unknown)
		if d1 != d2 {
			t.Fatalf("decisions differ: %+v vs %+v", d1, d2)
		}
	}
}

func TestRuleApplyAndLockFor(t *testing.T) {
	r := lockout.Rule{MaxFailures: 1, Window: time.Second, LockDuration: time.Hour, MaxLockDuration: 30 * 24 * time.Hour}
	if got := r.LockFor(100); got != 30*24*time.Hour {
		t.Fatalf("LockFor(100) = %v", got)
	}
	if got := r.LockFor(0); got != time.Hour {
		t.Fatalf("LockFor(0) = %v", got)
	}
	if got := lockout.DefaultConfig().Identifier.MaxFailuresPerHour(); got != 38 {
		t.Fatalf("default bound %d, want 5×(4+1)+12+1 = 38", got)
	}
}
