package hydra

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrUnavailable marks failures of Hydra itself — unreachable, timed out,
// cancelled, a 5xx answer, a malformed, oversized or otherwise unexpected
// answer — as opposed to Hydra's answers about the request. Callers show the
// generic error page for it (and may retry later); test with IsUnavailable.
var ErrUnavailable = errors.New("hydra unavailable")

// ErrMissingChallenge is returned, without calling Hydra, when a method is
// given an empty challenge (the browser arrived without one).
// IsInvalidChallenge reports true for it.
var ErrMissingChallenge = errors.New("hydra: challenge is missing")

// Error is an error answer from Hydra's admin API, in its OAuth 2.0 error
// format. A 5xx Error also matches ErrUnavailable.
type Error struct {
	Op          string // e.g. "GET /admin/oauth2/auth/requests/login"
	Status      int    // HTTP status of the answer
	Name        string // "error", e.g. "Not Found", "invalid_request", "request_unauthorized"
	Description string // "error_description"
	Hint        string // "error_hint"
	Debug       string // "error_debug" (only when Hydra runs in dev mode)
	// RedirectTo is set on 410 Gone answers to GET …/requests/{login,consent,logout}:
	// the request was already handled and the browser may restart at this
	// URL (the original authorization request URL).
	RedirectTo string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("hydra: %s: %d", e.Op, e.Status)
	if e.Name != "" {
		s += " " + e.Name
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Is makes a 5xx Error match ErrUnavailable.
func (e *Error) Is(target error) bool {
	return target == ErrUnavailable && e.Status >= 500
}

// AsError returns the Error in err's chain, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// IsUnavailable reports whether err is a failure of Hydra itself (transport
// failure, timeout, cancellation, 5xx, malformed answer): show the generic
// error page. It is false for Hydra's 4xx answers.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsStatus reports whether err is an Error answer with the given status.
func IsStatus(err error, status int) bool {
	e, ok := AsError(err)
	return ok && e.Status == status
}

// IsNotFound reports whether Hydra answered 404: an unknown, undecryptable or
// foreign challenge (or client, or logout request, including a rejected one).
func IsNotFound(err error) bool { return IsStatus(err, http.StatusNotFound) }

// IsGone reports whether Hydra answered 410: the request was already handled.
// The Error's RedirectTo says where the browser may restart.
func IsGone(err error) bool { return IsStatus(err, http.StatusGone) }

// IsInvalidChallenge reports whether err says the challenge cannot be used:
// missing, unknown (404), already used (409, 410), or expired (401
// request_unauthorized, after Hydra's ttl.login_consent_request). The browser
// should be told to start again at the application; it is not an outage.
func IsInvalidChallenge(err error) bool {
	if errors.Is(err, ErrMissingChallenge) {
		return true
	}
	e, ok := AsError(err)
	if !ok {
		return false
	}
	switch e.Status {
	case http.StatusNotFound, http.StatusConflict, http.StatusGone, http.StatusUnauthorized:
		return true
	}
	return false
}
