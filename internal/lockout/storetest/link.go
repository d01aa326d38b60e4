package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

func link(t *testing.T, s lockout.Store, k lockout.Key, subject string, now time.Time, ttl time.Duration) {
	t.Helper()
	if err := s.Link(ctx(t), k, subject, now, ttl); err != nil {
		t.Fatalf("Link(%s, %q): %v", k, subject, err)
	}
}

func resolve(t *testing.T, s lockout.Store, k lockout.Key, now time.Time) string {
	t.Helper()
	got, err := s.Resolve(ctx(t), k, now)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", k, err)
	}
	return got
}

func testLinks(t *testing.T, b Backend) {
	s, other := b.Store(), b.Another(t)
	h1 := lockout.Key{Realm: "test", Kind: lockout.KindSession, Digest: "h1"}
	h2 := lockout.Key{Realm: "test", Kind: lockout.KindSession, Digest: "h2"}
	wantSubject := func(what string, st lockout.Store, k lockout.Key, now time.Time, want string) {
		t.Helper()
		if got := resolve(t, st, k, now); got != want {
			t.Fatalf("%s: Resolve(%s) = %q, want %q", what, k.Digest, got, want)
		}
	}
	wantSubject("absent", s, h1, T0, "")
	link(t, s, h1, "alice@example.com", T0, time.Minute)
	wantSubject("linked", s, h1, T0, "alice@example.com")
	wantSubject("through the other store", other, h1, T0, "alice@example.com")
	wantSubject("another handle", s, h2, T0, "")
	wantSubject("1 ms before the link expires", other, h1, T0.Add(time.Minute-time.Millisecond), "alice@example.com")
	wantSubject("when the link expires", s, h1, T0.Add(time.Minute), "")

	// Overwriting replaces the subject and the expiry, also with a shorter one.
	link(t, other, h1, "bob", T0, time.Hour)
	link(t, s, h2, "carol", T0, time.Hour)
	wantSubject("overwritten", s, h1, T0.Add(30*time.Minute), "bob")
	link(t, s, h1, "dave ✓", T0.Add(30*time.Minute), time.Second)
	wantSubject("overwritten again", other, h1, T0.Add(30*time.Minute), "dave ✓")
	wantSubject("shorter expiry", s, h1, T0.Add(30*time.Minute+time.Second), "")
	wantSubject("the other handle is untouched", s, h2, T0.Add(30*time.Minute+time.Second), "carol")

	// The longest subject, multi-byte, round-trips.
	long := strings.Repeat("é", lockout.MaxSubjectBytes/2)
	link(t, s, h2, long, T0, time.Hour)
	wantSubject("256-byte subject", other, h2, T0, long)
}

func testLinkInvalid(t *testing.T, s lockout.Store) {
	h := lockout.Key{Realm: "test", Kind: lockout.KindSession, Digest: "h"}
	for name, c := range map[string]struct {
		subject string
		ttl     time.Duration
	}{
		"too long":    {strings.Repeat("a", lockout.MaxSubjectBytes+1), time.Hour},
		"empty":       {"", time.Hour},
		"invalid":     {"a\xffb", time.Hour},
		"nul":         {"a\x00b", time.Hour},
		"short ttl":   {"a", 999 * time.Millisecond},
		"long ttl":    {"a", 31 * 24 * time.Hour},
		"negative tt": {"a", -time.Hour},
	} {
		if err := s.Link(ctx(t), h, c.subject, T0, c.ttl); !errors.Is(err, lockout.ErrUnavailable) {
			t.Errorf("Link with %s: %v, want an error wrapping lockout.ErrUnavailable", name, err)
		}
	}
	if got := resolve(t, s, h, T0); got != "" {
		t.Fatalf("a refused Link was recorded: %q", got)
	}
}
