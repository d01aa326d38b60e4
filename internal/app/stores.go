package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/activity"
	activitymem "github.com/heraproject/hera/internal/activity/memory"
	activitypg "github.com/heraproject/hera/internal/activity/postgres"
	activityredis "github.com/heraproject/hera/internal/activity/redis"
	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/device"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/lockout/postgres"
	redisstore "github.com/heraproject/hera/internal/lockout/redis"
	"github.com/heraproject/hera/internal/metrics"
	"github.com/heraproject/hera/internal/outbox"
	outboxmem "github.com/heraproject/hera/internal/outbox/memory"
	outboxpg "github.com/heraproject/hera/internal/outbox/postgres"
	outboxredis "github.com/heraproject/hera/internal/outbox/redis"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/web"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
)

// stores is the state replicas share, all on the one backend
// HERA_LOCKOUT_STORE names (one pool or client), namespaced by
// HERA_LOCKOUT_REALM: the lockout counters, each account's activity, and
// the mail queue.
type stores struct {
	lockout  lockout.Store // nil when a test replaced it (WithStore)
	activity activity.Store
	outbox   outbox.Queue
	close    func()
}

// openStores opens the configured backend once and builds the stores on
// it; close releases them and then the backend. Without withLockout the
// lockout store is not built (a test brings its own). The Redis client logs
// through log.
func openStores(ctx context.Context, cfg *config.Config, log *slog.Logger, withLockout bool) (*stores, error) {
	realm, timeout := cfg.Lockout.Policy.Realm, cfg.Lockout.Timeout
	st := &stores{}
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(what string, err error) (*stores, error) {
		closeAll()
		return nil, fmt.Errorf("%s (%s): %w", what, cfg.Lockout.Store, err)
	}
	switch cfg.Lockout.Store {
	case "postgres":
		pool, err := pgxpool.New(ctx, cfg.Lockout.PostgresDSN)
		if err != nil {
			return nil, fmt.Errorf("lockout store: %w", err)
		}
		closers = append(closers, pool.Close)
		if withLockout {
			ls, err := postgres.New(ctx, pool, postgres.Config{Timeout: timeout})
			if err != nil {
				return fail("lockout store", err)
			}
			closers = append(closers, func() { _ = ls.Close() })
			st.lockout = ls
		}
		as, err := activitypg.New(ctx, pool, activitypg.Config{Realm: realm, Timeout: timeout})
		if err != nil {
			return fail("activity store", err)
		}
		closers = append(closers, func() { _ = as.Close() })
		st.activity = as
		if st.outbox, err = outboxpg.New(ctx, pool, outboxpg.Config{Config: cfg.Activity.Outbox, Realm: realm, Timeout: timeout}); err != nil {
			return fail("mail queue", err)
		}
	case "redis":
		opts, err := redis.ParseURL(cfg.Lockout.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("lockout store (redis): bad HERA_LOCKOUT_REDIS_URL")
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeout, timeout, timeout
		// go-redis prints its own lines (connection pool trouble) as plain
		// text on stderr; it only offers a package-wide setter to send them
		// through slog instead, so this holds for every client in the process.
		redis.SetLogger(redisstore.Logger(log))
		client := redis.NewClient(opts)
		closers = append(closers, func() { _ = client.Close() })
		if withLockout {
			if st.lockout, err = redisstore.New(client, redisstore.Config{Timeout: timeout}); err != nil {
				return fail("lockout store", err)
			}
		}
		if st.activity, err = activityredis.New(client, activityredis.Config{Realm: realm, Timeout: timeout}); err != nil {
			return fail("activity store", err)
		}
		if st.outbox, err = outboxredis.New(client, outboxredis.Config{Config: cfg.Activity.Outbox, Realm: realm, Timeout: timeout}); err != nil {
			return fail("mail queue", err)
		}
	default:
		if withLockout {
			ls, err := memory.New(memory.Config{})
			if err != nil {
				return nil, err
			}
			closers = append(closers, func() { _ = ls.Close() })
			st.lockout = ls
		}
		as, err := activitymem.New(activitymem.Config{})
		if err != nil {
			return fail("activity store", err)
		}
		closers = append(closers, func() { _ = as.Close() })
		st.activity = as
		if st.outbox, err = outboxmem.New(cfg.Activity.Outbox); err != nil {
			return fail("mail queue", err)
		}
	}
	st.close = closeAll
	return st, nil
}

// newGuard builds the captcha and lockout checks of every submission, and
// the captcha widget the pages show.
func newGuard(cfg *config.Config, log *slog.Logger, limiter *lockout.Limiter, kc *kratos.Client, m *metrics.Metrics, tr *tracing.Tracing,
	devices *device.Cookies, rec *events.Recorder) (*guard.Guard, *web.Captcha, error) {
	var flows []kratos.Kind
	for _, f := range cfg.Captcha.Flows {
		if k, ok := kratos.ParseKind(f); ok {
			flows = append(flows, k)
		}
	}
	gc := guard.Config{Logger: log, Limiter: limiter, CaptchaFlows: flows, CaptchaExemptAPI: cfg.Captcha.ExemptAPI, Devices: devices,
		Identities: kc, SessionCookie: cfg.Kratos.SessionCookie, Events: rec}
	if m != nil {
		gc.Observer = m
	}
	var widget *web.Captcha
	if cfg.Captcha.Provider != "" {
		p, err := captcha.ParseProvider(cfg.Captcha.Provider)
		if err != nil {
			return nil, nil, err
		}
		cc := captcha.Config{
			Provider:  p,
			SiteKey:   cfg.Captcha.SiteKey,
			Secret:    cfg.Captcha.Secret,
			VerifyURL: cfg.Captcha.VerifyURL,
			Timeout:   cfg.Captcha.Timeout,
			Hostnames: cfg.Captcha.Hostnames,
			Action:    cfg.Captcha.Action,
		}
		if tr.Enabled() {
			// Spans, but no traceparent: the provider is a third party.
			cc.HTTPClient = &http.Client{Transport: tr.ExternalTransport("captcha", http.DefaultTransport)}
		}
		v, err := captcha.New(cc)
		if err != nil {
			return nil, nil, fmt.Errorf("captcha: %w", err)
		}
		gc.Captcha = v
		widget = &web.Captcha{Widget: v.Widget(), CSP: v.CSP(), Flows: flows}
	}
	g, err := guard.New(gc)
	return g, widget, err
}

// newDevices builds the device cookie issuer, or nil when device cookies
// are off. Without a configured secret a random one serves this process.
func newDevices(cfg *config.Config, log *slog.Logger) (*device.Cookies, error) {
	if cfg.Lockout.DeviceCookieLifetime == 0 {
		return nil, nil
	}
	secret := []byte(cfg.Lockout.DeviceCookieSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		if cfg.Lockout.Store != "memory" {
			log.Warn("HERA_DEVICE_COOKIE_SECRET is not set: device cookies hold only on the replica that issued them, until it restarts")
		}
	}
	return device.New(device.Config{Secret: secret, Lifetime: cfg.Lockout.DeviceCookieLifetime, Secure: cfg.HTTP.PublicURL.Scheme == "https",
		Path: strings.TrimSuffix(cfg.HTTP.PublicURL.Path, "/") + "/"})
}

// storeReadiness reports whether the shared lockout store answers.
type storeReadiness struct {
	store lockout.Store
	realm string
}

// probeRule is the rule of the readiness probe's Get (its key has no data).
var probeRule = lockout.DefaultConfig().IP

func (s storeReadiness) Ready(ctx context.Context) error {
	_, err := s.store.Get(ctx, lockout.Key{Realm: s.realm, Kind: lockout.KindIP, Digest: "readiness-probe"}, time.Now(), probeRule)
	return err
}

// tracedStore gives every lockout store call a client span (tracing on).
type tracedStore struct {
	lockout.Store
	t      *tracing.Tracing
	system string // HERA_LOCKOUT_STORE: memory, postgres or redis
}

// call starts the span of one operation on key. Only the key's kind is
// recorded: its digest stands for an account or an address.
func (s tracedStore) call(ctx context.Context, op string, key lockout.Key) (context.Context, func(error)) {
	attrs := []attribute.KeyValue{attribute.String("hera.lockout.kind", string(key.Kind)), attribute.String("db.operation.name", op)}
	switch s.system {
	case "postgres":
		attrs = append(attrs, attribute.String("db.system.name", "postgresql"))
	case "redis":
		attrs = append(attrs, attribute.String("db.system.name", "redis"))
	}
	return s.t.Call(ctx, "lockout", op, attrs...)
}

func (s tracedStore) Fail(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	ctx, end := s.call(ctx, "Fail", key)
	st, err := s.Store.Fail(ctx, key, now, rule)
	end(err)
	return st, err
}

func (s tracedStore) Get(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	ctx, end := s.call(ctx, "Get", key)
	st, err := s.Store.Get(ctx, key, now, rule)
	end(err)
	return st, err
}

func (s tracedStore) Reset(ctx context.Context, key lockout.Key) error {
	ctx, end := s.call(ctx, "Reset", key)
	err := s.Store.Reset(ctx, key)
	end(err)
	return err
}

func (s tracedStore) Reserve(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, hold time.Duration) (lockout.State, bool, error) {
	ctx, end := s.call(ctx, "Reserve", key)
	st, ok, err := s.Store.Reserve(ctx, key, id, now, rule, hold)
	end(err)
	return st, ok, err
}

func (s tracedStore) Settle(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, failed bool) (lockout.State, error) {
	ctx, end := s.call(ctx, "Settle", key)
	st, err := s.Store.Settle(ctx, key, id, now, rule, failed)
	end(err)
	return st, err
}

func (s tracedStore) Take(ctx context.Context, key lockout.Key, now time.Time, limits []lockout.Limit) (lockout.Quota, error) {
	ctx, end := s.call(ctx, "Take", key)
	q, err := s.Store.Take(ctx, key, now, limits)
	end(err)
	return q, err
}

func (s tracedStore) Link(ctx context.Context, handle lockout.Key, subject string, now time.Time, ttl time.Duration) error {
	ctx, end := s.call(ctx, "Link", handle)
	err := s.Store.Link(ctx, handle, subject, now, ttl)
	end(err)
	return err
}

func (s tracedStore) Resolve(ctx context.Context, handle lockout.Key, now time.Time) (string, error) {
	ctx, end := s.call(ctx, "Resolve", handle)
	subject, err := s.Store.Resolve(ctx, handle, now)
	end(err)
	return subject, err
}

// newRecorder builds what records the accounts' events on the shared
// activity store, and queues their alert mails.
func newRecorder(cfg *config.Config, log *slog.Logger, a *App, kc *kratos.Client, m *metrics.Metrics) (*events.Recorder, error) {
	cat, err := i18n.Load(cfg.Brand.LocalesDir)
	if err != nil {
		return nil, err
	}
	ec := events.Config{Logger: log, Store: a.Activity, Policy: a.ActivityPolicy, Kratos: kc,
		Catalog: cat, DefaultLanguage: cfg.Brand.DefaultLanguage,
		// A new browser is one without the account's device cookie: only
		// worth a mail when cookies outlive restarts and replicas.
		NewSignInAlerts: cfg.Lockout.DeviceCookieSecret != "" && cfg.Lockout.DeviceCookieLifetime > 0}
	if a.MailWorker != nil {
		// Without SMTP nothing would ever send them: nothing is queued
		// (the events are still shown).
		ec.Queue, ec.Alerts, ec.Wake = a.Outbox, a.MailTemplates, a.MailWorker.Wake
	}
	if m != nil {
		ec.Observer = m
	}
	return events.New(ec)
}
