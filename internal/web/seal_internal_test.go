package web

import (
	"strings"
	"testing"
	"time"
)

// TestSealer: what keepTyped seals opens only under the same key, context
// and before its deadline; one flipped byte or another context yields
// nothing.
func TestSealer(t *testing.T) {
	s, err := newSealer([]byte(strings.Repeat("k", 32)), typedCookie)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v := s.seal([]byte("identifier=ada%40example.com"), "hera_typed\x00login", now.Add(time.Minute))
	if strings.Contains(v, "ada") {
		t.Fatalf("sealed value shows the identifier: %s", v)
	}
	if p, ok := s.open(v, "hera_typed\x00login", now); !ok || string(p) != "identifier=ada%40example.com" {
		t.Fatalf("open: %q %v", p, ok)
	}
	for name, try := range map[string]func() bool{
		"other context": func() bool { _, ok := s.open(v, "hera_typed\x00registration", now); return ok },
		"after deadline": func() bool {
			_, ok := s.open(v, "hera_typed\x00login", now.Add(2*time.Minute))
			return ok
		},
		"flipped byte": func() bool {
			b := []byte(v)
			b[len(b)/2] ^= 1
			_, ok := s.open(string(b), "hera_typed\x00login", now)
			return ok
		},
		"other key": func() bool {
			o, _ := newSealer([]byte(strings.Repeat("j", 32)), typedCookie)
			_, ok := o.open(v, "hera_typed\x00login", now)
			return ok
		},
		"random key": func() bool {
			o, _ := newSealer(nil, typedCookie)
			_, ok := o.open(v, "hera_typed\x00login", now)
			return ok
		},
		"garbage": func() bool { _, ok := s.open("%%%", "hera_typed\x00login", now); return ok },
	} {
		if try() {
			t.Errorf("%s: opened", name)
		}
	}
}

// TestFlowTypes: the cache keeps the newest flows' types, up to its size.
func TestFlowTypes(t *testing.T) {
	c := newFlowTypes(2)
	c.put("a", true)
	c.put("b", false)
	c.put("a", false) // a flow's type never changes: the first answer stays
	if api, ok := c.get("a"); !ok || !api {
		t.Fatalf("a: %v %v", api, ok)
	}
	c.put("c", false)
	if _, ok := c.get("a"); ok {
		t.Fatal("the oldest flow is still kept beyond the size")
	}
	for _, id := range []string{"b", "c"} {
		if _, ok := c.get(id); !ok {
			t.Fatalf("%s forgotten", id)
		}
	}
	c.put("", true)
	if _, ok := c.get(""); ok {
		t.Fatal("an empty ID kept")
	}
}

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
