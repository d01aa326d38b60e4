// Package dbtest starts real PostgreSQL and Redis servers (from the Debian
// packages postgresql and redis-server) for the tests of the shared stores
// (lockout counters, activity, the mail outbox) and of a whole Hera: one
// server of each per test binary, started on first use and stopped by [Main].
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
//
// Each test gets a fresh database ([Postgres]) or key prefix ([Redis]). A
// test that must see its server go away starts one of its own
// ([OwnPostgres], [OwnRedis]) and stops it. A missing binary fails the
// test; nothing is skipped.
package dbtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

const install = "install postgresql/redis-server: scripts/test.sh does"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

var (
	mainUsed atomic.Bool

	pgOnce   sync.Once
	pgSrv    *pgServer
	pgErr    error
	dbSerial atomic.Int64

	redisOnce   sync.Once
	redisSrv    *server
	redisErr    error
	redisSerial atomic.Int64
)

// Main runs the tests and then stops the servers they started.
func Main(m *testing.M) int {
	mainUsed.Store(true)
	code := m.Run()
	if pgSrv != nil {
		pgSrv.admin.Close(context.Background())
		pgSrv.stop()
	}
	if redisSrv != nil {
		redisSrv.stop()
	}
	return code
}

func requireMain(t testing.TB) {
	t.Helper()
	if !mainUsed.Load() {
		t.Fatal("dbtest: call dbtest.Main from TestMain, so the servers are stopped")
	}
}

// Postgres returns the connection string of a fresh, empty database on the
// shared PostgreSQL server.
func Postgres(t testing.TB) string {
	t.Helper()
	requireMain(t)
	pgOnce.Do(func() { pgSrv, pgErr = startPostgres() })
	if pgErr != nil {
		t.Fatalf("dbtest: PostgreSQL: %v", pgErr)
	}
	name := fmt.Sprintf("t%d", dbSerial.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pgSrv.mu.Lock()
	_, err := pgSrv.admin.Exec(ctx, "CREATE DATABASE "+name)
	pgSrv.mu.Unlock()
	if err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	return pgSrv.connString(name)
}

// Redis returns the address of the shared Redis server and a key prefix no
// other test uses.
func Redis(t testing.TB) (addr, prefix string) {
	t.Helper()
	requireMain(t)
	redisOnce.Do(func() { redisSrv, redisErr = startRedis() })
	if redisErr != nil {
		t.Fatalf("dbtest: Redis: %v", redisErr)
	}
	return redisSrv.addr, fmt.Sprintf("test%d:", redisSerial.Add(1))
}

// Own is a server of one test's own: Stop stops it (the test's cleanup
// does too, if it has not).
type Own struct {
	// Addr is host:port.
	Addr string
	// DSN is PostgreSQL's connection string (database postgres); "" for
	// Redis.
	DSN  string
	once sync.Once
	stop func()
}

// Stop stops the server and waits for it to exit.
func (o *Own) Stop() { o.once.Do(o.stop) }

// OwnPostgres starts a PostgreSQL server for t alone.
func OwnPostgres(t testing.TB) *Own {
	t.Helper()
	s, err := startPostgres()
	if err != nil {
		t.Fatalf("dbtest: PostgreSQL: %v", err)
	}
	o := &Own{Addr: s.addr, DSN: s.connString("postgres"), stop: func() {
		s.admin.Close(context.Background())
		s.stop()
	}}
	t.Cleanup(o.Stop)
	return o
}

// OwnRedis starts a Redis server for t alone.
func OwnRedis(t testing.TB) *Own {
	t.Helper()
	s, err := startRedis()
	if err != nil {
		t.Fatalf("dbtest: Redis: %v", err)
	}
	o := &Own{Addr: s.addr, stop: s.stop}
	t.Cleanup(o.Stop)
	return o
}

// ClosedAddr returns a 127.0.0.1 address nothing listens on.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// server is a running child process.
type server struct {
	cmd     *exec.Cmd
	addr    string
	dir     string
	log     *syncBuffer
	exited  chan struct{}
	stopSig os.Signal
}

func (s *server) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(s.stopSig)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	_ = os.RemoveAll(s.dir)
}

// start runs cmd and waits until ready succeeds.
func start(cmd *exec.Cmd, dir, addr string, stopSig os.Signal, ready func(context.Context) error) (*server, error) {
	s := &server{cmd: cmd, addr: addr, dir: dir, log: &syncBuffer{}, exited: make(chan struct{}), stopSig: stopSig}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Should the test binary die without stopping it, the server dies too.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited: %v\n%s", cmd.Path, cmd.ProcessState, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not ready after %v: %v\n%s", cmd.Path, startTimeout, err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// retry starts a server up to three times: the free port may be taken
// between choosing it and the server binding it.
func retry(f func() (*server, error)) (*server, error) {
	var errs []error
	for range 3 {
		s, err := f()
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// --- PostgreSQL

type pgServer struct {
	*server
	mu    sync.Mutex // serializes CREATE DATABASE
	admin *pgx.Conn
}

func (s *pgServer) connString(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&connect_timeout=5", s.addr, db)
}

// pgBinDir returns the newest /usr/lib/postgresql/*/bin with initdb and
// postgres.
func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb and postgres under /usr/lib/postgresql/*/bin: %s", install)
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// credential returns how to run PostgreSQL, which refuses to run as root:
// as the postgres system user when we are root, as ourselves otherwise.
func credential() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, os.Geteuid(), os.Getegid(), nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root needs the postgres system user (%v): %s", err, install)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, 0, 0, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func startPostgres() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hera-pg-")
	if err != nil {
		return nil, err
	}
	// dir must be traversable by the postgres user; data and run are its own.
	data, run := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	for _, f := range []func() error{
		func() error { return os.Chmod(dir, 0o755) },
		func() error { return os.Mkdir(data, 0o700) },
		func() error { return os.Mkdir(run, 0o700) },
		func() error { return os.Chown(data, uid, gid) },
		func() error { return os.Chown(run, uid, gid) },
	} {
		if err := f(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	cmd := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Dir = dir
		c.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin", "HOME=" + dir}
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return c
	}
	initdb := cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var admin *pgx.Conn
	srv, err := retry(func() (*server, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c := cmd("postgres", "-D", data, "-k", run, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-F",
			"-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "log_min_messages=warning")
		s, err := start(c, "", addr, syscall.SIGINT, func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", addr))
			if err != nil {
				return err
			}
			admin = conn
			return nil
		})
		return s, err
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv.dir = dir
	return &pgServer{server: srv, admin: admin}, nil
}

// --- Redis

const redisServer = "/usr/bin/redis-server"

func startRedis() (*server, error) {
	if !isExec(redisServer) {
		return nil, fmt.Errorf("no %s: %s", redisServer, install)
	}
	dir, err := os.MkdirTemp("", "hera-redis-")
	if err != nil {
		return nil, err
	}
	srv, err := retry(func() (*server, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c := exec.Command(redisServer, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
		c.Dir = dir
		return start(c, "", addr, syscall.SIGTERM, func(ctx context.Context) error {
			rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			defer rc.Close()
			return rc.Ping(ctx).Err()
		})
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv.dir = dir
	return srv, nil
}

// syncBuffer collects a server's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
