// Package events records what happens to each account — the security
// centre's activity (package activity) — and decides which of it is mailed
// to the owner (package outbox).
//
// Events come from three places:
//
//   - Kratos's web hooks (login, registration, settings, recovery,
//     verification), which Hera receives at POST /hooks/kratos/…: Kratos
//     is the only party that sees every successful sign-in (any method,
//     any path) and every settings change. A hook knows the identity and
//     the session but not the browser, so before Hera forwards a
//     submission it records what it saw of the client (an activity.Seen:
//     address, User-Agent, language, device cookie) under the flow's ID
//     ([Recorder.See]); the proxy does the same under the session it sees
//     Kratos issue at a social sign-in's callback. The hook is joined with
//     it, waiting a grace period when it is not there yet.
//   - the guard: failed sign-ins (Kratos sends no hook for them) and locks;
//   - Hera's own account actions: sessions revoked, apps allowed and
//     removed, the account deleted, its data exported.
//
// Nothing here runs on a user's request beyond one store write (See): the
// rest is handed to a bounded pool of background workers, which drops work
// (counted) rather than wait when it is full, and which Close drains.
package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/mail"
	"github.com/heraproject/hera/internal/outbox"
)

// Identities is what the recorder needs of Kratos's admin API: whose
// account an identifier names (a failed sign-in's), and an identity's
// addresses (where a lock's alert goes).
type Identities interface {
	IdentityByIdentifier(ctx context.Context, identifier string) (string, error)
	GetIdentity(ctx context.Context, id string) (*kratos.Identity, error)
}

// Renderer renders an alert mail in its language: the message's Kind,
// Lang, Subject, Text and HTML (*mail.Templates).
type Renderer interface {
	Render(a mail.Alert) (outbox.Message, error)
}

// Observer counts what the recorder does (metrics); every method may be
// called from any goroutine.
type Observer interface {
	// EventRecorded: an event of kind was written.
	EventRecorded(kind string)
	// EventDropped: background work was not done: "busy" (the pool was
	// full), "store" (the activity store failed), "kratos" (Kratos's admin
	// API failed), "closed" (Hera was shutting down).
	EventDropped(reason string)
	// Alert: an alert mail's fate: "queued", "duplicate", "full",
	// "unavailable", "render", "no_recipient".
	Alert(kind, outcome string)
}

// Defaults of a Config.
const (
	DefaultGrace      = 10 * time.Second
	DefaultSeenTTL    = 15 * time.Minute
	DefaultMaxPending = 1000
	// opTimeout bounds each store, queue or Kratos call of the background
	// work.
	opTimeout = 10 * time.Second
)

