// Package outboxtest is the conformance suite every outbox.Queue must pass.
//
//	func TestConformance(t *testing.T) {
//		outboxtest.Run(t, func(t *testing.T, cfg outbox.Config) outboxtest.Backend {
//			q := newQueue(t, cfg)
//			return outboxtest.NewBackend(q, func(t *testing.T) outbox.Queue { return anotherQueueOnTheSameData(t, cfg) })
//		})
//	}
//
// Each Backend's queue must be empty, configured with cfg, isolated from
// every other Backend's (a fresh database, key prefix, ...), and cleaned up
// with t.Cleanup. Another returns a second queue on the same data, as a
// second Hera replica would have (its own pool or client): the concurrency
// tests split their calls between both, so leases and the bound are proven
// across replicas.
package outboxtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/outbox"
)

// T0 is the (millisecond-precise) time tests start at.
var T0 = time.UnixMilli(1_750_000_000_000).UTC()

// Config is the configuration most tests use.
var Config = outbox.Config{MaxQueued: 100, DedupFor: time.Hour}

// Lease is the lease most tests use.
const Lease = time.Minute

// Backend is a queue under test.
type Backend interface {
	// Queue returns the queue under test.
	Queue() outbox.Queue
	// Another returns another queue on the same data (the same queue for
	// an in-process one).
	Another(t *testing.T) outbox.Queue
}

// NewBackend returns a Backend of q; another makes a second queue on the
// same data (nil: q itself).
func NewBackend(q outbox.Queue, another func(t *testing.T) outbox.Queue) Backend {
	return backend{q, another}
}

type backend struct {
	q       outbox.Queue
	another func(t *testing.T) outbox.Queue
}

func (b backend) Queue() outbox.Queue { return b.q }

func (b backend) Another(t *testing.T) outbox.Queue {
	if b.another == nil {
		return b.q
	}
	return b.another(t)
}

