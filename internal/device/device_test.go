package device

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

func newCookies(t *testing.T, secret string, now *time.Time) *Cookies {
	t.Helper()
	c, err := New(Config{Secret: []byte(secret), Lifetime: 24 * time.Hour, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// parse reads a Cookie header as net/http does.
func parse(header string) []*http.Cookie {
	r := &http.Request{Header: http.Header{"Cookie": {header}}}
	return r.Cookies()
}

func TestIssueVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newCookies(t, strings.Repeat("s", 32), &now)
	ck, err := c.Issue("Ada@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != 86400 || !strings.HasPrefix(ck.Name, NamePrefix) {
		t.Fatalf("attributes: %+v", ck)
	}
	if strings.Contains(strings.ToLower(ck.Name+ck.Value), "ada") {
		t.Fatal("the cookie carries the account")
	}
	id, ok := c.Verify(" ada@example.com", []*http.Cookie{ck})
	if !ok || id == "" {
		t.Fatal("a fresh cookie for the same account (another spelling) is not valid")
	}
	if _, ok := c.Verify("eve@example.com", []*http.Cookie{{Name: c.Name("eve@example.com"), Value: ck.Value}}); ok {
		t.Fatal("a cookie moved to another account's name is valid")
	}
	other := newCookies(t, strings.Repeat("t", 32), &now)
	if _, ok := other.Verify("ada@example.com", []*http.Cookie{{Name: other.Name("ada@example.com"), Value: ck.Value}}); ok {
		t.Fatal("a cookie is valid under another secret")
	}
	now = now.Add(25 * time.Hour)
	if _, ok := c.Verify("ada@example.com", []*http.Cookie{ck}); ok {
		t.Fatal("an expired cookie is valid")
	}
}

func TestTampering(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newCookies(t, strings.Repeat("s", 32), &now)
	ck, _ := c.Issue("ada@example.com")
	raw := []byte(ck.Value)
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 1
		if _, ok := c.Verify("ada@example.com", []*http.Cookie{{Name: ck.Name, Value: string(b)}}); ok {
			t.Fatalf("flipping byte %d still verifies", i)
		}
	}
	// The unused low bits of the last character: another spelling of the
	// same bytes is not a cookie Hera issued.
	last := ck.Value[len(ck.Value)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, last)
	other := ck.Value[:len(ck.Value)-1] + string(alphabet[i|1])
	if _, ok := c.Verify("ada@example.com", []*http.Cookie{{Name: ck.Name, Value: other}}); ok {
		t.Fatal("a non-canonical spelling of the cookie verifies")
	}
	// Two issues give two IDs (two counters).
	ck2, _ := c.Issue("ada@example.com")
	id1, _ := c.Verify("ada@example.com", []*http.Cookie{ck})
	id2, _ := c.Verify("ada@example.com", []*http.Cookie{ck2})
	if id1 == id2 {
		t.Fatal("two cookies share an ID")
	}
}

func TestFirstCookieOfTheNameCounts(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newCookies(t, strings.Repeat("s", 32), &now)
	ck, _ := c.Issue("ada@example.com")
	// A junk duplicate before the real one: net/http's order decides,
	// as it does for every cookie Hera reads.
	if _, ok := c.Verify("ada@example.com", parse(ck.Name+"=junk; "+ck.Name+"="+ck.Value)); ok {
		t.Fatal("a junk first cookie was skipped")
	}
	if _, ok := c.Verify("ada@example.com", parse("a=b; "+ck.Name+"="+ck.Value+"; "+ck.Name+"=junk")); !ok {
		t.Fatal("the first cookie was not used")
	}
}

func TestNewRefusesWeakSettings(t *testing.T) {
	if _, err := New(Config{Secret: []byte("short"), Lifetime: time.Hour}); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := New(Config{Secret: bytes.Repeat([]byte("s"), 32), Lifetime: time.Minute}); err == nil {
		t.Fatal("lifetime of a minute accepted")
	}
}

// TestRenewKeepsID: a renewed cookie is the same device (its ID) with a
// lifetime that starts again; an ID that is not a cookie's is refused, and
// a new cookie is another device.
func TestRenewKeepsID(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newCookies(t, strings.Repeat("s", 32), &now)
	ck, err := c.Issue("ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := c.Verify("ada@example.com", []*http.Cookie{ck})
	now = now.Add(20 * time.Hour)
	renewed, err := c.Renew("ada@example.com", id)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(20 * time.Hour) // 40 h after the first issue, 20 h after the renewal
	if _, ok := c.Verify("ada@example.com", []*http.Cookie{ck}); ok {
		t.Fatal("the first cookie outlived its lifetime")
	}
	got, ok := c.Verify("ada@example.com", []*http.Cookie{renewed})
	if !ok || got != id {
		t.Fatalf("renewed cookie: ID %q (valid %v), want %q", got, ok, id)
	}
	for _, bad := range []string{"", "short", id + "A", strings.Repeat("A", 15)} {
		if _, err := c.Renew("ada@example.com", bad); err == nil {
			t.Errorf("Renew(%q): no error", bad)
		}
	}
	fresh, _ := c.Issue("ada@example.com")
	if other, _ := c.Verify("ada@example.com", []*http.Cookie{fresh}); other == id {
		t.Fatal("a new cookie has the old ID")
	}
}
