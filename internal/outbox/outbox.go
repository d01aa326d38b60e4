// Package outbox is the durable mail queue: rendered alert mails wait here
// until a replica's mail worker has sent them. Every replica shares it, so
// each message is handed to one sender at a time (a lease), retried after a
// failure and dropped after its last attempt; the request that caused a mail
// only enqueues it and never waits on SMTP.
package outbox

import (
	"context"
	"errors"
	"time"
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
	Attempts  int       `json:"attempts"`             // set by the queue
	LastError string    `json:"last_error,omitempty"` // no secrets, no addresses
}

// Config bounds the queue.
type Config struct {
	MaxQueued int           // bound: Enqueue returns ErrFull beyond it (HERA_MAIL_QUEUE_MAX, default 10000)
	DedupFor  time.Duration // how long a sent/queued ID blocks a duplicate (default 24h)
}

// Queue is shared by every replica: each message is handed to one sender
// at a time (a lease), retried after a failure, dropped after MaxAttempts.
type Queue interface {
	Enqueue(ctx context.Context, m Message, now time.Time) (queued bool, err error)
	// Claim leases up to max due messages to owner until now+lease.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]Message, error)
	// Done removes a sent message (its ID still deduplicates until DedupFor).
	Done(ctx context.Context, id, owner string) error
	// Retry makes a failed message due again at 'at' with Attempts+1 and
	// the error text; a message past maxAttempts is dropped (returns dropped=true).
	Retry(ctx context.Context, id, owner string, at time.Time, errText string, maxAttempts int) (dropped bool, err error)
	// Len is the number of queued messages (metrics).
	Len(ctx context.Context) (int, error)
}

// ErrFull is returned by Enqueue when the queue holds MaxQueued messages.
var ErrFull = errors.New("outbox: queue full")

// ErrUnavailable is wrapped by every error a Queue returns when its
// backend cannot answer.
var ErrUnavailable = errors.New("outbox: store unavailable")
