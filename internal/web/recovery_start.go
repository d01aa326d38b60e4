package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/heraproject/hera/internal/kratos"
)

// handleRecoveryStart is "Forgot password?" on the login page: the login
// form posts here with the identifier already typed; Hera starts a recovery
// flow server-side, submits the address (through the same checks as every
// submission) and shows the "enter your code" step.
func handleRecoveryStart(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.Config.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, nil)
			return
		}
		email := strings.TrimSpace(r.PostForm.Get("identifier"))
		if email == "" || !strings.Contains(email, "@") {
			http.Redirect(w, r, "/recovery", http.StatusSeeOther)
			return
		}
		ctx := r.Context()
		b := s.browser(r)
		f, cookies, err := s.Kratos.CreateBrowserFlow(ctx, kratos.Recovery, url.Values{}, b)
		if err != nil {
			s.kratosFailure(w, r, err)
			return
		}
		for _, c := range cookies {
			w.Header().Add("Set-Cookie", c)
		}
		b.Cookie = mergeCookies(b.Cookie, cookies)

		form := url.Values{"csrf_token": {csrfToken(f)}, "method": {"code"}, "email": {email}}
		a := &Attempt{Flow: kratos.Recovery, FlowID: f.ID, Method: "code", Identifier: email, ClientIP: b.ClientIP, Cookie: b.Cookie, Form: form}
		// The captcha token of the login form, if any, vouches for this step.
		for k, v := range r.PostForm {
			if !form.Has(k) && k != "password" && k != "identifier" {
				form[k] = v
			}
		}
		if ref := s.Guard.Check(ctx, a); ref != nil {
			s.submitRefused(w, r, kratos.Recovery, f.ID, false, ref)
			return
		}
		res, err := s.Kratos.Submit(ctx, kratos.Recovery, f.ID, []byte(a.Form.Encode()), "application/x-www-form-urlencoded", b)
		var o *kratos.Outcome
		if err == nil {
			o, err = kratos.ParseOutcome(res)
		}
		if err != nil {
			s.kratosFailure(w, r, err)
			return
		}
		s.Guard.Record(ctx, a, o)
		for _, c := range res.Header.Values("Set-Cookie") {
			w.Header().Add("Set-Cookie", c)
		}
		s.browserOutcome(w, r, kratos.Recovery, f.ID, o)
	})
}

// csrfToken returns the flow's CSRF token.
func csrfToken(f *kratos.Flow) string {
	for _, n := range f.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			return rawString(n.Attributes.Value)
		}
	}
	return ""
}

// mergeCookies adds the cookies Kratos just set to a Cookie header, so a
// follow-up server-side call carries them as the browser will.
func mergeCookies(header string, setCookies []string) string {
	jar := map[string]string{}
	var order []string
	for _, c := range strings.Split(header, ";") {
		name, val, ok := strings.Cut(strings.TrimSpace(c), "=")
		if !ok || name == "" {
			continue
		}
		if _, seen := jar[name]; !seen {
			order = append(order, name)
		}
		jar[name] = val
	}
	for _, sc := range setCookies {
		c, err := http.ParseSetCookie(sc)
		if err != nil {
			continue
		}
		if _, seen := jar[c.Name]; !seen {
			order = append(order, c.Name)
		}
		jar[c.Name] = c.Value
	}
	parts := make([]string, 0, len(order))
	for _, n := range order {
		parts = append(parts, n+"="+jar[n])
	}
	return strings.Join(parts, "; ")
}
