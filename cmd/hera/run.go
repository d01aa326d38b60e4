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

	"github.com/heraproject/hera/internal/app"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/logbuf"
	"github.com/heraproject/hera/internal/requestid"
	"github.com/heraproject/hera/internal/tracing"
)

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
	a, err := app.New(ctx, cfg, tcfg, log, version)
	if err != nil {
		return err
	}
	// Deferred, so it runs once the server has shut down: the last
	// requests' spans are sent too.
	defer a.Close(context.WithoutCancel(ctx))
	srv := &http.Server{
		Handler:           a.Handler,
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
	if a.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics)
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
