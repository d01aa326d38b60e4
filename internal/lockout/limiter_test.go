package lockout_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
func (brokenStore) Get(context.Context, lockout.Key, time.Time, lockout.Rule) (lockout.State, error) {
	return lockout.State{}, errBroken
}
func (brokenStore) Reset(context.Context, lockout.Key) error { return errBroken }
func (brokenStore) Reserve(context.Context, lockout.Key, string, time.Time, lockout.Rule, time.Duration) (lockout.State, bool, error) {
	return lockout.State{}, false, errBroken
}
func (brokenStore) Settle(context.Context, lockout.Key, string, time.Time, lockout.Rule, bool) (lockout.State, error) {
	return lockout.State{}, errBroken
}
func (brokenStore) Take(context.Context, lockout.Key, time.Time, []lockout.Limit) (lockout.Quota, error) {
	return lockout.Quota{}, errBroken
}
func (brokenStore) Link(context.Context, lockout.Key, string, time.Time, time.Duration) error {
	return errBroken
}
func (brokenStore) Resolve(context.Context, lockout.Key, time.Time) (string, error) {
	return "", errBroken
}

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

// flakyStore fails Reserve for the keys of one kind (all kinds if empty)
// and passes everything else to a working store.
type flakyStore struct {
	lockout.Store
	kind lockout.KeyKind
}

func (f flakyStore) Reserve(ctx context.Context, k lockout.Key, id string, now time.Time, r lockout.Rule, hold time.Duration) (lockout.State, bool, error) {
	if f.kind == "" || k.Kind == f.kind {
		return lockout.State{}, false, errBroken
	}
	return f.Store.Reserve(ctx, k, id, now, r, hold)
}