// Run runs the conformance suite; newBackend makes a queue configured with
// cfg.
func Run(t *testing.T, newBackend func(t *testing.T, cfg outbox.Config) Backend) {
	one := func(f func(t *testing.T, q outbox.Queue)) func(t *testing.T, b Backend) {
		return func(t *testing.T, b Backend) { f(t, b.Queue()) }
	}
	tests := []struct {
		name string
		cfg  outbox.Config
		fn   func(t *testing.T, b Backend)
	}{
		{"RoundTrip", Config, one(testRoundTrip)},
		{"Dedup", Config, one(testDedup)},
		{"Bound", outbox.Config{MaxQueued: 3, DedupFor: time.Hour}, one(testBound)},
		{"Due", Config, one(testDue)},
		{"ClaimOrderAndMax", Config, one(testClaimOrderAndMax)},
		{"Lease", Config, testLease},
		{"Retry", Config, one(testRetry)},
		{"Drop", Config, one(testDrop)},
		{"WrongOwner", Config, one(testWrongOwner)},
		{"Invalid", Config, one(testInvalid)},
		{"CancelledContext", Config, one(testCancelledContext)},
		{"ConcurrentClaims", outbox.Config{MaxQueued: 1000, DedupFor: time.Hour}, testConcurrentClaims},
		{"ConcurrentEnqueue", outbox.Config{MaxQueued: 50, DedupFor: time.Hour}, testConcurrentEnqueue},
		{"ConcurrentDuplicates", Config, testConcurrentDuplicates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t, tc.cfg))
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func msg(id string) outbox.Message {
	return outbox.Message{ID: id, Kind: "password_changed", To: []string{"owner@example.com"}, Subject: "Your password was changed",
		Text: "Hello " + id, HTML: "<p>Hello " + id + "</p>", Lang: "en", Created: T0}
}

func enqueue(t *testing.T, q outbox.Queue, m outbox.Message, now time.Time) bool {
	t.Helper()
	ok, err := q.Enqueue(ctx(t), m, now)
	if err != nil {
		t.Fatalf("Enqueue %s: %v", m.ID, err)
	}
	return ok
}

func claim(t *testing.T, q outbox.Queue, owner string, now time.Time, max int) []outbox.Message {
	t.Helper()
	ms, err := q.Claim(ctx(t), owner, now, Lease, max)
	if err != nil {
		t.Fatalf("Claim by %s: %v", owner, err)
	}
	return ms
}

func ids(ms []outbox.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func wantIDs(t *testing.T, what string, ms []outbox.Message, want ...string) {
	t.Helper()
	if got := ids(ms); !slices.Equal(got, want) {
		t.Fatalf("%s: %q, want %q", what, got, want)
	}
}

func wantLen(t *testing.T, q outbox.Queue, want int) {
	t.Helper()
	n, err := q.Len(ctx(t))
	if err != nil || n != want {
		t.Fatalf("Len = %d, %v; want %d", n, err, want)
	}
}

func done(t *testing.T, q outbox.Queue, id, owner string) {
	t.Helper()
	if err := q.Done(ctx(t), id, owner); err != nil {
		t.Fatalf("Done %s by %s: %v", id, owner, err)
	}
}

func retry(t *testing.T, q outbox.Queue, id, owner string, at time.Time, errText string, max int) bool {
	t.Helper()
	dropped, err := q.Retry(ctx(t), id, owner, at, errText, max)
	if err != nil {
		t.Fatalf("Retry %s by %s: %v", id, owner, err)
	}
	return dropped
}

// testRoundTrip: a claimed message is the one queued, Created to the
// millisecond (now when zero), no attempts.
func testRoundTrip(t *testing.T, q outbox.Queue) {
	m := msg("a")
	m.To = []string{"one@example.com", "two@example.com"}
	m.Created = T0.Add(-time.Minute + 1500*time.Microsecond).In(time.FixedZone("X", 7200))
	m.Attempts, m.LastError = 5, "ignored"            // set by the queue, not the caller
	m.Text = "Grüße\x00 — \u2028 <tags> & \"quotes\"" // any text survives
	if !enqueue(t, q, m, T0) {
		t.Fatal("Enqueue of a new message: not queued")
	}
	zero := msg("b")
	zero.Created = time.Time{}
	enqueue(t, q, zero, T0.Add(time.Second))
	wantLen(t, q, 2)
	got := claim(t, q, "w", T0.Add(time.Second), 10)
	want := m
	want.Created = time.UnixMilli(T0.Add(-time.Minute).UnixMilli() + 1).UTC()
	want.Attempts, want.LastError = 0, ""
	wantZero := zero
	wantZero.Created = T0.Add(time.Second)
	if len(got) != 2 || !reflect.DeepEqual(got[0], want) || !reflect.DeepEqual(got[1], wantZero) {
		t.Fatalf("Claim = %#v\nwant [%#v %#v]", got, want, wantZero)
	}
	got[0].To[0] = "changed" // a caller's change does not reach the queue
	if retry(t, q, "a", "w", T0, "x", 10) {
		t.Fatal("dropped")
	}
	if again := claim(t, q, "w", T0.Add(time.Second), 10); len(again) != 1 || again[0].To[0] != "one@example.com" {
		t.Fatalf("Claim after a caller changed a claimed message = %#v", again)
	}
}

// testDedup: an ID blocks a duplicate while queued and for DedupFor after
// its Enqueue.
func testDedup(t *testing.T, q outbox.Queue) {
	if !enqueue(t, q, msg("a"), T0) {
		t.Fatal("not queued")
	}
	if enqueue(t, q, msg("a"), T0) {
		t.Fatal("a duplicate of a queued message was queued")
	}
	wantLen(t, q, 1)
	wantIDs(t, "claimed", claim(t, q, "w", T0, 10), "a")
	done(t, q, "a", "w")
	wantLen(t, q, 0)
	if enqueue(t, q, msg("a"), T0.Add(Config.DedupFor-time.Millisecond)) {
		t.Fatal("a duplicate of a sent message was queued within DedupFor")
	}
	if !enqueue(t, q, msg("a"), T0.Add(Config.DedupFor)) {
		t.Fatal("a message was not queued once its ID's deduplication ended")
	}
	// A message still queued after DedupFor (retried for long) still
	// blocks its duplicate.
	if enqueue(t, q, msg("a"), T0.Add(3*Config.DedupFor)) {
		t.Fatal("a duplicate of a queued message was queued after DedupFor")
	}
	wantLen(t, q, 1)
	// Other IDs are not blocked.
	if !enqueue(t, q, msg("b"), T0) {
		t.Fatal("another ID was not queued")
	}
}

// testBound: beyond MaxQueued, ErrFull; a duplicate is still a no-op; a
// sent message makes room.
func testBound(t *testing.T, q outbox.Queue) {
	for i := range 3 {
		enqueue(t, q, msg(fmt.Sprint(i)), T0)
	}
	_, err := q.Enqueue(ctx(t), msg("3"), T0)
	if !errors.Is(err, outbox.ErrFull) || errors.Is(err, outbox.ErrUnavailable) {
		t.Fatalf("Enqueue beyond the bound = %v, want outbox.ErrFull", err)
	}
	if ok, err := q.Enqueue(ctx(t), msg("1"), T0); ok || err != nil {
		t.Fatalf("Enqueue of a duplicate of a queued message when full = %v, %v; want false, nil", ok, err)
	}
	wantLen(t, q, 3)
	wantIDs(t, "claimed", claim(t, q, "w", T0, 1), "0")
	done(t, q, "0", "w")
	if !enqueue(t, q, msg("3"), T0) {
		t.Fatal("no room after a Done")
	}
	wantLen(t, q, 3)
	// The refused message left no deduplication record.
	wantIDs(t, "claimed", claim(t, q, "w", T0, 10), "1", "2", "3")
}

// testDue: a message is claimable from its Enqueue; a retried one from the
// time Retry gave.
func testDue(t *testing.T, q outbox.Queue) {
	enqueue(t, q, msg("a"), T0)
	wantIDs(t, "before it was queued", claim(t, q, "w", T0.Add(-time.Millisecond), 10))
	wantIDs(t, "when queued", claim(t, q, "w", T0, 10), "a")
	at := T0.Add(30 * time.Second)
	retry(t, q, "a", "w", at, "421 try later", 8)
	wantIDs(t, "before its retry time", claim(t, q, "w", at.Add(-time.Millisecond), 10))
	got := claim(t, q, "w", at, 10)
	if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "421 try later" {
		t.Fatalf("at its retry time: %#v, want a with 1 attempt and its error", got)
	}
	wantLen(t, q, 1)
}

// testClaimOrderAndMax: the earliest due first, ties by ID; at most max.
func testClaimOrderAndMax(t *testing.T, q outbox.Queue) {
	for i, id := range []string{"c", "b", "a", "d"} {
		enqueue(t, q, msg(id), T0.Add(time.Duration(i/2)*time.Second))
	}
	enqueue(t, q, msg("e"), T0.Add(time.Hour)) // not due
	wantIDs(t, "first claim", claim(t, q, "w", T0.Add(time.Minute), 3), "b", "c", "a")
	wantIDs(t, "second claim", claim(t, q, "w", T0.Add(time.Minute), 3), "d")
	wantIDs(t, "third claim", claim(t, q, "w", T0.Add(time.Minute), 3))
	wantLen(t, q, 5)
}

// testLease: a leased message is nobody else's until the lease ends; then
// another owner (on another replica) gets it, and the first one's Done and
// Retry are refused.
func testLease(t *testing.T, b Backend) {
	q1, q2 := b.Queue(), b.Another(t)
	enqueue(t, q1, msg("a"), T0)
	wantIDs(t, "first owner", claim(t, q1, "w1", T0, 10), "a")
	wantIDs(t, "the first owner again, within the lease", claim(t, q1, "w1", T0.Add(Lease-time.Millisecond), 10))
	wantIDs(t, "second owner, within the lease", claim(t, q2, "w2", T0.Add(Lease-time.Millisecond), 10))
	wantIDs(t, "second owner, at the lease's end", claim(t, q2, "w2", T0.Add(Lease), 10), "a")
	if err := q1.Done(ctx(t), "a", "w1"); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Done by the first owner after the lease passed on = %v, want ErrLeaseLost", err)
	}
	if _, err := q1.Retry(ctx(t), "a", "w1", T0, "x", 8); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Retry by the first owner after the lease passed on = %v, want ErrLeaseLost", err)
	}
	wantLen(t, q1, 1)
	done(t, q2, "a", "w2")
	wantLen(t, q1, 0)
	// An owner whose lease ended may still finish when nobody took over
	// (the mail was sent).
	enqueue(t, q1, msg("b"), T0)
	claim(t, q1, "w1", T0, 10)
	done(t, q1, "b", "w1")
	wantLen(t, q2, 0)
}

