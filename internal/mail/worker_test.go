package mail

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/heraproject/hera/internal/metrics"
	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/stack"
)

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects a worker's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines are the log lines that contain s.
func (b *logBuffer) lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

type workerEnv struct {
	q       *memQueue
	mb      *stack.Mailbox
	sink    *stack.SMTPSink
	snd     *Sender
	log     *logBuffer
	metrics *metrics.Metrics
	clock   *clock
}

// newWorkerEnv is a queue, an SMTP sink over STARTTLS and a Sender to it.
func newWorkerEnv(t *testing.T, sc stack.SMTPSinkConfig) *workerEnv {
	t.Helper()
	sc.TLS = true
	s, mb := sink(t, sc)
	e := &workerEnv{q: newMemQueue(), mb: mb, sink: s, snd: senderFor(t, s, nil), log: &logBuffer{}, metrics: metrics.New(),
		clock: &clock{t: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}}
	t.Cleanup(func() {
		// What the log may never hold: addresses, subjects, bodies.
		for _, bad := range []string{"@example.org", "Subject", "account was", "Konto", "password was"} {
			if strings.Contains(e.log.String(), bad) {
				t.Errorf("the log holds %q:\n%s", bad, e.log.String())
			}
		}
	})
	return e
}

func (e *workerEnv) start(t *testing.T, cfg WorkerConfig, tr Transport) *Worker {
	t.Helper()
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	if tr == nil {
		tr = e.snd
	}
	w, err := NewWorker(cfg, e.q, tr, slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})), e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

func (e *workerEnv) enqueue(t *testing.T, kind Kind, id string, to ...string) outbox.Message {
	t.Helper()
	m := rendered(t, kind, "de", to...)
	m.ID = id
	now := time.Now()
	if e.clock != nil {
		now = e.clock.Now()
	}
	if ok, err := e.q.Enqueue(context.Background(), m, now); !ok || err != nil {
		t.Fatalf("enqueue %s: %v %v", id, ok, err)
	}
	return m
}

// metric is the value of one series on the metrics page ("" → 0).
func (e *workerEnv) metric(t *testing.T, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// waitFor polls cond for up to 20 s (the machine may be loaded).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWorkerDelivers: every queued mail goes out once, the queue empties,
// and the metrics count them.
func TestWorkerDelivers(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{})
	e.clock = nil
	for i := range 10 {
		kind := []Kind{PasswordChanged, NewSignIn}[i%2]
		e.enqueue(t, kind, kind.id(i), "user"+strconv.Itoa(i)+"@example.org")
	}
	e.start(t, WorkerConfig{Concurrency: 3}, nil)
	waitFor(t, "10 mails", func() bool { return e.mb.Len() == 10 })
	waitFor(t, "an empty queue", func() bool { return len(e.q.ids()) == 0 })
	time.Sleep(50 * time.Millisecond)
	if n := e.mb.Len(); n != 10 {
		t.Errorf("%d mails, want 10", n)
	}
	for _, k := range []Kind{PasswordChanged, NewSignIn} {
		if v := e.metric(t, `hera_mail_sent_total{kind="`+string(k)+`"}`); v != 5 {
			t.Errorf("sent %s: %v, want 5", k, v)
		}
	}
	waitFor(t, "the queue length gauge at 0", func() bool { return e.metric(t, "hera_mail_queue_length") == 0 })
	if got := e.log.lines(`"msg":"mail sent"`); len(got) != 10 || !strings.Contains(got[0], `"id":"`) || !strings.Contains(got[0], `"kind":"`) {
		t.Errorf("sent log lines: %v", got)
	}
}

func (k Kind) id(i int) string { return string(k) + ":evt-" + strconv.Itoa(i) }

