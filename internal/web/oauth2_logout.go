package web

import (
	"net/http"

	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// oauth2LogoutPage handles GET /logout?logout_challenge=: ask (unless the
// operator or the client says not to), then end both sessions. A challenge
// is acted on only for the account signed in in this browser: a link to
// someone else's challenge must not sign anyone out.
func (s *server) oauth2LogoutPage(w http.ResponseWriter, r *http.Request, challenge string) {
	if s.Hydra == nil {
		s.errorPage(w, r, http.StatusNotFound, nil)
		return
	}
	lr, sess, ok := s.boundLogout(w, r, challenge)
	if !ok {
		return
	}
	skip := s.Options.OAuth2.SkipLogoutConfirm || (lr.Client != nil && lr.Client.SkipLogoutConsent != nil && *lr.Client.SkipLogoutConsent)
	if skip {
		s.oauth2Logout(w, r, challenge, lr, sess)
		return
	}
	v := view.LogoutView{Action: s.url("/logout"), Challenge: challenge}
	if lr.Client != nil {
		v.ClientName = lr.Client.DisplayName()
	}
	p := &view.Page{Title: s.translator(r).T("hera.logout.title")}
	s.render.page(w, r, http.StatusOK, p, view.Logout(p, &v))
}

// boundLogout fetches a logout request and checks that it is for the
// account signed in in this browser. When it is not, it renders the page
// that says so, leaves the request alone, and reports false.
func (s *server) boundLogout(w http.ResponseWriter, r *http.Request, challenge string) (*hydra.LogoutRequest, *kratos.Session, bool) {
	ctx := r.Context()
	lr, err := s.Hydra.GetLogoutRequest(ctx, challenge)
	if err != nil {
		s.hydraFailure(w, r, err)
		return nil, nil, false
	}
	sess, err := s.Kratos.Whoami(ctx, s.browser(r))
	if err != nil {
		if _, ok := kratos.IsAPIError(err, 0); !ok {
			s.kratosFailure(w, r, err)
			return nil, nil, false
		}
		sess = nil
	}
	if sess != nil && sess.Identity != nil && lr.Subject != "" && sess.Identity.ID == lr.Subject {
		return lr, sess, true
	}
	t := s.translator(r)
	v := view.ErrorView{Links: []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}}}
	status := http.StatusOK
	if sess == nil {
		// Signed out already (here, or the session expired): nothing of
		// this browser's to end. Hydra's login, if any, is refused at its
		// next use because no Kratos session backs it.
		s.Logger.InfoContext(ctx, "oauth2 logout without a session here")
		v.Title, v.Message = t.T("hera.logout.signed_out.title"), t.T("hera.logout.signed_out.message")
		if lr.Client != nil {
			if u := safeHTTPURL(lr.Client.ClientURI); u != "" {
				v.Links = append([]view.Link{{Text: t.T("hera.logout.back_to", "client", lr.Client.DisplayName()), Href: u}}, v.Links...)
			}
		}
	} else {
		s.Logger.WarnContext(ctx, "oauth2 logout refused: the request is for another account")
		status = http.StatusConflict
		v.Title, v.Message, v.Hint = t.T("hera.logout.other_account.title"), t.T("hera.logout.other_account.message"), t.T("hera.logout.other_account.hint")
	}
	s.errorView(w, r, status, v)
	return nil, nil, false
}

// oauth2Logout accepts Hydra's logout, ends the Kratos session and any
// other Hydra login it signed in with, and follows Hydra's redirect.
func (s *server) oauth2Logout(w http.ResponseWriter, r *http.Request, challenge string, lr *hydra.LogoutRequest, sess *kratos.Session) {
	ctx := r.Context()
	to, err := s.Hydra.AcceptLogout(ctx, challenge)
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	// Hydra ends the challenge's own login session when the browser
	// follows its redirect; a different one linked to this Kratos session
	// ends now.
	if s.Links != nil {
		if sid, err := s.Links.Resolve(ctx, signOnHandle(sess.ID)); err == nil && sid != "" && sid != lr.SessionID {
			s.endSignOn(ctx, sess.ID)
		}
	}
	cookies, err := s.Kratos.Logout(ctx, s.browser(r))
	if err != nil {
		// Hydra's session is gone; say so in the log and carry on rather
		// than strand the user.
		s.Logger.ErrorContext(ctx, "kratos logout after oauth2 logout failed", "err", err)
	}
	for _, c := range cookies {
		w.Header().Add("Set-Cookie", c)
	}
	s.Logger.InfoContext(ctx, "oauth2 logout accepted")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// oauth2LogoutDecision handles the confirmation form: the binding is
// checked again, then the logout is accepted or, for "stay signed in",
// Hydra forgets the request and the user goes back to where they came
// from.
func (s *server) oauth2LogoutDecision(w http.ResponseWriter, r *http.Request, challenge string, confirmed bool) {
	lr, sess, ok := s.boundLogout(w, r, challenge)
	if !ok {
		return
	}
	if confirmed {
		s.oauth2Logout(w, r, challenge, lr, sess)
		return
	}
	if err := s.Hydra.RejectLogout(r.Context(), challenge); err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	back := s.url("/")
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
		t := s.translator(r)
		v := view.ErrorView{
			Title:   t.T("hera.oauth2.error.title"),
			Message: t.T("hera.oauth2.error." + oauth2ErrorKey(code)),
			Links:   []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}},
		}
		if code != "" && len(code) <= 64 {
			v.Hint = t.T("hera.oauth2.error.code", "code", code)
		}
		s.errorView(w, r, http.StatusBadRequest, v)
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
