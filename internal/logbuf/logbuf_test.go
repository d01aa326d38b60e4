package logbuf_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/logbuf"
)

// recorder is a destination that keeps every write apart.
type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func newWriter(t *testing.T, dst *recorder, interval time.Duration) *logbuf.Writer {
	t.Helper()
	w, err := logbuf.New(dst, interval)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestLinesWaitForTheBatch(t *testing.T) {
	var dst recorder
	w := newWriter(t, &dst, time.Hour)
	for i := range 3 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got := dst.get(); len(got) != 0 {
		t.Fatalf("written before the interval: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := dst.get(); len(got) != 1 || got[0] != "line 0\nline 1\nline 2\n" {
		t.Fatalf("after Flush: %q, want the three lines in one write", got)
	}
	if err := w.Flush(); err != nil || len(dst.get()) != 1 {
		t.Fatalf("an empty Flush wrote: %q, %v", dst.get(), err)
	}
}

func TestTheIntervalWritesTheBatch(t *testing.T) {
	var dst recorder
	w := newWriter(t, &dst, 10*time.Millisecond)
	fmt.Fprint(w, "a\n")
	fmt.Fprint(w, "b\n")
	deadline := time.Now().Add(5 * time.Second)
	for len(dst.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := strings.Join(dst.get(), ""); got != "a\nb\n" {
		t.Fatalf("after the interval: %q", got)
	}
	// The next line starts a new batch, with its own timer.
	fmt.Fprint(w, "c\n")
	for len(dst.get()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := dst.get(); len(got) != 2 || got[1] != "c\n" {
		t.Fatalf("second batch: %q", got)
	}
}

func TestAFullBatchIsWrittenAtOnce(t *testing.T) {
	var dst recorder
	w := newWriter(t, &dst, time.Hour)
	line := strings.Repeat("x", 1023) + "\n"
	for range 31 {
		fmt.Fprint(w, line)
	}
	if n := len(dst.get()); n != 0 {
		t.Fatalf("31 KiB: %d writes, want none yet", n)
	}
	fmt.Fprint(w, line)
	if got := dst.get(); len(got) != 1 || len(got[0]) != 32<<10 {
		t.Fatalf("32 KiB: %d writes, want one of 32 KiB", len(got))
	}
}

func TestCloseWritesTheRestAndThenWritesThrough(t *testing.T) {
	var dst recorder
	w := newWriter(t, &dst, time.Hour)
	fmt.Fprint(w, "pending\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "after close\n")
	if got := dst.get(); len(got) != 2 || got[0] != "pending\n" || got[1] != "after close\n" {
		t.Fatalf("%q", got)
	}
}

// TestConcurrentLoggersKeepLinesWhole: slog handlers write a line per call,
// from many goroutines; every line arrives once and whole.
func TestConcurrentLoggersKeepLinesWhole(t *testing.T) {
	var dst recorder
	w := newWriter(t, &dst, time.Millisecond)
	log := slog.New(slog.NewJSONHandler(w, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				log.Info("request", "g", g, "i", i, "pad", strings.Repeat("p", i%300))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(dst.get(), "")
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") || seen[l] {
			t.Fatalf("broken or repeated line: %q", l)
		}
		seen[l] = true
	}
	if len(seen) != 8*500 {
		t.Fatalf("%d lines, want %d", len(seen), 8*500)
	}
	if n := len(dst.get()); n >= 8*500 {
		t.Fatalf("%d writes for %d lines: nothing was batched", n, 8*500)
	}
}

func TestNewRefusesNoInterval(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := logbuf.New(&bytes.Buffer{}, d); err == nil {
			t.Errorf("interval %v accepted", d)
		}
	}
	if _, err := logbuf.New(nil, time.Second); err == nil {
		t.Error("no destination accepted")
	}
}
