package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/device"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/lockout/postgres"
	redisstore "github.com/heraproject/hera/internal/lockout/redis"
	"github.com/heraproject/hera/internal/metrics"
	"github.com/heraproject/hera/internal/web"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// openLockoutStore opens the configured counter store. close releases it.
func openLockoutStore(ctx context.Context, cfg *config.Config) (store lockout.Store, close func(), err error) {
	switch cfg.Lockout.Store {
	case "postgres":
		pool, err := pgxpool.New(ctx, cfg.Lockout.PostgresDSN)
		if err != nil {
			return nil, nil, fmt.Errorf("lockout store: %w", err)
		}
		st, err := postgres.New(ctx, pool, postgres.Config{Timeout: cfg.Lockout.Timeout})
		if err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("lockout store (postgres): %w", err)
		}
		return st, func() { _ = st.Close(); pool.Close() }, nil
	case "redis":
		opts, err := redis.ParseURL(cfg.Lockout.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("lockout store (redis): bad HERA_LOCKOUT_REDIS_URL")
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = cfg.Lockout.Timeout, cfg.Lockout.Timeout, cfg.Lockout.Timeout
		client := redis.NewClient(opts)
		st, err := redisstore.New(client, redisstore.Config{Timeout: cfg.Lockout.Timeout})
		if err != nil {
			_ = client.Close()
			return nil, nil, fmt.Errorf("lockout store (redis): %w", err)
		}
		return st, func() { _ = client.Close() }, nil
	default:
		st, err := memory.New(memory.Config{})
		if err != nil {
			return nil, nil, err
		}
		return st, func() { _ = st.Close() }, nil
	}
}

// newGuard builds the captcha and lockout checks of every submission, and
// the captcha widget the pages show.
func newGuard(cfg *config.Config, log *slog.Logger, limiter *lockout.Limiter, kc *kratos.Client, m *metrics.Metrics) (*guard.Guard, *web.Captcha, error) {
	devices, err := newDevices(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	var flows []kratos.Kind
	for _, f := range cfg.Captcha.Flows {
		if k, ok := kratos.ParseKind(f); ok {
			flows = append(flows, k)
		}
	}
	gc := guard.Config{Logger: log, Limiter: limiter, CaptchaFlows: flows, Devices: devices,
		Identities: kc, SessionCookie: cfg.Kratos.SessionCookie}
	if m != nil {
		gc.Observer = m
	}
	var widget *web.Captcha
	if cfg.Captcha.Provider != "" {
		p, err := captcha.ParseProvider(cfg.Captcha.Provider)
		if err != nil {
			return nil, nil, err
		}
		v, err := captcha.New(captcha.Config{
			Provider:  p,
			SiteKey:   cfg.Captcha.SiteKey,
			Secret:    cfg.Captcha.Secret,
			VerifyURL: cfg.Captcha.VerifyURL,
			Timeout:   cfg.Captcha.Timeout,
			Hostnames: cfg.Captcha.Hostnames,
			Action:    cfg.Captcha.Action,
		})
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
	return device.New(device.Config{Secret: secret, Lifetime: cfg.Lockout.DeviceCookieLifetime, Secure: cfg.HTTP.PublicURL.Scheme == "https"})
}

// storeReadiness reports whether the shared lockout store answers.
type storeReadiness struct {
	store lockout.Store
	realm string
}

func (s storeReadiness) Ready(ctx context.Context) error {
	_, err := s.store.Get(ctx, lockout.Key{Realm: s.realm, Kind: lockout.KindIP, Digest: "readiness-probe"}, time.Now())
	return err
}
