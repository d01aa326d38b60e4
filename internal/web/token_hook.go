package web

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/heraproject/hera/internal/kratos"
)

// tokenHookRequest is the part of Hydra's token hook call Hera reads.
type tokenHookRequest struct {
	Session struct {
		IDToken struct {
			// Subject is the identity the tokens are for (the real one,
			// also for clients with pairwise subjects).
			Subject string `json:"subject"`
		} `json:"id_token"`
	} `json:"session"`
	Request struct {
		GrantTypes []string `json:"grant_types"`
	} `json:"request"`
}

// handleTokenHook is Hydra's oauth2.token_hook: before Hydra issues tokens
// for a user (the code exchange and every refresh), Hera checks that the
// identity still exists and is active in Kratos. 204 lets Hydra go on with
// the tokens unchanged; 403 makes Hydra answer access_denied. Hydra turns
// any other status into a server error, so a Kratos outage refuses the
// tokens rather than handing them to an identity Hera could not check.
func handleTokenHook(s *server) http.Handler {
	want := []byte("Bearer " + s.Options.OAuth2.TokenHookSecret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			s.Logger.WarnContext(ctx, "token hook: bad or missing credentials")
			writeAPIError(w, http.StatusUnauthorized, "hera_unauthorized", "The token hook needs Hera's token hook secret.")
			return
		}
		var in tokenHookRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.Options.MaxBodyBytes))
		if err := dec.Decode(&in); err != nil {
			writeAPIError(w, http.StatusBadRequest, "hera_bad_request", "The token hook call is not valid JSON.")
			return
		}
		grants := in.Request.GrantTypes
		endUser := slices.Contains(grants, "authorization_code") || slices.Contains(grants, "refresh_token")
		sub := in.Session.IDToken.Subject
		if !endUser || sub == "" {
			// Client credentials and the like: no identity to check.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !validID(sub) {
			s.Logger.WarnContext(ctx, "token hook: subject is not a Kratos identity id", "grant_types", strings.Join(grants, " "))
			w.WriteHeader(http.StatusForbidden)
			return
		}
		id, err := s.Kratos.GetIdentity(ctx, sub)
		if err != nil {
			if ae, ok := kratos.IsAPIError(err, 0); ok && ae.Status == http.StatusNotFound {
				s.Logger.InfoContext(ctx, "token hook: tokens refused to a deleted identity", "grant_types", strings.Join(grants, " "))
				w.WriteHeader(http.StatusForbidden)
				return
			}
			s.Logger.ErrorContext(ctx, "token hook: cannot check the identity", "err", err)
			writeAPIError(w, http.StatusBadGateway, "hera_upstream_unavailable", "The identity could not be checked.")
			return
		}
		if id.State != "" && id.State != "active" {
			s.Logger.InfoContext(ctx, "token hook: tokens refused to a deactivated identity", "grant_types", strings.Join(grants, " "))
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