// TestWorkerBackoff: a refused mail is due again 30 s, 2 m, 10 m, 1 h,
// 1 h … after each failure — not earlier — with the failure recorded
// without an address, and goes out when the server takes it.
func TestWorkerBackoff(t *testing.T) {
	var refusing atomic.Bool
	refusing.Store(true)
	e := newWorkerEnv(t, stack.SMTPSinkConfig{Refuse: func(string) error {
		if refusing.Load() {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
	m := e.enqueue(t, PasswordChanged, "password_changed:evt-1", "owner@example.org")
	w := e.start(t, WorkerConfig{Now: e.clock.Now, MaxAttempts: 8}, nil)

	for i, wait := range []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, time.Hour} {
		failedAt := e.clock.Now()
		waitFor(t, "attempt "+strconv.Itoa(i+1), func() bool { got, _, _, _ := e.q.get(m.ID); return got.Attempts == i+1 })
		got, due, owner, _ := e.q.get(m.ID)
		if !due.Equal(failedAt.Add(wait)) || owner != "" {
			t.Fatalf("after attempt %d: due %v owned by %q, want %v later", i+1, due.Sub(failedAt), owner, wait)
		}
		if got.LastError != "recipient 451 4.3.0" {
			t.Errorf("last error %q", got.LastError)
		}
		// Not a moment early.
		e.clock.Advance(wait - time.Second)
		w.Wake()
		time.Sleep(50 * time.Millisecond)
		if got, _, _, _ := e.q.get(m.ID); got.Attempts != i+1 {
			t.Fatalf("attempt %d made %v early", i+2, time.Second)
		}
		e.clock.Advance(time.Second)
		w.Wake()
	}
	refusing.Store(false)
	waitFor(t, "attempt 6", func() bool { return e.mb.Len() == 1 })
	waitFor(t, "an empty queue", func() bool { return len(e.q.ids()) == 0 })
	if v := e.metric(t, `hera_mail_failed_total{kind="password_changed",reason="recipient"}`); v != 5 {
		t.Errorf("failed: %v, want 5", v)
	}
	if v := e.metric(t, `hera_mail_sent_total{kind="password_changed"}`); v != 1 {
		t.Errorf("sent: %v, want 1", v)
	}
	if got := e.log.lines(`"msg":"mail not sent, will retry"`); len(got) != 5 || !strings.Contains(got[0], `"class":"recipient"`) || !strings.Contains(got[0], `"smtp_code":451`) {
		t.Errorf("retry log lines: %v", got)
	}
}

// TestWorkerDrops: a mail that fails MaxAttempts times is dropped,
// counted and logged as an error.
func TestWorkerDrops(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{})
	// A server that is down: nothing listens on its port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	down, err := NewSender(SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, From: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	m := e.enqueue(t, Locked, "locked:id-1:1773500000", "owner@example.org")
	w := e.start(t, WorkerConfig{Now: e.clock.Now, MaxAttempts: 3}, down)
	for i := range 2 {
		waitFor(t, "attempt "+strconv.Itoa(i+1), func() bool { got, _, _, _ := e.q.get(m.ID); return got.Attempts == i+1 })
		e.clock.Advance(time.Hour)
		w.Wake()
	}
	waitFor(t, "the drop", func() bool { return len(e.q.ids()) == 0 })
	if len(e.q.dropped) != 1 || e.q.dropped[0].Attempts != 3 || !strings.HasPrefix(e.q.dropped[0].LastError, "connect") {
		t.Errorf("dropped %+v", e.q.dropped)
	}
	if v := e.metric(t, `hera_mail_dropped_total{kind="locked"}`); v != 1 {
		t.Errorf("dropped metric %v", v)
	}
	if v := e.metric(t, `hera_mail_failed_total{kind="locked",reason="connect"}`); v != 3 {
		t.Errorf("failed metric %v", v)
	}
	if got := e.log.lines(`"msg":"mail dropped after its last attempt"`); len(got) != 1 || !strings.Contains(got[0], `"level":"ERROR"`) || !strings.Contains(got[0], m.ID) {
		t.Errorf("drop log lines: %v", got)
	}
}

// TestWorkerLease: a mail leased to another sender (a replica that died
// mid-send) is left alone until its lease ends, then sent.
func TestWorkerLease(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{})
	m := e.enqueue(t, NewSignIn, "new_sign_in:evt-1", "owner@example.org")
	if got, err := e.q.Claim(context.Background(), "dead-replica", e.clock.Now(), 5*time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	w := e.start(t, WorkerConfig{Now: e.clock.Now, Owner: "alive"}, nil)
	e.clock.Advance(5*time.Minute - time.Second)
	w.Wake()
	time.Sleep(100 * time.Millisecond)
	if e.mb.Len() != 0 {
		t.Fatal("sent while another sender held the lease")
	}
	e.clock.Advance(time.Second)
	w.Wake()
	waitFor(t, "the mail", func() bool { return e.mb.Len() == 1 })
	waitFor(t, "an empty queue", func() bool { return len(e.q.ids()) == 0 })
	if _, _, _, ok := e.q.get(m.ID); ok {
		t.Error("still queued")
	}
}

// TestTwoWorkers: two replicas drain one queue; each mail goes out once.
func TestTwoWorkers(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{})
	e.clock = nil
	const n = 40
	for i := range n {
		e.enqueue(t, PasswordChanged, PasswordChanged.id(i), "user"+strconv.Itoa(i)+"@example.org")
	}
	e.start(t, WorkerConfig{Owner: "a", Concurrency: 3}, nil)
	e.start(t, WorkerConfig{Owner: "b", Concurrency: 3}, nil)
	waitFor(t, "an empty queue", func() bool { return len(e.q.ids()) == 0 })
	time.Sleep(50 * time.Millisecond)
	seen := map[string]int{}
	for _, m := range e.mb.Since(0) {
		seen[m.Recipient]++
	}
	if len(seen) != n || e.mb.Len() != n {
		t.Errorf("%d mails to %d recipients, want %d each once", e.mb.Len(), len(seen), n)
	}
}

// concurrency is a Transport that sends through a Sender and records how
// many sends ran at once.
type concurrency struct {
	*Sender
	now, max atomic.Int32
}

func (c *concurrency) Send(ctx context.Context, m outbox.Message) error {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for {
		cur := c.max.Load()
		if n <= cur || c.max.CompareAndSwap(cur, n) {
			break
		}
	}
	return c.Sender.Send(ctx, m)
}

// TestWorkerConcurrencyBound: never more sends at once than Concurrency.
func TestWorkerConcurrencyBound(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{Refuse: func(string) error { time.Sleep(30 * time.Millisecond); return nil }})
	e.clock = nil
	for i := range 12 {
		e.enqueue(t, NewSignIn, NewSignIn.id(i), "user"+strconv.Itoa(i)+"@example.org")
	}
	c := &concurrency{Sender: e.snd}
	e.start(t, WorkerConfig{Concurrency: 2}, c)
	waitFor(t, "12 mails", func() bool { return e.mb.Len() == 12 })
	if m := c.max.Load(); m > 2 || m < 1 {
		t.Errorf("%d sends at once, want at most 2", m)
	}
}

