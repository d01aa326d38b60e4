// Package logbuf batches log lines into fewer writes.
//
// Hera writes a JSON line per request and more per sign-in attempt. Written
// one by one, each line is a system call, and it wakes whatever reads the
// log (journald, a container runtime): under load, on the reference
// machine, a tenth of Hera's CPU per sign-in went to writing its log
// (docs/benchmarks.md). A Writer keeps lines for at most its interval and
// writes them together.
package logbuf

import (
	"errors"
	"io"
	"sync"
	"time"
)

// maxBatch is the size at which lines are written at once, without waiting
// for the interval.
const maxBatch = 32 << 10

// Writer collects whole writes (log lines) and passes them on to its
// destination within interval of the first one, in one write; a batch that
// reaches 32 KiB is written at once. Close writes what is left.
type Writer struct {
	dst      io.Writer
	interval time.Duration

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // pending flush, nil if none
	closed bool
}

// New returns a Writer batching for interval, which must be positive.
func New(dst io.Writer, interval time.Duration) (*Writer, error) {
	if dst == nil || interval <= 0 {
		return nil, errors.New("logbuf: a destination and a positive interval are required")
	}
	return &Writer{dst: dst, interval: interval, buf: make([]byte, 0, 4<<10)}, nil
}

// Write keeps a copy of p for the next batch. After Close it writes p
// through, so late lines (a shutdown error) are not lost.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.dst.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= maxBatch {
		return len(p), w.flushLocked()
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(w.interval, w.timed)
	}
	return len(p), nil
}

// Flush writes the pending lines now.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Close writes the pending lines; later writes go straight through.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.flushLocked()
}

func (w *Writer) timed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.flushLocked() // a log that cannot be written has nowhere to say so
}

func (w *Writer) flushLocked() error {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.dst.Write(w.buf)
	if cap(w.buf) > 4*maxBatch {
		w.buf = make([]byte, 0, 4<<10) // after a burst of huge lines
	} else {
		w.buf = w.buf[:0]
	}
	return err
}
