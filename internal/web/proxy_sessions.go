package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
)

// What the /api/kratos/ proxy tells Hera about sessions: clients that talk
// to Kratos's own API through Hera (Ory's SDKs, native apps, SPAs) sign out
// and revoke sessions there, and sign in where Hera's submit endpoint does
// not see it (social sign-in callbacks, recovery links). Hera's single
// sign-out and its second-factor counters must hold whichever way it went.

// endingSessions is the proxy's EndingSessions hook: it names the Kratos
// sessions a forwarded request would end, before Kratos ends them, and
// once Kratos has, ends the apps' single sign-on of each (as Hera's own
// /logout and /sessions pages do).
func (s *server) endingSessions(r *http.Request, op kratos.SessionOp, arg string) func(status int) {
	signOn := s.Hydra != nil && s.Links != nil
	// A revocation is also one of the account's events.
	revocation := s.Events != nil && (op == kratos.OpRevokeSession || op == kratos.OpRevokeOthers)
	if !signOn && !revocation {
		return nil
	}
	ctx := r.Context()
	b := s.credentials(r)
	var ids []string
	var cur *kratos.Session
	switch op {
	case kratos.OpLogout:
		if sess, err := s.Kratos.Whoami(ctx, b); err == nil {
			ids = []string{sess.ID}
		}
	case kratos.OpLogoutAPI:
		// Kratos reads the body with encoding/json, as here.
		var body struct {
			SessionToken string `json:"session_token"`
		}
		if json.Unmarshal([]byte(arg), &body) == nil && body.SessionToken != "" {
			b = kratos.Browser{SessionToken: body.SessionToken, UserAgent: b.UserAgent, ClientIP: b.ClientIP}
			if sess, err := s.Kratos.Whoami(ctx, b); err == nil {
				ids = []string{sess.ID}
			}
		}
	case kratos.OpRevokeSession:
		if s.ownSession(ctx, b, arg) {
			ids = []string{arg}
			if revocation {
				cur, _ = s.Kratos.Whoami(ctx, b)
			}
		}
	case kratos.OpRevokeOthers:
		var err error
		if cur, err = s.Kratos.Whoami(ctx, b); err == nil {
			if all, err := s.Kratos.ListSessions(ctx, b); err == nil {
				for _, o := range all {
					if o.ID != cur.ID {
						ids = append(ids, o.ID)
					}
				}
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return func(status int) {
		switch op {
		case kratos.OpLogout, kratos.OpLogoutAPI:
			// Kratos answers a logout it refused with a redirect too:
			// the session must be gone.
			if _, err := s.Kratos.Whoami(ctx, b); err == nil {
				return
			} else if ae, ok := kratos.IsAPIError(err, 0); !ok || ae.Status != http.StatusUnauthorized {
				return
			}
		case kratos.OpRevokeSession:
			if status != http.StatusNoContent {
				return
			}
		case kratos.OpRevokeOthers:
			if status != http.StatusOK {
				return
			}
		}
		if revocation {
			s.sessionsRevoked(r, cur, len(ids))
		}
		if signOn {
			s.endSignOn(ctx, ids...)
		}
	}
}

// credentials is what of a request authenticates it to Kratos: its
// cookies (Hera's own left out) and a session token, read as Kratos reads
// them.
func (s *server) credentials(r *http.Request) kratos.Browser {
	return s.submitter(r).browser
}

// issuedSession is the proxy's IssuedSession hook: a session Kratos issued
// through the proxy is linked to its identity, like the sessions Hera's
// submit endpoint sees issued, so that second factors on it count against
// that identity. Kratos's whoami names the identity unless the session
// still waits for its second factor; a re-issued cookie of the same
// session (whoami or a flow's page refreshing it) keeps the subject of the
// cookie it replaces. A session neither can name counts on its own.
//
// A session signed in here (a social sign-in's callback, a recovery link)
// is also what Hera saw of the client for the account's events, with the
// device cookie checked against the identity: the cookies returned (a new
// device cookie) go with Kratos's answer.
func (s *server) issuedSession(r *http.Request, path, handle string) []*http.Cookie {
	if s.Links == nil && s.Events == nil {
		return nil
	}
	ctx := r.Context()
	name := s.Options.Kratos.SessionCookie
	subject := ""
	var set []*http.Cookie
	cookie := (&http.Cookie{Name: name, Value: handle}).String()
	if sess, err := s.Kratos.Whoami(ctx, kratos.Browser{Cookie: cookie}); err == nil {
		subject = guard.IdentitySubject(sess.Identity.ID)
		if !reissues(path) {
			set = s.seeSession(ctx, r, sess)
		}
	} else if reissues(path) {
		if old, _ := kratos.SessionHandle(r.Header, r.Cookies(), name); old != "" && old != handle && s.Links != nil {
			if subject, _ = s.Links.Resolve(ctx, old); subject == "" {
				subject = guard.SessionSubject(old)
			}
		}
	}
	if subject == "" || s.Links == nil {
		return set
	}
	if err := s.Links.Link(ctx, handle, subject); err != nil {
		s.Logger.ErrorContext(ctx, "lockout store", "op", "link", "err", err)
	}
	return set
}

// reissues reports whether a forwarded request for path can only re-issue
// the cookie of the session it carries, never sign another one in.
func reissues(path string) bool {
	return path == "/sessions/whoami" || strings.HasSuffix(path, "/flows") && strings.HasPrefix(path, "/self-service/")
}

// apiClient reports whether a request to the proxy comes from an API
// client (an app, an SDK, a script) rather than a browser's navigation:
// it asks for JSON by Kratos's rule, carries a session token, asks for an
// API flow, or does not accept HTML. Hera's own answers to it (refusals,
// Kratos unreachable) are JSON in Kratos's error shape.
func apiClient(r *http.Request) bool {
	switch {
	case kratos.IsJSONRequest(r.Header), r.Header.Get("X-Session-Token") != "", r.Header.Get("Authorization") != "",
		strings.HasSuffix(r.URL.Path, "/api"):
		return true
	}
	return !strings.Contains(r.Header.Get("Accept"), "text/html")
}

// proxyRefused answers a request the proxy does not forward.
func (s *server) proxyRefused(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		// A CORS preflight: Hera serves Kratos's API to its own origin and
		// to non-browser clients only (docs/native-apps.md, "Apps on other
		// origins"). No CORS headers, so the browser stops here; the body
		// tells the developer reading the network panel why.
		s.Logger.DebugContext(r.Context(), "cross-origin preflight refused", "origin", redactedTarget(r.Header.Get("Origin")))
		writeAPIError(w, http.StatusForbidden, "hera_cross_origin_refused",
			"Hera does not answer cross-origin requests to Kratos's API: call it from Hera's origin, a backend, or a native app.")
		return
	}
	if apiClient(r) {
		writeAPIError(w, http.StatusNotFound, "hera_not_found", "The requested resource could not be found.")
		return
	}
	s.errorPage(w, r, http.StatusNotFound, nil)
}

// proxyFailed answers a request the proxy could not forward, or refused
// for its query or size.
func (s *server) proxyFailed(w http.ResponseWriter, r *http.Request, status int) {
	if !apiClient(r) {
		s.errorPage(w, r, status, nil)
		return
	}
	switch status {
	case http.StatusBadGateway:
		writeAPIError(w, status, "hera_upstream_unavailable", "The service is temporarily unavailable.")
	case http.StatusGatewayTimeout:
		writeAPIError(w, status, "hera_upstream_timeout", "The service did not answer in time.")
	case http.StatusRequestEntityTooLarge:
		writeAPIError(w, status, "hera_too_large", "The request is too large.")
	default:
		writeAPIError(w, status, "hera_bad_request", "The request was refused.")
	}
}
