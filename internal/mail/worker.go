package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/heraproject/hera/internal/outbox"
)

// Queue is what the Worker needs of the shared outbox; every
// outbox.Queue has it.
type Queue interface {
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]outbox.Message, error)
	Done(ctx context.Context, id, owner string) error
	Retry(ctx context.Context, id, owner string, at time.Time, errText string, maxAttempts int) (dropped bool, err error)
	Len(ctx context.Context) (int, error)
}

// Transport sends one mail; *Sender is the SMTP one. Its errors should be
// *SendError (others count as class "other").
type Transport interface {
	Send(ctx context.Context, m outbox.Message) error
}

// Metrics counts what the Worker does; *metrics.Metrics has it.
type Metrics interface {
	MailSent(kind string)
	MailFailed(kind, reason string)
	MailDropped(kind string)
	MailQueueLength(n int)
}

// WorkerConfig is how the Worker drains the queue. Zero fields take the
// defaults.
type WorkerConfig struct {
	// MaxAttempts: a mail that failed this many times is dropped
	// (HERA_MAIL_MAX_ATTEMPTS; 8).
	MaxAttempts int
	// Timeout is the SMTP timeout (HERA_SMTP_TIMEOUT): the lease is made
	// long enough for a slow server to answer every step of a send.
	Timeout time.Duration
	// Concurrency bounds the mails sent at once by this replica (4).
	Concurrency int
	// Lease is how long a claimed mail is this replica's before another
	// may send it (30 × Timeout, at least 1 minute). A send still running
	// at four fifths of it is stopped.
	Lease time.Duration
	// Poll is how often the queue is asked for due mail (5 s); Wake asks
	// at once.
	Poll time.Duration
	// Backoff is the wait after each failed attempt; the last repeats
	// (30 s, 2 m, 10 m, 1 h).
	Backoff []time.Duration
	// StoreTimeout bounds each call to the queue (5 s).
	StoreTimeout time.Duration
	// Owner names this replica's leases (the host name and a random
	// suffix).
	Owner string
	// Now is the clock (time.Now).
	Now func() time.Time
}

