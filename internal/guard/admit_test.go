package guard_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/captcha/captchatest"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
)

// captchaGuard is a guard whose login, recovery and verification flows
// always need a captcha, checked by a fake siteverify.
func captchaGuard(t *testing.T, exemptAPI bool, store lockout.Store) (*guard.Guard, *lockout.Limiter, *captchatest.Server) {
	t.Helper()
	cs := captchatest.New(t, captchatest.Options{})
	v, err := captcha.New(captcha.Config{Provider: captcha.Turnstile, SiteKey: "site", Secret: cs.Secret(), VerifyURL: cs.URL,
		Hostnames: []string{captchatest.DefaultHostname}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if store == nil {
		ms, err := memory.New(memory.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ms.Close() })
		store = ms
	}
	lim, err := lockout.New(store, lockout.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Config{Logger: slog.New(slog.DiscardHandler), Limiter: lim, Captcha: v, CaptchaExemptAPI: exemptAPI,
		CaptchaFlows: []kratos.Kind{kratos.Login, kratos.Recovery, kratos.Verification}})
	if err != nil {
		t.Fatal(err)
	}
	return g, lim, cs
}

func passwordAttempt(t *testing.T, account, token, ip string) *guard.Attempt {
	t.Helper()
	body := "method=password&identifier=" + account + "&password=wrong&cf-turnstile-response=" + token
	return &guard.Attempt{Attempt: classified(t, kratos.Login, body, attempt.Flow{}), ClientIP: ip}
}

// TestCaptchaBeforeReservation (issue 23, defect 5): where a flow always
// asks for a captcha, the captcha is checked before any slot is reserved:
// a bot's invalid tokens, however many and however slow the provider,
// hold none of the account's slots, and the owner is admitted.
func TestCaptchaBeforeReservation(t *testing.T) {
	g, lim, cs := captchaGuard(t, false, nil)
	cs.SetDelay(300 * time.Millisecond)
	var wg sync.WaitGroup
	bot := make(chan *guard.Refusal, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each bot request from its own address, so no IP limit helps.
			tk, ref := g.Admit(t.Context(), passwordAttempt(t, "victim%40example.com", "forged", "198.51.100."+strconv.Itoa(i+1)))
			if tk != nil {
				g.Release(t.Context(), tk, false)
			}
			bot <- ref
		}()
	}
	time.Sleep(100 * time.Millisecond) // the bot's requests are at the provider
	owner, ref := g.Admit(t.Context(), passwordAttempt(t, "victim%40example.com", captchatest.PassToken, "192.0.2.7"))
	if ref != nil {
		t.Fatalf("owner refused while the bot's captchas were checked: %+v", ref)
	}
	g.Release(t.Context(), owner, false)
	wg.Wait()
	close(bot)
	for ref := range bot {
		if ref == nil || ref.Notice != "captcha" {
			t.Fatalf("bot request: %+v, want a captcha refusal", ref)
		}
	}
	d, err := lim.Check(t.Context(), lim.IdentifierKey(kratos.PasswordIdentifier("victim@example.com")))
	if err != nil || d.Failures != 0 {
		t.Fatalf("account after the bot: %+v %v", d, err)
	}
}

// TestFailedCaptchasLockTheIP: a failed captcha counts against the client
// IP; once the IP is locked its requests are refused before the provider
// is asked, which bounds a bot's siteverify calls.
func TestFailedCaptchasLockTheIP(t *testing.T) {
	g, lim, cs := captchaGuard(t, false, nil)
	ipRule := lim.Rule(lockout.KindIP)
	for i := range ipRule.MaxFailures {
		if _, ref := g.Admit(t.Context(), passwordAttempt(t, "a%40example.com", "forged", "203.0.113.9")); ref == nil || ref.Notice != "captcha" {
			t.Fatalf("forged token %d: %+v", i+1, ref)
		}
	}
	asked := cs.RequestCount()
	if _, ref := g.Admit(t.Context(), passwordAttempt(t, "b%40example.com", captchatest.PassToken, "203.0.113.9")); ref == nil || ref.Status != http.StatusTooManyRequests {
		t.Fatalf("locked IP: %+v", ref)
	}
	if n := cs.RequestCount(); n != asked {
		t.Fatalf("the provider was asked %d more times for a locked IP", n-asked)
	}
}

