// Package memory is the in-process activity store, for one Hera instance
// (the dev stack, HERA_LOCKOUT_STORE=memory): events are lost on restart
// and not shared between instances.
//
// Every identity's events and address record are kept under one mutex, so
// each operation is atomic. Events are kept encoded, as the other stores
// keep them, so every store hands back the same values. Memory is bounded
// per identity by the policy's MaxPerIdentity; identities exist only for
// accounts (events are keyed by identity ID), and what outlived its
// retention is swept periodically.
package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraproject/hera/internal/activity"
)

// Config configures a [Store]. Zero fields take the defaults.
type Config struct {
	// SweepInterval is how often what outlived its retention is deleted in
	// the background. Default 1 min; negative disables the background
	// sweep (call Sweep yourself).
	SweepInterval time.Duration
	// Now is the clock of the background sweep. Default time.Now.
	Now func() time.Time
	// MaxSeen bounds the Seen records kept (PutSeen): beyond it, the
	// expired ones go, then arbitrary ones. Default 100000 (some 50 MB).
	MaxSeen int
}

// Defaults of a Config.
const (
	DefaultSweepInterval = time.Minute
	DefaultMaxSeen       = 100_000
)

// Store is an in-memory [activity.Store]. It is safe for concurrent use.
type Store struct {
	cfg  Config
	mu   sync.Mutex
	ids  map[string]*identity
	seen map[string]seen
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// identity is what is kept of one identity.
type identity struct {
	events map[string]event // by ID
	// addrs is the address record (nil: none), kept until addrsExp.
	addrs    []string
	addrsExp int64
}

// seen is one encoded Seen and when it goes (Unix ms).
type seen struct {
	exp  int64
	data []byte
}

// event is one encoded event, its time and when it goes (Unix ms: At +
// the retention of the Add that stored it).
type event struct {
	at, exp int64
	data    []byte
}

var _ activity.Store = (*Store)(nil)

// New returns an empty store and starts its background sweep; Close stops
// it.
func New(cfg Config) (*Store, error) {
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxSeen <= 0 {
		cfg.MaxSeen = DefaultMaxSeen
	}
	s := &Store{cfg: cfg, ids: map[string]*identity{}, seen: map[string]seen{}, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.SweepInterval > 0 {
		go s.sweepLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background sweep.
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
			s.Sweep(s.cfg.Now())
		}
	}
}

// Sweep deletes the events and address records that outlived, at now, the
// retention they were written with, and returns how many.
func (s *Store) Sweep(now time.Time) int {
	n := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	swept := 0
	for key, id := range s.ids {
		for eid, e := range id.events {
			if e.exp <= n {
				delete(id.events, eid)
				swept++
			}
		}
		if id.addrs != nil && id.addrsExp <= n {
			id.addrs = nil
			swept++
		}
		if len(id.events) == 0 && id.addrs == nil {
			delete(s.ids, key)
		}
	}
	return swept + s.sweepSeen(n)
}

// sweepSeen deletes the Seen records expired at n (Unix ms); s.mu is held.
func (s *Store) sweepSeen(n int64) int {
	swept := 0
	for k, r := range s.seen {
		if r.exp <= n {
			delete(s.seen, k)
			swept++
		}
	}
	return swept
}

// PutSeen implements [activity.Store].
func (s *Store) PutSeen(ctx context.Context, key string, v activity.Seen, now time.Time, ttl time.Duration) error {
	data, err := activity.EncodeSeen(key, v, ttl)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("put seen", err)
	}
	n := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[key]; !ok && len(s.seen) >= s.cfg.MaxSeen && s.sweepSeen(n) == 0 {
		// Full of live records (a flood of submissions): one goes, so
		// memory stays bounded.
		for k := range s.seen {
			delete(s.seen, k)
			break
		}
	}
	s.seen[key] = seen{exp: n + ttl.Milliseconds(), data: data}
	return nil
}

