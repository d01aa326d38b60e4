// Package app assembles Hera: the one composition root. cmd/hera builds
// Hera with New, and so does every test that needs a whole Hera
// (internal/app/apptest), so tests run production's wiring — its guard,
// stores, device cookies, session links, captcha, tracing and start-up
// checks — never a hand-built variant. Options are test seams only.
package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/mail"
	"github.com/heraproject/hera/internal/metrics"
	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/web"
)

// tracingFlushTimeout bounds sending the last spans on Close: a collector
// that is down must not hold up a restart.
const tracingFlushTimeout = 5 * time.Second

// recorderCloseTimeout bounds the background work of the account's events
// on Close (a sign-in waiting for what was seen of its browser ends at
// once; the rest are a few store writes).
const recorderCloseTimeout = 15 * time.Second

// App is an assembled Hera.
type App struct {
	// Handler serves Hera's whole URL surface.
	Handler http.Handler
	// Metrics serves /metrics' page (nil unless HERA_METRICS_LISTEN is
	// set; the caller gives it a listener of its own).
	Metrics http.Handler
	// Tracing is the tracer; Enabled reports whether it exports.
	Tracing *tracing.Tracing
	// Activity keeps each account's events under ActivityPolicy, and
	// Outbox queues alert mails: both on the lockout store's backend
	// (HERA_LOCKOUT_STORE), shared by replicas (issue 26).
	Activity       activity.Store
	ActivityPolicy activity.Policy
	Outbox         outbox.Queue
	// MailTemplates renders alert mails; MailWorker sends the queued ones
	// (nil without HERA_SMTP_URL).
	MailTemplates *mail.Templates
	MailWorker    *mail.Worker
	// Events records the accounts' events (Kratos's web hooks, the guard's
	// failures and locks, Hera's own actions) and queues their alerts;
	// the export page records an export with it (Exported).
	Events *events.Recorder

	closers []func(context.Context)
}

// Option changes how New builds Hera, for tests only: production passes
// none.
type Option func(*options)

type options struct {
	now       func() time.Time
	store     lockout.Store
	transport func(upstream string, rt http.RoundTripper) http.RoundTripper
	tracing   *tracing.Tracing
}

// WithClock sets the clock of the lockout policy (counters, locks,
// reservations, quotas, links), so a test can move time.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithStore replaces the lockout store HERA_LOCKOUT_STORE names (its
// closing is the caller's); the activity store and the mail queue are
// still opened on that backend.
func WithStore(s lockout.Store) Option { return func(o *options) { o.store = s } }

// WithTransport wraps the transports of Hera's calls to its upstreams
// ("kratos", "kratos_proxy", "hydra"), innermost, so a test can slow them
// down or break them.
func WithTransport(wrap func(upstream string, rt http.RoundTripper) http.RoundTripper) Option {
	return func(o *options) { o.transport = wrap }
}

// WithTracing replaces the tracer the OTEL_* settings would set up (a test
// collects spans in memory with it).
func WithTracing(tr *tracing.Tracing) Option { return func(o *options) { o.tracing = tr } }

