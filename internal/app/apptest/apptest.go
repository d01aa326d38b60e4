// Package apptest starts a whole Hera for tests, assembled by app.New
// exactly as production assembles it — its guard, lockout store, device
// cookies, session links, captcha, tracing and start-up checks — in front
// of a test stack (stacktest). Integration tests and the browser suite use
// it; no test builds its own Hera.
package apptest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/app"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/requestid"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/tracing"
)

// Hera is a running Hera.
type Hera struct {
	// URL is Hera's public URL (the stack's HeraURL).
	URL string
	// Env is the configuration it runs with, as environment variables.
	Env map[string]string
	// Logs holds its log lines (JSON, debug level).
	Logs *stacktest.Buffer
	// App is the assembled Hera.
	App *app.App
}

var realms atomic.Int64

// SMTPFrom is the sender of the alert mails of a Hera Start runs.
const SMTPFrom = "Hera <no-reply@hera.test>"

// Env is the configuration Start gives a Hera in front of e: the stack's
// URLs, its SMTP sink for alert mails, Hydra's admin API and token hook
// when e runs Hydra, its own lockout realm (tests may share a PostgreSQL
// or Redis store), debug logs, and no passkey offer after password
// sign-ins (the suites sign in with passwords hundreds of times and check
// where each lands; the offer's own tests set HERA_PASSKEY_OFFER=true).
// env adds to it or overrides it.
func Env(e *stacktest.Env, env map[string]string) map[string]string {
	out := map[string]string{
		"HERA_PUBLIC_URL":    e.HeraURL,
		"KRATOS_PUBLIC_URL":  e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":   e.Kratos.AdminURL,
		"HERA_LOG_LEVEL":     "debug",
		"HERA_LOCKOUT_REALM": fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, realms.Add(1)),
		"HERA_SMTP_URL":      e.SMTPURL,
		"HERA_SMTP_FROM":     SMTPFrom,
		"HERA_PASSKEY_OFFER": "false",
		// Kratos's web hooks reach Hera, as in production.
		"HERA_KRATOS_WEBHOOK_SECRET": e.WebhookSecret,
	}
	if e.Hydra != nil {
		out["HYDRA_ADMIN_URL"] = e.Hydra.AdminURL
		if e.TokenHookSecret != "" {
			out["HERA_OAUTH2_TOKEN_HOOK_SECRET"] = e.TokenHookSecret
		}
	}
	maps.Copy(out, env)
	return out
}

// Start assembles Hera with app.New from Env(e, env) and serves it on e's
// listener until the test ends. opts are app's test seams (a clock, a
// store, upstream transports).
func Start(t testing.TB, e *stacktest.Env, env map[string]string, opts ...app.Option) *Hera {
	t.Helper()
	h := &Hera{URL: e.HeraURL, Env: Env(e, env), Logs: &stacktest.Buffer{}}
	assemble(t, h, opts)
	e.ServeHera(t, h.App.Handler)
	return h
}

// StartReplica assembles a second Hera with first's configuration — the
// same public URL, shared store, realm and secrets, as a replica behind a
// load balancer would have — and serves it on a listener of its own until
// the test ends. Its URL is that listener's, on localhost like first's,
// so a browser's cookies reach both; Kratos and Hydra call first.
func StartReplica(t testing.TB, first *Hera, opts ...app.Option) *Hera {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &Hera{URL: "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), Env: maps.Clone(first.Env), Logs: &stacktest.Buffer{}}
	assemble(t, h, opts)
	srv := &http.Server{Handler: h.App.Handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h
}

// assemble builds h.App from h.Env, closed when the test ends.
func assemble(t testing.TB, h *Hera, opts []app.Option) {
	t.Helper()
	getenv := func(k string) string { return h.Env[k] }
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	tcfg, err := tracing.FromEnv(getenv)
	if err != nil {
		t.Fatalf("tracing configuration: %v", err)
	}
	log := slog.New(requestid.Handler{Handler: slog.NewJSONHandler(h.Logs, &slog.HandlerOptions{Level: cfg.Log.Level})})
	ctx, cancel := context.WithCancel(context.Background())
	h.App, err = app.New(ctx, cfg, tcfg, log, "test", opts...)
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		h.App.Close(context.Background())
		if t.Failed() {
			stacktest.LogLines(t, "hera "+h.URL+" log (last 16 KiB)", h.Logs.Tail(16<<10))
		}
	})
}

// WaitEvents waits up to 30 s until the identity's events (newest first)
// satisfy ok — Kratos's web hooks and Hera's background recording are
// asynchronous — then until the background work in progress (alerts,
// events still being written: the failure behind the lock it engaged) is
// done, and returns the identity's events as they are then.
func (h *Hera) WaitEvents(t testing.TB, identity, what string, ok func([]activity.Event) bool) []activity.Event {
	t.Helper()
	list := func() []activity.Event {
		evs, err := h.App.Activity.List(context.Background(), identity, time.Now(), h.App.ActivityPolicy, 0)
		if err != nil {
			t.Fatalf("activity of %s: %v", identity, err)
		}
		return evs
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := list()
		if ok(evs) {
			h.App.Events.Wait()
			return list()
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, no %s among the %d events of %s: %+v", what, len(evs), identity, evs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
