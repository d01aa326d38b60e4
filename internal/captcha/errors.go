package captcha

import (
	"errors"
	"fmt"
	"strings"
)

// Siteverify error codes (Cloudflare's list; hCaptcha and reCAPTCHA use the
// same names, hCaptcha adds a few).
const (
	CodeMissingInputSecret   = "missing-input-secret"
	CodeInvalidInputSecret   = "invalid-input-secret"
	CodeMissingInputResponse = "missing-input-response"
	CodeInvalidInputResponse = "invalid-input-response"
	CodeBadRequest           = "bad-request"
	CodeTimeoutOrDuplicate   = "timeout-or-duplicate"
	CodeInternalError        = "internal-error"
)

// Codes that mean Hera (not the user) is at fault: a missing or wrong
// secret, a request siteverify could not parse, a site key that does not
// belong to the secret. Everything else with success=false is the user's
// token being wrong, expired or spent.
var configCodes = map[string]bool{
	CodeMissingInputSecret: true,
	CodeInvalidInputSecret: true,
	CodeBadRequest:         true,
	// Cloudflare
	"invalid-widget-id":     true,
	"invalid-parsed-secret": true,
	// hCaptcha
	"sitekey-secret-mismatch":  true,
	"invalid-sitekey":          true,
	"missing-remoteip":         true,
	"invalid-remoteip":         true,
	"not-using-dummy-passcode": true,
	"not-using-dummy-secret":   true,
}

// Fault says who failed: the user (FaultChallenge) or the captcha service or
// Hera's configuration (FaultUnavailable). Both fail closed.
type Fault int

const (
	// FaultChallenge: the user did not pass the challenge (no token, a
	// malformed, invalid, expired or already used token, a token for another
	// hostname or action). Show "please complete the challenge".
	FaultChallenge Fault = iota + 1
	// FaultUnavailable: siteverify could not give an answer Hera can trust
	// (timeout, transport error, 5xx after the retry, garbage, a rejected
	// secret). Show "temporarily unavailable" and alert the operator.
	FaultUnavailable
)

func (k Fault) String() string {
	switch k {
	case FaultChallenge:
		return "challenge"
	case FaultUnavailable:
		return "unavailable"
	}
	return fmt.Sprintf("Fault(%d)", int(k))
}

// Reason is a short, stable, log-safe word for why verification failed.
type Reason string

// Reasons of FaultChallenge.
const (
	ReasonMissingToken     Reason = "missing-token"     // the form has no token field
	ReasonEmptyToken       Reason = "empty-token"       // the field is empty (widget not solved)
	ReasonTokenTooLong     Reason = "token-too-long"    // longer than MaxTokenLen
	ReasonDuplicateToken   Reason = "duplicate-token"   // the field occurs more than once
	ReasonMalformedToken   Reason = "malformed-token"   // bytes no provider token contains
	ReasonRejected         Reason = "rejected"          // success=false; see Error.Codes
	ReasonHostnameMismatch Reason = "hostname-mismatch" // solved on a host not in Config.Hostnames
	ReasonActionMismatch   Reason = "action-mismatch"   // action differs from Config.Action
)

// Reasons of FaultUnavailable.
const (
	ReasonMisconfigured Reason = "misconfigured"  // siteverify refused the secret, site key or request; see Error.Codes
	ReasonProviderError Reason = "provider-error" // internal-error, also on the retry
	ReasonHTTPStatus    Reason = "http-status"    // non-200 answer (5xx also on the retry); see Error.Status
	ReasonBadResponse   Reason = "bad-response"   // not the JSON siteverify answers, or too large
	ReasonTimeout       Reason = "timeout"        // Config.Timeout (or the caller's deadline) expired
	ReasonCanceled      Reason = "canceled"       // the caller's context was canceled
	ReasonTransport     Reason = "transport"      // connection, DNS or TLS failure
)

// Sentinels to test an error's Fault with errors.Is.
var (
	ErrChallengeFailed = errors.New("captcha: challenge failed")
	ErrUnavailable     = errors.New("captcha: verification unavailable")
)

// Error is the error Verify returns. Its text and fields never contain the
// token or the secret, so it can be logged as is.
type Error struct {
	Fault    Fault
	Reason   Reason
	Codes    []string // error-codes of the last siteverify answer, if any
	Status   int      // HTTP status of the last answer, if any
	Attempts int      // siteverify requests made (0: rejected before any)
	Err      error    // underlying cause (timeout, transport), if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Fault == FaultChallenge {
		b.WriteString(ErrChallengeFailed.Error())
	} else {
		b.WriteString(ErrUnavailable.Error())
	}
	b.WriteString(": ")
	b.WriteString(string(e.Reason))
	if len(e.Codes) > 0 {
		fmt.Fprintf(&b, " %v", e.Codes)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrChallengeFailed) and
// errors.Is(err, ErrUnavailable) test the Fault.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrChallengeFailed:
		return e.Fault == FaultChallenge
	case ErrUnavailable:
		return e.Fault == FaultUnavailable
	}
	return false
}

// FaultOf returns the Fault of an error from Verify, or 0 for nil. Any other
// error counts as FaultUnavailable.
func FaultOf(err error) Fault {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Fault
	}
	return FaultUnavailable
}

// ReasonOf returns the Reason of an error from Verify, or "" if it has none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