// mustGet returns the state of k under the default rule of its kind.
func mustGet(t *testing.T, s lockout.Store, k lockout.Key, now time.Time) lockout.State {
	t.Helper()
	r := lockout.DefaultConfig().Identifier
	if k.Kind == lockout.KindIP {
		r = lockout.DefaultConfig().IP
	}
	st, err := s.Get(context.Background(), k, now, r)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// empty reports whether st is the zero State.
func empty(st lockout.State) bool { return reflect.DeepEqual(st, lockout.State{}) }

func reserveOK(t *testing.T, l *lockout.Limiter, keys ...lockout.Key) (*lockout.Reservation, lockout.Decision) {
	t.Helper()
	r, d, err := l.Reserve(context.Background(), keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r, d
}

func TestNewConfigDefaults(t *testing.T) {
	c := lockout.DefaultConfig()
	if c.Device != c.Identifier || c.Hold != time.Minute || c.LinkTTL != 24*time.Hour {
		t.Fatalf("defaults: Device %+v, Hold %v, LinkTTL %v", c.Device, c.Hold, c.LinkTTL)
	}
	wantR := []lockout.Limit{{Max: 3, Per: 15 * time.Minute}, {Max: 10, Per: time.Hour}}
	wantIP := []lockout.Limit{{Max: 30, Per: time.Hour}}
	if !slices.Equal(c.Sends.Recipient, wantR) || !slices.Equal(c.Sends.IP, wantIP) {
		t.Fatalf("default send quotas: %+v", c.Sends)
	}
	// The device rule follows a configured identifier rule.
	l := newLimiter(t, memStore(t), lockout.Config{Identifier: lockout.Rule{MaxFailures: 4}})
	if got := l.Config().Device; got != l.Config().Identifier || l.Rule(lockout.KindDevice) != got {
		t.Fatalf("Device %+v, want the identifier rule %+v", got, l.Config().Identifier)
	}
	// Changing the caller's slice later changes nothing.
	limits := []lockout.Limit{{Max: 1, Per: time.Hour}}
	l = newLimiter(t, memStore(t), lockout.Config{Sends: lockout.SendPolicy{IP: limits}})
	limits[0].Max = 1000
	if l.Config().Sends.IP[0].Max != 1 {
		t.Fatal("the limiter shares the caller's limits")
	}
	for name, cfg := range map[string]lockout.Config{
		"short hold":      {Hold: 500 * time.Millisecond},
		"long hold":       {Hold: 2 * time.Hour},
		"short link":      {LinkTTL: 30 * time.Second},
		"long link":       {LinkTTL: 31 * 24 * time.Hour},
		"recipient max 0": {Sends: lockout.SendPolicy{Recipient: []lockout.Limit{{Max: 0, Per: time.Hour}}}},
		"ip per 0":        {Sends: lockout.SendPolicy{IP: []lockout.Limit{{Max: 1}}}},
		"ASVS device":     {Device: lockout.Rule{MaxFailures: 50}},
	} {
		if _, err := lockout.New(memStore(t), cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if strings.HasPrefix(name, "ASVS") && !strings.Contains(err.Error(), "ASVS") {
			t.Errorf("%s: error does not name ASVS: %v", name, err)
		}
	}
}

func TestNewKeys(t *testing.T) {
	l := newLimiter(t, memStore(t), lockout.Config{})
	if l.RecipientKey(lockout.PurposeRecovery, " Alice@Example.com\u200b") != l.RecipientKey(lockout.PurposeRecovery, "alice@example.com") {
		t.Fatal("recipients not normalized")
	}
	// Each purpose has its own quota per address.
	purposes := []lockout.Purpose{lockout.PurposeRecovery, lockout.PurposeVerification, lockout.PurposeLogin,
		lockout.PurposeRegistration, lockout.PurposeSettings}
	seen := map[lockout.Key]bool{}
	for _, p := range purposes {
		k := l.RecipientKey(p, "alice@example.com")
		if seen[k] {
			t.Fatalf("purpose %s shares a key", p)
		}
		seen[k] = true
	}
	if l.SessionKey("Handle") == l.SessionKey("handle") || l.SessionKey(" h") == l.SessionKey("h") {
		t.Fatal("session handles normalized")
	}
	if l.DeviceKey("D") == l.DeviceKey("d") {
		t.Fatal("device ids normalized")
	}
	digests := map[string]lockout.KeyKind{}
	for _, k := range []lockout.Key{l.IdentifierKey("x"), l.IPKey("x"), l.IdentityKey("x"), l.DeviceKey("x"), l.RecipientKey(lockout.PurposeLogin, "x"), l.SessionKey("x")} {
		if !k.Kind.Valid() || len(k.Digest) != 43 || strings.Contains(k.String(), ":x") {
			t.Fatalf("key %s", k)
		}
		if other, ok := digests[k.Digest]; ok {
			t.Fatalf("kinds %s and %s share a digest", k.Kind, other)
		}
		digests[k.Digest] = k.Kind
	}
}

// TestReserveSettle walks one identifier through reservations: concurrent
// attempts up to MaxFailures, Busy beyond, captchas from the 4th slot, and
// the lock engaged once by the settled failures.
func TestReserveSettle(t *testing.T) {
	c := newClock()
	store := mustMem(t)
	l := newLimiter(t, store, lockout.Config{Now: c.Now})
	id, ip := l.IdentifierKey("alice@example.com"), l.IPKey("192.0.2.1")
	var rs []*lockout.Reservation
	for i := int64(1); i <= 5; i++ {
		r, d := reserveOK(t, l, id, ip)
		if r == nil || d.Locked || d.Busy || d.Slot != i || d.CaptchaRequired != (i > 3) || d.Failures != 0 {
			t.Fatalf("attempt %d: %v %+v", i, r, d)
		}
		rs = append(rs, r)
	}
	c.Add(1500 * time.Millisecond)
	r, d := reserveOK(t, l, id, ip)
	if r != nil || d.Locked || !d.Busy || !d.Until.Equal(storetest.T0.Add(time.Minute)) || d.RetryAfter != 59*time.Second || d.Slot != 6 || !d.CaptchaRequired {
		t.Fatalf("6th concurrent attempt: %v %+v, want Busy until the hold ends", r, d)
	}
	// The refused attempt holds nothing, on either key.
	if st := mustGet(t, store, id, c.now); st.Pending != 5 {
		t.Fatalf("identifier: %+v", st)
	}
	if st := mustGet(t, store, ip, c.now); st.Pending != 5 {
		t.Fatalf("IP: %+v", st)
	}
	for i, r := range rs {
		engaged, err := l.Settle(context.Background(), r, lockout.Failure)
		if err != nil {
			t.Fatal(err)
		}
		if i < 4 && len(engaged) != 0 || i == 4 && !slices.Equal(engaged, []lockout.Key{id}) {
			t.Fatalf("failure %d engaged %v", i+1, engaged)
		}
	}
	r, d = reserveOK(t, l, id, ip)
	if r != nil || !d.Locked || d.Busy || !d.Until.Equal(c.now.Add(5*time.Minute).Truncate(time.Millisecond)) || d.RetryAfter != 5*time.Minute || d.Failures != 5 {
		t.Fatalf("after 5 failures: %v %+v, want Locked", r, d)
	}
	if st := mustGet(t, store, ip, c.now); st.Pending != 0 || st.Failures != 5 {
		t.Fatalf("IP after the refusal: %+v", st)
	}
	// Settling again, or settling nothing, does nothing.
	if engaged, err := l.Settle(context.Background(), rs[0], lockout.Failure); engaged != nil || err != nil {
		t.Fatalf("second Settle: %v, %v", engaged, err)
	}
	if engaged, err := l.Settle(context.Background(), nil, lockout.Failure); engaged != nil || err != nil {
		t.Fatalf("Settle(nil): %v, %v", engaged, err)
	}
	if st := mustGet(t, store, id, c.now); st.Failures != 5 {
		t.Fatalf("a second Settle counted: %+v", st)
	}
}

// TestParallelWrongPasswords is the incident: parallel wrong passwords for
// one account. With Reserve before Kratos and Settle after, at most
// MaxFailures of them reach Kratos.
func TestParallelWrongPasswords(t *testing.T) {
	l := newLimiter(t, memStore(t), lockout.Config{})
	var judged atomic.Int64
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			r, d, err := l.Reserve(context.Background(), l.IdentifierKey("victim@example.com"), l.IPKey(fmt.Sprintf("198.51.100.%d", i)))
			if err != nil || r == nil {
				if err == nil && !d.Locked && !d.Busy {
					t.Errorf("refused without Locked or Busy: %+v", d)
				}
				return
			}
			judged.Add(1)
			time.Sleep(time.Millisecond) // Kratos says no
			if _, err := l.Settle(context.Background(), r, lockout.Failure); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := judged.Load(); n != 5 {
		t.Fatalf("%d of 24 parallel wrong passwords reached Kratos, want 5", n)
	}
}

func TestReserveRefusalReleases(t *testing.T) {
	c := newClock()
	store := mustMem(t)
	l := newLimiter(t, store, lockout.Config{Now: c.Now, IP: lockout.Rule{MaxFailures: 1}})
	id, ip := l.IdentifierKey("alice@example.com"), l.IPKey("192.0.2.1")
	if _, err := l.Fail(context.Background(), ip); err != nil {
		t.Fatal(err)
	}
	r, d := reserveOK(t, l, id, ip)
	if r != nil || !d.Locked || d.IPFailures != 1 || d.RetryAfter != 15*time.Minute {
		t.Fatalf("locked IP: %v %+v", r, d)
	}
	if st := mustGet(t, store, id, c.now); !empty(st) {
		t.Fatalf("the identifier kept the refused attempt's slot: %+v", st)
	}
	// An invalid key reserves nothing and fails closed.
	r, d, err := l.Reserve(context.Background(), id, lockout.Key{Realm: "ciam", Kind: "password", Digest: "x"})
	if r != nil || !d.Locked || !errors.Is(err, lockout.ErrInvalidKey) {
		t.Fatalf("invalid key: %v %+v %v", r, d, err)
	}
	if st := mustGet(t, store, id, c.now); !empty(st) {
		t.Fatalf("an invalid attempt reserved: %+v", st)
	}
	// A key named twice takes one slot.
	r, d = reserveOK(t, l, id, id)
	if r == nil || d.Slot != 1 || mustGet(t, store, id, c.now).Pending != 1 {
		t.Fatalf("a key named twice: %v %+v %+v", r, d, mustGet(t, store, id, c.now))
	}
}

func TestSettleOutcomes(t *testing.T) {
	c := newClock()
	store := mustMem(t)
	l := newLimiter(t, store, lockout.Config{Now: c.Now})
	id, ip, dev := l.IdentifierKey("alice@example.com"), l.IPKey("192.0.2.1"), l.DeviceKey("device-1")
	for range 2 {
		r, _ := reserveOK(t, l, id, ip, dev)
		if _, err := l.Settle(context.Background(), r, lockout.Failure); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := reserveOK(t, l, id, ip, dev)
	if _, err := l.Settle(context.Background(), r, lockout.Neutral); err != nil {
		t.Fatal(err)
	}
	for _, k := range []lockout.Key{id, ip, dev} {
		if st := mustGet(t, store, k, c.now); st.Failures != 2 || st.Pending != 0 {
			t.Fatalf("%s after a neutral outcome: %+v, want 2 failures and nothing pending", k.Kind, st)
		}
	}
	// The client went away after Kratos answered: the outcome still counts.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ = reserveOK(t, l, id, ip, dev)
	if _, err := l.Settle(cancelled, r, lockout.Failure); err != nil {
		t.Fatalf("Settle with a cancelled context: %v", err)
	}
	if st := mustGet(t, store, id, c.now); st.Failures != 3 || st.Pending != 0 {
		t.Fatalf("after a settle with a cancelled context: %+v", st)
	}
	r, _ = reserveOK(t, l, id, ip, dev)
	if _, err := l.Settle(context.Background(), r, lockout.Success); err != nil {
		t.Fatal(err)
	}
	for _, k := range []lockout.Key{id, dev} {
		if st := mustGet(t, store, k, c.now); !empty(st) {
			t.Fatalf("%s after a success: %+v, want reset", k.Kind, st)
		}
	}
	if st := mustGet(t, store, ip, c.now); st.Failures != 3 || st.Pending != 0 {
		t.Fatalf("IP after a success: %+v, want its 3 failures kept", st)
	}
}

// TestSettleAfterHold: a reservation settled after its hold ended was
// counted as a failure when it ended; the late Settle counts nothing more,
// whatever the outcome, and frees no other attempt's slot.
func TestSettleAfterHold(t *testing.T) {
	c := newClock()
	store := mustMem(t)
	var expired []string
	l := newLimiter(t, store, lockout.Config{Now: c.Now, OnExpired: func(k lockout.KeyKind, n int) {
		expired = append(expired, fmt.Sprintf("%s:%d", k, n))
	}})
	id := l.IdentifierKey("alice@example.com")
	slow, _ := reserveOK(t, l, id)
	c.Add(30 * time.Second)
	other, _ := reserveOK(t, l, id) // holds its slot until T0+90s
	c.Add(30 * time.Second)
	engaged, err := l.Settle(context.Background(), slow, lockout.Failure)
	if err != nil || engaged != nil {
		t.Fatal(engaged, err)
	}
	if st := mustGet(t, store, id, c.now); st.Failures != 1 || st.Pending != 1 || len(st.Holds) != 1 {
		t.Fatalf("after a settle past the hold: %+v, want the expired hold counted once and the other slot kept", st)
	}
	if !slices.Equal(expired, []string{"identifier:1"}) {
		t.Fatalf("OnExpired calls %v, want identifier:1", expired)
	}
	if _, err := l.Settle(context.Background(), other, lockout.Neutral); err != nil {
		t.Fatal(err)
	}
	if st := mustGet(t, store, id, c.now); st.Failures != 1 || st.Pending != 0 {
		t.Fatalf("after the other settle: %+v", st)
	}
}

// TestCrashedReservation is the incident: 5 guesses for one account are
// reserved, the replica judging one of them dies (it never settles), the
// others fail. Once its hold has ended, the dead replica's guess counts as
// the 5th failure: the account locks, and no 6th guess is judged.
func TestCrashedReservation(t *testing.T) {
	c := newClock()
	store := mustMem(t)
	var expired atomic.Int64
	l := newLimiter(t, store, lockout.Config{Now: c.Now, OnExpired: func(_ lockout.KeyKind, n int) { expired.Add(int64(n)) }})
	id, ip := l.IdentifierKey("victim@example.com"), l.IPKey("192.0.2.1")
	var rs []*lockout.Reservation
	for range 5 {
		r, d := reserveOK(t, l, id, ip)
		if r == nil {
			t.Fatalf("refused: %+v", d)
		}
		rs = append(rs, r)
	}
	for _, r := range rs[1:] { // rs[0] was on the replica that died
		if _, err := l.Settle(context.Background(), r, lockout.Failure); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(l.Config().Hold - time.Millisecond)
	if r, d := reserveOK(t, l, id, ip); r != nil || !d.Busy {
		t.Fatalf("while the dead replica's hold lasts: %v %+v, want Busy", r, d)
	}
	c.Add(time.Millisecond)
	r, d := reserveOK(t, l, id, ip)
	if r != nil || !d.Locked || d.Failures != 5 {
		t.Fatalf("once the dead replica's hold ended: %v %+v, want Locked after 5 failures", r, d)
	}
	// The identifier refused first: the IP's hold is counted by its next
	// write, and shows as a failure already.
	if n := expired.Load(); n != 1 {
		t.Fatalf("OnExpired counted %d expired reservations, want 1 (the identifier's)", n)
	}
	if st := mustGet(t, store, ip, c.now); st.Failures != 5 || st.Pending != 0 {
		t.Fatalf("IP: %+v, want the dead replica's guess among its 5 failures", st)
	}
}

// settleFlaky fails the first fails Settle calls, then works.
type settleFlaky struct {
	lockout.Store
	fails atomic.Int64
	calls atomic.Int64
}

func (f *settleFlaky) Settle(ctx context.Context, k lockout.Key, id string, now time.Time, r lockout.Rule, failed bool) (lockout.State, error) {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return lockout.State{}, errBroken
	}
	return f.Store.Settle(ctx, k, id, now, r, failed)
}

// TestSettleRetries: Settle tries a failing store three times; if the store
// is still down, the hold stays and counts as a failure when it ends, and
// the keys after it are tried once.
func TestSettleRetries(t *testing.T) {
	c := newClock()
	mem := mustMem(t)
	flaky := &settleFlaky{Store: mem}
	l := newLimiter(t, flaky, lockout.Config{Now: c.Now})
	id, ip := l.IdentifierKey("alice@example.com"), l.IPKey("192.0.2.1")

	// Two failures, then the store answers: counted once.
	r, _ := reserveOK(t, l, id, ip)
	flaky.fails.Store(2)
	if _, err := l.Settle(context.Background(), r, lockout.Failure); err != nil {
		t.Fatalf("Settle with a store failing twice: %v", err)
	}
	for _, k := range []lockout.Key{id, ip} {
		if st := mustGet(t, mem, k, c.now); st.Failures != 1 || st.Pending != 0 {
			t.Fatalf("%s after the retried Settle: %+v", k.Kind, st)
		}
	}
	// The store stays down: 3 attempts on the first key, 1 on the second.
	r, _ = reserveOK(t, l, id, ip)
	flaky.fails.Store(1 << 20)
	flaky.calls.Store(0)
	if _, err := l.Settle(context.Background(), r, lockout.Neutral); !errors.Is(err, lockout.ErrUnavailable) || !errors.Is(err, errBroken) {
		t.Fatalf("Settle with the store down: %v", err)
	}
	if n := flaky.calls.Load(); n != 4 {
		t.Fatalf("%d Settle calls with the store down, want 3 for the first key and 1 for the second", n)
	}
	flaky.fails.Store(0)
	if st := mustGet(t, mem, id, c.now); st.Failures != 1 || st.Pending != 1 {
		t.Fatalf("after the failed Settle: %+v, want the hold kept", st)
	}
	c.Add(l.Config().Hold)
	if st := mustGet(t, mem, id, c.now); st.Failures != 2 || st.Pending != 0 {
		t.Fatalf("once the hold ended: %+v, want it counted as a failure", st)
	}
}

// TestReservationIDs: each Reserve holds every key under one ID of its own.
func TestReservationIDs(t *testing.T) {
	store := mustMem(t)
	l := newLimiter(t, store, lockout.Config{})
	id, ip, dev := l.IdentifierKey("alice@example.com"), l.IPKey("192.0.2.1"), l.DeviceKey("d")
	reserveOK(t, l, id, ip, dev)
	reserveOK(t, l, id, ip)
	now := time.Now()
	ids := map[string]int{}
	for _, k := range []lockout.Key{id, ip, dev} {
		for _, h := range mustGet(t, store, k, now).Holds {
			if err := lockout.ValidateHoldID(h.ID); err != nil || len(h.ID) != 22 {
				t.Fatalf("hold ID %q: %v, want 22 bytes of base64url", h.ID, err)
			}
			ids[h.ID]++
		}
	}
	counts := slices.Sorted(maps.Values(ids))
	if !slices.Equal(counts, []int{2, 3}) {
		t.Fatalf("hold IDs %v, want one on all 3 keys and one on 2", ids)
	}
}

func TestReserveOutage(t *testing.T) {
	ctx := context.Background()
	// Fail closed.
	l := newLimiter(t, brokenStore{}, lockout.Config{})
	r, d, err := l.Reserve(ctx, l.IdentifierKey("a"), l.IPKey("192.0.2.1"))
	if r != nil || d != (lockout.Decision{Locked: true, Unavailable: true}) || !errors.Is(err, lockout.ErrUnavailable) || !errors.Is(err, errBroken) {
		t.Fatalf("fail closed: %v %+v %v", r, d, err)
	}

	// Fail open: the reservation remembers the keys, and Settle counts the
	// failure with Fail once the store is back for that.
	c := newClock()
	mem := mustMem(t)
	l = newLimiter(t, flakyStore{Store: mem}, lockout.Config{Now: c.Now, FailOpen: true})
	id, ip := l.IdentifierKey("alice@example.com"), l.IPKey("192.0.2.1")
	r, d, err = l.Reserve(ctx, id, ip)
	if r == nil || d != (lockout.Decision{Unavailable: true, CaptchaRequired: true}) || !errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("fail open: %v %+v %v", r, d, err)
	}
	if _, err := l.Settle(ctx, r, lockout.Failure); err != nil {
		t.Fatal(err)
	}
	for _, k := range []lockout.Key{id, ip} {
		if st := mustGet(t, mem, k, c.now); st.Failures != 1 || st.Pending != 0 {
			t.Fatalf("%s after a fail-open failure: %+v", k.Kind, st)
		}
	}
	r, _, _ = l.Reserve(ctx, id, ip)
	if _, err := l.Settle(ctx, r, lockout.Success); err != nil {
		t.Fatal(err)
	}
	if !empty(mustGet(t, mem, id, c.now)) || mustGet(t, mem, ip, c.now).Failures != 1 {
		t.Fatal("a fail-open success did not reset the identifier alone")
	}

	// The store fails on the second key: the first is released.
	l = newLimiter(t, flakyStore{Store: mem, kind: lockout.KindIP}, lockout.Config{Now: c.Now})
	r, d, err = l.Reserve(ctx, id, ip)
	if r != nil || !d.Locked || !d.Unavailable || !errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("store failing on the IP: %v %+v %v", r, d, err)
	}
	if st := mustGet(t, mem, id, c.now); st.Pending != 0 {
		t.Fatalf("the identifier kept its slot: %+v", st)
	}
}

func TestCaptchaFromSlot(t *testing.T) {
	c := newClock()
	l := newLimiter(t, memStore(t), lockout.Config{Now: c.Now})
	id, ip := l.IdentifierKey("alice@example.com"), l.IPKey("192.0.2.1")
	for range 3 {
		r, d := reserveOK(t, l, id, ip)
		if d.CaptchaRequired {
			t.Fatalf("captcha before 3 failures: %+v", d)
		}
		l.Settle(context.Background(), r, lockout.Failure)
	}
	// After 3 failures the next attempt is the 4th: a captcha.
	r, d := reserveOK(t, l, id, ip)
	if d.Slot != 4 || !d.CaptchaRequired || d.Failures != 3 || d.IPFailures != 3 {
		t.Fatalf("4th attempt: %+v", d)
	}
	l.Settle(context.Background(), r, lockout.Neutral)
	// IP keys do not count towards the slot.
	other := l.IdentifierKey("bob@example.com")
	if _, d := reserveOK(t, l, other, ip); d.Slot != 1 || d.CaptchaRequired || d.IPFailures != 3 {
		t.Fatalf("another identifier from the same IP: %+v", d)
	}
	// Disabled.
	l = newLimiter(t, memStore(t), lockout.Config{Now: c.Now, CaptchaAfter: -1})
	for range 5 {
		if _, d := reserveOK(t, l, id); d.CaptchaRequired {
			t.Fatalf("captcha though disabled: %+v", d)
		}
	}
}

func TestTakeSend(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newLimiter(t, memStore(t), lockout.Config{Now: c.Now, Sends: lockout.SendPolicy{
		Recipient: []lockout.Limit{{Max: 1, Per: time.Hour}},
		IP:        []lockout.Limit{{Max: 2, Per: time.Hour}},
	}})
	take := func(ip string, recipients ...string) lockout.Quota {
		t.Helper()
		q, err := l.TakeSend(ctx, lockout.PurposeRecovery, ip, recipients...)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	if q := take("192.0.2.1", "alice@example.com"); !q.OK || q.Used != 1 {
		t.Fatalf("first send: %+v", q)
	}
	c.Add(time.Minute)
	// The same recipient, spelt differently: refused by its quota.
	if q := take("192.0.2.1", " ALICE@example.com"); q.OK || !q.RetryAt.Equal(storetest.T0.Add(time.Hour)) {
		t.Fatalf("second send to alice: %+v", q)
	}
	// The IP has used its 2 sends: refused, and bob's quota is not spent.
	if q := take("192.0.2.1", "bob@example.com"); q.OK || !q.RetryAt.Equal(storetest.T0.Add(time.Hour)) || q.Used != 2 {
		t.Fatalf("third send from the IP: %+v", q)
	}
	if q := take("198.51.100.1", "bob@example.com"); !q.OK {
		t.Fatalf("bob from another IP: %+v, want his quota unspent", q)
	}
	// One recipient named twice is taken once; no recipient: the IP alone.
	if q := take("203.0.113.1", "carol@example.com", "Carol@Example.com"); !q.OK || q.Used != 1 {
		t.Fatalf("carol twice: %+v", q)
	}
	if q := take("203.0.113.1"); !q.OK || q.Used != 2 {
		t.Fatalf("no recipient: %+v", q)
	}
	if q := take("203.0.113.1"); q.OK {
		t.Fatalf("no recipient, IP spent: %+v", q)
	}
	// The store fails: closed by default, open if configured.
	for _, open := range []bool{false, true} {
		l := newLimiter(t, brokenStore{}, lockout.Config{FailOpen: open})
		q, err := l.TakeSend(ctx, lockout.PurposeRecovery, "192.0.2.1", "alice@example.com")
		if q.OK != open || !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("FailOpen=%v: %+v, %v", open, q, err)
		}
	}
}

// TestTakeSendPurposes: sends for other purposes cannot use up an address's
// recovery quota, and every purpose but recovery shares a total per
// address.
func TestTakeSendPurposes(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newLimiter(t, memStore(t), lockout.Config{Now: c.Now, Sends: lockout.SendPolicy{
		Recipient:      []lockout.Limit{{Max: 3, Per: time.Hour}},
		RecipientTotal: []lockout.Limit{{Max: 5, Per: time.Hour}},
		IP:             []lockout.Limit{{Max: 1000, Per: time.Hour}},
	}})
	take := func(p lockout.Purpose) bool {
		t.Helper()
		q, err := l.TakeSend(ctx, p, "192.0.2.1", "owner@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return q.OK
	}
	for i := range 3 {
		if !take(lockout.PurposeVerification) {
			t.Fatalf("verification send %d refused", i+1)
		}
	}
	if take(lockout.PurposeVerification) {
		t.Fatal("a fourth verification send passed its quota of 3")
	}
	if !take(lockout.PurposeLogin) || !take(lockout.PurposeSettings) {
		t.Fatal("other purposes refused while under the total")
	}
	// 5 sends in all: the total refuses registration …
	if take(lockout.PurposeRegistration) {
		t.Fatal("a sixth send passed the total of 5")
	}
	// … but recovery has its own quota, whatever was sent before.
	for i := range 3 {
		if !take(lockout.PurposeRecovery) {
			t.Fatalf("recovery send %d refused after other purposes' sends", i+1)
		}
	}
	if take(lockout.PurposeRecovery) {
		t.Fatal("a fourth recovery send passed its quota of 3")
	}
}

func TestLinkResolve(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newLimiter(t, memStore(t), lockout.Config{Now: c.Now, LinkTTL: time.Hour})
	resolve := func(handle string) string {
		t.Helper()
		s, err := l.Resolve(ctx, handle)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := l.Link(ctx, "ory_st_abc", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if got := resolve("ory_st_abc"); got != "alice@example.com" {
		t.Fatalf("Resolve = %q", got)
	}
	if got := resolve("ory_st_ABC"); got != "" {
		t.Fatalf("another handle resolves: %q", got)
	}
	c.Add(time.Hour - time.Millisecond)
	if got := resolve("ory_st_abc"); got != "alice@example.com" {
		t.Fatalf("before LinkTTL: %q", got)
	}
	c.Add(time.Millisecond)
	if got := resolve("ory_st_abc"); got != "" {
		t.Fatalf("after LinkTTL: %q", got)
	}
	err := l.Link(ctx, "h", strings.Repeat("x", lockout.MaxSubjectBytes+1))
	if err == nil || errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("too long a subject: %v, want an error not blaming the store", err)
	}
	b := newLimiter(t, brokenStore{}, lockout.Config{})
	if err := b.Link(ctx, "h", "s"); !errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("Link on a broken store: %v", err)
	}
	if _, err := b.Resolve(ctx, "h"); !errors.Is(err, lockout.ErrUnavailable) {
		t.Fatalf("Resolve on a broken store: %v", err)
	}
}
