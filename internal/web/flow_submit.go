package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraproject/hera/internal/kratos"
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
// Hera's forms and through the proxy alike: pre-checks, then Kratos (asked
// for JSON so the outcome is exact), then the outcome is recorded, then the
// answer is translated for the browser (or passed on to API clients).
func (s *server) submit(w http.ResponseWriter, r *http.Request, kind kratos.Kind) {
	ctx := r.Context()
	api := wantsJSON(r)
	id := r.URL.Query().Get("flow")
	if !validID(id) {
		s.submitRefused(w, r, kind, "", api, &Refusal{Status: http.StatusBadRequest, Reason: "missing or malformed flow id"})
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.Config.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.errorPage(w, r, http.StatusRequestEntityTooLarge, nil)
			return
		}
		s.errorPage(w, r, http.StatusBadRequest, nil)
		return
	}

	a := &Attempt{Flow: kind, FlowID: id, ClientIP: s.clientIP(r), Cookie: r.Header.Get("Cookie")}
	var doc map[string]any // JSON submissions, forwarded as JSON
	switch ct {
	case "application/x-www-form-urlencoded":
		a.Form, err = url.ParseQuery(string(body))
	case "application/json":
		err = json.Unmarshal(body, &doc)
		a.Form = flatten(doc)
	default:
		http.Error(w, "Unsupported content type.", http.StatusUnsupportedMediaType)
		return
	}
	if err != nil {
		s.submitRefused(w, r, kind, id, api, &Refusal{Status: http.StatusBadRequest, Reason: "unparseable body"})
		return
	}
	a.Method = a.Form.Get("method")
	a.Identifier = identifierOf(kind, a.Form)

	if ref := s.Guard.Check(ctx, a); ref != nil {
		s.submitRefused(w, r, kind, id, api, ref)
		return
	}
	if doc != nil {
		body, err = json.Marshal(keepOnly(doc, a.Form))
	} else {
		body = []byte(a.Form.Encode())
	}
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, nil)
		return
	}

	res, err := s.Kratos.Submit(ctx, kind, id, body, ct, s.browser(r))
	var o *kratos.Outcome
	if err == nil {
		o, err = kratos.ParseOutcome(res)
	}
	if err != nil {
		// Kratos failed: nothing is recorded against anyone.
		if api {
			s.Logger.ErrorContext(ctx, "submit failed", "flow", kind, "err", err)
			writeAPIError(w, http.StatusBadGateway, "hera_upstream_unavailable", "The service is temporarily unavailable.")
			return
		}
		s.kratosFailure(w, r, err)
		return
	}
	s.Guard.Record(ctx, a, o)
	s.Logger.InfoContext(ctx, "submission", "flow", kind, "method", a.Method, "outcome", outcomeName(o),
		"status", o.Status, "credential_failure", o.CredentialFailure(), "client_ip", a.ClientIP)

	for _, c := range res.Header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	if api {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Body)
		return
	}
	s.browserOutcome(w, r, kind, id, o)
}

// browserOutcome turns Kratos's JSON answer into the redirect a browser
// needs (Post/Redirect/Get: the flow page shows the messages).
func (s *server) browserOutcome(w http.ResponseWriter, r *http.Request, kind kratos.Kind, id string, o *kratos.Outcome) {
	flowPage := func(fid string) string { return "/" + string(kind) + "?flow=" + url.QueryEscape(fid) }
	switch o.Kind {
	case kratos.OutcomeSuccess:
		if next := o.NextURL(); next != "" {
			s.redirectChecked(w, r, next)
			return
		}
		if o.Flow != nil {
			http.Redirect(w, r, flowPage(o.Flow.ID), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case kratos.OutcomeFlow:
		if next := o.NextURL(); next != "" {
			s.redirectChecked(w, r, next)
			return
		}
		http.Redirect(w, r, flowPage(o.Flow.ID), http.StatusSeeOther)
	case kratos.OutcomeExpired:
		if validID(o.Err.UseFlowID) {
			http.Redirect(w, r, flowPage(o.Err.UseFlowID)+"&notice=restarted", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/"+string(kind), http.StatusSeeOther)
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
		// The flow page restarts the flow, with its loop guard.
		http.Redirect(w, r, flowPage(id), http.StatusSeeOther)
	default:
		switch o.Err.ID {
		case "session_already_available":
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case "session_inactive", "session_required":
			http.Redirect(w, r, "/login?return_to="+url.QueryEscape(s.Config.PublicURL.String()+"/"+string(kind)), http.StatusSeeOther)
		default:
			if validID(o.Err.UseFlowID) {
				http.Redirect(w, r, flowPage(o.Err.UseFlowID), http.StatusSeeOther)
				return
			}
			s.Logger.WarnContext(r.Context(), "submission refused by kratos", "flow", kind, "status", o.Status, "kratos_error_id", o.Err.ID, "reason", o.Err.Reason)
			t := s.tr(r)
			v := ErrorView{Title: t.T("hera.error.step.title"), Message: t.T("hera.error.step.message"),
				Links: []Link{{Text: t.T("hera.link.start_again"), Href: "/" + string(kind)}}}
			s.render.render(w, r, o.Status, "error", page{Title: v.Title, Data: v})
		}
	}
}

// submitRefused answers a submission that never reached Kratos.
func (s *server) submitRefused(w http.ResponseWriter, r *http.Request, kind kratos.Kind, id string, api bool, ref *Refusal) {
	s.Logger.InfoContext(r.Context(), "submission refused", "flow", kind, "reason", ref.Reason, "notice", ref.Notice)
	status := ref.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if api {
		writeAPIError(w, status, "hera_"+strings.ReplaceAll(noticeID(ref.Notice), "-", "_"), noticeText(ref.Notice, s.tr(r)))
		return
	}
	target := "/" + string(kind)
	if id != "" {
		target += "?flow=" + url.QueryEscape(id)
		if ref.Notice != "" {
			target += "&notice=" + url.QueryEscape(ref.Notice)
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func noticeID(n string) string {
	if strings.HasPrefix(n, "locked-") {
		return "locked"
	}
	if n == "" {
		return "bad_request"
	}
	return n
}

func noticeText(n string, t tr) string {
	if as := noticeAlerts(n, t); len(as) > 0 {
		return as[0].Text
	}
	return t.T("hera.notice.bad_request")
}

func writeAPIError(w http.ResponseWriter, status int, id, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"id": id, "code": status, "message": msg}})
}

// wantsJSON reports whether the client asked for a JSON answer (SPAs and
// native apps through the proxy).
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// identifierOf returns what the user typed to name their account.
func identifierOf(kind kratos.Kind, f url.Values) string {
	switch kind {
	case kratos.Login:
		return f.Get("identifier")
	case kratos.Recovery, kratos.Verification:
		return f.Get("email")
	case kratos.Registration:
		if v := f.Get("traits.email"); v != "" {
			return v
		}
		return f.Get("traits.username")
	}
	return ""
}

// flatten turns a JSON document into dotted form keys (traits.email), as
// Kratos's own form encoding names them.
func flatten(doc map[string]any) url.Values {
	out := url.Values{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, vv := range t {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, vv)
			}
		case string:
			out.Add(prefix, t)
		case bool, float64:
			b, _ := json.Marshal(t)
			out.Add(prefix, string(b))
		}
	}
	walk("", doc)
	return out
}

// keepOnly drops the top-level string fields of doc that the checks removed
// from the form (the captcha token).
func keepOnly(doc map[string]any, f url.Values) map[string]any {
	for k, v := range doc {
		if _, isString := v.(string); isString && !f.Has(k) {
			delete(doc, k)
		}
	}
	return doc
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
