package web

import (
	"encoding/json"
	"net/http"

	"github.com/heraproject/hera/internal/kratos"
)

// handleFlowJSON returns a flow's current state as JSON:
// GET /api/kratos/flows?id=&type=.
func handleFlowJSON(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kind, ok := kratos.ParseKind(q.Get("type"))
		if !ok || !validID(q.Get("id")) {
			writeAPIError(w, http.StatusBadRequest, "hera_bad_request", "type must be login, registration, recovery, verification or settings, and id a flow ID.")
			return
		}
		f, err := s.Kratos.GetFlow(r.Context(), kind, q.Get("id"), s.browser(r))
		if err != nil {
			if ae, ok := kratos.IsAPIError(err, 0); ok {
				writeAPIError(w, ae.Status, ae.ID, ae.Message)
				return
			}
			s.Logger.ErrorContext(r.Context(), "flow fetch failed", "flow", kind, "err", err)
			writeAPIError(w, http.StatusBadGateway, "hera_upstream_unavailable", "The service is temporarily unavailable.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(f)
	})
}
