package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// accountLinks adds the account pages to the settings page's links, before
// its last ("Back").
func (s *server) accountLinks(links []view.Link, t translator) []view.Link {
	var extra []view.Link
	if s.Activity != nil {
		extra = append(extra, view.Link{Text: t.T("hera.link.activity"), Href: "/activity"})
	}
	extra = append(extra, view.Link{Text: t.T("hera.link.export"), Href: "/settings/export"})
	if s.Hydra != nil {
		extra = append(extra, view.Link{Text: t.T("hera.link.connected_apps"), Href: "/apps"})
	}
	if s.Options.Account.Deletion {
		extra = append(extra, view.Link{Text: t.T("hera.link.delete_account"), Href: "/settings/delete"})
	}
	if len(extra) == 0 || len(links) == 0 {
		return append(links, extra...)
	}
	last := links[len(links)-1]
	return append(append(links[:len(links)-1:len(links)-1], extra...), last)
}

// privileged reports whether the session's sign-in is recent enough for
// deleting the account or handing its data over (Kratos's
// privileged-session age).
func (s *server) privileged(sess *kratos.Session) bool {
	return time.Since(sess.AuthenticatedAt) <= s.Options.Account.PrivilegedSessionMaxAge
}

// refreshFor sends the browser to sign in again, then back to path.
func (s *server) refreshFor(w http.ResponseWriter, r *http.Request, path string) {
	q := url.Values{"refresh": {"true"}, "return_to": {s.Options.PublicURL.String() + path}}
	http.Redirect(w, r, s.url("/login?"+q.Encode()), http.StatusSeeOther)
}

// handleDeleteAccountPage asks for a typed confirmation, after a recent
// sign-in.
func handleDeleteAccountPage(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.Kratos.Whoami(r.Context(), s.browser(r))
		if s.needSignIn(w, r, err, "/settings/delete") {
			return
		}
		if !s.privileged(sess) {
			s.refreshFor(w, r, "/settings/delete")
			return
		}
		s.deleteAccountPage(w, r, sess, http.StatusOK, nil)
	})
}

func (s *server) deleteAccountPage(w http.ResponseWriter, r *http.Request, sess *kratos.Session, status int, msgs []view.Alert) {
	t := s.translator(r)
	v := view.DeleteAccountView{Messages: msgs, Word: t.T("hera.delete.word"), Apps: s.Hydra != nil}
	if sess.Identity != nil {
		v.Identifier = s.accountName(r.Context(), sess.Identity)
	}
	p := &view.Page{Title: t.T("hera.delete.title"), Lang: t.lang}
	s.render.page(w, r, status, p, view.DeleteAccount(p, &v))
}

// handleDeleteAccount deletes the signed-in identity. It is deactivated
// first, so that from then on Kratos refuses its sessions and Hera's token
// hook every token Hydra would issue for it (an authorization code
// exchanged while the deletion runs included); then Hydra forgets every
// app's consent and tokens and every remembered login; then Kratos deletes
// the identity with its credentials and sessions. If Hydra or the deletion
// fails, the identity is activated again, so the user can sign in and try
// again.
func handleDeleteAccount(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.parseForm(w, r) {
			return
		}
		sess, err := s.Kratos.Whoami(ctx, s.browser(r))
		if err != nil {
			if _, ok := kratos.IsAPIError(err, 0); !ok {
				s.kratosFailure(w, r, err)
				return
			}
			// Signed out, or the account is already gone: say so plainly
			// instead of sending a deletion to the sign-in page.
			t := s.translator(r)
			v := view.ErrorView{Title: t.T("hera.delete.no_session.title"), Message: t.T("hera.delete.no_session.message"),
				Links: []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}}}
			s.errorView(w, r, http.StatusUnauthorized, v)
			return
		}
		if !s.privileged(sess) {
			s.refreshFor(w, r, "/settings/delete")
			return
		}
		t := s.translator(r)
		typed := strings.TrimSpace(r.PostForm.Get("confirm"))
		if !strings.EqualFold(typed, t.T("hera.delete.word")) {
			s.deleteAccountPage(w, r, sess, http.StatusBadRequest,
				[]view.Alert{{ID: "delete-confirm-error", Type: "error", Text: t.T("hera.delete.mismatch", "word", t.T("hera.delete.word"))}})
			return
		}
		id := sess.Identity.ID
		if err := s.Kratos.SetIdentityState(ctx, id, "inactive"); err != nil {
			if ae, ok := kratos.IsAPIError(err, 0); !ok || ae.Status != http.StatusNotFound {
				s.kratosFailure(w, r, err)
				return
			}
		}
		if s.Hydra != nil {
			err := s.Hydra.RevokeConsentSessions(ctx, id, "")
			if err == nil {
				err = s.Hydra.RevokeLoginSessions(ctx, id)
			}
			if err != nil {
				s.reactivate(ctx, id)
				s.hydraFailure(w, r, err)
				return
			}
		}
		if err := s.Kratos.DeleteIdentity(ctx, id); err != nil {
			if ae, ok := kratos.IsAPIError(err, 0); !ok || ae.Status != http.StatusNotFound {
				s.reactivate(ctx, id)
				s.kratosFailure(w, r, err)
				return
			}
			// Deleted meanwhile (another tab): the outcome the user asked for.
		}
		// The audit line carries the request id (from the context), never
		// who was deleted.
		s.Logger.InfoContext(ctx, "account deleted", "audit", "account_deleted")
		if s.Events != nil {
			// Mailed to the addresses the account had (whoami read them
			// before the deletion); its events go with it.
			s.Events.AccountDeleted(id, identityAddresses(sess.Identity), s.eventClient(r, sess.ID))
		}
		http.Redirect(w, r, s.url("/goodbye"), http.StatusSeeOther)
	})
}

// reactivate activates an identity whose deletion failed after it was
// deactivated, so that its owner can sign in and try again.
func (s *server) reactivate(ctx context.Context, id string) {
	if err := s.Kratos.SetIdentityState(context.WithoutCancel(ctx), id, "active"); err != nil {
		s.Logger.ErrorContext(ctx, "account deletion: cannot activate the identity again", "err", err)
	}
}

// handleGoodbye is the page after a deletion.
func handleGoodbye(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := s.translator(r)
		v := view.ErrorView{Title: t.T("hera.goodbye.title"), Message: t.T("hera.goodbye.message"),
			Links: []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}}}
		s.errorView(w, r, http.StatusOK, v)
	})
}
