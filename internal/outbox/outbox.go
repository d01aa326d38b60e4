// Package outbox is Hera's durable mail queue: alerts are rendered into
// messages and queued where every replica sees them (the shared store:
// memory for one instance, PostgreSQL or Redis), and each replica's mail
// worker claims due messages, sends them, and marks them done or retries
// them later. Sending never happens on a user's request.
//
// A message is handed to one sender at a time: Claim leases it to an owner
// until a deadline; another owner can claim it only once the lease ended
// (its replica died mid-send), and then the first owner's Done or Retry is
// refused with ErrLeaseLost. The queue is bounded (Config.MaxQueued) and
// deduplicates by message ID for Config.DedupFor, so a hook Kratos
// delivers twice, or two replicas seeing the same lock, mail once.
//
// Times are the caller's (every method takes now), to the millisecond.
// Backends: memory/, postgres/, redis/, one conformance suite
// (outboxtest/).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one rendered mail. ID is its deduplication key (e.g.
// "locked:<identity>:<until-unix>"): Enqueue of an ID already queued or
// sent within DedupFor is a no-op.
type Message struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // "new_sign_in", "password_changed", ... (metrics label)
	To        []string  `json:"to"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	Lang      string    `json:"lang"`
	Created   time.Time `json:"created"`
	Attempts  int       `json:"attempts"`             // set by the queue: failed attempts so far
	LastError string    `json:"last_error,omitempty"` // set by the queue; no secrets, no addresses
}

// Config configures a queue. Zero fields take the defaults.
type Config struct {
	MaxQueued int           // bound: Enqueue returns ErrFull beyond it (HERA_MAIL_QUEUE_MAX, default 10000)
	DedupFor  time.Duration // how long a sent/queued ID blocks a duplicate, from its Enqueue (default 24h)
}

// Defaults of a Config.
const (
	DefaultMaxQueued = 10000
	DefaultDedupFor  = 24 * time.Hour
)

// DefaultConfig is 10000 messages, deduplicated for 24 hours.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults fills in zero fields.
func (c Config) WithDefaults() Config {
	if c.MaxQueued == 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.DedupFor == 0 {
		c.DedupFor = DefaultDedupFor
	}
	return c
}

// Validate checks a Config after WithDefaults.
func (c Config) Validate() error {
	var errs []error
	if c.MaxQueued < 1 {
		errs = append(errs, fmt.Errorf("outbox: MaxQueued %d: want at least 1", c.MaxQueued))
	}
	if c.DedupFor < time.Millisecond {
		errs = append(errs, fmt.Errorf("outbox: DedupFor %v: want at least 1ms", c.DedupFor))
	}
	return errors.Join(errs...)
}

// Limits of what a queue accepts.
const (
	// MaxIDLen bounds Message.ID and an owner (bytes).
	MaxIDLen = 256
	// MaxMessageBytes bounds a message's Subject, Text and HTML together.
	MaxMessageBytes = 256 << 10
	// MaxErrorLen is the longest LastError kept (bytes); Retry cuts longer
	// ones at a character boundary.
	MaxErrorLen = 512
)

// Queue is shared by every replica: each message is handed to one sender
// at a time (a lease), retried after a failure, dropped after MaxAttempts.
//
// Invalid arguments are refused with a plain error; every failure of the
// backend wraps ErrUnavailable.
type Queue interface {
	// Enqueue queues m, due at once, unless its ID is queued or was
	// enqueued within DedupFor (queued false, nil error); ErrFull when
	// MaxQueued messages are queued. Attempts and LastError start empty;
	// a zero Created becomes now.
	Enqueue(ctx context.Context, m Message, now time.Time) (queued bool, err error)
	// Claim leases up to max due messages to owner until now+lease: those
	// due (or whose lease ended) at now, the earliest first (ties: by ID).
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]Message, error)
	// Done removes a sent message (its ID still deduplicates until
	// DedupFor); ErrLeaseLost unless it is leased to owner.
	Done(ctx context.Context, id, owner string) error
	// Retry makes a failed message due again at 'at' with Attempts+1 and
	// the error text; a message whose Attempts reach maxAttempts is
	// dropped instead (returns dropped=true). ErrLeaseLost unless it is
	// leased to owner.
	Retry(ctx context.Context, id, owner string, at time.Time, errText string, maxAttempts int) (dropped bool, err error)
	// Len is the number of queued messages (metrics).
	Len(ctx context.Context) (int, error)
}

// ErrFull is returned by Enqueue when the queue holds Config.MaxQueued
// messages.
var ErrFull = errors.New("outbox: queue full")

// ErrUnavailable is wrapped by every error a Queue returns when its
// backend cannot answer.
var ErrUnavailable = errors.New("outbox: store unavailable")

// ErrLeaseLost is returned by Done and Retry when the message is not
// leased to the owner: its lease ended and another owner claimed it, or it
// is gone (done, dropped).
var ErrLeaseLost = errors.New("outbox: message not leased to this owner")

// Prepare validates m and returns it as queues keep it: Created (now if
// zero) to the millisecond in UTC, Attempts and LastError empty.
func Prepare(m Message, now time.Time) (Message, error) {
	var errs []error
	if err := ValidateID("message ID", m.ID); err != nil {
		errs = append(errs, err)
	}
	if len(m.To) == 0 {
		errs = append(errs, errors.New("outbox: message without recipients"))
	}
	if n := len(m.Subject) + len(m.Text) + len(m.HTML); n > MaxMessageBytes {
		errs = append(errs, fmt.Errorf("outbox: message of %d bytes, more than %d", n, MaxMessageBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return Message{}, err
	}
	if m.Created.IsZero() {
		m.Created = now
	}
	m.Created = Millis(m.Created)
	m.Attempts, m.LastError = 0, ""
	m.To = append([]string(nil), m.To...)
	return m, nil
}

// ValidateID checks a message ID or an owner.
func ValidateID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("outbox: empty %s", what)
	case len(id) > MaxIDLen:
		return fmt.Errorf("outbox: %s longer than %d bytes", what, MaxIDLen)
	case !utf8.ValidString(id) || strings.ContainsRune(id, 0):
		return fmt.Errorf("outbox: %s is not UTF-8 text without NUL", what)
	}
	return nil
}

// ValidateClaim checks Claim's arguments.
func ValidateClaim(owner string, lease time.Duration, max int) error {
	var errs []error
	if err := ValidateID("owner", owner); err != nil {
		errs = append(errs, err)
	}
	if lease < time.Millisecond {
		errs = append(errs, fmt.Errorf("outbox: lease %v: want at least 1ms", lease))
	}
	if max < 1 {
		errs = append(errs, fmt.Errorf("outbox: claim of %d messages: want at least 1", max))
	}
	return errors.Join(errs...)
}

// ValidateRetry checks Retry's arguments.
func ValidateRetry(id, owner string, maxAttempts int) error {
	var errs []error
	for _, err := range []error{ValidateID("message ID", id), ValidateID("owner", owner)} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if maxAttempts < 1 {
		errs = append(errs, fmt.Errorf("outbox: %d attempts: want at least 1", maxAttempts))
	}
	return errors.Join(errs...)
}

// CutError returns errText as queues keep it: valid UTF-8 without NUL
// (PostgreSQL's text holds neither), cut to MaxErrorLen bytes at a
// character boundary.
func CutError(errText string) string {
	errText = strings.ReplaceAll(strings.ToValidUTF8(errText, "\uFFFD"), "\x00", "")
	if len(errText) <= MaxErrorLen {
		return errText
	}
	s := errText[:MaxErrorLen]
	for i := 0; i < utf8.UTFMax && !utf8.ValidString(s); i++ {
		s = s[:len(s)-1]
	}
	return s
}

// Millis returns t to the millisecond, in UTC (zero stays zero).
func Millis(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}
