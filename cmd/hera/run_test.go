package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hera", "--help"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"HERA_LISTEN", "HERA_PUBLIC_URL", "KRATOS_PUBLIC_URL", "KRATOS_ADMIN_URL", "HYDRA_ADMIN_URL"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("--help does not mention %s", name)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hera", "--version"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "hera dev\n" {
		t.Errorf("--version printed %q for an unstamped build", got)
	}
}

func TestBadConfigurationListsEveryProblem(t *testing.T) {
	env := map[string]string{
		"HERA_LISTEN":       "no-port",
		"KRATOS_PUBLIC_URL": "://bad",
		"HYDRA_ADMIN_URL":   "ftp://hydra",
		"KRATOS_TIMEOUT":    "-1s",
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"hera"}, mapEnv(env), &out, &out)
	if err == nil {
		t.Fatal("run accepted a bad configuration")
	}
	for _, want := range []string{"HERA_LISTEN", "KRATOS_PUBLIC_URL", "KRATOS_ADMIN_URL: required", "HYDRA_ADMIN_URL", "KRATOS_TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestUnknownArgument(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hera", "--nope"}, mapEnv(nil), &out, &out); err == nil {
		t.Fatal("unknown argument accepted")
	}
}

// TestReadiness runs Hera through run() against real Kratos and Hydra and
// takes them away one at a time.
func TestReadiness(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{Hydra: true})

	// Hera A: wired to the real Kratos and Hydra.
	a := startHera(t, map[string]string{
		"KRATOS_PUBLIC_URL": e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":  e.Kratos.AdminURL,
		"HYDRA_ADMIN_URL":   e.Hydra.AdminURL,
	})
	// Hera B: a Kratos that is not there, the real Hydra.
	dead := "http://" + closedAddr(t)
	b := startHera(t, map[string]string{
		"KRATOS_PUBLIC_URL": dead,
		"KRATOS_ADMIN_URL":  dead,
		"HYDRA_ADMIN_URL":   e.Hydra.AdminURL,
	})
	// Hera C: Kratos only, no Hydra configured.
	c := startHera(t, map[string]string{
		"KRATOS_PUBLIC_URL": e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":  e.Kratos.AdminURL,
	})

	expectReady(t, a, http.StatusOK, nil)
	expectReady(t, b, http.StatusServiceUnavailable, []string{"kratos"})
	expectReady(t, c, http.StatusOK, nil)

	if err := e.Hydra.Stop(); err != nil {
		t.Fatal(err)
	}
	expectReady(t, a, http.StatusServiceUnavailable, []string{"hydra"})
	expectReady(t, c, http.StatusOK, nil) // Hydra is not its business

	e.Kratos.Kill()
	expectReady(t, a, http.StatusServiceUnavailable, []string{"hydra", "kratos"})
	expectReady(t, c, http.StatusServiceUnavailable, []string{"kratos"})

	res, err := http.Get(a + "/health/alive")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("alive: status %d, want 200 while dependencies are down", res.StatusCode)
	}
}

// TestLogsCarryRequestID checks that every request is logged as JSON with the
// request ID that the response's X-Request-Id header shows.
func TestLogsCarryRequestID(t *testing.T) {
	var logs syncBuffer
	dead := "http://" + closedAddr(t)
	base := startHeraOut(t, map[string]string{"KRATOS_PUBLIC_URL": dead, "KRATOS_ADMIN_URL": dead}, &logs)
	res, err := http.Get(base + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := res.Header.Get("X-Request-Id")
	if len(id) != 16 {
		t.Fatalf("X-Request-Id %q", id)
	}
	// Log lines are written in batches (HERA_LOG_FLUSH_INTERVAL, 50ms).
	settle(&logs)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["request_id"] == id {
			lines = append(lines, m)
		}
	}
	// The readiness warning and the access line.
	if len(lines) < 2 {
		t.Fatalf("want >= 2 log lines with request_id %s, got %d:\n%s", id, len(lines), logs.String())
	}
}

func startHera(t *testing.T, env map[string]string) string {
	b := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.String())
		}
	})
	return startHeraOut(t, env, b)
}

// startHeraOut runs Hera via run() on a free port and returns its base URL
// once /health/alive answers. It stops Hera when the test ends and checks
// that it shut down cleanly.
func startHeraOut(t *testing.T, env map[string]string, out *syncBuffer) string {
	t.Helper()
	testDefaults(env)
	addr := env["HERA_LISTEN"]
	if addr == "" {
		addr = closedAddr(t)
		env["HERA_LISTEN"] = addr
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"hera"}, mapEnv(env), out, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("hera did not shut down")
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(base + "/health/alive")
		if err == nil {
			res.Body.Close()
			return base
		}
		select {
		case err := <-done:
			t.Fatalf("hera exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hera not alive: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testDefaults sets what every Hera these tests start has unless the test
// says otherwise: no passkey offer after a password sign-in, as
// apptest.Env (these tests sign in with passwords and check where each
// lands; the offer's own tests are in integration and e2e).
func testDefaults(env map[string]string) {
	if _, ok := env["HERA_PASSKEY_OFFER"]; !ok {
		env["HERA_PASSKEY_OFFER"] = "false"
	}
}

func expectReady(t *testing.T, base string, status int, down []string) {
	t.Helper()
	res, err := http.Get(base + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string            `json:"status"`
		Down   map[string]string `json:"down"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != status {
		t.Errorf("%s/health/ready: status %d, want %d (%+v)", base, res.StatusCode, status, body)
	}
	if len(body.Down) != len(down) {
		t.Errorf("%s/health/ready: down %v, want %v", base, body.Down, down)
	}
	for _, d := range down {
		if _, ok := body.Down[d]; !ok {
			t.Errorf("%s/health/ready: %s not reported down (%v)", base, d, body.Down)
		}
	}
}

// closedAddr returns a loopback address nothing listens on (a moment ago).
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// syncBuffer is the stack test kit's goroutine-safe buffer.
type syncBuffer = stacktest.Buffer

// settle waits until nothing has been written to b for a quarter of a
// second (five times Hera's default log flush interval), at most 5 seconds.
func settle(b *syncBuffer) {
	last, since := -1, time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n := len(b.String())
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 250*time.Millisecond {
			return
		}
	}
}
