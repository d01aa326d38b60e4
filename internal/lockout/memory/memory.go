// Package memory is the in-process lockout store: the default for a single
// Hera instance. Counters are lost on restart and not shared between
// instances; use the postgres or redis store for several instances.
//
// Memory is bounded: expired entries are swept periodically (and on access),
// and when MaxEntries live entries exist, inserting a new key evicts one
// entry chosen by sampling, preferring expired, then unlocked entries, then
// the one that expires soonest.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// MaxEntries bounds the number of keys kept. Default 100000 (a few tens
	// of MB at most).
	MaxEntries int
	// SweepInterval is how often expired entries are deleted in the
	// background. Default 1 min; negative disables the background sweep
	// (call Sweep yourself).
	SweepInterval time.Duration
	// Now is the clock of the background sweep. Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultMaxEntries    = 100_000
	DefaultSweepInterval = time.Minute
)

// evictionSample is how many entries are looked at to choose a victim.
const evictionSample = 8

// Store is an in-memory [lockout.Store]. It is safe for concurrent use.
type Store struct {
	cfg  Config
	mu   sync.Mutex
	m    map[string]lockout.State
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var (
	_ lockout.Store   = (*Store)(nil)
	_ lockout.Sweeper = (*Store)(nil)
)

// New returns a store and starts its background sweep; Close stops it.
func New(cfg Config) (*Store, error) {
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxEntries < 1 {
		return nil, fmt.Errorf("memory: MaxEntries %d: must be positive", cfg.MaxEntries)
	}
	s := &Store{cfg: cfg, m: make(map[string]lockout.State), stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.SweepInterval > 0 {
		go s.sweepLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background sweep. The store stays usable.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *Store) sweepLoop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_, _ = s.Sweep(context.Background(), s.cfg.Now())
		}
	}
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: memory: %w", lockout.ErrUnavailable, err)
	}
	return nil
}

func expired(st lockout.State, nowMS int64) bool {
	return st.ExpiresAt.IsZero() || nowMS >= st.ExpiresAt.UnixMilli()
}

// Fail implements [lockout.Store].
func (s *Store) Fail(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	if err := ctxErr(ctx); err != nil {
		return lockout.State{}, err
	}
	if err := rule.Validate(); err != nil {
		return lockout.State{}, fmt.Errorf("%w: memory: %w", lockout.ErrUnavailable, err)
	}
	id := key.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.m[id]
	if !ok && len(s.m) >= s.cfg.MaxEntries {
		s.evictLocked(now.UnixMilli())
	}
	st := rule.Apply(prev, now)
	stored := st
	stored.LockedNow = false
	s.m[id] = stored
	return st, nil
}

// evictLocked removes one entry, chosen among a sample of entries (map
// iteration order is random): an expired one if any, else an unlocked one,
// else the one expiring soonest.
func (s *Store) evictLocked(nowMS int64) {
	var victim string
	var vLocked bool
	var vExp int64
	n := 0
	for id, st := range s.m {
		if expired(st, nowMS) {
			victim = id
			break
		}
		locked := nowMS < st.LockedUntil.UnixMilli()
		exp := st.ExpiresAt.UnixMilli()
		if n == 0 || (vLocked && !locked) || (vLocked == locked && exp < vExp) {
			victim, vLocked, vExp = id, locked, exp
		}
		n++
		if n >= evictionSample {
			break
		}
	}
	delete(s.m, victim)
}

// Get implements [lockout.Store].
func (s *Store) Get(ctx context.Context, key lockout.Key, now time.Time) (lockout.State, error) {
	if err := ctxErr(ctx); err != nil {
		return lockout.State{}, err
	}
	id := key.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[id]
	if !ok {
		return lockout.State{}, nil
	}
	if expired(st, now.UnixMilli()) {
		delete(s.m, id)
		return lockout.State{}, nil
	}
	return st, nil
}

// Reset implements [lockout.Store].
func (s *Store) Reset(ctx context.Context, key lockout.Key) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key.String())
	return nil
}

// Sweep deletes the entries expired at now and returns how many; it
// implements [lockout.Sweeper].
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	nowMS := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, st := range s.m {
		if expired(st, nowMS) {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

// Len returns the number of entries held, expired ones included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