// DefaultBackoff is the wait after the first, second, third and every
// further failed attempt.
var DefaultBackoff = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Lease <= 0 {
		c.Lease = max(time.Minute, 30*c.Timeout)
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = 5 * time.Second
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Owner = host + "-" + hex.EncodeToString(b[:])
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Worker sends the queue's mails in the background: each replica runs
// one. It claims due mails, sends up to Concurrency at once, and marks
// each done, or due again after a backoff, or dropped after MaxAttempts.
type Worker struct {
	cfg     WorkerConfig
	q       Queue
	t       Transport
	log     *slog.Logger
	metrics Metrics

	loopCtx    context.Context // ends when Close begins: no more claims
	stopLoop   context.CancelFunc
	sendCtx    context.Context // ends when Close gives up waiting
	stopSends  context.CancelFunc
	loopDone   chan struct{}
	wake       chan struct{}
	freed      chan struct{}
	slots      chan struct{}
	sends      sync.WaitGroup
	closeOnce  sync.Once
	down       bool      // the queue failed at the last claim (logged once)
	lastLength time.Time // when the queue length was last read
}

// NewWorker starts draining q through t; Close stops it. metrics may be
// nil (no metrics; a nil *metrics.Metrics counts nothing too), and so may
// log (no log).
func NewWorker(cfg WorkerConfig, q Queue, t Transport, log *slog.Logger, metrics Metrics) (*Worker, error) {
	if q == nil || t == nil {
		return nil, errors.New("mail: a worker needs a queue and a transport")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	w := &Worker{
		cfg: cfg, q: q, t: t, log: log, metrics: metrics,
		loopDone: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		freed:    make(chan struct{}, 1),
		slots:    make(chan struct{}, cfg.Concurrency),
	}
	w.loopCtx, w.stopLoop = context.WithCancel(context.Background())
	w.sendCtx, w.stopSends = context.WithCancel(context.Background())
	log.Info("mail worker started", "owner", cfg.Owner, "concurrency", cfg.Concurrency, "max_attempts", cfg.MaxAttempts)
	go w.loop()
	return w, nil
}

// Wake makes the worker look for due mail now rather than at its next
// poll (after this replica enqueued one). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close stops claiming mail and waits for the mails being sent until ctx
// ends; those still running then are stopped, and their leases hand them
// to another sender later. Close is safe to call more than once.
func (w *Worker) Close(ctx context.Context) {
	w.closeOnce.Do(func() {
		w.stopLoop()
		<-w.loopDone
		done := make(chan struct{})
		go func() {
			w.sends.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			w.stopSends()
			<-done
		}
		w.stopSends()
		w.log.Info("mail worker stopped", "owner", w.cfg.Owner)
	})
}

func (w *Worker) loop() {
	defer close(w.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	more := false // the last claim filled every free slot: more may be due
	for {
		var freed chan struct{}
		if more {
			freed = w.freed
		}
		select {
		case <-w.loopCtx.Done():
			return
		case <-timer.C:
			timer.Reset(w.cfg.Poll)
		case <-w.wake:
		case <-freed:
		}
		more = w.poll()
	}
}

// poll claims as many due mails as there are free slots and starts
// sending them; it reports whether it filled every free slot.
func (w *Worker) poll() (more bool) {
	now := w.cfg.Now()
	if w.metrics != nil && now.Sub(w.lastLength) >= w.cfg.Poll {
		w.lastLength = now
		ctx, cancel := context.WithTimeout(w.loopCtx, w.cfg.StoreTimeout)
		if n, err := w.q.Len(ctx); err == nil {
			w.metrics.MailQueueLength(n)
		}
		cancel()
	}
	free := cap(w.slots) - len(w.slots)
	if free == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(w.loopCtx, w.cfg.StoreTimeout)
	msgs, err := w.q.Claim(ctx, w.cfg.Owner, now, w.cfg.Lease, free)
	cancel()
	if err != nil {
		if w.loopCtx.Err() != nil {
			return false
		}
		if !w.down {
			w.down = true
			w.log.Warn("mail queue unavailable: mails wait until it answers", "err", err)
		}
		return false
	}
	if w.down {
		w.down = false
		w.log.Info("mail queue available again")
	}
	for _, m := range msgs {
		w.slots <- struct{}{}
		w.sends.Add(1)
		go func() {
			defer func() {
				<-w.slots
				w.sends.Done()
				select {
				case w.freed <- struct{}{}:
				default:
				}
			}()
			w.send(m)
		}()
	}
	return len(msgs) == free
}

// send sends one claimed mail and records the outcome in the queue.
func (w *Worker) send(m outbox.Message) {
	attempt := m.Attempts + 1
	// Stopped before the lease ends, so that no other replica sends it
	// while this one still might.
	ctx, cancel := context.WithTimeout(w.sendCtx, w.cfg.Lease-w.cfg.Lease/5)
	err := w.t.Send(ctx, m)
	cancel()
	if err == nil {
		w.done(m)
		w.count(func(mt Metrics) { mt.MailSent(m.Kind) })
		w.log.Info("mail sent", "id", m.ID, "kind", m.Kind, "attempt", attempt)
		return
	}
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Class: "other", Failed: 1}
	}
	if se.Class == "canceled" && w.sendCtx.Err() != nil {
		// Shut down mid-send: not an attempt. The lease hands the mail
		// to another sender when it ends.
		w.log.Info("mail send interrupted by shutdown", "id", m.ID, "kind", m.Kind, "attempt", attempt)
		return
	}
	w.count(func(mt Metrics) { mt.MailFailed(m.Kind, se.Class) })
	attrs := []any{"id", m.ID, "kind", m.Kind, "attempt", attempt, "class", se.Class, "smtp_code", se.Code, "smtp_status", se.Status,
		"recipients_failed", se.Failed, "recipients_sent", se.Delivered}
	if se.Permanent && se.Delivered == 0 && se.Class == "address" {
		// No recipient is an address at all: no attempt can succeed.
		w.done(m)
		w.count(func(mt Metrics) { mt.MailDropped(m.Kind) })
		w.log.Error("mail dropped: no recipient is a valid address", attrs...)
		return
	}
	if se.Delivered > 0 && se.Permanent {
		// Some got it; the rest never can: sending again would only
		// repeat it to the first.
		w.done(m)
		w.count(func(mt Metrics) { mt.MailSent(m.Kind) })
		w.log.Warn("mail sent, but refused for some recipients", attrs...)
		return
	}
	at := w.cfg.Now().Add(w.backoff(m.Attempts))
	ctx, cancel = context.WithTimeout(context.Background(), w.cfg.StoreTimeout)
	dropped, rerr := w.q.Retry(ctx, m.ID, w.cfg.Owner, at, se.Error(), w.cfg.MaxAttempts)
	cancel()
	switch {
	case rerr != nil:
		w.log.Error("mail not sent, and its retry not recorded: sent again when its lease ends", append(attrs, "err", rerr)...)
	case dropped:
		w.count(func(mt Metrics) { mt.MailDropped(m.Kind) })
		w.log.Error("mail dropped after its last attempt", append(attrs, "max_attempts", w.cfg.MaxAttempts)...)
	default:
		w.log.Warn("mail not sent, will retry", append(attrs, "retry_at", at.UTC().Format(time.RFC3339))...)
	}
}

// done removes a sent mail from the queue.
func (w *Worker) done(m outbox.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.StoreTimeout)
	defer cancel()
	if err := w.q.Done(ctx, m.ID, w.cfg.Owner); err != nil {
		w.log.Error("mail sent, but not marked done: it may be sent again when its lease ends", "id", m.ID, "kind", m.Kind, "err", err)
	}
}

// backoff is the wait after a mail's failed attempt number failed+1.
func (w *Worker) backoff(failed int) time.Duration {
	return w.cfg.Backoff[min(max(failed, 0), len(w.cfg.Backoff)-1)]
}

func (w *Worker) count(f func(Metrics)) {
	if w.metrics != nil {
		f(w.metrics)
	}
}
