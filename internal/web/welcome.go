package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/kratos"
)

// WelcomeView is the model of the start page.
type WelcomeView struct {
	Session             bool
	NeedsSecondFactor   bool
	Name                string
	Identifier          string
	AuthenticatedAt     string
	AuthenticatedAtText string
	AAL                 string
	Methods             string
}

// handleWelcome shows who is signed in (server-side whoami).
func handleWelcome(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := WelcomeView{}
		sess, err := s.Kratos.Whoami(r.Context(), s.browser(r))
		switch ae, isAPI := kratos.IsAPIError(err, 0); {
		case err == nil:
			v = welcomeView(sess)
		case isAPI && ae.Status == http.StatusForbidden:
			v.NeedsSecondFactor = true
		case isAPI && ae.Status == http.StatusUnauthorized:
		default:
			s.kratosFailure(w, r, err)
			return
		}
		s.render.render(w, r, http.StatusOK, "welcome", page{Title: "Welcome", Data: v})
	})
}

func welcomeView(sess *kratos.Session) WelcomeView {
	v := WelcomeView{Session: true, AAL: aalText(sess.AuthenticatorAssuranceLevel)}
	if sess.Identity != nil {
		v.Name, v.Identifier = traitsNames(sess.Identity.Traits)
		if v.Identifier == "" {
			v.Identifier = sess.Identity.ID
		}
	}
	v.AuthenticatedAt = sess.AuthenticatedAt.UTC().Format(time.RFC3339)
	v.AuthenticatedAtText = sess.AuthenticatedAt.UTC().Format("2 Jan 2006, 15:04 UTC")
	var ms []string
	for _, m := range sess.AuthenticationMethods {
		ms = append(ms, methodText(m.Method))
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

func aalText(aal string) string {
	switch aal {
	case "aal1":
		return "one factor"
	case "aal2":
		return "two factors"
	}
	return aal
}

func methodText(m string) string {
	switch m {
	case "password":
		return "password"
	case "code":
		return "one-time code"
	case "totp":
		return "authenticator app"
	case "lookup_secret":
		return "backup code"
	case "webauthn":
		return "security key"
	case "passkey":
		return "passkey"
	case "oidc":
		return "social sign-in"
	case "link_recovery", "code_recovery":
		return "account recovery"
	}
	return m
}
