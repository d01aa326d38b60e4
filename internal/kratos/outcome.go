package kratos

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// OutcomeKind classifies Kratos's answer to a flow submission.
type OutcomeKind int

// The kinds of outcome.
const (
	// OutcomeSuccess: the submission completed the flow step (a login,
	// registration, settings update, …).
	OutcomeSuccess OutcomeKind = iota + 1
	// OutcomeFlow: Kratos answered with the (updated) flow, carrying
	// validation messages or the next step (code sent, second step).
	OutcomeFlow
	// OutcomeExpired: the flow expired; UseFlowID names a new one, if any.
	OutcomeExpired
	// OutcomeRedirect: the browser must go to RedirectTo (social sign-in,
	// privileged-session refresh, second factor, recovery's settings step).
	OutcomeRedirect
	// OutcomeCSRF: the CSRF token or cookie did not match.
	OutcomeCSRF
	// OutcomeError: any other refusal (session required, flow replaced …).
	OutcomeError
)

// Outcome is a parsed submission answer.
type Outcome struct {
	Kind    OutcomeKind
	Status  int
	Flow    *Flow    // OutcomeFlow, and settings/verification successes
	Session *Session // login or registration success
	// SessionToken is an API flow's new session token (never log it).
	SessionToken string
	ContinueWith []ContinueWith
	RedirectTo   string
	Err          *APIError
}

// CredentialFailure reports whether Kratos rejected a credential: a wrong
// password or identifier (4000006, whether or not the account exists) or a
// wrong second-factor or one-time code. Validation errors, CSRF, expiry and
// outages are not credential failures.
func (o *Outcome) CredentialFailure() bool {
	if o.Flow == nil {
		return false
	}
	for _, m := range o.Flow.AllMessages() {
		if m.Type == "error" && IsCredentialFailure(m.ID) {
			return true
		}
	}
	return false
}

// IsCredentialFailure reports whether a Kratos message ID says a secret the
// user typed was wrong.
func IsCredentialFailure(id int64) bool {
	switch id {
	case MsgInvalidCredentials,
		4000008, // TOTP code wrong
		4000012, // lookup secret already used
		4000016, // lookup secret invalid
		4010008, // login code invalid or already used
		4040003, // registration code invalid or already used
		4060006, // recovery code invalid or already used
		4070006: // verification code invalid or already used
		return true
	}
	return false
}

// AllMessages returns the flow's messages and every node's messages.
func (f *Flow) AllMessages() []Message {
	ms := append([]Message(nil), f.UI.Messages...)
	for _, n := range f.UI.Nodes {
		ms = append(ms, n.Messages...)
	}
	return ms
}

// ParseOutcome interprets Kratos's JSON answer to a submission.
func ParseOutcome(res *Response) (*Outcome, error) {
	o := &Outcome{Status: res.Status}
	switch {
	case res.Status == http.StatusOK:
		var body struct {
			UI           *UI             `json:"ui"`
			Session      *Session        `json:"session"`
			ContinueWith []ContinueWith  `json:"continue_with"`
			Identity     json.RawMessage `json:"identity"`
			SessionToken string          `json:"session_token"`
		}
		if err := Decode(res.Body, &body); err != nil {
			return nil, fmt.Errorf("%w: malformed submission answer: %v", ErrUnavailable, err)
		}
		o.ContinueWith = body.ContinueWith
		o.Session = body.Session
		o.SessionToken = body.SessionToken
		if body.UI != nil {
			// A flow: settings and verification answer success with their
			// flow in state "success"/"passed_challenge"; recovery and
			// login-by-code answer the next step.
			var f Flow
			if err := Decode(res.Body, &f); err != nil {
				return nil, fmt.Errorf("%w: malformed flow: %v", ErrUnavailable, err)
			}
			o.Flow = &f
			o.Kind = OutcomeFlow
			if f.State == "success" || f.State == "passed_challenge" {
				o.Kind = OutcomeSuccess
			}
			return o, nil // continue_with, if any, was read with the body
		}
		if body.Session == nil && len(body.ContinueWith) == 0 && (len(body.Identity) == 0 || string(body.Identity) == "null") {
			// Every 200 Kratos sends names a flow, a session, an identity
			// or what to do next; anything else is not Kratos speaking.
			return nil, fmt.Errorf("%w: submission answer of unknown shape", ErrUnavailable)
		}
		o.Kind = OutcomeSuccess
		return o, nil
	case res.Status == http.StatusBadRequest:
		var f Flow
		if err := Decode(res.Body, &f); err == nil && f.ID != "" && f.UI.Action != "" {
			o.Kind, o.Flow = OutcomeFlow, &f
			return o, nil
		}
		o.Kind, o.Err = OutcomeError, parseAPIError(res.Status, res.Body)
		return o, nil
	}
	e := parseAPIError(res.Status, res.Body)
	o.Err = e
	switch {
	case res.Status == http.StatusGone || e.ID == "self_service_flow_expired":
		o.Kind = OutcomeExpired
	case e.ID == "security_csrf_violation":
		o.Kind = OutcomeCSRF
	case e.RedirectBrowserTo != "":
		o.Kind, o.RedirectTo = OutcomeRedirect, e.RedirectBrowserTo
	default:
		o.Kind = OutcomeError
	}
	return o, nil
}

// NextURL picks where the browser goes after a successful submission, in
// Kratos's order of precedence: show_settings_ui, show_recovery_ui,
// show_verification_ui, redirect_browser_to. It returns "" when the answer
// names no target.
func (o *Outcome) NextURL() string {
	for _, action := range []string{"show_settings_ui", "show_recovery_ui", "show_verification_ui", "redirect_browser_to"} {
		for _, c := range o.ContinueWith {
			if c.Action != action {
				continue
			}
			if c.RedirectBrowserTo != "" {
				return c.RedirectBrowserTo
			}
			if c.Flow != nil && c.Flow.URL != "" {
				return c.Flow.URL
			}
		}
	}
	return ""
}
