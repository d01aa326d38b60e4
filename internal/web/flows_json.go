package web

import (
	"net/http"

	"github.com/heraproject/hera/internal/kratos"
)

// handleFlowJSON returns a flow's current state as Kratos's JSON:
// GET /api/kratos/flows?id= (type=, optional, names the kind and saves the
// lookups; Kratos answers 404 for an ID of another kind, so without it
// Hera asks for each kind until one is not 404).
func handleFlowJSON(s *server) http.Handler {
	// The order an ID without a type is looked up in. Settings is last:
	// Kratos answers 401 for any ID there when the browser has no session.
	all := []kratos.Kind{kratos.Login, kratos.Registration, kratos.Recovery, kratos.Verification, kratos.Settings}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kinds := all
		if t := q.Get("type"); t != "" {
			kind, ok := kratos.ParseKind(t)
			if !ok {
				writeAPIError(w, http.StatusBadRequest, "hera_bad_request", "type, when given, must be login, registration, recovery, verification or settings.")
				return
			}
			kinds = []kratos.Kind{kind}
		}
		if !validID(q.Get("id")) {
			writeAPIError(w, http.StatusBadRequest, "hera_bad_request", "id must be a flow ID.")
			return
		}
		var (
			f   []byte
			err error
		)
		for _, kind := range kinds {
			f, err = s.Kratos.GetFlowJSON(r.Context(), kind, q.Get("id"), s.browser(r))
			if _, notFound := kratos.IsAPIError(err, http.StatusNotFound); !notFound {
				break
			}
		}
		if err != nil {
			if ae, ok := kratos.IsAPIError(err, 0); ok {
				writeAPIError(w, ae.Status, ae.ID, ae.Message)
				return
			}
			if clientGone(r, err) {
				s.clientWentAway(w, r, err)
				return
			}
			s.Logger.ErrorContext(r.Context(), "flow fetch failed", "err", err)
			writeAPIError(w, http.StatusBadGateway, "hera_upstream_unavailable", "The service is temporarily unavailable.")
			return
		}
		// Kratos's own document, every field as Kratos sent it.
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(f)
	})
}
