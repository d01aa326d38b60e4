package web

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// handleSubmit is where Hera's own flow forms post:
// POST /api/kratos/{flow}/submit?flow=ID.
func handleSubmit(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, ok := kratos.ParseKind(r.PathValue("flow"))
		if !ok {
			s.errorPage(w, r, http.StatusNotFound, nil)
			return
		}
		s.submit(w, r, kind)
	})
}

// submit is the single path every self-service submission takes, from
// Hera's forms and through the proxy alike: the body is read as Kratos
// would read it and classified (package attempt), the guard admits it
// (captcha, reserved failure slots, send quotas), Kratos judges the
// canonical body (asked for JSON so the outcome is exact), the guard
// settles, and the client is answered as Kratos would answer it: JSON for
// an API flow or a JSON request, a redirect to the flow's page otherwise.
func (s *server) submit(w http.ResponseWriter, r *http.Request, kind kratos.Kind) {
	ctx := r.Context()
	id := r.URL.Query().Get("flow")
	sub := s.submitter(r)
	if !validID(id) {
		s.submitRefused(w, r, kind, "", apiClient(r), &guard.Refusal{Status: http.StatusBadRequest, Reason: "missing or malformed flow id"})
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.Options.MaxBodyBytes))
	if err != nil {
		status := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		// Not worth a call to Kratos to learn the flow's type: the
		// request's own headers decide.
		s.submitRefused(w, r, kind, id, apiClient(r), &guard.Refusal{Status: status, Reason: "unreadable body"})
		return
	}
	at, err := s.classify(ctx, kind, id, ct, body, sub.browser)
	if err != nil {
		s.submitRefused(w, r, kind, id, s.answersJSON(ctx, r, kind, id, sub.browser, nil), attemptRefusal(err))
		return
	}
	s.judge(w, r, kind, id, at, sub)
}

// judge takes a classified submission through the guard to Kratos and
// answers the client.
func (s *server) judge(w http.ResponseWriter, r *http.Request, kind kratos.Kind, id string, at *attempt.Attempt, sub submitter) {
	ctx := r.Context()
	b := sub.browser
	a := &guard.Attempt{Attempt: at, ClientIP: b.ClientIP, Session: sub.session, Cookies: sub.cookies, UserAgent: r.UserAgent()}
	if s.Events != nil {
		a.Lang = s.translator(r).lang
	}
	if s.Captcha != nil {
		// Whether the flow can show a captcha at all.
		a.API = s.isAPIFlow(ctx, kind, id, b, nil)
	}
	ticket, ref := s.Guard.Admit(ctx, a)
	if ref != nil {
		s.submitRefused(w, r, kind, id, s.answersJSON(ctx, r, kind, id, b, nil), ref)
		return
	}
	// Once admitted, the attempt is judged whether or not the client stays
	// to hear the answer: a guess whose client hung up still counts.
	kctx := context.WithoutCancel(ctx)
	// Kratos's web hook for the flow may come before its answer does.
	s.seeSubmission(kctx, r, kind, id, at, sub)
	release, ok := s.submits.acquire(ctx)
	if !ok {
		s.Guard.Release(kctx, ticket, false)
		s.submitRefused(w, r, kind, id, s.answersJSON(ctx, r, kind, id, b, nil), &guard.Refusal{Notice: "busy", Status: http.StatusServiceUnavailable,
			RetryAfter: 2 * time.Second, Reason: "too many submissions waiting on Kratos"})
		return
	}
	res, err := s.Kratos.Submit(kctx, kind, id, at.Body(), at.ContentType(), b)
	release()
	var o *kratos.Outcome
	if err == nil {
		o, err = kratos.ParseOutcome(res)
	}
	if err != nil {
		// No verdict. If the request reached Kratos, the guess may have
		// been judged all the same, and counts.
		s.Guard.Release(kctx, ticket, kratos.Reached(err))
		if s.answersJSON(ctx, r, kind, id, b, nil) {
			s.Logger.ErrorContext(ctx, "submit failed", "flow", kind, "err", err)
			writeAPIError(w, http.StatusBadGateway, "hera_upstream_unavailable", "The service is temporarily unavailable.")
			return
		}
		s.kratosFailure(w, r, err)
		return
	}
	setCookies := res.Header.Values("Set-Cookie")
	cookies, ref := s.Guard.Settle(kctx, ticket, guard.Answer{Outcome: o, SetCookies: setCookies})
	if ref != nil {
		// The verdict could not be counted: it is not handed out.
		s.submitRefused(w, r, kind, id, s.answersJSON(ctx, r, kind, id, b, o), ref)
		return
	}
	if kind == kratos.Login && o.Kind == kratos.OutcomeSuccess {
		if at.Account == "" && !at.SecondFactor {
			// A passkey sign-in: its account is known now.
			cookies = append(cookies, s.seeSession(kctx, r, o.Session)...)
		} else {
			s.seeSignedIn(r, id, at, sub, o.Session)
		}
	}
	for _, c := range cookies {
		http.SetCookie(w, c)
	}
	s.Logger.InfoContext(ctx, "submission", "flow", kind, "method", at.Method, "outcome", outcomeName(o),
		"status", o.Status, "credential_failure", o.CredentialFailure(), "client_ip", b.ClientIP)

	for _, c := range setCookies {
		w.Header().Add("Set-Cookie", c)
	}
	if s.answersJSON(ctx, r, kind, id, b, o) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Body)
		return
	}
	s.browserOutcome(w, r, kind, id, o, at)
}

