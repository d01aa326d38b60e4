package lockout

import (
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
