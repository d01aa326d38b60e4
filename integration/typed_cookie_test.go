package integration

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// csrfRestart submits the form of kind's page (by its button name=value)
// with a broken CSRF token and fields, and returns Hera's answer as it
// comes: the typed-identifier cookie it sets, and where it sends the
// browser (the restarted flow's page). The browser's jar keeps the cookie.
func csrfRestart(t *testing.T, b *webtest.Browser, kind, button, value string, fields map[string]string) (*http.Cookie, string) {
	t.Helper()
	p := b.Get("/" + kind)
	mustPath(t, p, "/"+kind)
	f := p.Form(button, value)
	vals := url.Values{}
	for k, v := range f.Fields {
		vals[k] = append([]string(nil), v...)
	}
	for k, v := range fields {
		vals.Set(k, v)
	}
	vals.Set(button, value)
	vals.Set("csrf_token", "tampered"+vals.Get("csrf_token"))
	action := f.Action
	for _, bt := range f.Buttons {
		if bt.Name == button && bt.Value == value && bt.FormAction != "" {
			action = bt.FormAction
		}
	}
	u, err := p.URL.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Origin", b.Base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "notice=restarted") {
		t.Fatalf("%s with a broken CSRF token: %d to %q, want a restart", kind, res.StatusCode, loc)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == "hera_typed" {
			return ck, loc
		}
	}
	t.Fatalf("%s restart set no hera_typed cookie: %v", kind, res.Header.Values("Set-Cookie"))
	return nil, ""
}

// decodings are what an attacker reading the cookie would try: every
// base64 alphabet, padded or not, from every alignment.
func decodings(v string) [][]byte {
	out := [][]byte{[]byte(v)}
	if u, err := url.QueryUnescape(v); err == nil {
		out = append(out, []byte(u))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		for off := 0; off < 4 && off < len(v); off++ {
			s := v[off:]
			if enc == base64.StdEncoding || enc == base64.URLEncoding {
				s = s[:len(s)-len(s)%4]
			}
			// A failed decode still returns what it decoded up to the
			// first bad byte.
			d, _ := enc.DecodeString(s)
			out = append(out, d)
		}
	}
	return out
}

// fieldValue is the first non-empty value of the field name in the page's
// forms, or "".
func fieldValue(p *webtest.Page, name string) string {
	for _, f := range p.Forms() {
		if vs, ok := f.Fields[name]; ok && len(vs) > 0 && vs[0] != "" {
			return vs[0]
		}
	}
	return ""
}

// TestTypedCookieSealed (defect 10): the cookie that carries what the user
// typed across a restarted flow (CSRF failure, expiry) holds the identifier
// neither in clear nor in any encoding, prefills the restarted page, is
// deleted when read, and prefills nothing — without an error — when it is
// tampered with, replayed on another kind of flow, or past its deadline.
//
// Before the change the cookie was base64url("identifier=<address>"): the
// decodings check failed, and a recovery cookie replayed on the
// verification page prefilled it.
func TestTypedCookieSealed(t *testing.T) {
	secret := []byte(strings.Repeat("s", 40))
	e := startHera(t, stacktest.Options{}, "HERA_DEVICE_COOKIE_SECRET="+string(secret))
	heraURL, _ := url.Parse(e.HeraURL)

	// restartedPage loads a restarted flow page of kind with the cookie
	// value v sent as hera_typed (none if v is ""), outside any jar, and
	// checks it is a normal page that says it was restarted.
	restartedPage := func(t *testing.T, kind, v string) *webtest.Page {
		t.Helper()
		b := webtest.New(t, e.HeraURL)
		flow := b.Get("/" + kind).Query("flow")
		if v != "" {
			b.Jar.SetCookies(heraURL.JoinPath(kind), []*http.Cookie{{Name: "hera_typed", Value: v, Path: "/" + kind}})
		}
		p := b.Get("/" + kind + "?flow=" + flow + "&notice=restarted")
		mustPath(t, p, "/"+kind)
		if p.Query("flow") != flow || !p.Contains("Please try again") {
			t.Errorf("restarted %s page: at %s: %s", kind, p.URL, p.Text())
		}
		return p
	}

	ident := newEmail("typed-secret")
	local := ident[:strings.IndexByte(ident, '@')]

	t.Run("sealed, prefilled once, deleted when read", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		ck, loc := csrfRestart(t, b, "login", "method", "password", map[string]string{"identifier": ident, "password": "s3cret-typed-pw"})
		if !ck.HttpOnly || ck.Path != "/login" || ck.MaxAge <= 0 || ck.MaxAge > 600 {
			t.Errorf("cookie attributes: %+v", ck)
		}
		for i, d := range decodings(ck.Value) {
			for _, secret := range []string{ident, local, url.QueryEscape(ident), "s3cret-typed-pw"} {
				if strings.Contains(strings.ToLower(string(d)), strings.ToLower(secret)) {
					t.Errorf("decoding %d of the cookie %q shows %q", i, ck.Value, secret)
				}
			}
		}
		p := b.Get(loc)
		mustPath(t, p, "/login")
		mustShowRestart(t, p, ident, "s3cret-typed-pw")
		deleted := false
		for _, c := range (&http.Response{Header: p.Header}).Cookies() {
			if c.Name == "hera_typed" && c.MaxAge < 0 && c.Path == "/login" {
				deleted = true
			}
		}
		if !deleted {
			t.Errorf("the restarted page did not delete the cookie: %v", p.Header.Values("Set-Cookie"))
		}
		for _, c := range b.Jar.Cookies(heraURL.JoinPath("login")) {
			if c.Name == "hera_typed" {
				t.Errorf("the browser still holds the cookie: %v", c)
			}
		}
		if got := fieldValue(b.Get(loc), "identifier"); got != "" {
			t.Errorf("prefilled again on reload: %q", got)
		}
	})

	t.Run("tampered with: nothing prefilled, no error", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		ck, _ := csrfRestart(t, b, "login", "method", "password", map[string]string{"identifier": ident, "password": "pw"})
		v := []byte(ck.Value)
		i := len(v) / 2
		if v[i] == 'A' {
			v[i] = 'B'
		} else {
			v[i] = 'A'
		}
		if got := fieldValue(restartedPage(t, "login", string(v)), "identifier"); got != "" {
			t.Errorf("a tampered cookie prefilled %q", got)
		}
		// The untouched value still works (so what refused it above was the flipped byte).
		if got := fieldValue(restartedPage(t, "login", ck.Value), "identifier"); got != ident {
			t.Errorf("the untouched cookie prefilled %q, want %q", got, ident)
		}
	})

	t.Run("replayed on another kind of flow: nothing prefilled, no error", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		ck, _ := csrfRestart(t, b, "login", "method", "password", map[string]string{"identifier": ident, "password": "pw"})
		p := restartedPage(t, "registration", ck.Value)
		if strings.Contains(p.Body, ident) {
			t.Error("a login cookie prefilled the registration page")
		}
		// Recovery and verification both ask for "email": the binding to
		// the flow's kind is all that keeps a recovery cookie off the
		// verification page.
		ck, _ = csrfRestart(t, b, "recovery", "method", "code", map[string]string{"email": ident})
		if got := fieldValue(restartedPage(t, "verification", ck.Value), "email"); got != "" {
			t.Errorf("a recovery cookie prefilled the verification page with %q", got)
		}
		if got := fieldValue(restartedPage(t, "recovery", ck.Value), "email"); got != ident {
			t.Errorf("the recovery cookie on its own page prefilled %q, want %q", got, ident)
		}
	})
}
