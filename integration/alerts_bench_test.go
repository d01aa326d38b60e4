package integration

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// BenchmarkSignInAlerts: password sign-ins through Hera's form, each from a
// new browser (so each calls for a "new sign-in" mail), against four Heras
// side by side: no SMTP server configured, the stack's SMTP sink, nothing
// listening at HERA_SMTP_URL, and a server that accepts connections and
// never answers. Each iteration signs in once on each, in turn, so a busy
// machine slows every arm alike. The alert is queued in the background and
// sent by the mail worker: the sign-in's time must not depend on the SMTP
// server (docs/benchmarks.md). Reported per arm: the median and 90th
// percentile sign-in (GET /login and the POST, ms), and the new-sign-in
// mails queued per sign-in (0 without SMTP: nothing is queued then).
//
//	go test -tags integration ./integration/ -run '^$' -bench SignInAlerts -benchtime 100x -count 3
func BenchmarkSignInAlerts(b *testing.B) {
	type arm struct {
		name   string
		e      *stacktest.Env
		h      *apptest.Hera
		email  string
		took   []time.Duration
		before int
	}
	arms := []*arm{{name: "none"}, {name: "up"}, {name: "refusing"}, {name: "hanging"}}
	for _, a := range arms {
		a.e = stacktest.Start(b, stacktest.Options{})
		env := activityEnv(nil)
		switch a.name {
		case "none":
			env["HERA_SMTP_URL"], env["HERA_SMTP_FROM"] = "", ""
		case "refusing":
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			env["HERA_SMTP_URL"] = "smtp://" + ln.Addr().String() + "?tls=none"
			ln.Close()
		case "hanging":
			env["HERA_SMTP_URL"] = "smtp://" + hangingServer(b) + "?tls=none"
		}
		a.h = apptest.Start(b, a.e, env)
		a.email = newEmail("bench-alerts-" + a.name)
		signUpVerifiedTB(b, a.e, a.email)
		signInNew(b, a.e.HeraURL, a.email) // the first since sign-up: not new, no mail
		waitSignIns(b, a.h, 1)
		a.before = alertsQueued(b, a.h, "new_sign_in")
	}
	n := 0
	for b.Loop() {
		n++
		for _, a := range arms {
			start := time.Now()
			signInNew(b, a.e.HeraURL, a.email)
			a.took = append(a.took, time.Since(start))
		}
	}
	b.StopTimer()
	for _, a := range arms {
		waitSignIns(b, a.h, 1+n)
		queued := alertsQueued(b, a.h, "new_sign_in") - a.before
		slices.Sort(a.took)
		ms := func(q float64) float64 { return float64(a.took[int(q*float64(len(a.took)-1))]) / 1e6 }
		b.ReportMetric(ms(0.5), a.name+"-p50-ms")
		b.ReportMetric(ms(0.9), a.name+"-p90-ms")
		b.ReportMetric(float64(queued)/float64(n), a.name+"-alerts/op")
		want := n
		if a.name == "none" {
			want = 0
		}
		if queued != want {
			b.Errorf("SMTP %s: %d new-sign-in mails queued for %d sign-ins from new browsers", a.name, queued, n)
		}
	}
}

// signUpVerifiedTB signs email up through Hera's pages and verifies its
// address (only verified addresses get mail).
func signUpVerifiedTB(b testing.TB, e *stacktest.Env, email string) {
	b.Helper()
	br := webtest.New(b, e.HeraURL)
	mails := e.Mail.Len()
	p := br.Get("/registration")
	p = br.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{
		"traits.email": email, "traits.name.first": "Ada", "traits.name.last": "Lovelace"})
	p = br.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": password})
	if p.URL.Path != "/verification" {
		b.Fatalf("sign-up: %d at %s", p.Status, p.URL)
	}
	code := e.WaitCode(b, mails, email, "verification")
	p = br.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
	if !p.Contains("You successfully verified your email address") {
		b.Fatalf("verification: %s", p.Text())
	}
}

// signInNew signs in with a browser of its own (no device cookie).
func signInNew(b testing.TB, base, email string) {
	br := webtest.New(b, base)
	p := br.Get("/login")
	p = br.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	if p.URL.Path != "/" || p.Status != http.StatusOK {
		b.Fatalf("sign-in: %d at %s: %s", p.Status, p.URL, strings.Join(p.Alerts(), "; "))
	}
}

// waitSignIns waits until Hera recorded n sign-ins (Kratos calls its hooks
// in the background) and the work they started is done.
func waitSignIns(b testing.TB, h *apptest.Hera, n int) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(b, h, `hera_activity_events_total{kind="sign_in"}`) < n {
		if time.Now().After(deadline) {
			b.Fatalf("after 30 s, fewer than %d sign-ins recorded", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.App.Events.Wait()
}

// hangingServer accepts connections and never answers, until the
// benchmark ends: an SMTP server that is down without refusing.
func hangingServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
