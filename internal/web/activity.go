package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/kratos"
)

// What Hera tells the account's events (package events): what it saw of
// the client behind each submission and each session it saw Kratos issue
// — Kratos's web hooks know the identity but not the browser —, and its
// own account actions. Every call returns at once but See, one store
// write before the submission goes to Kratos.

// eventRecorder is what the handlers need of package events.
type eventRecorder interface {
	See(ctx context.Context, key string, s activity.Seen)
	SeeLater(key string, s activity.Seen)
	Hook(h *events.Hook)
	SessionsRevoked(identity string, count int, c events.Client)
	AppAllowed(identity, client, clientID string, scopes []string, c events.Client)
	AppRemoved(identity, client, clientID string, c events.Client)
	Exported(identity string, c events.Client)
	AccountDeleted(identity string, addresses []events.HookAddress, c events.Client)
}

// deviceCookies checks and issues device cookies (package device).
type deviceCookies interface {
	Verify(account string, cookies []*http.Cookie) (id string, ok bool)
	Issue(account string) (*http.Cookie, error)
}

// eventClient is what an account action's event says of the client.
func (s *server) eventClient(r *http.Request, session string) events.Client {
	return events.Client{IP: s.clientIP(r), UserAgent: r.UserAgent(), Lang: s.translator(r).lang, Session: session}
}

// seeSubmission records what Hera saw of the client behind a submission
// that may complete a flow Kratos sends a web hook for, under the flow's
// ID, before Kratos judges it: a sign-in (with the device cookie the
// browser holds for the account it names), a sign-up's last step, a
// settings change (with what it adds or removes), a recovery code.
func (s *server) seeSubmission(ctx context.Context, r *http.Request, kind kratos.Kind, flowID string, at *attempt.Attempt, sub submitter) {
	if s.Events == nil {
		return
	}
	switch {
	case kind == kratos.Login && at.Method != "identifier_first",
		kind == kratos.Registration && at.Method != "profile",
		kind == kratos.Settings,
		kind == kratos.Recovery && at.Secret == attempt.OneTimeCode:
	default:
		return // a step that completes nothing (an identifier, a code sent)
	}
	s.Events.See(ctx, events.FlowKey(flowID), s.submissionSeen(r, kind, at, sub))
}

// seeSignedIn records, once Kratos answered a sign-in, the session it
// issued beside what was seen of the client: Kratos may call the hook
// before the session has its ID.
func (s *server) seeSignedIn(r *http.Request, flowID string, at *attempt.Attempt, sub submitter, sess *kratos.Session) {
	if s.Events == nil || sess == nil || sess.ID == "" {
		return
	}
	seen := s.submissionSeen(r, kratos.Login, at, sub)
	seen.Session = sess.ID
	s.Events.SeeLater(events.FlowKey(flowID), seen)
}

// submissionSeen is what Hera saw of the client behind a submission.
func (s *server) submissionSeen(r *http.Request, kind kratos.Kind, at *attempt.Attempt, sub submitter) activity.Seen {
	seen := activity.Seen{IP: sub.browser.ClientIP, UserAgent: r.UserAgent(), Lang: s.translator(r).lang, Checked: true, Detail: at.Change,
		Method: at.Method}
	if kind == kratos.Login && !at.SecondFactor {
		if at.Account == "" {
			// A passkey or a social sign-in names its account only once
			// Kratos accepted it: the device is checked against the
			// identity then (seeSession).
			seen.Checked = false
		} else if s.Devices != nil {
			seen.Device, _ = s.Devices.Verify(at.Account, sub.cookies)
		}
	}
	return seen
}

// seeSession records what Hera saw of the client behind a session Kratos
// issued to a sign-in that named no account (a passkey; a social sign-in's
// callback through the proxy), under the identity's sign-in key: the
// device cookie is checked against each of its identifiers and addresses.
// When the browser holds none, it gets one for the identity's sign-in
// name, so that its next sign-in is known. It returns that cookie.
func (s *server) seeSession(ctx context.Context, r *http.Request, sess *kratos.Session) []*http.Cookie {
	if s.Events == nil || sess == nil || sess.ID == "" || sess.Identity == nil {
		return nil
	}
	seen := activity.Seen{IP: s.clientIP(r), UserAgent: r.UserAgent(), Lang: s.translator(r).lang, Checked: true,
		Session: sess.ID, At: time.Now()}
	var issue []*http.Cookie
	if s.Devices != nil {
		names, name := s.identifiers(ctx, sess.Identity)
		cookies := r.Cookies()
		for _, n := range names {
			if id, ok := s.Devices.Verify(n, cookies); ok {
				seen.Device = id
				break
			}
		}
		if seen.Device == "" && name != "" {
			if c, err := s.Devices.Issue(name); err == nil {
				issue = append(issue, c)
			} else {
				s.Logger.ErrorContext(ctx, "device cookie", "err", err)
			}
		}
	}
	s.Events.See(ctx, events.SignInKey(sess.Identity.ID), seen)
	return issue
}

// identifiers are what an identity may have signed in with, for device
// cookies: its identifier traits and addresses (as its schema says) and
// its verifiable addresses; name is its sign-in name.
func (s *server) identifiers(ctx context.Context, id *kratos.Identity) (all []string, name string) {
	var t map[string]any
	_ = json.Unmarshal(id.Traits, &t)
	if st, ok := s.schemaOf(ctx, id.SchemaID); ok {
		name = signInName(st, id.Traits)
		for _, p := range slices.Concat(st.Identifiers, st.Addresses, st.Emails, st.Phones) {
			if v, ok := tracePath(t, p).(string); ok && v != "" && !slices.Contains(all, v) {
				all = append(all, v)
			}
		}
	}
	for _, a := range id.VerifiableAddresses {
		if a.Value != "" && !slices.Contains(all, a.Value) {
			all = append(all, a.Value)
		}
	}
	if name == "" && len(all) > 0 {
		name = all[0]
	}
	return all, name
}

// identityAddresses are an identity's verifiable addresses as the events
// take them.
func identityAddresses(id *kratos.Identity) []events.HookAddress {
	if id == nil {
		return nil
	}
	return events.IdentityAddresses(id)
}