// TestCaptchaAndAPIFlows: API flows need the captcha too by default (a
// token the app obtains itself), unless the operator exempts them.
func TestCaptchaAndAPIFlows(t *testing.T) {
	for _, exempt := range []bool{false, true} {
		g, _, _ := captchaGuard(t, exempt, nil)
		a := passwordAttempt(t, "app%40example.com", "", "192.0.2.10")
		a.API = true
		tk, ref := g.Admit(t.Context(), a)
		if exempt != (ref == nil) {
			t.Fatalf("exempt=%v: API flow without a token: %+v", exempt, ref)
		}
		g.Release(t.Context(), tk, false)
		// A browser flow needs it either way.
		if _, ref := g.Admit(t.Context(), passwordAttempt(t, "app%40example.com", "", "192.0.2.10")); ref == nil || ref.Notice != "captcha" {
			t.Fatalf("exempt=%v: browser flow without a token: %+v", exempt, ref)
		}
	}
}

// TestUnansweredGuessCounts: a guess whose request reached Kratos counts
// as a failure even when Kratos gave no answer (it timed out after
// judging, or failed); one that never reached Kratos counts nothing.
func TestUnansweredGuessCounts(t *testing.T) {
	g, lim := newGuard(t, identities{})
	key := lim.IdentifierKey(kratos.PasswordIdentifier("bob@example.com"))
	at := classified(t, kratos.Login, "method=password&identifier=bob%40example.com&password=p", attempt.Flow{})
	tk, _ := g.Admit(t.Context(), &guard.Attempt{Attempt: at, ClientIP: "192.0.2.2"})
	g.Release(t.Context(), tk, false)
	if d, _ := lim.Check(t.Context(), key); d.Failures != 0 {
		t.Fatalf("not reached, counted: %+v", d)
	}
	tk, _ = g.Admit(t.Context(), &guard.Attempt{Attempt: at, ClientIP: "192.0.2.2"})
	g.Release(t.Context(), tk, true)
	if d, _ := lim.Check(t.Context(), key); d.Failures != 1 {
		t.Fatalf("reached without an answer: %+v, want 1 failure", d)
	}
}

// failingSettle is a store whose settles fail: the verdict cannot be
// recorded.
type failingSettle struct{ *memory.Store }

func (failingSettle) Settle(context.Context, lockout.Key, string, time.Time, lockout.Rule, bool) (lockout.State, error) {
	return lockout.State{}, errors.New("store went away")
}

// TestUnrecordedVerdictWithheld (defect 9): when the store cannot record
// Kratos's verdict, the verdict is not handed out (a guess must not be
// answered uncounted); the client gets 503 with Retry-After.
func TestUnrecordedVerdictWithheld(t *testing.T) {
	ms, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	lim, err := lockout.New(failingSettle{ms}, lockout.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Config{Logger: slog.New(slog.DiscardHandler), Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	at := classified(t, kratos.Login, "method=password&identifier=bob%40example.com&password=p", attempt.Flow{})
	tk, ref := g.Admit(t.Context(), &guard.Attempt{Attempt: at, ClientIP: "192.0.2.2"})
	if ref != nil {
		t.Fatal(ref)
	}
	wrong := &kratos.Outcome{Kind: kratos.OutcomeFlow, Status: 400, Flow: &kratos.Flow{UI: kratos.UI{Messages: []kratos.Message{{ID: kratos.MsgInvalidCredentials, Type: "error"}}}}}
	_, ref = g.Settle(t.Context(), tk, guard.Answer{Outcome: wrong})
	if ref == nil || ref.Status != http.StatusServiceUnavailable || ref.RetryAfter <= 0 {
		t.Fatalf("verdict not recorded, handed out anyway: %+v", ref)
	}
}