// New builds Hera as configured: tracing, metrics, the Kratos and Hydra
// clients, the shared stores on one backend — the lockout store and its
// limiter (send quotas and session links included), the activity store
// and the mail queue —, device cookies, the captcha, the guard, the web server,
// and the start-up checks, which run in the background. Close releases
// what New started.
func New(ctx context.Context, cfg *config.Config, tcfg tracing.Config, log *slog.Logger, version string, opts ...Option) (a *App, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a = &App{}
	// Every early return sets a to nil: release what was started through
	// its own reference.
	started := a
	defer func() {
		if err != nil {
			started.Close(context.WithoutCancel(ctx))
		}
	}()
	a.closers = append(a.closers, startupChecks(ctx, cfg, log))

	tr := o.tracing
	if tr == nil {
		if tr, err = tracing.Setup(ctx, tcfg, tracing.Options{Logger: log, Version: version}); err != nil {
			return nil, err
		}
	}
	a.Tracing = tr
	a.closers = append(a.closers, func(ctx context.Context) {
		// The last requests' spans go out too, within a bound.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracingFlushTimeout)
		defer cancel()
		if err := tr.Shutdown(fctx); err != nil {
			log.Warn("tracing: spans not flushed on shutdown", "err", err)
		}
	})
	if tr.Enabled() {
		log.Info("tracing", "protocol", tcfg.Protocol, "endpoint", tcfg.Endpoint.Redacted(), "sampler", tcfg.Sampler,
			"service_name", tcfg.ServiceName)
	}

	var m *metrics.Metrics
	if cfg.Log.MetricsListen != "" {
		m = metrics.New()
		a.Metrics = m.Handler()
	}
	// Each client's transport: the test seam innermost, then metrics,
	// then tracing (off, Transport returns what it is given). The proxy's
	// is wrapped by web the same way.
	wrap := func(upstream string) func(http.RoundTripper) http.RoundTripper {
		return func(rt http.RoundTripper) http.RoundTripper {
			if o.transport != nil {
				rt = o.transport(upstream, rt)
			}
			if m != nil {
				rt = m.Transport(upstream, rt)
			}
			return tr.Transport(upstream, rt)
		}
	}

	kc, err := kratos.NewClient(cfg.Kratos.PublicURL, cfg.Kratos.AdminURL, cfg.Kratos.Timeout)
	if err != nil {
		return nil, err
	}
	kc.WrapTransport(wrap("kratos"))

	// One backend (pool or client) holds the lockout store, the activity
	// and the mail queue.
	shared, err := openStores(ctx, cfg, log, o.store == nil)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func(context.Context) { shared.close() })
	store := o.store
	if store == nil {
		store = shared.lockout
	}
	a.Activity, a.ActivityPolicy, a.Outbox = shared.activity, cfg.Activity.Policy, shared.outbox
	// Alert mails: rendered and queued in the shared store by the
	// account's events (in the background), sent by each replica's worker
	// (closed before the store it drains, after the events).
	if a.MailTemplates, err = mail.NewTemplates(mail.TemplateConfigFrom(cfg)); err != nil {
		return nil, err
	}
	if mail.Enabled(cfg) {
		snd, err := mail.NewSender(mail.SMTPConfigFrom(cfg))
		if err != nil {
			return nil, err
		}
		var mm mail.Metrics
		if m != nil {
			mm = m
		}
		if a.MailWorker, err = mail.NewWorker(mail.WorkerConfigFrom(cfg), a.Outbox, snd, log, mm); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.MailWorker.Close)
	}
	if tr.Enabled() {
		store = tracedStore{Store: store, t: tr, system: cfg.Lockout.Store}
	}
	policy := cfg.Lockout.Policy
	if m != nil {
		policy.OnExpired = m.ReservationsExpired
	}
	if o.now != nil {
		policy.Now = o.now
	}
	limiter, err := lockout.New(store, policy)
	if err != nil {
		return nil, err
	}
	// Device cookies: the guard issues and honours them; the account
	// pages tell from them which browser is this one.
	devices, err := newDevices(cfg, log)
	if err != nil {
		return nil, err
	}
	rec, err := newRecorder(cfg, log, a, kc, m)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func(ctx context.Context) {
		// What the last requests started is recorded before the stores
		// close, within a bound.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recorderCloseTimeout)
		defer cancel()
		rec.Close(cctx)
	})
	a.Events = rec
	g, widget, err := newGuard(cfg, log, limiter, kc, m, tr, devices, rec)
	if err != nil {
		return nil, err
	}
	// The lockout store also holds which Hydra login session each Kratos
	// session signed in to apps (single sign-out).
	deps := web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: kc, Guard: g, Captcha: widget, Links: limiter,
		Activity: a.Activity, ActivityPolicy: a.ActivityPolicy, Outbox: a.Outbox, Events: rec}
	if devices != nil {
		deps.Devices = devices
	}
	if o.transport != nil {
		deps.ProxyTransport = func(rt http.RoundTripper) http.RoundTripper { return o.transport("kratos_proxy", rt) }
	}
	// The lockout store's probe answers for the backend the activity and
	// the mail queue share with it.
	if cfg.Lockout.Store != "memory" || o.store != nil {
		deps.Lockout = storeReadiness{store, cfg.Lockout.Policy.Realm}
	}
	if cfg.Hydra.AdminURL != nil {
		hc, err := hydra.NewClient(cfg.Hydra.AdminURL, cfg.Hydra.Timeout)
		if err != nil {
			return nil, err
		}
		hc.WrapTransport(wrap("hydra"))
		deps.Hydra = hc
	}
	if m != nil {
		deps.Metrics = m
	}
	if tr.Enabled() {
		deps.Tracing = tr
	}
	a.Handler, err = web.NewServer(deps)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Close stops the start-up checks, flushes the last spans and closes the
// shared stores and their backend, in the reverse order of New. Call it once the server has
// shut down.
func (a *App) Close(ctx context.Context) {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i](ctx)
	}
	a.closers = nil
}
