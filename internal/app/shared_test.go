package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/outbox"
)

// loadConfig is the configuration of env on top of the least Hera needs.
func loadConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	all := map[string]string{"KRATOS_PUBLIC_URL": "http://127.0.0.1:4433", "KRATOS_ADMIN_URL": "http://127.0.0.1:4434"}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// useShared exercises the three stores openStores built and returns a
// function that checks they fail as unavailable (after close).
func useShared(t *testing.T, st *stores) (closed func(t *testing.T)) {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	p := activity.DefaultPolicy()
	if st.lockout != nil {
		if _, err := st.lockout.Fail(ctx, lockout.Key{Realm: "test", Kind: lockout.KindIP, Digest: "d"}, now, probeRule); err != nil {
			t.Fatal(err)
		}
	}
	e := activity.Event{ID: "x", Identity: "id", Kind: activity.SignIn, At: now}
	if err := st.activity.Add(ctx, e, now, p); err != nil {
		t.Fatal(err)
	}
	if evs, err := st.activity.List(ctx, "id", now, p, 0); err != nil || len(evs) != 1 {
		t.Fatalf("List = %v, %v", evs, err)
	}
	if ok, err := st.outbox.Enqueue(ctx, outbox.Message{ID: "m", To: []string{"a@example.com"}}, now); err != nil || !ok {
		t.Fatalf("Enqueue = %v, %v", ok, err)
	}
	if n, err := st.outbox.Len(ctx); err != nil || n != 1 {
		t.Fatalf("Len = %d, %v", n, err)
	}
	return func(t *testing.T) {
		t.Helper()
		if _, err := st.activity.List(ctx, "id", now, p, 0); !errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("List after close = %v, want activity.ErrUnavailable", err)
		}
		if _, err := st.outbox.Len(ctx); !errors.Is(err, outbox.ErrUnavailable) {
			t.Errorf("Len after close = %v, want outbox.ErrUnavailable", err)
		}
	}
}

// TestSharedMemory: HERA_LOCKOUT_STORE=memory gives in-process stores, the
// mail queue bounded by HERA_MAIL_QUEUE_MAX.
func TestSharedMemory(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"HERA_MAIL_QUEUE_MAX": "1"})
	st, err := openStores(context.Background(), cfg, slog.Default(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	useShared(t, st)
	if _, err := st.outbox.Enqueue(t.Context(), outbox.Message{ID: "m2", To: []string{"a@example.com"}}, time.Now()); !errors.Is(err, outbox.ErrFull) {
		t.Fatalf("Enqueue beyond HERA_MAIL_QUEUE_MAX = %v, want ErrFull", err)
	}
	// A test's own lockout store: the others are still built.
	st2, err := openStores(context.Background(), cfg, slog.Default(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.close()
	if st2.lockout != nil || st2.activity == nil || st2.outbox == nil {
		t.Fatalf("without the lockout store: %+v", st2)
	}
}