// testRetry: each Retry counts an attempt and keeps the last error, cut to
// MaxErrorLen; the message waits until its time.
func testRetry(t *testing.T, q outbox.Queue) {
	enqueue(t, q, msg("a"), T0)
	now := T0
	for i := 1; i <= 3; i++ {
		got := claim(t, q, "w", now, 10)
		if len(got) != 1 || got[0].Attempts != i-1 {
			t.Fatalf("claim %d: %#v, want a with %d attempts", i, got, i-1)
		}
		now = now.Add(time.Duration(i) * time.Minute)
		if retry(t, q, "a", "w", now, fmt.Sprint("error ", i), 8) {
			t.Fatalf("dropped after %d attempts of 8", i)
		}
	}
	long := strings.Repeat("x", outbox.MaxErrorLen-1) + "é" + "tail"
	got := claim(t, q, "w", now, 10)
	if len(got) != 1 || got[0].Attempts != 3 || got[0].LastError != "error 3" {
		t.Fatalf("after 3 retries: %#v", got)
	}
	retry(t, q, "a", "w", now, long, 8)
	got = claim(t, q, "w", now, 10)
	if len(got) != 1 || got[0].LastError != long[:outbox.MaxErrorLen-1] {
		t.Fatalf("a long error kept as %q", got[0].LastError)
	}
	// Any bytes an SMTP server answers are kept as text.
	retry(t, q, "a", "w", now, "550 bad\x00\xffbyte", 8)
	if got := claim(t, q, "w", now, 10); len(got) != 1 || got[0].LastError != "550 bad\uFFFDbyte" {
		t.Fatalf("an error with NUL and invalid UTF-8 kept as %q", got[0].LastError)
	}
	// The retried message is due again: a different owner may take it.
	retry(t, q, "a", "w", now, "x", 8)
	wantIDs(t, "another owner after a retry", claim(t, q, "w2", now, 10), "a")
}

