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
	s.render.render(w, r, http.StatusOK, "logout", page{Title: "Sign out", Data: v})
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
		v := ErrorView{
			Title:   "The application's request could not be completed",
			Message: oauth2ErrorText(code),
			Links:   []Link{{Text: "Go to the start page", Href: "/"}},
		}
		if code != "" {
			v.Hint = "Error code: " + code
		}
		s.render.render(w, r, http.StatusBadRequest, "error", page{Title: v.Title, Data: v})
	})
}

func oauth2ErrorText(code string) string {
	switch code {
	case "invalid_client", "unauthorized_client":
		return "The application is not registered correctly. Please contact its provider."
	case "invalid_request", "invalid_scope", "unsupported_response_type":
		return "The application sent a request we cannot accept. Please contact its provider."
	case "access_denied", "request_denied":
		return "Access was denied."
	case "login_required", "consent_required", "interaction_required":
		return "You need to sign in to continue."
	case "server_error", "temporarily_unavailable":
		return "Something went wrong on our side. Please try again in a moment."
	}
	return "Please go back to the application and try again."
}
