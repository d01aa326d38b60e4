package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
)

// sessionLinks remembers, in Hera's shared store, which Hydra login session
// a Kratos session signed in to apps with, so that ending the Kratos session
// ends that single sign-on too (with Hydra's back-channel logout). The
// lockout limiter provides it.
type sessionLinks interface {
	Link(ctx context.Context, handle, subject string) error
	Resolve(ctx context.Context, handle string) (string, error)
}

// signOnHandle names the link of one Kratos session to its Hydra login
// session; the prefix keeps it apart from the guard's session links.
func signOnHandle(kratosSessionID string) string { return "hydra-login\x00" + kratosSessionID }

// rememberSignOn records that Kratos session k signed in to apps through
// Hydra login session sid.
func (s *server) rememberSignOn(ctx context.Context, k, sid string) {
	if s.Links == nil || k == "" || sid == "" {
		return
	}
	if err := s.Links.Link(ctx, signOnHandle(k), sid); err != nil {
		s.Logger.WarnContext(ctx, "cannot record the oauth2 login session", "err", err)
	}
}

// endSignOn ends the Hydra login sessions the given Kratos sessions signed
// in to apps with. Hydra tells those apps (back-channel logout) and forgets
// the login, so the next authorization asks Hera again. Failures are logged,
// not returned: the Kratos sign-out must go ahead, and a Hydra login whose
// Kratos session is gone is refused at its next use anyway (skipLogin).
func (s *server) endSignOn(ctx context.Context, kratosSessionIDs ...string) {
	if s.Hydra == nil || s.Links == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, k := range kratosSessionIDs {
		sid, err := s.Links.Resolve(ctx, signOnHandle(k))
		if err != nil {
			s.Logger.WarnContext(ctx, "cannot look up the oauth2 login session", "err", err)
			continue
		}
		if sid == "" {
			continue
		}
		if err := s.Hydra.RevokeLoginSession(ctx, sid); err != nil {
			s.Logger.ErrorContext(ctx, "cannot end the oauth2 login session", "err", err)
			continue
		}
		s.Logger.InfoContext(ctx, "oauth2 login session ended")
	}
}

// skipLogin answers a login request Hydra marks skip (it remembers this
// browser's login). Hydra's memory is not trusted on its own: the browser's
// Kratos session must still be active and belong to the remembered subject.
// Otherwise the user signed out, was signed out elsewhere, switched
// accounts, or was deactivated: Hera ends Hydra's login session and the
// authorization starts over without it (prompt=none gets login_required).
func (s *server) skipLogin(w http.ResponseWriter, r *http.Request, challenge string, lr *hydra.LoginRequest) {
	ctx := r.Context()
	sess, err := s.Kratos.Whoami(ctx, s.browser(r))
	if err != nil {
		if _, ok := kratos.IsAPIError(err, 0); !ok {
			s.kratosFailure(w, r, err)
			return
		}
		sess = nil
	}
	if sess != nil && sess.Identity != nil && sess.Identity.ID == lr.Subject {
		s.rememberSignOn(ctx, sess.ID, lr.SessionID)
		s.acceptLogin(w, r, challenge, hydra.AcceptLogin{
			Subject:                   lr.Subject,
			Remember:                  true,
			RememberFor:               int64(s.Options.OAuth2.LoginRememberFor / time.Second),
			ACR:                       sess.AuthenticatorAssuranceLevel,
			AMR:                       amr(sess),
			IdentityProviderSessionID: sess.ID,
		})
		return
	}
	reason := "no_kratos_session"
	if sess != nil {
		reason = "other_identity"
	}
	s.Logger.InfoContext(ctx, "oauth2 remembered login refused", "reason", reason)
	if err := s.Hydra.RevokeLoginSession(ctx, lr.SessionID); err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	if lr.HasPrompt("none") {
		s.rejectLogin(w, r, challenge, "login_required", "The user is not signed in, and the request asked not to prompt (prompt=none).")
		return
	}
	// Hydra no longer has the login: the same authorization request now
	// comes back without skip, and the normal checks run.
	to, ok := s.hydraRequestURL(lr.RequestURL)
	if !ok {
		s.rejectLogin(w, r, challenge, "login_required", "The remembered login has ended; please sign in again.")
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// rejectLogin rejects a login request and sends the browser back to the
// client with the error.
func (s *server) rejectLogin(w http.ResponseWriter, r *http.Request, challenge, code, description string) {
	to, err := s.Hydra.RejectLogin(r.Context(), challenge, hydra.Reject{Error: code, ErrorDescription: description})
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// hydraRequestURL checks that a login request's request_url is an absolute
// http(s) URL (Hydra's own authorization endpoint) before the browser is
// sent back to it.
func (s *server) hydraRequestURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", false
	}
	return u.String(), true
}
