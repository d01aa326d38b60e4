package guard_test

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/web"
	"github.com/heraproject/hera/internal/webtest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestLockExpiresAndDoubles drives real Kratos through Hera with the
// default policy on a clock the test moves: 5 failures lock for 5 minutes,
// the right password is refused while locked and accepted after; the next
// lock lasts twice as long.
func TestLockExpiresAndDoubles(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})
	env := map[string]string{"HERA_PUBLIC_URL": e.HeraURL, "KRATOS_PUBLIC_URL": e.Kratos.PublicURL, "KRATOS_ADMIN_URL": e.Kratos.AdminURL}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kratos.NewClient(cfg.Kratos.PublicURL, cfg.Kratos.AdminURL, cfg.Kratos.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	store, err := memory.New(memory.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	lc := cfg.Lockout.Policy
	lc.Now = clk.Now
	lim, err := lockout.New(store, lc)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := guard.New(guard.Config{Logger: log, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: kc, Guard: g})
	if err != nil {
		t.Fatal(err)
	}
	e.ServeHera(t, h)

	b := webtest.New(t, e.HeraURL)
	const pw = "the right password 77"
	email := "expiry@example.com"
	p := b.Get("/registration")
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{"traits.email": email})
	b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": pw})
	b.Submit(b.Get("/logout").Form("confirm", "yes"), "confirm", "yes", nil)

	login := func(password string) *webtest.Page {
		p := b.Get("/login")
		return b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	}
	failUntilLocked := func() {
		for range 5 {
			login("wrong")
		}
	}
	failUntilLocked()
	if p := login(pw); !p.Contains("Too many attempts. Try again in 5 minutes") {
		t.Fatalf("not locked for 5 minutes: %s", p.Text())
	}
	clk.Add(4 * time.Minute)
	if p := login(pw); !p.Contains("Too many attempts") {
		t.Fatalf("lock ended early: %s", p.Text())
	}
	clk.Add(61 * time.Second)
	// Within the window one more failure locks again, for twice as long.
	login("wrong")
	if p := login(pw); !p.Contains("Too many attempts. Try again in 10 minutes") {
		t.Fatalf("second lock is not 10 minutes: %s", p.Text())
	}
	clk.Add(10*time.Minute + time.Second)
	if p := login(pw); p.URL.Path != "/" || !strings.Contains(p.Text(), "You are signed in") {
		t.Fatalf("right password refused after the lock: %s", p.Text())
	}
}
