package guard_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
)

// canceledStore answers every reservation with its context's error, as a
// networked store does when the request behind it is abandoned.
type canceledStore struct{ *memory.Store }

func (s canceledStore) Reserve(ctx context.Context, _ lockout.Key, _ string, _ time.Time, _ lockout.Rule, _ time.Duration) (lockout.State, bool, error) {
	<-ctx.Done()
	return lockout.State{}, false, ctx.Err()
}

// TestCanceledAdmissionIsNoOutage: a client that goes away while the guard
// asks the store is logged as gone, not as a store failure (no ERROR line
// to page an operator); a real store error still is one.
func TestCanceledAdmissionIsNoOutage(t *testing.T) {
	store, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	lim, err := lockout.New(canceledStore{store}, lockout.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g, err := guard.New(guard.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	a := &guard.Attempt{Attempt: classified(t, kratos.Login, "method=password&identifier=ada%40example.com&password=p", attempt.Flow{}), ClientIP: "192.0.2.1"}

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, ref := g.Admit(ctx, a); ref == nil {
		t.Fatal("admitted without the store")
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "client went away") {
		t.Errorf("a gone client logged as an outage:\n%s", logs.String())
	}

	// The store timing out on its own is an outage.
	logs.Reset()
	ctx, cancelT := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancelT()
	g.Admit(ctx, a)
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"lockout store"`) {
		t.Errorf("a store timeout is not an ERROR:\n%s", logs.String())
	}
}
