package events

import (
	"context"
	"time"

	"github.com/heraproject/hera/internal/activity"
)

// join returns what Hera saw of the client behind a hook: under the flow's
// key (every submission Hera forwards), or for a sign-in that named no
// account (a passkey, a social sign-in's callback) under the session's,
// where the device cookie was checked against the identity. What is not
// there yet is waited for, up to the grace period: Kratos calls the hook
// before it answers the submission, and a social sign-in's session is seen
// only in that answer. ok is false when nothing was found.
func (r *Recorder) join(ctx context.Context, h *Hook) (seen activity.Seen, ok bool) {
	flowKey, sessKey := FlowKey(h.Flow.ID), ""
	if h.Kind == HookLogin {
		sessKey = SessionKey(h.Session.ID)
	}
	deadline := time.Now().Add(r.cfg.Grace)
	wait := 25 * time.Millisecond
	var flow activity.Seen
	haveFlow := false
	keys := []string{flowKey}
	if sessKey != "" {
		keys = append(keys, sessKey)
	}
	// Watch before reading, so a record made in between wakes us.
	woken, unwatch := r.watch(keys...)
	defer unwatch()
	for {
		if !haveFlow {
			flow, haveFlow = r.getSeen(ctx, flowKey)
		}
		if haveFlow && (sessKey == "" || flow.Checked) {
			return flow, true
		}
		if sessKey != "" {
			if s, found := r.getSeen(ctx, sessKey); found {
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
