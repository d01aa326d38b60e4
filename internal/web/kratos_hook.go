package web

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"

	"github.com/heraproject/hera/internal/events"
)

// handleKratosHook receives Kratos's web hooks: after a sign-in, a sign-up,
// a settings change (one path per method), a recovery and a verification
// (docs/kratos-setup.md, "Activity and alerts"). Kratos calls it server
// to server with Hera's web hook secret and does not wait for the answer
// (response.ignore); Hera answers at once all the same, and records the
// event in the background. The body is deploy/dev/kratos-hook.jsonnet's,
// read strictly.
func handleKratosHook(s *server) http.Handler {
	want := []byte("Bearer " + s.Options.Kratos.WebhookSecret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		kind := r.PathValue("event")
		if m := r.PathValue("method"); m != "" {
			kind = events.HookSettings + "/" + m
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			// Never the header itself in the log.
			s.Logger.WarnContext(ctx, "kratos hook: bad or missing credentials", "hook", safeLogValue(kind))
			writeAPIError(w, http.StatusUnauthorized, "hera_unauthorized", "Kratos's web hooks need Hera's web hook secret.")
			return
		}
		if _, err := events.HookKind(kind); err != nil {
			s.Logger.WarnContext(ctx, "kratos hook: unknown hook", "hook", safeLogValue(kind))
			writeAPIError(w, http.StatusBadRequest, "hera_bad_request", "Unknown hook.")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, events.MaxHookBody))
		if err != nil {
			status := http.StatusBadRequest
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			s.Logger.WarnContext(ctx, "kratos hook: unreadable body", "hook", kind, "status", status)
			writeAPIError(w, status, "hera_bad_request", "The hook's body could not be read.")
			return
		}
		h, err := events.ParseHook(kind, body)
		if err != nil {
			// The error names fields, never their values.
			s.Logger.WarnContext(ctx, "kratos hook: refused", "hook", kind, "err", err)
			writeAPIError(w, http.StatusBadRequest, "hera_bad_request", "The hook's body is not what Hera's hook body template sends.")
			return
		}
		s.Events.Hook(h)
		w.WriteHeader(http.StatusNoContent)
	})
}

// safeLogValue bounds a client-chosen value logged (a path segment).
func safeLogValue(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}
