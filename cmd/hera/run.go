package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/logbuf"
	"github.com/heraproject/hera/internal/metrics"
	"github.com/heraproject/hera/internal/requestid"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/web"
)

// tracingFlushTimeout bounds sending the last spans on shutdown: a
// collector that is down must not hold up a restart.
const tracingFlushTimeout = 5 * time.Second

// errUsage marks a bad command line; the usage text has been printed.
var errUsage = errors.New("invalid arguments")

// version is stamped at build time (scripts/image.sh: -X main.version=…);
// a plain go build says "dev".
var version = "dev"

// run is Hera's whole program: it serves until ctx is cancelled, then shuts
// down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	start := time.Now()
	if len(args) > 1 && args[1] == "doctor" {
		return runDoctor(ctx, args[2:], getenv, stdout, stderr)
	}
	for _, a := range args[1:] {
		switch a {
		case "-h", "-help", "--help", "help":
			config.Usage(stdout)
			tracing.Usage(stdout)
			fmt.Fprintln(stdout, "\nhera doctor checks that Kratos and Hydra are configured for this Hera (hera doctor -h).")
			return nil
		case "-version", "--version", "version":
			fmt.Fprintln(stdout, "hera", version)
			return nil
		default:
			config.Usage(stderr)
			tracing.Usage(stderr)
			return fmt.Errorf("%w: unknown argument %q", errUsage, a)
		}
	}
	cfg, err := config.Load(getenv)
	tcfg, terr := tracing.FromEnv(getenv)
	if err := errors.Join(err, terr); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logOut := stdout
	if cfg.Log.FlushInterval > 0 {
		lw, err := logbuf.New(stdout, cfg.Log.FlushInterval)
		if err != nil {
			return err
		}
		// Deferred first, so it runs last: the shutdown lines are written too.
		defer lw.Close()
		logOut = lw
	}
	log := slog.New(requestid.Handler{Handler: slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.Log.Level})})
	// hera doctor's checks, in the background: a warning per problem.
	defer startupChecks(ctx, cfg, log)()

	tr, err := tracing.Setup(ctx, tcfg, tracing.Options{Logger: log, Version: version})
	if err != nil {
		return err
	}
	defer func() {
		// Deferred, so it runs once the server has shut down: the last
		// requests' spans are sent too.
		fctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := tr.Shutdown(fctx); err != nil {
			log.Warn("tracing: spans not flushed on shutdown", "err", err)
		}
	}()
	if tr.Enabled() {
		log.Info("tracing", "protocol", tcfg.Protocol, "endpoint", tcfg.Endpoint.Redacted(), "sampler", tcfg.Sampler,
			"service_name", tcfg.ServiceName)
	}

	var m *metrics.Metrics
	if cfg.Log.MetricsListen != "" {
		m = metrics.New()
	}
	kc, err := kratos.NewClient(cfg.Kratos.PublicURL, cfg.Kratos.AdminURL, cfg.Kratos.Timeout)
	if err != nil {
		return err
	}
	store, closeStore, err := openLockoutStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()
	if tr.Enabled() {
		store = tracedStore{Store: store, t: tr, system: cfg.Lockout.Store}
	}
	policy := cfg.Lockout.Policy
	if m != nil {
		policy.OnExpired = m.ReservationsExpired
	}
	limiter, err := lockout.New(store, policy)
	if err != nil {
		return err
	}
	g, widget, err := newGuard(cfg, log, limiter, kc, m, tr)
	if err != nil {
		return err
	}
	// The lockout store also holds which Hydra login session each Kratos
	// session signed in to apps (single sign-out).
	deps := web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: kc, Guard: g, Captcha: widget, Links: limiter}
	if cfg.Lockout.Store != "memory" {
		deps.Lockout = storeReadiness{store, cfg.Lockout.Policy.Realm}
	}
	if cfg.Hydra.AdminURL != nil {
		hc, err := hydra.NewClient(cfg.Hydra.AdminURL, cfg.Hydra.Timeout)
		if err != nil {
			return err
		}
		deps.Hydra = hc
		if m != nil {
			hc.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return m.Transport("hydra", rt) })
		}
		hc.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return tr.Transport("hydra", rt) })
	}
	if m != nil {
		deps.Metrics = m
		kc.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return m.Transport("kratos", rt) })
	}
	// Off, Transport returns the transport it is given: nothing changes.
	kc.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return tr.Transport("kratos", rt) })
	if tr.Enabled() {
		deps.Tracing = tr
	}

	handler, err := web.NewServer(deps)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	log.Info("listening", "version", version, "addr", ln.Addr().String(), "public_url", cfg.HTTP.PublicURL.String(),
		"hydra", cfg.Hydra.AdminURL != nil, "startup_ms", time.Since(start).Milliseconds())

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	if m != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, WriteTimeout: cfg.HTTP.WriteTimeout}
		mln, err := net.Listen("tcp", cfg.Log.MetricsListen)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		log.Info("metrics listening", "addr", mln.Addr().String())
		go func() {
			if err := msrv.Serve(mln); err != nil && err != http.ErrServerClosed {
				serveErr <- err
			}
		}()
		defer msrv.Close()
	}
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