// testDrop: the Retry that brings Attempts to maxAttempts drops the
// message; its ID still deduplicates.
func testDrop(t *testing.T, q outbox.Queue) {
	enqueue(t, q, msg("a"), T0)
	enqueue(t, q, msg("b"), T0)
	for i := 1; i <= 3; i++ {
		claim(t, q, "w", T0, 10)
		dropped := retry(t, q, "a", "w", T0, "e", 3)
		retry(t, q, "b", "w", T0, "e", 10)
		if dropped != (i == 3) {
			t.Fatalf("Retry %d of 3: dropped %v", i, dropped)
		}
	}
	wantIDs(t, "after the drop", claim(t, q, "w", T0, 10), "b")
	wantLen(t, q, 1)
	if enqueue(t, q, msg("a"), T0) {
		t.Fatal("a dropped message's duplicate was queued within DedupFor")
	}
	// maxAttempts 1: the first failure drops.
	enqueue(t, q, msg("c"), T0)
	claim(t, q, "w3", T0, 10)
	if !retry(t, q, "c", "w3", T0, "e", 1) {
		t.Fatal("Retry with maxAttempts 1 did not drop")
	}
}

// testWrongOwner: Done and Retry of a message leased to another owner, not
// leased, or unknown are refused and change nothing.
func testWrongOwner(t *testing.T, q outbox.Queue) {
	enqueue(t, q, msg("a"), T0)
	if err := q.Done(ctx(t), "a", "w"); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Done of an unclaimed message = %v, want ErrLeaseLost", err)
	}
	claim(t, q, "w", T0, 10)
	if err := q.Done(ctx(t), "a", "other"); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Done by another owner = %v, want ErrLeaseLost", err)
	}
	if _, err := q.Retry(ctx(t), "a", "other", T0, "x", 1); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Retry by another owner = %v, want ErrLeaseLost", err)
	}
	if err := q.Done(ctx(t), "nope", "w"); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Done of an unknown message = %v, want ErrLeaseLost", err)
	}
	if _, err := q.Retry(ctx(t), "nope", "w", T0, "x", 8); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Retry of an unknown message = %v, want ErrLeaseLost", err)
	}
	wantLen(t, q, 1)
	// The owner's lease is intact: its Retry counts one attempt.
	retry(t, q, "a", "w", T0, "x", 8)
	if got := claim(t, q, "w", T0, 10); len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("after refused calls: %#v", got)
	}
	done(t, q, "a", "w")
	if err := q.Done(ctx(t), "a", "w"); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("a second Done = %v, want ErrLeaseLost", err)
	}
}

