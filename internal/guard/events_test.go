package guard_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
)

// sink keeps what the guard tells the account's events.
type sink struct {
	mu       sync.Mutex
	failures []events.Failure
	locks    []events.Lock
}

func (s *sink) SignInFailed(f events.Failure) {
	s.mu.Lock()
	s.failures = append(s.failures, f)
	s.mu.Unlock()
}
func (s *sink) Locked(l events.Lock) { s.mu.Lock(); s.locks = append(s.locks, l); s.mu.Unlock() }

// TestEvents: failed sign-ins name the account (a first factor) or the
// identity (a second factor), with the client; the failure that locks an
// account reports the lock and its end; other failures report nothing.
func TestEvents(t *testing.T) {
	g, s := eventsGuard(t)
	try := func(body, session string, o *kratos.Outcome) {
		t.Helper()
		a := &guard.Attempt{Attempt: classified(t, kratos.Login, body, attempt.Flow{}), ClientIP: "192.0.2.1", Session: session,
			UserAgent: "Firefox", Lang: "de"}
		tk, ref := g.Admit(t.Context(), a)
		if ref != nil {
			t.Fatalf("refused: %+v", ref)
		}
		g.Settle(t.Context(), tk, guard.Answer{Outcome: o})
	}
	const pw = "method=password&identifier=Ada%40Example.com&password=wrong"
	max := lockout.DefaultConfig().Identifier.MaxFailures
	for range max {
		try(pw, "", wrongPassword)
	}
	if len(s.failures) != max || s.failures[0].Identifier != "ada@example.com" || s.failures[0].Method != "password" ||
		s.failures[0].Client != (events.Client{IP: "192.0.2.1", UserAgent: "Firefox", Lang: "de"}) {
		t.Fatalf("failures %+v", s.failures)
	}
	if len(s.locks) != 1 || s.locks[0].Identifier != "ada@example.com" || time.Until(s.locks[0].Until) < time.Minute {
		t.Fatalf("locks %+v", s.locks)
	}

	// A second factor on a session Hera saw issued names its identity.
	g, s = eventsGuard(t)
	signIn(t, g, "h1")
	try("method=totp&totp_code=000000", "h1", wrongTOTP)
	if len(s.failures) != 1 || s.failures[0].Identity != "0d4c8f1e-0000-4000-8000-000000000001" || s.failures[0].Identifier != "" {
		t.Fatalf("second factor failures %+v", s.failures)
	}
	// A second factor on a session Hera cannot attribute names nobody.
	s.failures = nil
	try("method=totp&totp_code=000000", "unknown-session", wrongTOTP)
	if len(s.failures) != 0 {
		t.Fatalf("failures of an unattributed session %+v", s.failures)
	}
}

func eventsGuard(t *testing.T) (*guard.Guard, *sink) {
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
	s := &sink{}
	g, err := guard.New(guard.Config{Logger: slog.New(slog.DiscardHandler), Limiter: lim, Events: s,
		Identities: identities{id: "0d4c8f1e-0000-4000-8000-000000000001"}})
	if err != nil {
		t.Fatal(err)
	}
	return g, s
}
