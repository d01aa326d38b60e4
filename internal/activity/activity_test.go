package activity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 1_999_999, time.FixedZone("X", 3600))
	e := Event{At: at, UserAgent: strings.Repeat("a", MaxUserAgent-2) + "€"}.Normalize()
	if want := time.Date(2026, 3, 1, 11, 0, 0, 1_000_000, time.UTC); e.At != want {
		t.Errorf("At = %v, want %v", e.At, want)
	}
	if !e.Until.IsZero() {
		t.Errorf("zero Until became %v", e.Until)
	}
	if e.UserAgent != strings.Repeat("a", MaxUserAgent-2) {
		t.Errorf("User-Agent cut inside a character: %d bytes", len(e.UserAgent))
	}
	short := "Mozilla/5.0"
	if e := (Event{UserAgent: short}).Normalize(); e.UserAgent != short {
		t.Errorf("short User-Agent changed to %q", e.UserAgent)
	}
}

// TestEncodeOmitsZeroes: an event's JSON holds the fields it has, a zero
// Until included (time.Time is never "empty").
func TestEncodeOmitsZeroes(t *testing.T) {
	_, b, err := Encode(Event{ID: "x", Identity: "i", Kind: Exported, At: time.UnixMilli(0).Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 4 {
		t.Errorf("JSON of a minimal event: %s", b)
	}
}

func TestValidate(t *testing.T) {
	ok := Event{ID: "x", Identity: "i", Kind: SignIn, At: time.Now()}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	e := Event{ID: strings.Repeat("x", MaxIDLen+1)}
	err := e.Validate()
	for _, want := range []string{"empty identity", "ID longer", "without Kind", "without At"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to say %q", err, want)
		}
	}
}

func TestPolicy(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	p := Policy{Retention: time.Hour, MaxPerIdentity: 3}
	now := time.UnixMilli(10 * 3600_000)
	if c := p.Cutoff(now); !c.Equal(time.UnixMilli(9 * 3600_000)) {
		t.Errorf("Cutoff = %v", c)
	}
	for limit, want := range map[int]int{0: 3, -1: 3, 1: 1, 3: 3, 4: 3} {
		if got := ListLimit(p, limit); got != want {
			t.Errorf("ListLimit(%d) = %d, want %d", limit, got, want)
		}
	}
	for _, bad := range []Policy{{}, {Retention: time.Microsecond, MaxPerIdentity: 1}, {Retention: time.Hour}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestSort(t *testing.T) {
	t0 := time.UnixMilli(1000)
	evs := []Event{{ID: "b", At: t0}, {ID: "c", At: t0.Add(time.Millisecond)}, {ID: "a", At: t0}}
	Sort(evs)
	if evs[0].ID != "c" || evs[1].ID != "a" || evs[2].ID != "b" {
		t.Errorf("Sort: %v", evs)
	}
}
