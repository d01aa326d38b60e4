package outbox

import (
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	c := Config{}.WithDefaults()
	if c.MaxQueued != DefaultMaxQueued || c.DedupFor != DefaultDedupFor || c.Validate() != nil {
		t.Fatalf("defaults %+v: %v", c, c.Validate())
	}
	for _, bad := range []Config{{MaxQueued: -1, DedupFor: time.Hour}, {MaxQueued: 1, DedupFor: time.Microsecond}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestPrepare(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 1_500_000, time.FixedZone("X", 3600))
	to := []string{"a@example.com"}
	m, err := Prepare(Message{ID: "x", To: to, Attempts: 3, LastError: "e"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 1, 11, 0, 0, 1_000_000, time.UTC); m.Created != want || m.Attempts != 0 || m.LastError != "" {
		t.Errorf("Prepare = %+v", m)
	}
	m.To[0] = "changed"
	if to[0] != "a@example.com" {
		t.Error("Prepare shares the caller's recipients")
	}
	if _, err := Prepare(Message{}, now); err == nil || !strings.Contains(err.Error(), "empty message ID") || !strings.Contains(err.Error(), "recipients") {
		t.Errorf("Prepare of an empty message = %v", err)
	}
}

func TestCutError(t *testing.T) {
	if s := CutError("short"); s != "short" {
		t.Errorf("CutError changed %q", s)
	}
	if s := CutError("a\x00b\xffc"); s != "ab\uFFFDc" {
		t.Errorf("CutError kept %q", s)
	}
	long := strings.Repeat("x", MaxErrorLen-1) + "é"
	if s := CutError(long); s != strings.Repeat("x", MaxErrorLen-1) {
		t.Errorf("CutError kept %d bytes", len(s))
	}
}

func TestValidateArgs(t *testing.T) {
	if ValidateClaim("w", time.Second, 1) != nil || ValidateRetry("x", "w", 1) != nil {
		t.Fatal("valid arguments refused")
	}
	if ValidateClaim("", 0, 0) == nil || ValidateRetry("", "", 0) == nil {
		t.Fatal("invalid arguments accepted")
	}
}
