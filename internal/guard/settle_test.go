package guard_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/device"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
)

// identities is an admin API that knows one identity, or fails.
type identities struct{ id string }

func (i identities) SessionIdentity(context.Context, string) (string, error) {
	if i.id == "" {
		return "", errors.New("admin API down")
	}
	return i.id, nil
}

func (i identities) IdentityByIdentifier(context.Context, string) (string, error) {
	return i.SessionIdentity(context.Background(), "")
}

func newGuard(t *testing.T, ids identities) (*guard.Guard, *lockout.Limiter) {
	t.Helper()
	store, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	lim, err := lockout.New(store, lockout.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Config{Logger: slog.New(slog.DiscardHandler), Limiter: lim, Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	return g, lim
}

// classified builds an attempt from a form body, as the web layer does.
func classified(t *testing.T, kind kratos.Kind, body string, f attempt.Flow) *attempt.Attempt {
	t.Helper()
	b, err := attempt.Parse(attempt.FormType, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	a, err := attempt.Classify(kind, b, f, attempt.DefaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var wrongTOTP = &kratos.Outcome{Kind: kratos.OutcomeFlow, Status: 400, Flow: &kratos.Flow{UI: kratos.UI{Messages: []kratos.Message{{ID: 4000008, Type: "error"}}}}}

// signIn settles a successful password sign-in that leaves Kratos's
// session cookie handle in the browser.
func signIn(t *testing.T, g *guard.Guard, handle string) {
	t.Helper()
	a := &guard.Attempt{Attempt: classified(t, kratos.Login, "method=password&identifier=ada%40example.com&password=p", attempt.Flow{}), ClientIP: "192.0.2.1"}
	tk, ref := g.Admit(t.Context(), a)
	if ref != nil {
		t.Fatalf("sign-in refused: %+v", ref)
	}
	// Kratos answers 422 (second factor needed) and sets the session cookie.
	g.Settle(t.Context(), tk, guard.Answer{
		Outcome:    &kratos.Outcome{Kind: kratos.OutcomeRedirect, Status: 422, Err: &kratos.APIError{ID: "browser_location_change_required"}},
		SetCookies: []string{"ory_kratos_session=" + handle + "; Path=/; HttpOnly"},
	})
}

// guessTOTP sends one wrong TOTP code on session handle and reports
// whether it was admitted.
func guessTOTP(t *testing.T, g *guard.Guard, handle string) bool {
	t.Helper()
	a := &guard.Attempt{Attempt: classified(t, kratos.Login, "method=totp&totp_code=000000", attempt.Flow{}), ClientIP: "192.0.2.1", Session: handle}
	tk, ref := g.Admit(t.Context(), a)
	if ref != nil {
		return false
	}
	g.Settle(t.Context(), tk, guard.Answer{Outcome: wrongTOTP})
	return true
}

// TestSecondFactorsFollowTheIdentity: sessions created through Hera count
// on one identity, whether the admin API names it or not; a session Hera
// never saw created counts on its own.
func TestSecondFactorsFollowTheIdentity(t *testing.T) {
	for name, ids := range map[string]identities{"admin API answers": {id: "0d4c8f1e-0000-4000-8000-000000000001"}, "admin API down": {}} {
		t.Run(name, func(t *testing.T) {
			g, _ := newGuard(t, ids)
			for i, h := range []string{"s1", "s2", "s3", "s4", "s5"} {
				signIn(t, g, h)
				if !guessTOTP(t, g, h) {
					t.Fatalf("guess %d refused", i+1)
				}
			}
			signIn(t, g, "s6")
			if guessTOTP(t, g, "s6") {
				t.Fatal("a sixth session's guess admitted after five wrong codes on five sessions")
			}
			// A session Hera did not see created has its own counter.
			if !guessTOTP(t, g, "unlinked") {
				t.Fatal("an unknown session is refused")
			}
		})
	}
}

// TestReleaseCountsNothing: an attempt Kratos never judged frees its slots.
func TestReleaseCountsNothing(t *testing.T) {
	g, lim := newGuard(t, identities{})
	at := classified(t, kratos.Login, "method=password&identifier=bob%40example.com&password=p", attempt.Flow{})
	for range 20 {
		tk, ref := g.Admit(t.Context(), &guard.Attempt{Attempt: at, ClientIP: "192.0.2.2"})
		if ref != nil {
			t.Fatalf("refused: %+v", ref)
		}
		g.Release(t.Context(), tk, false)
	}
	st, err := lim.Check(t.Context(), lim.IdentifierKey("bob@example.com"))
	if err != nil || st.Failures != 0 || st.Locked {
		t.Fatalf("after releases: %+v %v", st, err)
	}
	// Settling twice counts once.
	tk, _ := g.Admit(t.Context(), &guard.Attempt{Attempt: at, ClientIP: "192.0.2.2"})
	bad := &kratos.Outcome{Kind: kratos.OutcomeFlow, Status: 400, Flow: &kratos.Flow{UI: kratos.UI{Messages: []kratos.Message{{ID: kratos.MsgInvalidCredentials, Type: "error"}}}}}
	g.Settle(t.Context(), tk, guard.Answer{Outcome: bad})
	g.Settle(t.Context(), tk, guard.Answer{Outcome: bad})
	if st, _ := lim.Check(t.Context(), lim.IdentifierKey("bob@example.com")); st.Failures != 1 {
		t.Fatalf("failures %d after one failure settled twice", st.Failures)
	}
}

// TestRecoveryCodesIgnoreTheIPLock: a locked IP still enters recovery
// codes; their failures add to the IP's count.
func TestRecoveryCodesIgnoreTheIPLock(t *testing.T) {
	g, lim := newGuard(t, identities{})
	ip := "192.0.2.3"
	for range 50 {
		if _, err := lim.Fail(t.Context(), lim.IPKey(ip)); err != nil {
			t.Fatal(err)
		}
	}
	login := &guard.Attempt{Attempt: classified(t, kratos.Login, "method=password&identifier=c%40example.com&password=p", attempt.Flow{}), ClientIP: ip}
	if _, ref := g.Admit(t.Context(), login); ref == nil || ref.Status != http.StatusTooManyRequests {
		t.Fatalf("sign-in from a locked IP: %+v", ref)
	}
	code := &guard.Attempt{Attempt: classified(t, kratos.Recovery, "method=code&code=123456", attempt.Flow{}), ClientIP: ip}
	tk, ref := g.Admit(t.Context(), code)
	if ref != nil {
		t.Fatalf("recovery code from a locked IP: %+v", ref)
	}
	wrong := &kratos.Outcome{Kind: kratos.OutcomeFlow, Status: 200, Flow: &kratos.Flow{UI: kratos.UI{Messages: []kratos.Message{{ID: 4060006, Type: "error"}}}}}
	g.Settle(t.Context(), tk, guard.Answer{Outcome: wrong})
	st, _ := lim.Check(t.Context(), lim.IPKey(ip))
	if st.IPFailures != 51 {
		t.Fatalf("IP failures %d, want 51", st.IPFailures)
	}
}

// TestDeviceCookieKeepsItsID: a sign-in from a browser without the
// account's device cookie gets a new one; a sign-in that carried it gets it
// renewed with the same ID, so the browser stays one device to the
// account's activity.
func TestDeviceCookieKeepsItsID(t *testing.T) {
	store, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	lim, err := lockout.New(store, lockout.Config{})
	if err != nil {
		t.Fatal(err)
	}
	devs, err := device.New(device.Config{Secret: []byte(strings.Repeat("k", 32)), Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Config{Logger: slog.New(slog.DiscardHandler), Limiter: lim, Identities: identities{id: "i1"}, Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	signInWith := func(cookies []*http.Cookie) *http.Cookie {
		t.Helper()
		a := &guard.Attempt{Attempt: classified(t, kratos.Login, "method=password&identifier=ada%40example.com&password=p", attempt.Flow{}),
			ClientIP: "192.0.2.1", Cookies: cookies}
		tk, ref := g.Admit(t.Context(), a)
		if ref != nil {
			t.Fatalf("sign-in refused: %+v", ref)
		}
		got, ref := g.Settle(t.Context(), tk, guard.Answer{Outcome: &kratos.Outcome{Kind: kratos.OutcomeSuccess, Status: 200}})
		if ref != nil || len(got) != 1 {
			t.Fatalf("settle: %v cookies, refusal %+v", len(got), ref)
		}
		return got[0]
	}
	first := signInWith(nil)
	id, ok := devs.Verify("ada@example.com", []*http.Cookie{first})
	if !ok {
		t.Fatal("the issued cookie is not valid")
	}
	again := signInWith([]*http.Cookie{first})
	if got, _ := devs.Verify("ada@example.com", []*http.Cookie{again}); got != id {
		t.Fatalf("renewed cookie's ID %q, want %q", got, id)
	}
	if other, _ := devs.Verify("ada@example.com", []*http.Cookie{signInWith(nil)}); other == id {
		t.Fatal("another browser got the same device ID")
	}
}
