package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres is a throw-away PostgreSQL server (Debian's postgresql package,
// as internal/dbtest uses it) for Kratos: -db postgres.
type postgres struct {
	cmd  *exec.Cmd
	done chan struct{}
	addr string
}

// startPostgres initialises a cluster under dir and starts it on a free
// loopback port, tuned like the test servers: no fsync waits, so that, as
// with SQLite in WAL mode, the database is not the disk's benchmark.
func startPostgres(ctx context.Context, dir string, out io.Writer) (*postgres, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	if len(dirs) == 0 {
		return nil, errors.New("-db postgres needs Debian's postgresql package (scripts/test.sh installs it)")
	}
	bin := dirs[0]
	// PostgreSQL refuses to run as root: then it runs as the postgres user.
	var cred *syscall.Credential
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres system user: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	base := filepath.Join(dir, "postgres")
	data, run := filepath.Join(base, "data"), filepath.Join(base, "run")
	for _, f := range []func() error{
		func() error { return os.Chmod(dir, 0o755) },
		func() error { return os.Mkdir(base, 0o755) },
		func() error { return os.Mkdir(data, 0o700) },
		func() error { return os.Mkdir(run, 0o700) },
		func() error { return os.Chown(data, uid, gid) },
		func() error { return os.Chown(run, uid, gid) },
	} {
		if err := f(); err != nil {
			return nil, err
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Dir = base
		c.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin", "HOME=" + base}
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
		return c
	}
	if b, err := command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, b)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := command("postgres", "-D", data, "-k", run, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "max_connections=200", "-c", "shared_buffers=64MB", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "log_min_messages=warning")
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &postgres{cmd: c, done: make(chan struct{}), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	go func() { _ = c.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, p.url("postgres"))
		if err == nil {
			_, err = conn.Exec(cctx, "CREATE DATABASE kratos")
			conn.Close(cctx)
			cancel()
			if err != nil {
				p.stop()
				return nil, fmt.Errorf("create database: %w", err)
			}
			return p, nil
		}
		cancel()
		select {
		case <-p.done:
			return nil, errors.New("postgres exited before it was ready")
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("postgres not ready: %v", err)
		}
	}
}

func (p *postgres) url(db string) string {
	return "postgres://postgres@" + p.addr + "/" + db + "?sslmode=disable"
}

func (p *postgres) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// migrateKratos creates Kratos's tables in the database at dsn.
func migrateKratos(ctx context.Context, kratosBin, dsn string, out io.Writer) error {
	cmd := exec.CommandContext(ctx, kratosBin, "migrate", "sql", "-e", "--yes")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DSN=" + dsn}
	b, err := cmd.CombinedOutput()
	if err != nil {
		_, _ = out.Write(b)
		return fmt.Errorf("kratos migrate sql: %v\n%s", err, b)
	}
	return nil
}
