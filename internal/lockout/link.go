package lockout

// Session links: the shared store remembers, for a Kratos session handle,
// whom it belongs to (the identity its second factors count on), and, for
// a Kratos session, which Hydra login session it signed in to apps with
// (single sign-out). They live in the lockout store because every replica
// must read what another wrote, like the counters.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on session links (see [ValidateLink]).
const (
	MaxSubjectBytes = 256
	minLinkTTL      = time.Second
)

// ValidateLink checks a session link: subject is 1 to [MaxSubjectBytes] bytes
// of valid UTF-8 without NUL (PostgreSQL text cannot hold it; empty would be
// indistinguishable from no link), ttl is from 1 s to 30 days.
func ValidateLink(subject string, ttl time.Duration) error {
	var errs []error
	switch {
	case subject == "":
		errs = append(errs, errors.New("subject is empty"))
	case len(subject) > MaxSubjectBytes:
		errs = append(errs, fmt.Errorf("subject of %d bytes: at most %d", len(subject), MaxSubjectBytes))
	case !utf8.ValidString(subject) || strings.ContainsRune(subject, 0):
		errs = append(errs, errors.New("subject is not valid UTF-8 without NUL"))
	}
	if ttl < minLinkTTL || ttl > maxDuration {
		errs = append(errs, fmt.Errorf("ttl %v: must be between %v and %v", ttl, minLinkTTL, maxDuration))
	}
	return errors.Join(errs...)
}

// Link makes the Kratos session handle resolve to subject (say, the
// identifier the session logged in with) for Config.LinkTTL, replacing any
// earlier link. A subject failing [ValidateLink] is refused with an error
// that does not wrap ErrUnavailable; store errors do.
func (l *Limiter) Link(ctx context.Context, handle, subject string) error {
	if err := ValidateLink(subject, l.cfg.LinkTTL); err != nil {
		return fmt.Errorf("lockout: link: %w", err)
	}
	k := l.SessionKey(handle)
	if err := l.store.Link(ctx, k, subject, l.cfg.Now(), l.cfg.LinkTTL); err != nil {
		return storeErr("link", k, err)
	}
	return nil
}

// Resolve returns the subject the session handle is linked to, or "" when
// there is no live link. Errors wrap [ErrUnavailable].
func (l *Limiter) Resolve(ctx context.Context, handle string) (string, error) {
	k := l.SessionKey(handle)
	subject, err := l.store.Resolve(ctx, k, l.cfg.Now())
	if err != nil {
		return "", storeErr("resolve", k, err)
	}
	return subject, nil
}