// TestWorkerClose: Close waits for a send that ends in time; one that
// does not is stopped, counts no attempt and keeps its lease, so another
// sender takes it when the lease ends.
func TestWorkerClose(t *testing.T) {
	release := make(chan struct{})
	var stuck atomic.Bool
	e := newWorkerEnv(t, stack.SMTPSinkConfig{Refuse: func(string) error {
		if stuck.Load() {
			<-release
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	}})
	defer close(release)

	e.enqueue(t, PasswordChanged, "password_changed:slow", "owner@example.org")
	w := e.start(t, WorkerConfig{Now: e.clock.Now, Owner: "one"}, nil)
	waitFor(t, "the send to start", func() bool { _, _, owner, _ := e.q.get("password_changed:slow"); return owner == "one" })
	w.Close(context.Background())
	if e.mb.Len() != 1 || len(e.q.ids()) != 0 {
		t.Fatalf("Close did not wait for the send: %d mails, queue %v", e.mb.Len(), e.q.ids())
	}
	w.Close(context.Background()) // twice is fine

	stuck.Store(true)
	e.enqueue(t, PasswordChanged, "password_changed:stuck", "owner@example.org")
	w = e.start(t, WorkerConfig{Now: e.clock.Now, Owner: "two"}, nil)
	waitFor(t, "the send to start", func() bool { _, _, owner, _ := e.q.get("password_changed:stuck"); return owner == "two" })
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	w.Close(ctx)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	got, _, owner, ok := e.q.get("password_changed:stuck")
	if !ok || got.Attempts != 0 || owner != "two" {
		t.Errorf("after an interrupted send: queued %v, attempts %d, owner %q", ok, got.Attempts, owner)
	}
	if v := e.metric(t, `hera_mail_failed_total{kind="password_changed",reason="canceled"}`); v != 0 {
		t.Errorf("the interrupted send counted as a failure")
	}
	if len(e.log.lines("mail send interrupted by shutdown")) != 1 {
		t.Errorf("no log line for the interrupted send:\n%s", e.log.String())
	}
}

// TestWorkerQueueDown: a queue that cannot answer is logged once, not at
// every poll, and the worker carries on when it is back.
func TestWorkerQueueDown(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{})
	e.clock = nil
	e.q.setFail(errDown)
	e.start(t, WorkerConfig{}, nil)
	time.Sleep(200 * time.Millisecond) // some 20 polls
	if n := len(e.log.lines("mail queue unavailable")); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
	e.q.setFail(nil)
	e.enqueue(t, Locked, "locked:x:1", "owner@example.org")
	waitFor(t, "the mail", func() bool { return e.mb.Len() == 1 })
	if n := len(e.log.lines("mail queue available again")); n != 1 {
		t.Errorf("%d recoveries logged, want 1", n)
	}
}