// GetSeen implements [activity.Store].
func (s *Store) GetSeen(ctx context.Context, key string, now time.Time) (activity.Seen, bool, error) {
	if err := activity.ValidateSeenKey(key); err != nil {
		return activity.Seen{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	s.mu.Lock()
	r, ok := s.seen[key]
	s.mu.Unlock()
	if !ok || r.exp <= now.UnixMilli() {
		return activity.Seen{}, false, nil
	}
	v, err := activity.DecodeSeen(r.data)
	if err != nil {
		return activity.Seen{}, false, unavailable("get seen", err)
	}
	return v, true, nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: memory %s: %w", activity.ErrUnavailable, op, err)
}

// get returns the identity's record, creating it if create.
func (s *Store) get(key string, create bool) *identity {
	id := s.ids[key]
	if id == nil && create {
		id = &identity{events: map[string]event{}}
		s.ids[key] = id
	}
	return id
}

// Add implements [activity.Store].
func (s *Store) Add(ctx context.Context, e activity.Event, now time.Time, p activity.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	e, data, err := activity.Encode(e)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("add", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.get(e.Identity, true)
	if _, ok := id.events[e.ID]; !ok {
		at := e.At.UnixMilli()
		id.events[e.ID] = event{at: at, exp: at + p.Retention.Milliseconds(), data: data}
	}
	cutoff := p.Cutoff(now).UnixMilli()
	for eid, ev := range id.events {
		if ev.at <= cutoff {
			delete(id.events, eid)
		}
	}
	if over := len(id.events) - p.MaxPerIdentity; over > 0 {
		for _, eid := range sorted(id.events)[p.MaxPerIdentity:] {
			delete(id.events, eid)
		}
	}
	if len(id.events) == 0 && id.addrs == nil {
		delete(s.ids, e.Identity)
	}
	return nil
}

// sorted returns the IDs of events as List orders them.
func sorted(events map[string]event) []string {
	type item struct {
		id string
		at int64
	}
	items := make([]item, 0, len(events))
	for id, e := range events {
		items = append(items, item{id, e.at})
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Or(cmp.Compare(b.at, a.at), strings.Compare(a.id, b.id)) })
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	return ids
}

// List implements [activity.Store].
func (s *Store) List(ctx context.Context, identity string, now time.Time, p activity.Policy, limit int) ([]activity.Event, error) {
	if err := errors.Join(p.Validate(), activity.ValidateIdentity(identity)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("list", err)
	}
	cutoff := p.Cutoff(now).UnixMilli()
	n := activity.ListLimit(p, limit)
	s.mu.Lock()
	id := s.get(identity, false)
	var data [][]byte
	if id != nil {
		for _, eid := range sorted(id.events) {
			if len(data) == n {
				break
			}
			if e := id.events[eid]; e.at > cutoff {
				data = append(data, e.data)
			}
		}
	}
	s.mu.Unlock()
	out := make([]activity.Event, 0, len(data))
	for _, b := range data {
		e, err := activity.Decode(b)
		if err != nil {
			return nil, unavailable("list", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Forget implements [activity.Store].
func (s *Store) Forget(ctx context.Context, identity string) error {
	if err := activity.ValidateIdentity(identity); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable("forget", err)
	}
	s.mu.Lock()
	delete(s.ids, identity)
	s.mu.Unlock()
	return nil
}

// SetAddresses implements [activity.Store].
func (s *Store) SetAddresses(ctx context.Context, identity string, addrs []string, now time.Time, p activity.Policy) ([]string, error) {
	if err := errors.Join(p.Validate(), activity.ValidateIdentity(identity), activity.ValidateAddresses(addrs)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("set addresses", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.get(identity, true)
	var prev []string
	if id.addrs != nil && id.addrsExp > now.UnixMilli() {
		prev = id.addrs
	}
	id.addrs = append([]string{}, addrs...)
	id.addrsExp = now.UnixMilli() + p.Retention.Milliseconds()
	return prev, nil
}

// Len is the number of events kept, of every identity (for tests).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range s.ids {
		n += len(id.events)
	}
	return n
}
