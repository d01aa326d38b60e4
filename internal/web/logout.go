package web

import (
	"net/http"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// handleLogoutPage asks before signing out: a link or image elsewhere must
// not be able to sign anyone out.
func handleLogoutPage(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ch := r.URL.Query().Get("logout_challenge"); ch != "" {
			s.oauth2LogoutPage(w, r, ch)
			return
		}
		if _, err := s.Kratos.Whoami(r.Context(), s.browser(r)); err != nil {
			if ae, ok := kratos.IsAPIError(err, 0); ok && ae.Status == http.StatusUnauthorized {
				http.Redirect(w, r, s.url("/"), http.StatusSeeOther)
				return
			}
			if _, ok := kratos.IsAPIError(err, 0); !ok {
				s.kratosFailure(w, r, err)
				return
			}
		}
		p := &view.Page{Title: s.translator(r).T("hera.logout.title")}
		s.render.page(w, r, http.StatusOK, p, view.Logout(p, &view.LogoutView{Action: s.url("/logout")}))
	})
}

// handleLogout ends the Kratos session through the browser logout flow.
func handleLogout(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		if ch := r.PostForm.Get("logout_challenge"); ch != "" && s.Hydra != nil {
			s.oauth2LogoutDecision(w, r, ch, r.PostForm.Get("confirm") == "yes")
			return
		}
		b := s.browser(r)
		sess, err := s.Kratos.Whoami(r.Context(), b)
		if err == nil {
			// Signing out here ends the apps' single sign-on too.
			s.endSignOn(r.Context(), sess.ID)
		}
		u, err := s.Kratos.LogoutURL(r.Context(), "", b)
		if err != nil {
			if ae, ok := kratos.IsAPIError(err, 0); ok && ae.Status == http.StatusUnauthorized {
				http.Redirect(w, r, s.url("/"), http.StatusSeeOther)
				return
			}
			s.kratosFailure(w, r, err)
			return
		}
		http.Redirect(w, r, u, http.StatusSeeOther)
	})
}