// testInvalid: invalid arguments are refused, not as an unavailable
// queue, and change nothing.
func testInvalid(t *testing.T, q outbox.Queue) {
	bad := map[string]outbox.Message{
		"no ID":         {To: []string{"a@example.com"}},
		"long ID":       {ID: strings.Repeat("x", outbox.MaxIDLen+1), To: []string{"a@example.com"}},
		"no recipients": {ID: "x"},
		"NUL in ID":     {ID: "x\x00", To: []string{"a@example.com"}},
		"binary ID":     {ID: "x\xff", To: []string{"a@example.com"}},
		"huge":          {ID: "x", To: []string{"a@example.com"}, HTML: strings.Repeat("x", outbox.MaxMessageBytes+1)},
	}
	for name, m := range bad {
		if _, err := q.Enqueue(ctx(t), m, T0); err == nil || errors.Is(err, outbox.ErrUnavailable) {
			t.Errorf("Enqueue (%s) = %v, want a refusal", name, err)
		}
	}
	for name, f := range map[string]func() error{
		"Claim without owner": func() error { _, err := q.Claim(ctx(t), "", T0, Lease, 1); return err },
		"Claim of 0":          func() error { _, err := q.Claim(ctx(t), "w", T0, Lease, 0); return err },
		"Claim without lease": func() error { _, err := q.Claim(ctx(t), "w", T0, 0, 1); return err },
		"Done without ID":     func() error { return q.Done(ctx(t), "", "w") },
		"Done without owner":  func() error { return q.Done(ctx(t), "x", "") },
		"Retry without owner": func() error { _, err := q.Retry(ctx(t), "x", "", T0, "", 1); return err },
		"Retry of 0 attempts": func() error { _, err := q.Retry(ctx(t), "x", "w", T0, "", 0); return err },
	} {
		if err := f(); err == nil || errors.Is(err, outbox.ErrUnavailable) || errors.Is(err, outbox.ErrLeaseLost) {
			t.Errorf("%s = %v, want a refusal", name, err)
		}
	}
	wantLen(t, q, 0)
	if !enqueue(t, q, msg("x"), T0) {
		t.Fatal("a refused message left a deduplication record")
	}
}

func testCancelledContext(t *testing.T, q outbox.Queue) {
	enqueue(t, q, msg("a"), T0)
	claim(t, q, "w", T0, 10)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, outbox.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error wrapping outbox.ErrUnavailable and context.Canceled", op, err)
		}
	}
	_, err := q.Enqueue(c, msg("b"), T0)
	check("Enqueue", err)
	_, err = q.Claim(c, "w", T0.Add(Lease), Lease, 10)
	check("Claim", err)
	check("Done", q.Done(c, "a", "w"))
	_, err = q.Retry(c, "a", "w", T0, "x", 8)
	check("Retry", err)
	_, err = q.Len(c)
	check("Len", err)
	wantLen(t, q, 1)
	retry(t, q, "a", "w", T0, "x", 8) // still leased to w, no attempt counted
	if got := claim(t, q, "w", T0, 10); len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("after cancelled calls: %#v", got)
	}
	if !enqueue(t, q, msg("b"), T0) {
		t.Fatal("a cancelled Enqueue left a deduplication record")
	}
}

// split runs f(i) for i in [0, n) concurrently, alternating between the two
// queues.
func split(t *testing.T, qs [2]outbox.Queue, n int, f func(q outbox.Queue, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			if err := f(qs[i%2], i); err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("%d concurrent calls failed; first: %v", len(errs)+1, err)
	}
}

