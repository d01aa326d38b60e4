package integration

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/app"
	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/stack/stacktest"
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

// TestLockExpiresAndDoubles drives real Kratos through Hera, as production
// assembles it, with the default policy on a clock the test moves: 5 failures lock for 5 minutes,
// the right password is refused while locked and accepted after; the next
// lock lasts twice as long.
func TestLockExpiresAndDoubles(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})
	clk := &clock{now: time.Now()}
	apptest.Start(t, e, nil, app.WithClock(clk.Now))

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
