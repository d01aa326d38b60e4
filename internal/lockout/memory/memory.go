// Package memory is the in-process lockout store: the default for a single
// Hera instance. Counters are lost on restart and not shared between
// instances; use the postgres or redis store for several instances.
//
// Counters, send quotas and session links are kept in three maps, all under
// one mutex, so every operation is atomic. Memory is bounded: expired
// entries are swept periodically (and on access), and when MaxEntries
// entries exist in all three maps together, inserting a new one evicts one
// chosen by sampling, preferring expired entries, then entries that are
// neither locked nor holding reservations, then the one that expires soonest.
//
// A counter is kept until [lockout.Rule.KeepUntil] (under the rule of its
// last write): one with a hold stays until the failure the hold counts if it
// ends unsettled has been forgotten too.
package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// MaxEntries bounds the number of entries kept: counters, quotas and
	// links together. Default 100000 (a few tens of MB at most).
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
	cfg    Config
	mu     sync.Mutex
	m      map[string]counter // failure counters
	quotas map[string]quota
	links  map[string]link
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// counter is a failure counter and when it may be deleted (Unix ms; see
// lockout.Rule.KeepUntil).
type counter struct {
	st   lockout.State
	keep int64
}

// quota is the accepted uses of a send quota (Unix ms, ascending), kept
// until exp.
type quota struct {
	stamps []int64
	exp    int64
}

