package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// handleWelcome shows who is signed in (server-side whoami).
func handleWelcome(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := view.WelcomeView{}
		sess, err := s.Kratos.Whoami(r.Context(), s.browser(r))
		switch ae, isAPI := kratos.IsAPIError(err, 0); {
		case err == nil:
			v = welcomeView(r.Context(), sess, s.translator(r), s)
			v.Apps = s.Hydra != nil
			v.Activity = s.Activity != nil
		case isAPI && ae.Status == http.StatusForbidden:
			v.NeedsSecondFactor = true
		case isAPI && ae.Status == http.StatusUnauthorized:
		default:
			s.kratosFailure(w, r, err)
			return
		}
		p := &view.Page{Title: s.translator(r).T("hera.welcome.title")}
		s.render.page(w, r, http.StatusOK, p, view.Welcome(p, &v))
	})
}

func welcomeView(ctx context.Context, sess *kratos.Session, t translator, s *server) view.WelcomeView {
	v := view.WelcomeView{Session: true, AAL: t.T("hera.aal." + sess.AuthenticatorAssuranceLevel)}
	if sess.Identity != nil {
		v.Name, _ = traitsNames(sess.Identity.Traits)
		v.Identifier = s.accountName(ctx, sess.Identity)
	}
	v.AuthenticatedAt = sess.AuthenticatedAt.UTC().Format(time.RFC3339)
	v.AuthenticatedAtText = s.catalog.FormatTime(t.lang, sess.AuthenticatedAt, "datetime")
	var ms []string
	for _, m := range sess.AuthenticationMethods {
		ms = append(ms, methodText(m.Method, t))
	}
	v.Methods = strings.Join(ms, ", ")
	return v
}

// traitsNames reads a display name and an identifier from common traits.
func traitsNames(raw json.RawMessage) (name, identifier string) {
	var t struct {
		Email    string `json:"email"`
		Username string `json:"username"`
		Phone    string `json:"phone"`
		Name     struct {
			First string `json:"first"`
			Last  string `json:"last"`
		} `json:"name"`
	}
	_ = json.Unmarshal(raw, &t)
	name = strings.TrimSpace(t.Name.First + " " + t.Name.Last)
	for _, id := range []string{t.Email, t.Username, t.Phone} {
		if id != "" {
			return name, id
		}
	}
	return name, ""
}

func methodText(m string, t translator) string {
	if k := "hera.method." + m; t.T(k) != k {
		return t.T(k)
	}
	return m
}