// testConcurrentClaims: owners on two replicas claim at once until the
// queue is drained; each message goes to exactly one of them.
func testConcurrentClaims(t *testing.T, b Backend) {
	qs := [2]outbox.Queue{b.Queue(), b.Another(t)}
	const messages, owners = 300, 8
	for i := range messages {
		enqueue(t, qs[i%2], msg(fmt.Sprintf("m%03d", i)), T0)
	}
	var mu sync.Mutex
	got := map[string][]string{} // message → owners
	split(t, qs, owners, func(q outbox.Queue, i int) error {
		owner := fmt.Sprint("w", i)
		for {
			ms, err := q.Claim(ctx(t), owner, T0, Lease, 7)
			if err != nil {
				return err
			}
			if len(ms) == 0 {
				return nil
			}
			mu.Lock()
			for _, m := range ms {
				got[m.ID] = append(got[m.ID], owner)
			}
			mu.Unlock()
		}
	})
	if len(got) != messages {
		t.Fatalf("%d of %d messages claimed", len(got), messages)
	}
	for id, os := range got {
		if len(os) != 1 {
			t.Fatalf("%s claimed by %q", id, os)
		}
	}
	// Finishing them concurrently, each by its owner, empties the queue.
	all := make([]string, 0, messages)
	for id := range got {
		all = append(all, id)
	}
	split(t, qs, messages, func(q outbox.Queue, i int) error { return q.Done(ctx(t), all[i], got[all[i]][0]) })
	wantLen(t, qs[0], 0)
}

// testConcurrentEnqueue: enqueues from two replicas at once never pass the
// bound, and every refusal is ErrFull.
func testConcurrentEnqueue(t *testing.T, b Backend) {
	qs := [2]outbox.Queue{b.Queue(), b.Another(t)}
	var queued, full atomic.Int64
	split(t, qs, 100, func(q outbox.Queue, i int) error {
		ok, err := q.Enqueue(ctx(t), msg(fmt.Sprint("m", i)), T0)
		switch {
		case errors.Is(err, outbox.ErrFull):
			full.Add(1)
		case err != nil:
			return err
		case ok:
			queued.Add(1)
		}
		return nil
	})
	if queued.Load() != 50 || full.Load() != 50 {
		t.Fatalf("%d queued, %d refused as full; want 50 and 50", queued.Load(), full.Load())
	}
	wantLen(t, qs[1], 50)
}

// testConcurrentDuplicates: replicas enqueuing the same IDs at once (two
// replicas seeing the same lock) queue each once.
func testConcurrentDuplicates(t *testing.T, b Backend) {
	qs := [2]outbox.Queue{b.Queue(), b.Another(t)}
	var queued atomic.Int64
	split(t, qs, 60, func(q outbox.Queue, i int) error {
		ok, err := q.Enqueue(ctx(t), msg(fmt.Sprint("m", i%3)), T0)
		if ok {
			queued.Add(1)
		}
		return err
	})
	if queued.Load() != 3 {
		t.Fatalf("%d queued, want 3", queued.Load())
	}
	wantLen(t, qs[0], 3)
}

// BenchmarkEnqueueClaimDone is one mail's way through the queue: enqueued,
// claimed, done.
func BenchmarkEnqueueClaimDone(b *testing.B, q outbox.Queue) {
	var n atomic.Int64
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			benchOne(b, q, n.Add(1))
		}
	})
}

func benchOne(b *testing.B, q outbox.Queue, i int64) {
	now := T0.Add(time.Duration(i) * time.Millisecond)
	m := msg(fmt.Sprint("bench-", i))
	m.Text, m.HTML = strings.Repeat("t", 1500), strings.Repeat("h", 6000)
	if _, err := q.Enqueue(context.Background(), m, now); err != nil {
		b.Fatal(err)
	}
	ms, err := q.Claim(context.Background(), "bench", now, Lease, 1)
	if err != nil || len(ms) != 1 {
		b.Fatalf("Claim = %d messages, %v", len(ms), err)
	}
	if err := q.Done(context.Background(), ms[0].ID, "bench"); err != nil {
		b.Fatal(err)
	}
}
