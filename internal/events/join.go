package events

import (
	"context"
	"time"

	"github.com/heraproject/hera/internal/activity"
)

// join returns what Hera saw of the client behind a hook: under the flow's
// key (every submission Hera forwards), or for a sign-in that named no
// account (a passkey, a social sign-in's callback) under the identity's
// sign-in key, where the device cookie was checked against the identity.
// What is not there yet is waited for, up to the grace period: Kratos
// calls the hook before it answers the submission, and a social sign-in's
// session is seen only in that answer. ok is false when nothing was found.
func (r *Recorder) join(ctx context.Context, h *Hook) (seen activity.Seen, ok bool) {
	flowKey, signInKey := FlowKey(h.Flow.ID), ""
	keys := []string{flowKey}
	if h.Kind == HookLogin {
		signInKey = SignInKey(h.Identity.ID)
		keys = append(keys, signInKey)
	}
	start := time.Now()
	deadline := start.Add(r.cfg.Grace)
	// Kratos may render a sign-in's hook before it gives the session its
	// ID; Hera records the ID under the flow's key once Kratos answered.
	// Worth a short wait, not the whole grace period.
	needSession := h.Kind == HookLogin && h.sessionID() == ""
	wait := 25 * time.Millisecond
	var flow activity.Seen
	haveFlow := false
	// Watch before reading, so a record made in between wakes us.
	woken, unwatch := r.watch(keys...)
	defer unwatch()
	for {
		if !haveFlow || needSession && flow.Session == "" {
			if f, found := r.getSeen(ctx, flowKey); found {
				flow, haveFlow = f, true
			}
		}
		sessionKnown := !needSession || flow.Session != "" || time.Since(start) >= min(sessionWait, r.cfg.Grace) ||
			time.Now().After(deadline)
		if haveFlow && (signInKey == "" || flow.Checked) && sessionKnown {
			return flow, true
		}
		if signInKey != "" {
			if s, found := r.getSeen(ctx, signInKey); found && r.sameSignIn(h, s) {
				// The callback's record knows the device; the flow's, the
				// language the sign-in started in.
				if s.Lang == "" && haveFlow {
					s.Lang = flow.Lang
				}
				return s, true
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-t.C:
		case <-woken:
		case <-r.stop:
			deadline = time.Now() // one last look, then what is known
		case <-ctx.Done():
			deadline = time.Now()
		}
		t.Stop()
		wait = min(wait*2, time.Second)
	}
	return flow, haveFlow
}

// sessionWait bounds the wait for a sign-in's session ID.
const sessionWait = 3 * time.Second

// signInSkew is how much earlier than Kratos's record of a sign-in Hera
// may have seen its session issued (clocks differ a little).
const signInSkew = 5 * time.Second

// sameSignIn reports whether a sign-in record is this hook's sign-in, not
// an earlier one of the identity: the same session when the hook names
// it, and seen issued no earlier than Kratos completed the sign-in.
func (r *Recorder) sameSignIn(h *Hook, s activity.Seen) bool {
	if id := h.sessionID(); id != "" && s.Session != "" && s.Session != id {
		return false
	}
	ms := h.Session.Methods
	done := ms[len(ms)-1].CompletedAt
	return done.IsZero() || s.At.IsZero() || !s.At.Before(done.Add(-signInSkew))
}

// getSeen reads a Seen; a store failure counts as not found (and is
// logged).
func (r *Recorder) getSeen(ctx context.Context, key string) (activity.Seen, bool) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	s, ok, err := r.store.GetSeen(octx, key, r.now())
	if err != nil {
		r.log.Error("activity: cannot read what was seen of a client", "err", err)
		return activity.Seen{}, false
	}
	return s, ok
}
