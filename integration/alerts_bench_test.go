package integration

import (
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// BenchmarkSignInAlerts: a password sign-in through Hera's form, each from
// a new browser (so each calls for a "new sign-in" mail), with no SMTP
// server configured, with the stack's SMTP sink, with nothing listening at
// HERA_SMTP_URL, and with a server that accepts connections and never
// answers. The alert is queued in the background and sent by the mail
// worker: the sign-in's time must not depend on the SMTP server
// (docs/benchmarks.md). alerts/op is the new-sign-in mails queued per
// sign-in (0 without SMTP: nothing is queued then).
//
//	go test -tags integration ./integration/ -run '^$' -bench SignInAlerts -benchtime 200x -count 3
func BenchmarkSignInAlerts(b *testing.B) {
	for _, arm := range []string{"no SMTP", "SMTP up", "SMTP refusing", "SMTP hanging"} {
		b.Run(arm, func(b *testing.B) {
			e := stacktest.Start(b, stacktest.Options{})
			env := activityEnv(nil)
			switch arm {
			case "no SMTP":
				env["HERA_SMTP_URL"], env["HERA_SMTP_FROM"] = "", ""
			case "SMTP refusing":
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				env["HERA_SMTP_URL"] = "smtp://" + ln.Addr().String() + "?tls=none"
				ln.Close()
			case "SMTP hanging":
				env["HERA_SMTP_URL"] = "smtp://" + hangingServer(b) + "?tls=none"
			}
			h := apptest.Start(b, e, env)

			email := newEmail("bench-alerts")
			owner := webtest.New(b, e.HeraURL)
			// Signed up and verified (only verified addresses get mail).
			mails := e.Mail.Len()
			p := owner.Get("/registration")
			p = owner.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{
				"traits.email": email, "traits.name.first": "Ada", "traits.name.last": "Lovelace"})
			p = owner.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": password})
			if p.URL.Path != "/verification" {
				b.Fatalf("sign-up: %d at %s", p.Status, p.URL)
			}
			code := e.WaitCode(b, mails, email, "verification")
			p = owner.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
			if !p.Contains("You successfully verified your email address") {
				b.Fatalf("verification: %s", p.Text())
			}
			signIn := func() {
				br := webtest.New(b, e.HeraURL)
				p := br.Get("/login")
				p = br.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
				if p.URL.Path != "/" || p.Status != http.StatusOK {
					b.Fatalf("sign-in: %d at %s: %v", p.Status, p.URL, p.Alerts())
				}
			}
			signIn() // the first since sign-up: not new, no mail
			h.App.Events.Wait()
			before := alertsQueued(b, h, "new_sign_in")
			b.ResetTimer()
			for b.Loop() {
				signIn()
			}
			b.StopTimer()
			h.App.Events.Wait()
			queued := alertsQueued(b, h, "new_sign_in") - before
			b.ReportMetric(float64(queued)/float64(b.N), "alerts/op")
			if arm != "no SMTP" && queued != b.N {
				b.Fatalf("%d new-sign-in mails queued for %d sign-ins from new browsers", queued, b.N)
			}
		})
	}
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
