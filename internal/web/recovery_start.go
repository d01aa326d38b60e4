package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/kratos"
)

// handleRecoveryStart is "Forgot password?" on the login page: the login
// form posts here with the identifier already typed; Hera starts a recovery
// flow server-side, submits the address (through the same checks as every
// submission) and shows the "enter your code" step.
func handleRecoveryStart(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		email := strings.TrimSpace(r.PostForm.Get("identifier"))
		if email == "" {
			http.Redirect(w, r, s.url("/recovery"), http.StatusSeeOther)
			return
		}
		ctx := r.Context()
		sub := s.submitter(r)
		f, cookies, err := s.Kratos.CreateBrowserFlow(ctx, kratos.Recovery, url.Values{}, sub.browser)
		if err != nil {
			s.kratosFailure(w, r, err)
			return
		}
		for _, c := range cookies {
			w.Header().Add("Set-Cookie", c)
		}
		s.flowTypes.put(f.ID, false)
		if !strings.Contains(email, "@") {
			// A username or phone number: Kratos recovers by e-mail only,
			// so the page asks for the account's address, saying why.
			http.Redirect(w, r, s.url("/recovery?flow="+url.QueryEscape(f.ID)+"&notice=recovery-email"), http.StatusSeeOther)
			return
		}
		sub.browser.Cookie = mergeCookies(sub.browser.Cookie, cookies)

		form := url.Values{"csrf_token": {csrfToken(f)}, "method": {"code"}, "email": {email}}
		// The captcha token of the login form, if any, vouches for this
		// step; every other field of the login form is left behind.
		for k, v := range r.PostForm {
			if slices.Contains(captcha.FormFields(), k) {
				form[k] = v
			}
		}
		at, err := s.classify(ctx, kratos.Recovery, f.ID, attempt.FormType, []byte(form.Encode()), sub.browser)
		if err != nil {
			s.submitRefused(w, r, kratos.Recovery, f.ID, false, attemptRefusal(err))
			return
		}
		s.judge(w, r, kratos.Recovery, f.ID, at, sub)
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
// follow-up server-side call carries them as the browser will. Both sides
// are parsed by net/http.
func mergeCookies(header string, setCookies []string) string {
	r := http.Request{Header: http.Header{"Cookie": {header}}}
	var jar []*http.Cookie
	index := map[string]int{}
	for _, c := range r.Cookies() {
		if _, seen := index[c.Name]; !seen {
			index[c.Name] = len(jar)
			jar = append(jar, &http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted})
		}
	}
	for _, sc := range setCookies {
		c, err := http.ParseSetCookie(sc)
		if err != nil {
			continue
		}
		nc := &http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted}
		if i, seen := index[c.Name]; seen {
			jar[i] = nc
			continue
		}
		index[c.Name] = len(jar)
		jar = append(jar, nc)
	}
	parts := make([]string, 0, len(jar))
	for _, c := range jar {
		if s := c.String(); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}
