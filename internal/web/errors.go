package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// errorPage renders the generic error page. The cause, if any, goes to the
// log only; the user sees the request ID.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, err error) {
	if clientGone(r, err) {
		s.clientWentAway(w, r, err)
		return
	}
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "status", status, "err", err)
	}
	t := s.translator(r)
	v := view.ErrorView{
		Title:   t.T("hera.error.generic.title"),
		Message: t.T("hera.error.generic.message"),
		Links:   []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}},
	}
	switch status {
	case http.StatusNotFound:
		v.Title, v.Message = t.T("hera.error.not_found.title"), t.T("hera.error.not_found.message")
	case http.StatusRequestEntityTooLarge:
		v.Title, v.Message = t.T("hera.error.too_large.title"), t.T("hera.error.too_large.message")
	case http.StatusGatewayTimeout:
		v.Message = t.T("hera.error.timeout.message")
	}
	s.errorView(w, r, status, v)
}

// errorView renders an error page (or any page of a title, a message and
// links).
func (s *server) errorView(w http.ResponseWriter, r *http.Request, status int, v view.ErrorView) {
	// The page quotes the request ID for support itself: the footer does
	// not repeat it.
	p := &view.Page{Title: v.Title, RequestIDInPage: true}
	s.render.page(w, r, status, p, view.ErrorPage(p, &v))
}

// statusClientClosed is nginx's status for a request whose client closed
// the connection before the answer: it shows in the request's log line,
// its metrics and its span, and reaches no one.
const statusClientClosed = 499

// clientGone reports whether err is the cancellation of a call made for a
// request whose client went away (a closed tab, a load run's closing
// connections), not a failure of Hera's or of an upstream.
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled)
}

// clientWentAway ends a request whose client is gone: no error page (nobody
// reads it) and no error line (nothing failed).
func (s *server) clientWentAway(w http.ResponseWriter, r *http.Request, err error) {
	s.Logger.InfoContext(r.Context(), "client went away", "path", r.URL.Path, "err", err)
	w.WriteHeader(statusClientClosed)
}

// kratosFailure renders the page for a failed Kratos call: the generic error
// page when Kratos itself failed.
func (s *server) kratosFailure(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	if !errors.Is(err, kratos.ErrUnavailable) {
		status = http.StatusInternalServerError
	}
	s.errorPage(w, r, status, err)
}

func handleNotFound(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, nil)
	})
}

// handleErrorPage renders a Kratos error flow (selfservice.flows.error.ui_url).
func handleErrorPage(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id := q.Get("id")
		if id == "" && q.Get("reason") == "redirect" {
			// The Kratos proxy sends browsers here instead of a redirect
			// the allowlist refused.
			s.redirectRefused(w, r)
			return
		}
		if !validID(id) {
			s.errorPage(w, r, http.StatusNotFound, nil)
			return
		}
		ef, err := s.Kratos.GetError(r.Context(), id)
		if err != nil {
			if _, ok := kratos.IsAPIError(err, 0); ok {
				// Unknown or expired error IDs: nothing to explain.
				s.errorPage(w, r, http.StatusNotFound, nil)
				return
			}
			s.kratosFailure(w, r, err)
			return
		}
		status := ef.Error.Code
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		t := s.translator(r)
		title := t.T("hera.http." + strconv.Itoa(status))
		if strings.HasPrefix(title, "hera.") {
			title = http.StatusText(status)
		}
		msg := ef.Error.Message
		if k := "hera.kratos_error." + ef.Error.ID; ef.Error.ID != "" && t.T(k) != k {
			msg = t.T(k)
		}
		v := view.ErrorView{
			Title:   title,
			Message: msg,
			Hint:    ef.Error.Reason,
			Links:   []view.Link{{Text: t.T("hera.link.sign_in"), Href: "/login"}, {Text: t.T("hera.link.start_page"), Href: "/"}},
		}
		if v.Message == "" {
			v.Message = t.T("hera.error.incomplete.message")
		}
		if status >= 500 {
			// Server-side details are for the log, not the page.
			s.Logger.ErrorContext(r.Context(), "kratos error flow", "kratos_error_id", ef.Error.ID, "reason", ef.Error.Reason)
			v.Title, v.Message, v.Hint = t.T("hera.error.generic.title"), t.T("hera.error.generic.message"), ""
		}
		s.errorView(w, r, status, v)
	})
}

// parseForm reads a form post of Hera's own pages within the body limit;
// on failure it answers 400 and reports false.
func (s *server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.Options.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, nil)
		return false
	}
	return true
}

// redirectRefused explains a redirect the allowlist refused (Hera's own, or
// one Kratos asked for through the proxy).
func (s *server) redirectRefused(w http.ResponseWriter, r *http.Request) {
	t := s.translator(r)
	v := view.ErrorView{
		Title:   t.T("hera.error.redirect.title"),
		Message: t.T("hera.error.redirect.message"),
		Hint:    t.T("hera.error.redirect.hint"),
		Links:   []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}},
	}
	s.errorView(w, r, http.StatusBadRequest, v)
}

// validID accepts Kratos's UUID flow and error IDs only, in their
// canonical 36-character form.
func validID(id string) bool { return len(id) == 36 && uuid.Validate(id) == nil }

// sameOrigin refuses cross-origin state-changing requests (CSRF) using the
// browser's Sec-Fetch-Site and Origin headers; Hera needs no CSRF cookie.
// The refusal is Hera's error page: translated, with the request ID and a
// way back, since a real user can land on it (a form left open in another
// site's frame, an extension rewriting requests).
func (s *server) sameOrigin(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Logger.WarnContext(r.Context(), "cross-origin request refused", "path", r.URL.Path,
			"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "origin", redactedTarget(r.Header.Get("Origin")))
		t := s.translator(r)
		s.errorView(w, r, http.StatusForbidden, view.ErrorView{
			Title:   t.T("hera.error.cross_origin.title"),
			Message: t.T("hera.error.cross_origin.message"),
			Hint:    t.T("hera.error.cross_origin.hint"),
			Links:   []view.Link{{Text: t.T("hera.link.start_page"), Href: "/"}},
		})
	}))
	return cop.Handler(h)
}