// Config configures New.
type Config struct {
	Logger *slog.Logger
	Store  activity.Store
	Policy activity.Policy
	// Kratos resolves failed sign-ins' identifiers and reads addresses;
	// nil: failures of first factors and lock alerts are not recorded.
	Kratos Identities
	// Queue and Alerts mail alerts; either nil: no mail. Wake, if set,
	// tells this replica's mail worker that a mail was queued.
	Queue  outbox.Queue
	Alerts Renderer
	Wake   func()
	// NewSignInAlerts: mail "new sign-in" alerts. Only with device cookies
	// that survive restarts and replicas (HERA_DEVICE_COOKIE_SECRET set):
	// without, every browser is new after a restart.
	NewSignInAlerts bool
	// Catalog names browsers and systems in the mails' language; nil:
	// mails carry no browser line.
	Catalog *i18n.Catalog
	// DefaultLanguage is the mails' language when the account's is not
	// known (HERA_DEFAULT_LANGUAGE; "" is English).
	DefaultLanguage string
	// Grace is how long a hook waits for what Hera saw of its client
	// (DefaultGrace).
	Grace time.Duration
	// SeenTTL is how long what Hera saw of a client is kept
	// (DefaultSeenTTL): from a submission to the hook, or from a social
	// sign-in's start to its callback.
	SeenTTL time.Duration
	// MaxPending bounds the background work in progress (DefaultMaxPending);
	// beyond it, work is dropped and counted.
	MaxPending int
	Observer   Observer
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Recorder records events. Its methods never block on the stores but See,
// and are safe for concurrent use.
type Recorder struct {
	cfg   Config
	log   *slog.Logger
	store activity.Store
	obs   Observer
	now   func() time.Time

	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	shut bool
	// stop is closed by Close: waits for a Seen end at once.
	stop chan struct{}
	// ctx is the background work's; cancelled when Close gives up.
	ctx    context.Context
	cancel context.CancelFunc

	waitMu  sync.Mutex
	waiters map[string][]chan struct{}
}

// New returns a recorder.
func New(c Config) (*Recorder, error) {
	if c.Logger == nil || c.Store == nil {
		return nil, errors.New("events: logger and store are required")
	}
	if err := c.Policy.Validate(); err != nil {
		return nil, err
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.SeenTTL <= 0 {
		c.SeenTTL = DefaultSeenTTL
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Recorder{cfg: c, log: c.Logger, store: c.Store, obs: c.Observer, now: c.Now,
		sem: make(chan struct{}, c.MaxPending), stop: make(chan struct{}), ctx: ctx, cancel: cancel,
		waiters: map[string][]chan struct{}{}}, nil
}

type noObserver struct{}

func (noObserver) EventRecorded(string) {}
func (noObserver) EventDropped(string)  {}
func (noObserver) Alert(string, string) {}

// Close stops taking work, ends the waits for a Seen at once (their events
// are written with what is known), and waits for the work in progress
// until ctx ends; then it cancels what is left.
func (r *Recorder) Close(ctx context.Context) {
	r.mu.Lock()
	if !r.shut {
		r.shut = true
		close(r.stop)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("activity: background work cut short at shutdown")
	}
	r.cancel()
}

// Wait waits until no background work is in progress (for tests).
func (r *Recorder) Wait() { r.wg.Wait() }

// spawn runs f in the background unless the pool is full or closed; what
// is not run is counted and logged as dropped.
func (r *Recorder) spawn(what string, f func(ctx context.Context)) {
	r.mu.Lock()
	if r.shut {
		r.mu.Unlock()
		r.dropped(what, "closed")
		return
	}
	select {
	case r.sem <- struct{}{}:
	default:
		r.mu.Unlock()
		r.dropped(what, "busy")
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer func() {
			<-r.sem
			r.wg.Done()
		}()
		defer func() {
			// Background work must not take Hera down.
			if p := recover(); p != nil {
				r.log.Error("activity: background work panicked", "work", what, "panic", p)
			}
		}()
		f(r.ctx)
	}()
}

func (r *Recorder) dropped(what, reason string) {
	r.obs.EventDropped(reason)
	r.log.Warn("activity: work dropped", "work", what, "reason", reason)
}

// Client is what Hera knows of the client behind an action of its own.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
	Device    string // the device cookie's ID, "" if none
	Session   string // the Kratos session ID, where known
}

// FlowKey is the Seen key of a self-service flow.
func FlowKey(flowID string) string { return "flow:" + flowID }

// SignInKey is the Seen key of a sign-in Kratos accepted for identity
// without its submission naming the account (a passkey; a social
// sign-in's callback): the hook's session ID cannot serve, since Kratos
// may render the hook's body before it gives the session its ID.
func SignInKey(identity string) string { return "signin:" + identity }

// See records what Hera saw of the client behind a flow submission or an
// issued session, before the hook Kratos sends for it may arrive: it is
// the one store write on a request's path. A failure is logged, never the
// request's: the hook is then joined with less.
func (r *Recorder) See(ctx context.Context, key string, s activity.Seen) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if err := r.store.PutSeen(ctx, key, s, r.now(), r.cfg.SeenTTL); err != nil {
		r.obs.EventDropped("store")
		r.log.ErrorContext(ctx, "activity: client not recorded", "err", err)
		return
	}
	r.notify(key)
}

// SeeLater is See in the background: for what is learnt once Kratos
// answered (the session a sign-in issued), which the answer need not wait
// for.
func (r *Recorder) SeeLater(key string, s activity.Seen) {
	r.spawn("seen", func(ctx context.Context) { r.See(ctx, key, s) })
}

// notify wakes the hooks of this replica waiting for key.
func (r *Recorder) notify(key string) {
	r.waitMu.Lock()
	defer r.waitMu.Unlock()
	for _, w := range r.waiters[key] {
		select {
		case w <- struct{}{}:
		default: // already woken
		}
	}
}

// watch returns a channel that receives when this replica records one of
// keys, until stop is called.
func (r *Recorder) watch(keys ...string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.waitMu.Lock()
	for _, k := range keys {
		r.waiters[k] = append(r.waiters[k], ch)
	}
	r.waitMu.Unlock()
	return ch, func() {
		r.waitMu.Lock()
		defer r.waitMu.Unlock()
		for _, k := range keys {
			ws := r.waiters[k]
			for i, w := range ws {
				if w == ch {
					ws = append(ws[:i], ws[i+1:]...)
					break
				}
			}
			if len(ws) == 0 {
				delete(r.waiters, k)
			} else {
				r.waiters[k] = ws
			}
		}
	}
}

// add writes an event, counted; a failure is logged and counted.
func (r *Recorder) add(ctx context.Context, e activity.Event) bool {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := r.store.Add(octx, e, r.now(), r.cfg.Policy); err != nil {
		r.obs.EventDropped("store")
		r.log.Error("activity: event not recorded", "kind", e.Kind, "err", err)
		return false
	}
	r.obs.EventRecorded(string(e.Kind))
	r.log.Debug("activity: event recorded", "kind", e.Kind, "id", e.ID)
	return true
}
