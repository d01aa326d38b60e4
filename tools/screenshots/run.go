package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is what the command line says.
type config struct {
	out         string
	hera        string // Hera's public URL
	kratosAdmin string
	hydraAdmin  string
	hydraPublic string
	checkout    string // a source tree whose dev stack to start, or ""
	bin         string // kratos and hydra binaries, for -checkout
	chromium    string
	more        bool // also the pages of the -more flag
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	// The defaults are the dev stack's addresses (cmd/devstack).
	fs.StringVar(&c.out, "out", "", "folder for the PNGs (created; required)")
	fs.StringVar(&c.hera, "hera", "http://localhost:4455", "Hera's public URL")
	fs.StringVar(&c.kratosAdmin, "kratos-admin", "http://127.0.0.1:4434", "Kratos's admin API")
	fs.StringVar(&c.hydraAdmin, "hydra-admin", "http://127.0.0.1:4445", "Hydra's admin API")
	fs.StringVar(&c.hydraPublic, "hydra-public", "http://localhost:4444", "Hydra's public URL (the issuer)")
	fs.StringVar(&c.checkout, "checkout", "", "a Hera source tree (any revision): build its Hera and dev stack, run them on the dev stack's ports while photographing, stop them after")
	fs.StringVar(&c.bin, "bin", "bin", "folder with the kratos and hydra binaries (scripts/build-ory.sh), for -checkout")
	fs.StringVar(&c.chromium, "chromium", "/usr/bin/chromium", "Chromium binary")
	fs.BoolVar(&c.more, "more", false, "also, at 1280 px in light mode only: the first sign-up step, settings in German and the not-found error page")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if c.out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-out is required, and nothing else")
	}
	c.hera = strings.TrimSuffix(c.hera, "/")
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	if c.checkout != "" {
		stop, err := startStack(ctx, c, stderr)
		if err != nil {
			return err
		}
		defer stop()
	} else if !ready(ctx, c.hera) {
		return fmt.Errorf("no Hera at %s: start the dev stack (scripts/dev.sh) or pass -checkout", c.hera)
	}
	files, err := photograph(ctx, c, stderr)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	fmt.Fprintf(stdout, "%d screenshots in %s (%.1f MB)\n", len(files), c.out, float64(total)/1e6)
	return nil
}

// ready reports whether Hera answers its readiness check.
func ready(ctx context.Context, hera string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hera+"/health/ready", nil)
	if err != nil {
		return false
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// startStack builds the checkout's Hera and dev stack into a temporary
// folder (never the checkout's bin/, which may be shared), starts the dev
// stack there with fresh state, waits until Hera is ready, and returns what
// stops it again. The stack takes the dev stack's fixed ports: one stack at
// a time.
func startStack(ctx context.Context, c config, stderr io.Writer) (stop func(), err error) {
	if ready(ctx, c.hera) {
		return nil, fmt.Errorf("something already answers at %s: stop the running dev stack first (its ports are fixed)", c.hera)
	}
	src, err := filepath.Abs(c.checkout)
	if err != nil {
		return nil, err
	}
	oryBin, err := filepath.Abs(c.bin)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "hera-screenshots-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	for _, p := range []string{"hera", "devstack"} {
		fmt.Fprintf(stderr, "building %s from %s ...\n", p, src)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(tmp, p), "./cmd/"+p)
		cmd.Dir, cmd.Stdout, cmd.Stderr = src, stderr, stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build %s: %w", p, err)
		}
	}
	for _, p := range []string{"kratos", "hydra"} {
		if _, err := os.Stat(filepath.Join(oryBin, p)); err != nil {
			return nil, fmt.Errorf("%s: run scripts/build-ory.sh, or point -bin at its output", err)
		}
		if err := os.Symlink(filepath.Join(oryBin, p), filepath.Join(tmp, p)); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(tmp, "devstack.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "starting the dev stack (log: %s) ...\n", logPath)
	cmd := exec.Command(filepath.Join(tmp, "devstack"), "-bin", tmp, "-state", filepath.Join(tmp, "state"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, log, log
	cmd.Env = append(os.Environ(), "HERA_PUBLIC_URL="+c.hera)
	// Its own process group, so that Ctrl-C here reaches it only through
	// stop, which waits for it to take Kratos, Hydra and Hera down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		log.Close()
		os.RemoveAll(tmp)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for !ready(ctx, c.hera) {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			stop()
			return nil, fmt.Errorf("the dev stack exited:\n%s", tail(b, 4096))
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			stop()
			return nil, fmt.Errorf("hera not ready at %s after 3 minutes:\n%s", c.hera, tail(b, 4096))
		}
	}
	return stop, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
