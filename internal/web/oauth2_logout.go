package web

import (
	"net/http"
)

// oauth2LogoutPage handles GET /logout?logout_challenge=: ask (unless the
// operator or the client says not to), then end both sessions.
func (s *server) oauth2LogoutPage(w http.ResponseWriter, r *http.Request, challenge string) {
	if s.Hydra == nil {
		s.errorPage(w, r, http.StatusNotFound, nil)
		return
	}
	lr, err := s.Hydra.GetLogoutRequest(r.Context(), challenge)
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	skip := s.Config.SkipLogoutConfirm || (lr.Client != nil && lr.Client.SkipLogoutConsent != nil && *lr.Client.SkipLogoutConsent)
	if skip {
		s.oauth2Logout(w, r, challenge)
		return
	}
	v := LogoutView{Action: "/logout", Challenge: challenge}
	if lr.Client != nil {
		v.ClientName = lr.Client.DisplayName()
	}
	s.render.render(w, r, http.StatusOK, "logout", page{Title: s.tr(r).T("hera.logout.title"), Data: v})
}

// oauth2Logout accepts Hydra's logout, ends the Kratos session too, and
// follows Hydra's redirect.
func (s *server) oauth2Logout(w http.ResponseWriter, r *http.Request, challenge string) {
	to, err := s.Hydra.AcceptLogout(r.Context(), challenge)
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	cookies, err := s.Kratos.Logout(r.Context(), s.browser(r))
	if err != nil {
		// Hydra's session is gone; say so in the log and carry on rather
		// than strand the user.
		s.Logger.ErrorContext(r.Context(), "kratos logout after oauth2 logout failed", "err", err)
	}
	for _, c := range cookies {
		w.Header().Add("Set-Cookie", c)
	}
	s.Logger.InfoContext(r.Context(), "oauth2 logout accepted")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// oauth2LogoutRefused handles "stay signed in": Hydra forgets the request
// and the user goes back to where they came from.
func (s *server) oauth2LogoutRefused(w http.ResponseWriter, r *http.Request, challenge string) {
	lr, err := s.Hydra.GetLogoutRequest(r.Context(), challenge)
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	if err := s.Hydra.RejectLogout(r.Context(), challenge); err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	back := "/"
	if lr.Client != nil {
		if u := safeHTTPURL(lr.Client.ClientURI); u != "" {
			back = u
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// handleOAuth2Error is Hydra's urls.error: the OAuth2 error in plain words.
func handleOAuth2Error(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := q.Get("error")
		s.Logger.WarnContext(r.Context(), "oauth2 error", "error", code, "description", q.Get("error_description"), "hint", q.Get("error_hint"))
		t := s.tr(r)
		v := ErrorView{
			Title:   t.T("hera.oauth2.error.title"),
			Message: t.T("hera.oauth2.error." + oauth2ErrorKey(code)),
			Links:   []Link{{Text: t.T("hera.link.start_page"), Href: "/"}},
		}
		if code != "" && len(code) <= 64 {
			v.Hint = t.T("hera.oauth2.error.code", "code", code)
		}
		s.render.render(w, r, http.StatusBadRequest, "error", page{Title: v.Title, Data: v})
	})
}

// oauth2ErrorKey groups OAuth2 error codes by what the user should know.
func oauth2ErrorKey(code string) string {
	switch code {
	case "invalid_client", "unauthorized_client":
		return "invalid_client"
	case "invalid_request", "invalid_scope", "unsupported_response_type":
		return "invalid_request"
	case "access_denied", "request_denied":
		return "access_denied"
	case "login_required", "consent_required", "interaction_required":
		return "login_required"
	case "server_error", "temporarily_unavailable":
		return "server_error"
	}
	return "other"
}
