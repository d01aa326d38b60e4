package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// restartCookie guards against restart loops: it is set when Hera restarts
// a flow that Kratos refused, and cleared once a flow renders. It holds only
// the flow kind — Hera keeps no session of its own.
const restartCookie = "hera_flow_restart"

// returnRefusedCookie carries, across the round trip through Kratos, that
// Hera dropped the return_to the user's link asked for: the flow's page
// then says so instead of silently ending somewhere else. It holds only the
// flow kind.
const returnRefusedCookie = "hera_return_refused"

// startParams are the query parameters Kratos accepts when a flow starts.
func startParams(kind kratos.Kind) []string {
	switch kind {
	case kratos.Login:
		return []string{"return_to", "refresh", "aal", "login_challenge", "identity_schema", "via", "organization"}
	case kratos.Registration:
		return []string{"return_to", "login_challenge", "identity_schema", "organization"}
	}
	return []string{"return_to"}
}

// startURL is the browser-facing URL that starts a flow through the proxy.
// A return_to outside the allowlist is dropped, logged and, through
// returnRefusedCookie, shown to the user on the flow's page.
func (s *server) startURL(w http.ResponseWriter, r *http.Request, kind kratos.Kind, q url.Values) string {
	out := url.Values{}
	for _, p := range startParams(kind) {
		if v := q.Get(p); v != "" {
			out.Set(p, v)
		}
	}
	if rt := out.Get("return_to"); rt != "" {
		// Kratos checks return_to by prefix only; Hera checks segments.
		if abs, ok := s.redirects.Allowed(rt); ok {
			out.Set("return_to", abs)
		} else {
			s.Logger.WarnContext(r.Context(), "return_to refused", "flow", kind, "return_to", redactedTarget(rt),
				"hint", "add its origin (and path) to HERA_ALLOWED_RETURN_URLS if it is yours")
			http.SetCookie(w, &http.Cookie{Name: returnRefusedCookie, Value: string(kind), Path: s.cookiePath(), MaxAge: 300,
				HttpOnly: true, Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
			out.Del("return_to")
		}
	}
	u := s.kratosPrefix + "/self-service/" + string(kind) + "/browser"
	if len(out) > 0 {
		u += "?" + out.Encode()
	}
	return u
}

// handleFlowPage serves /login, /registration, /recovery, /verification and
// /settings: without ?flow= it starts the flow at Kratos; with it, it
// renders the flow.
func handleFlowPage(s *server, kind kratos.Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id := q.Get("flow")
		if id == "" {
			if ch := q.Get("login_challenge"); ch != "" {
				switch kind {
				case kratos.Login:
					s.oauth2Login(w, r, ch)
					return
				case kratos.Registration:
					// Sign up, then come back to the OAuth2 login.
					q = url.Values{"return_to": {s.challengeReturnTo(ch)}}
				}
			}
			http.Redirect(w, r, s.startURL(w, r, kind, q), http.StatusSeeOther)
			return
		}
		if !validID(id) {
			s.restartFlow(w, r, kind, q)
			return
		}
		f, err := s.Kratos.GetFlow(r.Context(), kind, id, s.browser(r))
		if err != nil {
			s.flowFetchFailed(w, r, kind, q, err)
			return
		}
		s.flowTypes.put(f.ID, f.Type == "api")
		restarted := q.Get("notice") == "restarted"
		if c, err := r.Cookie(restartCookie); err == nil && c.Value != "" {
			http.SetCookie(w, &http.Cookie{Name: restartCookie, Path: s.cookiePath(), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			restarted = restarted || c.Value == string(kind)
		}
		s.renderFlow(w, r, kind, f, http.StatusOK, restarted)
	})
}

// flowFetchFailed handles Kratos refusing to hand out a flow.
func (s *server) flowFetchFailed(w http.ResponseWriter, r *http.Request, kind kratos.Kind, q url.Values, err error) {
	ae, ok := kratos.IsAPIError(err, 0)
	if !ok {
		s.kratosFailure(w, r, err)
		return
	}
	switch {
	case ae.Status == http.StatusGone && ae.UseFlowID != "" && validID(ae.UseFlowID):
		http.Redirect(w, r, s.url("/"+string(kind)+"?flow="+url.QueryEscape(ae.UseFlowID)), http.StatusSeeOther)
	case ae.Status == http.StatusGone, ae.Status == http.StatusNotFound, ae.ID == "security_csrf_violation",
		ae.Status == http.StatusForbidden && ae.RedirectBrowserTo == "":
		s.Logger.InfoContext(r.Context(), "restarting flow", "flow", kind, "status", ae.Status, "kratos_error_id", ae.ID)
		s.restartFlow(w, r, kind, q)
	case ae.RedirectBrowserTo != "":
		s.redirectChecked(w, r, ae.RedirectBrowserTo)
	case ae.Status == http.StatusUnauthorized:
		// Settings without a session: sign in first, then come back.
		http.Redirect(w, r, s.url("/login?return_to="+url.QueryEscape(s.Options.PublicURL.String()+"/"+string(kind))), http.StatusSeeOther)
	default:
		s.kratosFailure(w, r, err)
	}
}

// restartFlow starts the flow afresh, unless Hera just did so and Kratos
// refused the new flow too: then cookies are not reaching Kratos, and the
// page says so instead of looping.
func (s *server) restartFlow(w http.ResponseWriter, r *http.Request, kind kratos.Kind, q url.Values) {
	if c, err := r.Cookie(restartCookie); err == nil && c.Value == string(kind) {
		http.SetCookie(w, &http.Cookie{Name: restartCookie, Path: s.cookiePath(), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		s.Logger.ErrorContext(r.Context(), "flow restart loop",
			"flow", kind, "hint", "Kratos refuses fresh flows: check that serve.public.base_url is HERA_PUBLIC_URL/api/kratos/ and the cookie domain matches")
		t := s.translator(r)
		v := view.ErrorView{
			Title:   t.T("hera.error.restart_loop.title"),
			Message: t.T("hera.error.restart_loop.message"),
			Hint:    t.T("hera.error.restart_loop.hint", "base_url", s.kratosPrefix+"/", "host", s.Options.PublicURL.Host),
			Links:   []view.Link{{Text: t.T("hera.link.try_again"), Href: "/" + string(kind)}},
		}
		s.errorView(w, r, http.StatusConflict, v)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: restartCookie, Value: string(kind), Path: s.cookiePath(), MaxAge: 60,
		HttpOnly: true, Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, s.startURL(w, r, kind, q), http.StatusSeeOther)
}

// renderFlow renders a flow page with Hera's links around Kratos's form.
// restarted: Hera started this flow because Kratos refused the one the
// user had (expired, or its CSRF check failed); the page says so and shows
// the identifier they typed again.
func (s *server) renderFlow(w http.ResponseWriter, r *http.Request, kind kratos.Kind, f *kratos.Flow, status int, restarted bool) {
	vc := viewContext{
		submitPath:   s.url(apiPrefix + "/" + string(kind) + "/submit?flow=" + url.QueryEscape(f.ID)),
		kratosPrefix: s.kratosPrefix + "/",
	}
	var uiLocales []string
	var client *view.ClientView
	var hint string
	if f.OAuth2LoginRequest == nil && (kind == kratos.Login || kind == kratos.Registration) {
		// Hera itself answers Hydra: the challenge is in the flow's return_to.
		client, hint, uiLocales = s.oauth2ClientFor(r.Context(), f.ReturnTo)
	}
	t := s.translator(r, uiLocales...)
	p := newFlowPage(kind, f, vc, t)
	notice := r.URL.Query().Get("notice")
	if restarted {
		notice = "restarted"
		if kind == kratos.Login {
			notice = "restarted-login"
		}
		if typed := s.takeTyped(w, r, kind); typed != nil {
			prefillTyped(p, typed)
		}
	}
	p.Messages = append(p.Messages, noticeAlerts(notice, t)...)
	if c, err := r.Cookie(returnRefusedCookie); err == nil && c.Value == string(kind) {
		http.SetCookie(w, &http.Cookie{Name: returnRefusedCookie, Path: s.cookiePath(), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		p.Messages = append(p.Messages, view.Alert{ID: "notice-return", Type: "info", Text: t.T("hera.notice.return_refused")})
	}
	switch {
	case kind == kratos.Settings && f.Identity != nil:
		if st, ok := s.schemaOf(r.Context(), f.Identity.SchemaID); ok {
			addUsernameField(p, signInName(st, f.Identity.Traits))
		}
	case kind == kratos.Registration:
		// The password step carries the traits typed on the first one.
		addUsernameField(p, s.typedSignInName(r.Context(), p))
	case kind == kratos.Login:
		// Kratos hid the identifier (identifier-first, a refresh, the
		// social account-linking prompt): password managers still need it.
		addUsernameField(p, hiddenIdentifier(p))
	}
	p.Links, p.ForgotPassword = flowLinks(kind, f, t)
	if kind == kratos.Settings {
		p.Links = s.accountLinks(p.Links, t)
	}
	switch {
	case kind == kratos.Login && f.OAuth2LoginRequest != nil:
		prefillLoginHint(p, f.OAuth2LoginRequest.OIDCContext.LoginHint)
	case client != nil:
		p.Client = client
		if kind == kratos.Login {
			prefillLoginHint(p, hint)
		}
	}
	pg := &view.Page{Title: p.Title, Scripts: p.Scripts, ScriptPrefix: s.kratosPrefix + "/", Lang: t.lang}
	if c := s.Captcha; c != nil && (slices.Contains(c.Flows, kind) || notice == "captcha") && f.RequestedAAL != "aal2" {
		wd := c.Widget
		p.Captcha, pg.Captcha, pg.CaptchaCSP = &wd, &wd, &c.CSP
	}
	s.render.page(w, r, status, pg, view.Flow(pg, p))
}

// flowLinks are the links to the other flows, keeping return_to and the
// OAuth2 login challenge.
func flowLinks(kind kratos.Kind, f *kratos.Flow, t translator) ([]view.Link, bool) {
	keep := url.Values{}
	if f.ReturnTo != "" {
		keep.Set("return_to", f.ReturnTo)
	}
	if f.OAuth2LoginChallenge != "" {
		keep.Set("login_challenge", f.OAuth2LoginChallenge)
	}
	with := func(path string, q url.Values) string {
		if len(q) == 0 {
			return path
		}
		return path + "?" + q.Encode()
	}
	onlyReturn := url.Values{}
	if f.ReturnTo != "" {
		onlyReturn.Set("return_to", f.ReturnTo)
	}
	switch kind {
	case kratos.Login:
		if f.RequestedAAL == "aal2" || f.Refresh {
			return []view.Link{{Text: t.T("hera.link.sign_out"), Href: "/logout"}}, false
		}
		hasPassword := false
		for _, n := range f.UI.Nodes {
			if n.Group == "password" {
				hasPassword = true
			}
		}
		return []view.Link{{Text: t.T("hera.link.create_account"), Href: with("/registration", keep)}}, hasPassword
	case kratos.Registration:
		return []view.Link{{Text: t.T("hera.link.have_account"), Href: with("/login", keep)}}, false
	case kratos.Recovery, kratos.Verification:
		return []view.Link{{Text: t.T("hera.link.back_to_sign_in"), Href: with("/login", onlyReturn)}}, false
	case kratos.Settings:
		return []view.Link{{Text: t.T("hera.link.active_sessions"), Href: "/sessions"}, {Text: t.T("hera.link.back"), Href: "/"}}, false
	}
	return nil, false
}

// addUsernameField gives each form with a new-password field the account's
// sign-in name, as password managers expect, so the saved password is
// stored for the right account.
func addUsernameField(p *view.FlowPage, name string) {
	if name == "" {
		return
	}
	for fi := range p.Forms {
		items := p.Forms[fi].Items
		for ii := range items {
			if items[ii].Kind == "input" && items[ii].Type == "password" {
				p.Forms[fi].Items = slices.Insert(items, ii, view.Item{Kind: "username", Value: name})
				break
			}
		}
	}
}

// hiddenIdentifier is the value of a login form's hidden identifier, if any.
func hiddenIdentifier(p *view.FlowPage) string {
	for fi := range p.Forms {
		for _, it := range p.Forms[fi].Items {
			if it.Kind == "hidden" && it.Name == "identifier" && it.Value != "" {
				return it.Value
			}
		}
	}
	return ""
}

// prefillLoginHint puts Hydra's login_hint into an empty identifier field.
func prefillLoginHint(p *view.FlowPage, hint string) {
	if hint == "" {
		return
	}
	for fi := range p.Forms {
		for ii := range p.Forms[fi].Items {
			it := &p.Forms[fi].Items[ii]
			if it.Name == "identifier" && it.Value == "" && it.Kind == "input" {
				it.Value = hint
			}
		}
	}
}

// noticeAlerts are Hera's own messages, passed by code in ?notice= after a
// redirect (never free text, so nothing can be injected).
func noticeAlerts(code string, t translator) []view.Alert {
	var text, typ string
	switch {
	case code == "":
		return nil
	case code == "captcha":
		text, typ = t.T("hera.notice.captcha"), "error"
	case code == "unavailable":
		text, typ = t.T("hera.notice.unavailable"), "error"
	case strings.HasPrefix(code, "locked-"), strings.HasPrefix(code, "codes-"):
		kind, n, _ := strings.Cut(code, "-")
		mins, err := strconv.Atoi(n)
		if err != nil || mins < 1 || mins > 999 {
			return nil
		}
		text, typ = t.T("hera.notice."+kind, "count", mins), "error"
	case code == "busy":
		text, typ = t.T("hera.notice.busy"), "error"
	case code == "no-account", code == "two-accounts", code == "unknown-method":
		text, typ = t.T("hera.notice."+strings.ReplaceAll(code, "-", "_")), "error"
	case code == "recovery-email":
		text, typ = t.T("hera.notice.recovery_email"), "info"
	case code == "restarted", code == "restarted-login":
		text, typ = t.T("hera.notice."+strings.ReplaceAll(code, "-", "_")), "info"
	default:
		return nil
	}
	return []view.Alert{{ID: "notice", Type: typ, Text: text}}
}

// redactedTarget is a refused redirect target as the log may show it:
// scheme, host and path (enough to decide whether to allow it), without
// user info, query or fragment, which may carry tokens.
func redactedTarget(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL, " + strconv.Itoa(len(raw)) + " bytes)"
	}
	out := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if u.Opaque != "" {
		out = u.Scheme + ":(opaque)"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		out += "?…"
	}
	if len(out) > 200 {
		out = out[:200] + "…"
	}
	return out
}
