package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// hydraAPI is what the handlers need of Hydra's admin API.
type hydraAPI interface {
	readier
	GetLoginRequest(ctx context.Context, challenge string) (*hydra.LoginRequest, error)
	AcceptLogin(ctx context.Context, challenge string, a hydra.AcceptLogin) (string, error)
	RejectLogin(ctx context.Context, challenge string, r hydra.Reject) (string, error)
	GetConsentRequest(ctx context.Context, challenge string) (*hydra.ConsentRequest, error)
	AcceptConsent(ctx context.Context, challenge string, a hydra.AcceptConsent) (string, error)
	RejectConsent(ctx context.Context, challenge string, r hydra.Reject) (string, error)
	GetLogoutRequest(ctx context.Context, challenge string) (*hydra.LogoutRequest, error)
	AcceptLogout(ctx context.Context, challenge string) (string, error)
	RejectLogout(ctx context.Context, challenge string) error
	RevokeLoginSession(ctx context.Context, sid string) error
	RevokeLoginSessions(ctx context.Context, subject string) error
	RevokeConsentSessions(ctx context.Context, subject, clientID string) error
	ListConsentSessions(ctx context.Context, subject string) ([]hydra.GrantedConsent, bool, error)
}

// returnMarker in a return_to says the browser comes back from the Kratos
// flow Hera sent it to for this challenge, so a fresh sign-in now satisfies
// prompt=login, max_age and prompt=registration instead of starting over.
const returnMarker = "hera_return"

// challengeReturnTo is where Kratos sends the browser after the sign-in (or
// sign-up) Hera started for a Hydra login challenge.
func (s *server) challengeReturnTo(challenge string) string {
	return s.Options.PublicURL.String() + "/login?" + url.Values{"login_challenge": {challenge}, returnMarker: {"1"}}.Encode()
}

// oauth2Login handles /login?login_challenge=: Hydra asks who the user is.
func (s *server) oauth2Login(w http.ResponseWriter, r *http.Request, challenge string) {
	ctx := r.Context()
	if s.Hydra == nil {
		s.errorPage(w, r, http.StatusNotFound, nil)
		return
	}
	lr, err := s.Hydra.GetLoginRequest(ctx, challenge)
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	if lr.Skip {
		s.skipLogin(w, r, challenge, lr)
		return
	}
	returning := r.URL.Query().Get(returnMarker) == "1"
	if !returning && (lr.HasPrompt("registration") || lr.HasPrompt("create")) {
		http.Redirect(w, r, s.url("/registration?"+url.Values{"login_challenge": {challenge}}.Encode()), http.StatusSeeOther)
		return
	}

	sess, err := s.Kratos.Whoami(ctx, s.browser(r))
	needAAL2 := false
	if err != nil {
		ae, ok := kratos.IsAPIError(err, 0)
		if !ok {
			s.kratosFailure(w, r, err)
			return
		}
		needAAL2 = ae.Status == http.StatusForbidden
		sess = nil
	}
	usable := sess != nil && sess.Identity != nil
	maxAge, hasMaxAge := lr.MaxAge()
	fresh := returning && sess != nil && time.Since(sess.AuthenticatedAt) <= s.Options.OAuth2.ReauthWindow
	if usable && (lr.HasPrompt("login") || (hasMaxAge && maxAge == 0)) {
		usable = fresh
	}
	if usable && hasMaxAge && maxAge > 0 && time.Since(sess.AuthenticatedAt) > maxAge {
		usable = false
	}
	if usable {
		s.rememberSignOn(ctx, sess.ID, lr.SessionID)
		s.acceptLogin(w, r, challenge, hydra.AcceptLogin{
			Subject:                   sess.Identity.ID,
			Remember:                  s.Options.OAuth2.LoginRemember,
			RememberFor:               int64(s.Options.OAuth2.LoginRememberFor / time.Second),
			ACR:                       sess.AuthenticatorAssuranceLevel,
			AMR:                       amr(sess),
			IdentityProviderSessionID: sess.ID,
		})
		return
	}
	if lr.HasPrompt("none") {
		s.rejectLogin(w, r, challenge, "login_required", "The user is not signed in, and the request asked not to prompt (prompt=none).")
		return
	}
	q := url.Values{"return_to": {s.challengeReturnTo(challenge)}}
	switch {
	case needAAL2:
		q.Set("aal", "aal2")
	case sess != nil:
		q.Set("refresh", "true") // signed in, but not recently enough
	}
	http.Redirect(w, r, s.startURL(w, r, kratos.Login, q), http.StatusSeeOther)
}

func (s *server) acceptLogin(w http.ResponseWriter, r *http.Request, challenge string, a hydra.AcceptLogin) {
	to, err := s.Hydra.AcceptLogin(r.Context(), challenge, a)
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	s.Logger.InfoContext(r.Context(), "oauth2 login accepted", "acr", a.ACR, "amr", a.AMR)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// amr lists the session's authentication methods in RFC 8176 terms where
// one fits.
func amr(sess *kratos.Session) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range sess.AuthenticationMethods {
		v := m.Method
		switch m.Method {
		case "password":
			v = "pwd"
		case "totp":
			v = "otp"
		case "code", "code_recovery", "link_recovery":
			v = "otp"
		case "webauthn", "passkey":
			v = "hwk"
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) > 1 {
		out = append(out, "mfa")
	}
	return out
}

// hydraFailure renders the page for a failed Hydra call.
func (s *server) hydraFailure(w http.ResponseWriter, r *http.Request, err error) {
	if hydra.IsInvalidChallenge(err) {
		s.Logger.InfoContext(r.Context(), "oauth2 challenge invalid", "err", err)
		t := s.translator(r)
		v := view.ErrorView{
			Title:   t.T("hera.oauth2.expired.title"),
			Message: t.T("hera.oauth2.expired.message"),
			Hint:    t.T("hera.oauth2.expired.hint"),
			Links:   []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}},
		}
		s.errorView(w, r, http.StatusGone, v)
		return
	}
	s.errorPage(w, r, http.StatusBadGateway, err)
}

// oauth2ClientFor returns the OAuth2 client and login hint of the Hydra
// challenge a login flow returns to, if any.
func (s *server) oauth2ClientFor(ctx context.Context, returnTo string) (client *view.ClientView, loginHint string, uiLocales []string) {
	if s.Hydra == nil || returnTo == "" {
		return nil, "", nil
	}
	u, err := url.Parse(returnTo)
	if err != nil || u.Host != s.Options.PublicURL.Host || u.Path != s.url("/login") {
		return nil, "", nil
	}
	challenge := u.Query().Get("login_challenge")
	if challenge == "" {
		return nil, "", nil
	}
	lr, err := s.Hydra.GetLoginRequest(ctx, challenge)
	if err != nil || lr.Client == nil {
		return nil, "", nil
	}
	return &view.ClientView{Name: lr.Client.DisplayName(), LogoURI: safeHTTPURL(lr.Client.LogoURI), URI: safeHTTPURL(lr.Client.ClientURI)},
		lr.LoginHint(), lr.UILocales()
}
