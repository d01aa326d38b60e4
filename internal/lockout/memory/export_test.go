package memory

import "github.com/heraproject/hera/internal/lockout"

// PutLegacy writes the counter of key as a Hera version without holds
// would (tests of mixed versions): Failures to PendingUntil replace the
// stored ones, holds already there stay. st.Holds is ignored.
func (s *Store) PutLegacy(key lockout.Key, st lockout.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := key.String()
	c := s.m[id]
	st.Holds, st.Expired, st.LockedNow = c.st.Holds, 0, false
	keep := max(c.keep, st.Expiry().UnixMilli())
	s.m[id] = counter{st: st, keep: keep}
}

// Raw returns the stored counter of key as it is, expired holds and all,
// and whether there is one (tests).
func (s *Store) Raw(key lockout.Key) (lockout.State, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[key.String()]
	return c.st, ok
}