type link struct {
	subject string
	exp     int64
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
	s := &Store{
		cfg: cfg, m: make(map[string]counter), quotas: make(map[string]quota), links: make(map[string]link),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
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

func invalid(err error) error {
	return fmt.Errorf("%w: memory: %w", lockout.ErrUnavailable, err)
}

// gone reports whether a counter is gone at now.
func (c counter) gone(nowMS int64) bool { return nowMS >= c.keep }

// updateLocked replaces the counter of id by st, written under rule, or
// deletes it if nothing is left at now; a new entry may evict another.
// s.mu must be held.
func (s *Store) updateLocked(id string, st lockout.State, rule lockout.Rule, exists bool, nowMS int64) {
	st.LockedNow, st.Expired = false, 0
	if exp := st.Expiry(); exp.IsZero() || nowMS >= exp.UnixMilli() {
		delete(s.m, id)
		return
	}
	if !exists {
		s.makeRoomLocked(nowMS)
	}
	s.m[id] = counter{st: st, keep: rule.KeepUntil(st).UnixMilli()}
}

// modify applies fn to key's counter under the lock and stores what it
// returns when it says so: the frame of Fail, Reserve and Settle. valid is
// the caller's check of its arguments.
func (s *Store) modify(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule, valid error, fn func(prev lockout.State) (next lockout.State, write bool)) (lockout.State, bool, error) {
	if err := ctxErr(ctx); err != nil {
		return lockout.State{}, false, err
	}
	if err := errors.Join(rule.Validate(), valid); err != nil {
		return lockout.State{}, false, invalid(err)
	}
	id := key.String()
	nowMS := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.m[id]
	if ok && prev.gone(nowMS) {
		prev = counter{}
	}
	st, write := fn(prev.st)
	if write {
		s.updateLocked(id, st, rule, ok, nowMS)
	}
	return st, write, nil
}

// Fail implements [lockout.Store].
func (s *Store) Fail(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	st, _, err := s.modify(ctx, key, now, rule, nil, func(prev lockout.State) (lockout.State, bool) {
		return rule.Apply(prev, now), true
	})
	return st, err
}

// Reserve implements [lockout.Store]. A refusal writes only the expired
// holds it counted.
func (s *Store) Reserve(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, hold time.Duration) (lockout.State, bool, error) {
	var ok bool
	st, _, err := s.modify(ctx, key, now, rule, errors.Join(lockout.ValidateHoldID(id), lockout.ValidateHold(hold)), func(prev lockout.State) (lockout.State, bool) {
		var next lockout.State
		next, ok = rule.Reserve(prev, now, hold, id)
		return next, ok || next.Expired > 0
	})
	return st, ok, err
}

// Settle implements [lockout.Store].
func (s *Store) Settle(ctx context.Context, key lockout.Key, id string, now time.Time, rule lockout.Rule, failed bool) (lockout.State, error) {
	st, _, err := s.modify(ctx, key, now, rule, lockout.ValidateHoldID(id), func(prev lockout.State) (lockout.State, bool) {
		return rule.Settle(prev, now, id, failed), true
	})
	return st, err
}

// candidate is an entry that may be evicted.
type candidate struct {
	evict     func()
	protected bool  // a locked counter, or one holding reservations
	exp       int64 // Unix ms; 0: already expired
}

// sample returns up to evictionSample entries of m (map iteration order is
// random).
func sample[V any](m map[string]V, c func(id string, v V) candidate) []candidate {
	out := make([]candidate, 0, evictionSample)
	for id, v := range m {
		out = append(out, c(id, v))
		if len(out) == evictionSample {
			break
		}
	}
	return out
}

// makeRoomLocked evicts one entry if the store is full, chosen among a
// sample of each map: an expired one if any, else one that is neither
// locked nor holding reservations, else the one expiring soonest.
func (s *Store) makeRoomLocked(nowMS int64) {
	if s.lenLocked() < s.cfg.MaxEntries {
		return
	}
	cs := sample(s.m, func(id string, c counter) candidate {
		st := c.st
		return candidate{
			evict:     func() { delete(s.m, id) },
			protected: nowMS < st.LockedUntil.UnixMilli() || len(st.Holds) > 0 || (st.Pending > 0 && nowMS < st.PendingUntil.UnixMilli()),
			exp:       max(c.keep, 0),
		}
	})
	cs = append(cs, sample(s.quotas, func(id string, q quota) candidate {
		return candidate{evict: func() { delete(s.quotas, id) }, exp: q.exp}
	})...)
	cs = append(cs, sample(s.links, func(id string, l link) candidate {
		return candidate{evict: func() { delete(s.links, id) }, exp: l.exp}
	})...)
	var best *candidate
	for i := range cs {
		c := &cs[i]
		if c.exp <= nowMS {
			best = c
			break
		}
		if best == nil || (best.protected && !c.protected) || (best.protected == c.protected && c.exp < best.exp) {
			best = c
		}
	}
	if best != nil {
		best.evict()
	}
}

func (s *Store) lenLocked() int { return len(s.m) + len(s.quotas) + len(s.links) }

// Get implements [lockout.Store]. It deletes an entry that is gone, but
// never stores the holds it shows as failures.
func (s *Store) Get(ctx context.Context, key lockout.Key, now time.Time, rule lockout.Rule) (lockout.State, error) {
	if err := ctxErr(ctx); err != nil {
		return lockout.State{}, err
	}
	if err := rule.Validate(); err != nil {
		return lockout.State{}, invalid(err)
	}
	id := key.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if !ok {
		return lockout.State{}, nil
	}
	if c.gone(now.UnixMilli()) {
		delete(s.m, id)
		return lockout.State{}, nil
	}
	st := rule.Current(c.st, now)
	st.Expired, st.LockedNow = 0, false
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

// Take implements [lockout.Store].
func (s *Store) Take(ctx context.Context, key lockout.Key, now time.Time, limits []lockout.Limit) (lockout.Quota, error) {
	if err := ctxErr(ctx); err != nil {
		return lockout.Quota{}, err
	}
	if err := lockout.ValidateLimits(limits); err != nil {
		return lockout.Quota{}, invalid(err)
	}
	id := key.String()
	nowMS := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.quotas[id]
	if ok && nowMS >= prev.exp {
		prev = quota{}
	}
	q, next := lockout.TakeQuota(prev.stamps, now, limits)
	if q.OK {
		if !ok {
			s.makeRoomLocked(nowMS)
		}
		longest, _ := lockout.QuotaSpan(limits)
		s.quotas[id] = quota{stamps: next, exp: next[len(next)-1] + longest.Milliseconds()}
	}
	return q, nil
}

// Link implements [lockout.Store].
func (s *Store) Link(ctx context.Context, handle lockout.Key, subject string, now time.Time, ttl time.Duration) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := lockout.ValidateLink(subject, ttl); err != nil {
		return invalid(err)
	}
	id := handle.String()
	nowMS := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.links[id]; !ok {
		s.makeRoomLocked(nowMS)
	}
	s.links[id] = link{subject: subject, exp: nowMS + ttl.Milliseconds()}
	return nil
}

// Resolve implements [lockout.Store].
func (s *Store) Resolve(ctx context.Context, handle lockout.Key, now time.Time) (string, error) {
	if err := ctxErr(ctx); err != nil {
		return "", err
	}
	id := handle.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[id]
	if !ok {
		return "", nil
	}
	if now.UnixMilli() >= l.exp {
		delete(s.links, id)
		return "", nil
	}
	return l.subject, nil
}

// Sweep deletes the counters, quotas and links expired at now and returns
// how many; it implements [lockout.Sweeper].
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	nowMS := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, c := range s.m {
		if c.gone(nowMS) {
			delete(s.m, id)
			n++
		}
	}
	for id, q := range s.quotas {
		if nowMS >= q.exp {
			delete(s.quotas, id)
			n++
		}
	}
	for id, l := range s.links {
		if nowMS >= l.exp {
			delete(s.links, id)
			n++
		}
	}
	return n, nil
}

// Len returns the number of entries held (counters, quotas and links),
// expired ones included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lenLocked()
}
