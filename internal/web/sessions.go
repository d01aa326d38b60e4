package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/useragent"
	"github.com/heraproject/hera/internal/web/view"
)

func (srv *server) sessionView(s kratos.Session, t translator) view.SessionView {
	v := view.SessionView{
		ID:                  s.ID,
		AuthenticatedAt:     s.AuthenticatedAt.UTC().Format(time.RFC3339),
		AuthenticatedAtText: t.T("hera.sessions.signed_in", "time", srv.catalog.FormatTime(t.lang, s.AuthenticatedAt, "datetime")),
		Device:              t.T("hera.sessions.unknown_device"),
	}
	if n := len(s.Devices); n > 0 {
		d := s.Devices[n-1]
		v.UserAgent, v.IP = d.UserAgent, d.IPAddress
		if w := deviceWords(d.UserAgent, t); w != "" {
			v.Device = w
		}
	}
	return v
}

// deviceWords names a User-Agent's browser and system in the page's
// language ("Firefox on Linux"), or "" when it names neither.
func deviceWords(ua string, t translator) string {
	browser, system := useragent.Describe(ua)
	switch {
	case browser != "" && system != "":
		return t.T("hera.sessions.device", "browser", browser, "system", system)
	case system != "":
		return t.T("hera.sessions.device_system", "system", system)
	}
	return browser
}

// handleSessions lists the user's active sessions.
func handleSessions(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := s.browser(r)
		cur, err := s.Kratos.Whoami(r.Context(), b)
		if s.needSignIn(w, r, err, "/sessions") {
			return
		}
		others, err := s.Kratos.ListSessions(r.Context(), b)
		if err != nil {
			s.kratosFailure(w, r, err)
			return
		}
		t := s.translator(r)
		cv := s.sessionView(*cur, t)
		v := view.SessionsView{Current: &cv, Activity: s.Activity != nil}
		for _, o := range others {
			if o.ID != cur.ID && o.Active {
				v.Others = append(v.Others, s.sessionView(o, t))
			}
		}
		switch r.URL.Query().Get("done") {
		case "one":
			v.Messages = []view.Alert{{ID: "done", Type: "success", Text: t.T("hera.sessions.revoked_one")}}
		case "others":
			v.Messages = []view.Alert{{ID: "done", Type: "success", Text: t.T("hera.sessions.revoked_others")}}
		}
		p := &view.Page{Title: t.T("hera.sessions.title"), Lang: t.lang}
		s.render.page(w, r, http.StatusOK, p, view.Sessions(p, &v))
	})
}

// needSignIn handles a whoami error: it sends the browser to sign in (and
// back to returnPath) or renders the error, and reports whether it did.
func (s *server) needSignIn(w http.ResponseWriter, r *http.Request, err error, returnPath string) bool {
	if err == nil {
		return false
	}
	if ae, ok := kratos.IsAPIError(err, 0); ok {
		q := url.Values{"return_to": {s.Options.PublicURL.String() + returnPath}}
		if ae.Status == http.StatusForbidden {
			q.Set("aal", "aal2")
		}
		http.Redirect(w, r, s.url("/login?"+q.Encode()), http.StatusSeeOther)
		return true
	}
	s.kratosFailure(w, r, err)
	return true
}

func handleRevokeSession(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !validID(id) {
			s.errorPage(w, r, http.StatusNotFound, nil)
			return
		}
		b := s.browser(r)
		own := s.ownSession(r.Context(), b, id)
		var cur *kratos.Session
		if own && s.Events != nil {
			cur, _ = s.Kratos.Whoami(r.Context(), b)
		}
		if err := s.Kratos.RevokeSession(r.Context(), id, b); err != nil {
			if s.needSignIn(w, r, err, "/sessions") {
				return
			}
		} else if own {
			// Kratos ended one of this user's own sessions: its single
			// sign-on to apps ends with it.
			s.endSignOn(r.Context(), id)
			s.sessionsRevoked(r, cur, 1)
		}
		http.Redirect(w, r, s.url("/sessions?done=one"), http.StatusSeeOther)
	})
}

// ownSession reports whether id is one of the browser's identity's other
// sessions. Kratos answers a revocation of any session ID with 204 but
// ends only the caller's own: another identity's single sign-on must not
// be ended on the strength of that answer.
func (s *server) ownSession(ctx context.Context, b kratos.Browser, id string) bool {
	all, err := s.Kratos.ListSessions(ctx, b)
	if err != nil {
		return false
	}
	for _, o := range all {
		if o.ID == id {
			return true
		}
	}
	return false
}

func handleRevokeOthers(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := s.browser(r)
		// Which sessions end is read first, so their single sign-on can
		// end with them.
		var others []string
		active := 0
		cur, err := s.Kratos.Whoami(r.Context(), b)
		if err == nil {
			if all, err := s.Kratos.ListSessions(r.Context(), b); err == nil {
				for _, o := range all {
					if o.ID != cur.ID {
						others = append(others, o.ID)
						if o.Active {
							active++
						}
					}
				}
			}
		}
		if err := s.Kratos.RevokeOtherSessions(r.Context(), b); err != nil {
			if s.needSignIn(w, r, err, "/sessions") {
				return
			}
		} else {
			s.endSignOn(r.Context(), others...)
			s.sessionsRevoked(r, cur, active)
		}
		http.Redirect(w, r, s.url("/sessions?done=others"), http.StatusSeeOther)
	})
}

// sessionsRevoked records that the signed-in user (cur: their session)
// signed out n of their other sessions.
func (s *server) sessionsRevoked(r *http.Request, cur *kratos.Session, n int) {
	if s.Events == nil || cur == nil || cur.Identity == nil || n == 0 {
		return
	}
	s.Events.SessionsRevoked(cur.Identity.ID, n, s.eventClient(r, cur.ID))
}