// answersJSON reports whether a submission to flow id is answered with
// Kratos's JSON instead of a redirect, by Kratos's own rule: always for an
// API flow, for a browser flow when the request is a JSON request
// (kratos.IsJSONRequest). o, when Kratos already answered, often names
// the flow's type.
func (s *server) answersJSON(ctx context.Context, r *http.Request, kind kratos.Kind, id string, b kratos.Browser, o *kratos.Outcome) bool {
	return kratos.IsJSONRequest(r.Header) || s.isAPIFlow(ctx, kind, id, b, o)
}

// isAPIFlow reports whether flow id is an API flow (a native app's).
// Kratos's answer tells when it carries the flow or an API session token;
// otherwise Hera remembers the types of flows it has read, and asks Kratos
// about the others (one GET of the flow).
func (s *server) isAPIFlow(ctx context.Context, kind kratos.Kind, id string, b kratos.Browser, o *kratos.Outcome) bool {
	switch {
	case o != nil && o.Flow != nil && o.Flow.Type != "":
		s.flowTypes.put(o.Flow.ID, o.Flow.Type == "api")
		return o.Flow.Type == "api"
	case o != nil && o.SessionToken != "":
		return true
	case !validID(id):
		return false
	}
	if api, ok := s.flowTypes.get(id); ok {
		return api
	}
	f, err := s.Kratos.GetFlow(ctx, kind, id, b)
	if err != nil {
		// Kratos will not show it (expired, unknown, another session's):
		// Kratos answers its own refusal by the request's rule too.
		return false
	}
	s.flowTypes.put(f.ID, f.Type == "api")
	return f.Type == "api"
}

// classify reads a submission body and decides what it attempts, reading
// the flow from Kratos when the fields alone do not tell.
func (s *server) classify(ctx context.Context, kind kratos.Kind, id, ct string, body []byte, b kratos.Browser) (*attempt.Attempt, error) {
	pb, err := attempt.Parse(ct, body)
	if err != nil {
		return nil, err
	}
	var fl attempt.Flow
	if pb.NeedsFlow(kind) {
		if f, err := s.Kratos.GetFlow(ctx, kind, id, b); err == nil {
			s.flowTypes.put(f.ID, f.Type == "api")
			fl = attempt.FlowOf(f)
		} else if _, refused := kratos.IsAPIError(err, 0); refused && kind == kratos.Settings {
			// A settings flow Kratos will not show this client (no session,
			// another identity's, expired) cannot be submitted either.
			fl = attempt.Flow{Refused: true}
		} else {
			// Not knowing the state, the checks assume every case.
			s.Logger.DebugContext(ctx, "flow state unknown", "flow", kind, "err", err)
		}
	}
	schema := attempt.DefaultSchema
	if pb.NeedsSchema(kind) {
		if paths, err := s.Kratos.AddressTraits(ctx); err == nil && len(paths) > 0 {
			schema.Addresses = paths
		} else if err != nil {
			s.Logger.WarnContext(ctx, "identity schemas unreadable; assuming traits.email", "err", err)
		}
	}
	return attempt.Classify(kind, pb, fl, schema)
}

// attemptRefusal turns a classification error into the refusal the client
// sees.
func attemptRefusal(err error) *guard.Refusal {
	var ae *attempt.Error
	if !errors.As(err, &ae) {
		return &guard.Refusal{Status: http.StatusBadRequest, Reason: err.Error()}
	}
	return &guard.Refusal{Notice: ae.Notice, Status: ae.Status, Reason: ae.Reason}
}