// TestWorkerPartlyRefused: a recipient refused for good does not make the
// others' mail go out again.
func TestWorkerPartlyRefused(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{Refuse: func(rcpt string) error {
		if strings.HasPrefix(rcpt, "gone@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	e.enqueue(t, AddressChanged, "address_changed:evt-1", "gone@example.org", "new@example.org")
	e.start(t, WorkerConfig{Now: e.clock.Now}, nil)
	waitFor(t, "an empty queue", func() bool { return len(e.q.ids()) == 0 })
	if got := e.mb.Since(0); len(got) != 1 || got[0].Recipient != "new@example.org" {
		t.Errorf("mails %+v", got)
	}
	if v := e.metric(t, `hera_mail_failed_total{kind="address_changed",reason="recipient"}`); v != 1 {
		t.Errorf("failed %v", v)
	}
	if got := e.log.lines("refused for some recipients"); len(got) != 1 || !strings.Contains(got[0], `"recipients_failed":1`) {
		t.Errorf("log %v", got)
	}
}

// TestWorkerInvalidAddress: a mail to no valid address is dropped at
// once: no attempt could succeed.
func TestWorkerInvalidAddress(t *testing.T) {
	e := newWorkerEnv(t, stack.SMTPSinkConfig{})
	m := rendered(t, Locked, "en", "not an address")
	m.ID = "locked:x:2"
	if ok, err := e.q.Enqueue(context.Background(), m, e.clock.Now()); !ok || err != nil {
		t.Fatal(ok, err)
	}
	e.start(t, WorkerConfig{Now: e.clock.Now}, nil)
	waitFor(t, "an empty queue", func() bool { return len(e.q.ids()) == 0 })
	if v := e.metric(t, `hera_mail_dropped_total{kind="locked"}`); v != 1 {
		t.Errorf("dropped %v", v)
	}
	if e.mb.Len() != 0 || len(e.log.lines("no recipient is a valid address")) != 1 {
		t.Errorf("%d mails; log:\n%s", e.mb.Len(), e.log.String())
	}
}

func TestNewWorkerRefuses(t *testing.T) {
	if _, err := NewWorker(WorkerConfig{}, nil, &Sender{}, nil, nil); err == nil {
		t.Error("no queue accepted")
	}
	if _, err := NewWorker(WorkerConfig{}, newMemQueue(), nil, nil, nil); err == nil {
		t.Error("no transport accepted")
	}
	// Metrics off: app hands in its nil *metrics.Metrics as it is.
	var off *metrics.Metrics
	w, err := NewWorker(WorkerConfig{Poll: time.Millisecond}, newMemQueue(), &Sender{}, nil, off)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	w.Close(context.Background())
	off.MailSent("x")
	off.MailFailed("x", "y")
	off.MailDropped("x")
	off.MailQueueLength(1)
}
