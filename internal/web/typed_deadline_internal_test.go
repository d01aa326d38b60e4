package web

import (
	"testing"
	"time"
)

// TestTypedSealDeadline (defect 10): a typed-identifier cookie opens until
// its deadline, to the second, and never after, whatever the cookie's own
// Max-Age says (a browser or an attacker may keep it longer).
func TestTypedSealDeadline(t *testing.T) {
	s, err := newSealer(nil, typedCookie)
	if err != nil {
		t.Fatal(err)
	}
	const ctx = typedCookie + "\x00login"
	sealedAt := time.Unix(1_800_000_000, 0)
	v := s.seal([]byte("identifier=ada%40example.com"), ctx, sealedAt.Add(typedLifetime))
	for _, tc := range []struct {
		at   time.Duration // after sealing
		open bool
	}{{0, true}, {typedLifetime - time.Second, true}, {typedLifetime, true}, {typedLifetime + time.Second, false}, {24 * time.Hour, false}} {
		p, ok := s.open(v, ctx, sealedAt.Add(tc.at))
		if ok != tc.open || ok && string(p) != "identifier=ada%40example.com" {
			t.Errorf("%v after sealing: opened %v (%q), want %v", tc.at, ok, p, tc.open)
		}
	}
}
