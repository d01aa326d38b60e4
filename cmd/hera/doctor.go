package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"

	"github.com/heraproject/hera/internal/app"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/doctor"
)

// exitError is an error with the exit status main gives it.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// The doctor's exit statuses: 0 when every check passes.
const (
	exitProblems = 1 // a check failed
	exitInvalid  = 2 // a bad command line or configuration
)

// doctorTimeout bounds the whole of hera doctor by default.
const doctorTimeout = app.DoctorTimeout

const doctorUsage = `Usage: hera doctor [-hydra-public-url URL] [-timeout 1m] [-plain]

Checks, from outside, that Kratos and Hydra are configured for this Hera:
Kratos's base URL, its CSRF and session cookies, its UI URLs, the return
URLs it allows, and Hydra's login, consent, logout, registration and error
URLs; and whether alert mails can be sent (the SMTP server answers, with
TLS as configured). It reads the same environment as hera (HERA_PUBLIC_URL,
KRATOS_PUBLIC_URL, KRATOS_ADMIN_URL, HYDRA_ADMIN_URL, ...). To check Hydra
it needs Hydra's public URL as well: -hydra-public-url or HYDRA_PUBLIC_URL.

It creates, and deletes again, a temporary identity (to sign in once) and a
temporary OAuth2 client. Each problem found names the setting and shows the
configuration that fixes it.

Exit status: 0 when every check passes, 1 when a problem is found, 2 when
the command line or the configuration is invalid.

Flags:
`

// runDoctor is hera doctor: it prints a report and exits non-zero when
// something is wrong, so it can gate a deployment.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hera doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hydraPublic := fs.String("hydra-public-url", "", "Hydra's public API as Hera's host reaches it, e.g. http://hydra:4444 (default $HYDRA_PUBLIC_URL)")
	timeout := fs.Duration("timeout", doctorTimeout, "upper bound on all the checks")
	plain := fs.Bool("plain", false, "mark checks OK, FAIL, SKIP instead of ✓, ✗, –")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), doctorUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{exitInvalid, fmt.Errorf("doctor: %w: %v", errUsage, err)}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{exitInvalid, fmt.Errorf("doctor: %w: unexpected %q", errUsage, fs.Arg(0))}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return exitError{exitInvalid, fmt.Errorf("invalid configuration:\n%w", err)}
	}
	hp := cfg.Hydra.PublicURL
	if *hydraPublic != "" {
		if hp, err = hydraPublicURL(*hydraPublic); err != nil {
			return exitError{exitInvalid, fmt.Errorf("doctor: -hydra-public-url %q: %w", *hydraPublic, err)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	fmt.Fprintf(stdout, "hera doctor: Hera at %s, Kratos at %s", cfg.HTTP.PublicURL, cfg.Kratos.PublicURL)
	if cfg.Hydra.AdminURL != nil {
		fmt.Fprintf(stdout, ", Hydra at %s", cfg.Hydra.AdminURL)
		if hp != nil {
			fmt.Fprintf(stdout, " and %s", hp)
		}
	}
	fmt.Fprint(stdout, "\n\n")
	rep := doctor.Run(ctx, app.DoctorOptions(cfg, hp))
	if err := rep.Write(stdout, *plain); err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		return exitError{exitProblems, fmt.Errorf("doctor: %s found", plural(n, "problem"))}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// hydraPublicURL parses Hydra's public URL; "" is none.
func hydraPublicURL(v string) (*url.URL, error) {
	if v == "" {
		return nil, nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("want an http:// or https:// URL")
	}
	return u, nil
}