// browserOutcome turns Kratos's JSON answer into the redirect a browser
// needs (Post/Redirect/Get: the flow page shows the messages). at is the
// submission, whose identifier a restarted flow's page shows again.
func (s *server) browserOutcome(w http.ResponseWriter, r *http.Request, kind kratos.Kind, id string, o *kratos.Outcome, at *attempt.Attempt) {
	flowPage := func(fid string) string { return s.url("/" + string(kind) + "?flow=" + url.QueryEscape(fid)) }
	switch o.Kind {
	case kratos.OutcomeSuccess:
		if kind == kratos.Login && s.offersPasskey(r, o) {
			// The offer goes on to where the sign-in was going; a target
			// the allowlist refuses is refused here, as it would be below.
			next := o.NextURL()
			if _, ok := s.redirects.Allowed(next); next == "" || ok {
				http.Redirect(w, r, s.passkeyOfferURL(next), http.StatusSeeOther)
				return
			}
		}
		if next := o.NextURL(); next != "" {
			s.redirectChecked(w, r, next)
			return
		}
		if o.Flow != nil {
			http.Redirect(w, r, flowPage(o.Flow.ID), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, s.url("/"), http.StatusSeeOther)
	case kratos.OutcomeFlow:
		if next := o.NextURL(); next != "" {
			s.redirectChecked(w, r, next)
			return
		}
		http.Redirect(w, r, flowPage(o.Flow.ID), http.StatusSeeOther)
	case kratos.OutcomeExpired:
		s.keepTyped(w, kind, at)
		if validID(o.Err.UseFlowID) {
			http.Redirect(w, r, flowPage(o.Err.UseFlowID)+"&notice=restarted", http.StatusSeeOther)
			return
		}
		s.restartFlow(w, r, kind, url.Values{})
	case kratos.OutcomeRedirect:
		if o.Err.ID == "browser_location_change_required" {
			// Social sign-in: the provider's own site, which no allowlist
			// can know; Kratos built the URL from its provider config.
			if u := safeHTTPURL(o.RedirectTo); u != "" {
				http.Redirect(w, r, u, http.StatusSeeOther)
				return
			}
		}
		s.redirectChecked(w, r, o.RedirectTo)
	case kratos.OutcomeCSRF:
		// The flow page restarts the flow if Kratos refuses it too, with
		// its loop guard; either way the page says why it is shown again.
		s.keepTyped(w, kind, at)
		http.Redirect(w, r, flowPage(id)+"&notice=restarted", http.StatusSeeOther)
	default:
		switch o.Err.ID {
		case "session_already_available":
			http.Redirect(w, r, s.url("/"), http.StatusSeeOther)
		case "session_inactive", "session_required":
			http.Redirect(w, r, s.url("/login?return_to="+url.QueryEscape(s.Options.PublicURL.String()+"/"+string(kind))), http.StatusSeeOther)
		default:
			if validID(o.Err.UseFlowID) {
				http.Redirect(w, r, flowPage(o.Err.UseFlowID), http.StatusSeeOther)
				return
			}
			s.Logger.WarnContext(r.Context(), "submission refused by kratos", "flow", kind, "status", o.Status, "kratos_error_id", o.Err.ID, "reason", o.Err.Reason)
			t := s.translator(r)
			v := view.ErrorView{Title: t.T("hera.error.step.title"), Message: t.T("hera.error.step.message"),
				Links: []view.Link{{Text: t.T("hera.link.start_again"), Href: "/" + string(kind)}}}
			s.errorView(w, r, o.Status, v)
		}
	}
}

// submitRefused answers a submission whose verdict Kratos did not give
// (Hera refused it first) or Hera does not hand out: JSON in Kratos's error
// shape with Hera's id for API clients, a redirect to the flow's page with
// the notice for browsers.
func (s *server) submitRefused(w http.ResponseWriter, r *http.Request, kind kratos.Kind, id string, asJSON bool, ref *guard.Refusal) {
	s.Logger.InfoContext(r.Context(), "submission refused", "flow", kind, "reason", ref.Reason, "notice", ref.Notice)
	status := ref.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if ref.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ref.RetryAfter+time.Second-1)/time.Second)))
	}
	if asJSON {
		switch {
		case ref.Notice == "" && status == http.StatusRequestEntityTooLarge:
			writeAPIError(w, status, "hera_too_large", "The request is too large.")
		case ref.Notice == "" && status == http.StatusUnsupportedMediaType:
			writeAPIError(w, status, "hera_unsupported_media_type", "Send the form as application/x-www-form-urlencoded or application/json.")
		default:
			writeAPIError(w, status, "hera_"+strings.ReplaceAll(noticeID(ref.Notice), "-", "_"), noticeText(ref.Notice, s.translator(r)))
		}
		return
	}
	switch status {
	case http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge:
		// Nothing on the flow's page would explain it.
		s.errorPage(w, r, status, nil)
		return
	}
	target := "/" + string(kind)
	if id != "" {
		target += "?flow=" + url.QueryEscape(id)
		if ref.Notice != "" {
			target += "&notice=" + url.QueryEscape(ref.Notice)
		}
	}
	http.Redirect(w, r, s.url(target), http.StatusSeeOther)
}

func noticeID(n string) string {
	if k, _, ok := strings.Cut(n, "-"); ok && (k == "locked" || k == "codes") {
		return k
	}
	if n == "" {
		return "bad_request"
	}
	return n
}

func noticeText(n string, t translator) string {
	if as := noticeAlerts(n, t); len(as) > 0 {
		return as[0].Text
	}
	return t.T("hera.notice.bad_request")
}

func outcomeName(o *kratos.Outcome) string {
	switch o.Kind {
	case kratos.OutcomeSuccess:
		return "success"
	case kratos.OutcomeFlow:
		return "flow"
	case kratos.OutcomeExpired:
		return "expired"
	case kratos.OutcomeRedirect:
		return "redirect"
	case kratos.OutcomeCSRF:
		return "csrf"
	}
	return "error"
}
