package main

// Guard integrity, round two (issue 23): every key is what Kratos itself
// resolves. Each test generates the spellings an attacker would use (from
// all of Unicode, every phone format, every base64 spelling of a cookie),
// asks real Kratos which of them it resolves to the account, address or
// session, and attacks Hera with them — through Hera's submit endpoint and
// the proxy's direct submit, form-encoded and JSON — counting what Kratos
// judged or sent.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	dev "github.com/heraproject/hera/deploy/dev"
	"github.com/heraproject/hera/internal/captcha/captchatest"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// paths are the two ways a submission reaches Kratos through Hera, in both
// encodings.
var paths = []struct{ name, submit, enc string }{
	{"hera submit, form", "hera", "form"},
	{"hera submit, JSON", "hera", "json"},
	{"proxy submit, form", "proxy", "form"},
	{"proxy submit, JSON", "proxy", "json"},
}

// flowSubmit posts fields to a flow through path: Hera's submit endpoint
// or the proxy's direct submit, form-encoded or JSON, with the Cookie
// header given (as a browser or a script sends it) and asking for JSON.
func flowSubmit(t *testing.T, base, kind, flow, submit, enc string, fields map[string]string, cookie string, hdr http.Header) answer {
	t.Helper()
	target := base + "/api/kratos/" + kind + "/submit?flow=" + flow
	if submit == "proxy" {
		target = base + "/api/kratos/self-service/" + kind + "?flow=" + flow
	}
	var body, ct string
	if enc == "json" {
		b, _ := json.Marshal(fields)
		body, ct = string(b), "application/json"
	} else {
		v := url.Values{}
		for k, x := range fields {
			v.Set(k, x)
		}
		body, ct = v.Encode(), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest("POST", target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", strings.TrimSuffix(base, "/"))
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: buf.Bytes(), took: time.Since(start)}
}

// browserFlow starts a browser flow of kind through Hera for a fresh
// cookie jar and returns its ID, CSRF token and the Cookie header to send.
func browserFlow(t *testing.T, base, kind string) (id, csrf, cookie string) {
	t.Helper()
	b := webtest.New(t, base)
	p := b.Get("/" + kind)
	id = p.Query("flow")
	for _, f := range p.Forms() {
		if v := f.Fields.Get("csrf_token"); v != "" {
			csrf = v
		}
	}
	u, _ := url.Parse(base)
	var cs []string
	for _, c := range b.Jar.Cookies(u) {
		cs = append(cs, c.Name+"="+c.Value)
	}
	if id == "" || csrf == "" {
		t.Fatalf("%s flow: no id or CSRF token at %s", kind, p.URL)
	}
	return id, csrf, strings.Join(cs, "; ")
}

// resolvedBy asks Kratos's admin API which identity it resolves an
// identifier to, by the normalization its password sign-in uses ("" if
// none or several).
func resolvedBy(t *testing.T, adminURL, identifier string) string {
	t.Helper()
	res, err := http.Get(adminURL + "/admin/identities?page_size=2&credentials_identifier=" + url.QueryEscape(identifier))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ids []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ids); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("identity lookup: %d %v", res.StatusCode, err)
	}
	if len(ids) != 1 {
		return ""
	}
	return ids[0].ID
}

// identifierSpellings generates spellings of account from all of Unicode:
// every code point whose lower-casing or case folding gives one of the
// account's letters put in that letter's place, every white-space code
// point before and after it, and the whole address in upper case.
func identifierSpellings(account string) []string {
	subst := map[rune][]rune{}
	var spaces []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		if unicode.IsSpace(r) {
			spaces = append(spaces, r)
		}
		for _, alike := range []string{strings.ToLower(string(r)), strings.ToLower(strings.ToUpper(string(r)))} {
			if lr := []rune(alike); len(lr) == 1 && lr[0] != r && strings.ContainsRune(account, lr[0]) {
				subst[lr[0]] = append(subst[lr[0]], r)
			}
		}
	}
	out := []string{strings.ToUpper(account)}
	rs := []rune(account)
	for i, c := range rs {
		for _, s := range subst[c] {
			v := slices.Clone(rs)
			v[i] = s
			out = append(out, string(v))
		}
	}
	for _, sp := range spaces {
		out = append(out, string(sp)+account, account+string(sp))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestIdentifierSpellingsShareTheAccount (defect 2): the spellings real
// Kratos resolves to one account, generated from all of Unicode (İ, the
// Kelvin sign, every white space …), count on one account at Hera, on
// every path: 15 wrong passwords over them judge no more than the policy's
// 5, and the right password under another spelling is then refused; 12
// recovery requests over them send no more than the quota's 3 mails.
func TestIdentifierSpellingsShareTheAccount(t *testing.T) {
	e, base := guardedStack(t, map[string]string{"HERA_TRUSTED_PROXIES": "127.0.0.1,::1"})
	hera := "http://" + base["HERA_LISTEN"]
	for pi, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			victim := fmt.Sprintf("victim-kiss-%d@example.com", pi)
			id := createIdentity(t, e.Kratos.AdminURL, victim)
			var resolved, other []string
			for _, v := range identifierSpellings(victim) {
				if resolvedBy(t, e.Kratos.AdminURL, v) == id {
					resolved = append(resolved, v)
				} else {
					other = append(other, v)
				}
			}
			if !slices.Contains(resolved, strings.Replace(victim, "i", "İ", 1)) {
				t.Fatalf("Kratos does not resolve the İ spelling: the test would prove nothing")
			}
			t.Logf("%d generated spellings of %s: Kratos resolves %d to the account (e.g. %q), %d to none",
				len(resolved)+len(other), victim, len(resolved), resolved[:min(4, len(resolved))], len(other))
			hdr := http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", 10+pi)}}
			judged := 0
			for i := range 15 {
				v := resolved[(i*7)%len(resolved)]
				flow, csrf, cookie := "", "", ""
				if p.submit == "hera" {
					flow, csrf, cookie = browserFlow(t, e.HeraURL, "login")
				} else {
					flow = newClient(t, hera).apiFlow("login")
				}
				a := flowSubmit(t, hera, "login", flow, p.submit, p.enc,
					map[string]string{"method": "password", "identifier": v, "password": "wrong password", "csrf_token": csrf}, cookie, hdr)
				if a.judged() {
					judged++
				}
			}
			t.Logf("%s: 15 wrong passwords over %d spellings: %d judged by Kratos (policy 5)", p.name, len(resolved), judged)
			if judged > 5 {
				t.Fatalf("%d wrong passwords judged for one account, policy 5", judged)
			}
			// The right password, spelt as the review did.
			spelt := strings.ToUpper(strings.ReplaceAll(victim, "i", "İ"))
			if resolvedBy(t, e.Kratos.AdminURL, spelt) != id {
				t.Fatalf("Kratos does not resolve %q", spelt)
			}
			flow, csrf, cookie := "", "", ""
			if p.submit == "hera" {
				flow, csrf, cookie = browserFlow(t, e.HeraURL, "login")
			} else {
				flow = newClient(t, hera).apiFlow("login")
			}
			a := flowSubmit(t, hera, "login", flow, p.submit, p.enc,
				map[string]string{"method": "password", "identifier": spelt, "password": rightPassword, "csrf_token": csrf}, cookie, hdr)
			if a.heraError() != "hera_locked" {
				t.Fatalf("right password as %q while the account is locked: %d %s", spelt, a.status, a.body)
			}

			// Recovery: 12 requests over the spellings, one address.
			before := e.Mail.Len()
			for i := range 12 {
				v := resolved[(i*5)%len(resolved)]
				flow, csrf, cookie := "", "", ""
				if p.submit == "hera" {
					flow, csrf, cookie = browserFlow(t, e.HeraURL, "recovery")
				} else {
					flow = newClient(t, hera).apiFlow("recovery")
				}
				flowSubmit(t, hera, "recovery", flow, p.submit, p.enc,
					map[string]string{"method": "code", "email": v, "csrf_token": csrf}, cookie, hdr)
			}
			mails := e.MailsTo(t, before, victim)
			t.Logf("%s: 12 recovery requests over the spellings: %d mails sent (quota 3)", p.name, mails)
			if mails > 3 {
				t.Fatalf("%d recovery mails to one address, quota 3", mails)
			}
		})
	}
}

// phoneFormats are five spellings of one number, as the review used.
func phoneFormats(e164 string) []string {
	cc, rest := e164[:3], e164[3:] // +49, then area code and number
	return []string{
		e164,
		cc + " " + rest[:2] + " " + rest[2:],
		cc + "-" + rest[:2] + "-" + rest[2:],
		cc + " (" + rest[:2] + ") " + rest[2:],
		cc + "." + rest[:2] + "." + rest[2:],
	}
}

// TestPhoneFormatsShareTheQuota (defect 3): Kratos's code method reads a
// number in any format as its E.164 form; so does Hera: 15 sign-in code
// requests for one number in five formats send no more than the quota's 3
// texts, on every path.
func TestPhoneFormatsShareTheQuota(t *testing.T) {
	schema, err := dev.FS.ReadFile("identity.phone.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	e, base := guardedStackWith(t, stacktest.Options{Schema: schema}, map[string]string{"HERA_TRUSTED_PROXIES": "127.0.0.1,::1"})
	hera := "http://" + base["HERA_LISTEN"]
	for pi, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			number := fmt.Sprintf("+4930%07d", 9018200+pi)
			if n, ok := kratos.PhoneE164(number); !ok || n != number {
				t.Fatalf("%s is not a valid number", number)
			}
			body := fmt.Sprintf(`{"schema_id":"default","traits":{"phone":%q},"credentials":{"password":{"config":{"password":%q}}}}`, number, rightPassword)
			res, err := http.Post(e.Kratos.AdminURL+"/admin/identities", "application/json", strings.NewReader(body))
			if err != nil || res.StatusCode != http.StatusCreated {
				t.Fatalf("create identity: %v %v", res, err)
			}
			res.Body.Close()
			hdr := http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", 20+pi)}}
			before := e.Mail.Len()
			refused := 0
			formats := phoneFormats(number)
			for i := range 15 {
				flow, csrf, cookie := "", "", ""
				if p.submit == "hera" {
					flow, csrf, cookie = browserFlow(t, e.HeraURL, "login")
				} else {
					flow = newClient(t, hera).apiFlow("login")
				}
				a := flowSubmit(t, hera, "login", flow, p.submit, p.enc,
					map[string]string{"method": "code", "identifier": formats[i%len(formats)], "csrf_token": csrf}, cookie, hdr)
				if a.heraError() == "hera_codes" {
					refused++
				}
			}
			texts := e.MailsTo(t, before, number)
			t.Logf("%s: 15 code requests for %s in %d formats: %d texts sent, %d refused (quota 3)", p.name, number, len(formats), texts, refused)
			if texts > 3 || refused < 12 {
				t.Fatalf("%d texts, %d refused; want at most 3 and at least 12", texts, refused)
			}
		})
	}
}

// spellCookie returns every spelling of a Kratos session cookie value that
// its lenient base64 decoder reads as the same bytes.
func spellCookie(v string) []string {
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		return []string{v}
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.TrimRight(v, "=")
	last := len(i) - 1
	var out []string
	for _, c := range alphabet {
		s := v[:last] + string(c) + v[last+1:]
		if d, err := base64.URLEncoding.DecodeString(s); err == nil && bytes.Equal(d, b) {
			out = append(out, s)
		}
	}
	return out
}

// sessionCookie returns the browser's Kratos session cookie and the other
// cookies of its jar.
func sessionCookie(t *testing.T, b *webtest.Browser, base string) (session string, others []string) {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == kratos.DefaultSessionCookie {
			session = c.Value
		} else {
			others = append(others, c.Name+"="+c.Value)
		}
	}
	if session == "" {
		t.Fatal("no session cookie")
	}
	return session, others
}

// TestSessionCookieSpellings (defect 1): every spelling of a session cookie
// that real Kratos reads as the session is one session at Hera; TOTP
// guesses spread over the spellings of two sessions' cookies, on every
// path, judge no more than the policy's 5, and the right code is then
// refused.
func TestSessionCookieSpellings(t *testing.T) {
	e, base := guardedStack(t, nil)
	hera := "http://" + base["HERA_LISTEN"]

	// What Kratos resolves: each spelling against Kratos directly.
	plain := "cookie-spellings@example.com"
	createIdentity(t, e.Kratos.AdminURL, plain)
	b := webtest.New(t, e.HeraURL)
	if p := tryLogin(t, b, "", plain, rightPassword, nil); !signedIn(p) {
		t.Fatalf("sign-in: %s", p.Text())
	}
	v, _ := sessionCookie(t, b, e.HeraURL)
	whoami := func(cookie string) string {
		req, _ := http.NewRequest("GET", e.Kratos.PublicURL+"/sessions/whoami", nil)
		req.Header.Set("Cookie", kratos.DefaultSessionCookie+"="+cookie)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var s struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(res.Body).Decode(&s)
		return s.ID
	}
	session := whoami(v)
	spellings := spellCookie(v)
	resolved := 0
	for _, s := range spellings {
		if whoami(s) != session {
			continue
		}
		resolved++
		h, _ := kratos.SessionHandle(http.Header{}, []*http.Cookie{{Name: kratos.DefaultSessionCookie, Value: s}}, kratos.DefaultSessionCookie)
		if h != kratos.CanonicalSessionCookie(v) {
			t.Errorf("spelling %q: Kratos reads the session, Hera keys it as another handle", s)
		}
	}
	t.Logf("%d spellings of a session cookie: Kratos reads %d as the session; Hera keys all of them as one", len(spellings), resolved)
	if resolved < 2 {
		t.Fatalf("Kratos resolved %d spellings: the test would prove nothing", resolved)
	}

	// The attack: wrong TOTP codes on re-spelled cookies of two sessions.
	email := "totp-spellings@example.com"
	secret := enrolTOTP(t, e.HeraURL, email)
	judged, guesses := 0, 0
	for s := range 2 {
		b := webtest.New(t, e.HeraURL)
		p := tryLogin(t, b, "", email, rightPassword, nil)
		if !p.Contains("Second factor") {
			t.Fatalf("sign-in %d: no second factor step: %s", s+1, p.Text())
		}
		flow := p.Query("flow")
		csrf := p.Form("method", "totp").Fields.Get("csrf_token")
		v, others := sessionCookie(t, b, e.HeraURL)
		for i, sp := range spellCookie(v) {
			path := paths[(i+s)%len(paths)]
			cookie := strings.Join(append(slices.Clone(others), kratos.DefaultSessionCookie+"="+sp), "; ")
			a := flowSubmit(t, hera, "login", flow, path.submit, path.enc,
				map[string]string{"method": "totp", "totp_code": "000000", "csrf_token": csrf}, cookie, nil)
			guesses++
			if a.status == http.StatusBadRequest && bytes.Contains(a.body, []byte("4000008")) {
				judged++
			}
		}
	}
	t.Logf("%d wrong TOTP codes over every spelling of two sessions' cookies: %d judged by Kratos (policy 5)", guesses, judged)
	if judged > 5 || judged == 0 {
		t.Fatalf("%d wrong TOTP codes judged for one identity, policy 5", judged)
	}
	b = webtest.New(t, e.HeraURL)
	p := tryLogin(t, b, "", email, rightPassword, nil)
	code, _ := webtest.TOTP(secret, time.Now())
	if p = b.Submit(p.Form("method", "totp"), "method", "totp", map[string]string{"totp_code": code}); !p.Contains(lockedText) {
		t.Fatalf("right TOTP code accepted after the guesses: %s", p.Text())
	}
}

// captchaEnv configures a fake siteverify on every flow.
func captchaEnv(sv *captchatest.Server) map[string]string {
	return map[string]string{
		"HERA_CAPTCHA_PROVIDER":   "turnstile",
		"HERA_CAPTCHA_SITE_KEY":   captchatest.TestSiteKey,
		"HERA_CAPTCHA_SECRET":     sv.Secret(),
		"HERA_CAPTCHA_VERIFY_URL": sv.URL,
		"HERA_TRUSTED_PROXIES":    "127.0.0.1,::1",
	}
}

// TestVerificationCannotStarveRecovery (defect 4): sends for other
// purposes, however many, cannot use up an address's recovery quota: after
// ten verification requests for the owner's address the owner's own
// recovery still sends a code, on every path. Verification asks for the
// captcha by default.
func TestVerificationCannotStarveRecovery(t *testing.T) {
	sv := captchatest.New(t, captchatest.Options{})
	e, base := guardedStack(t, captchaEnv(sv))
	hera := "http://" + base["HERA_LISTEN"]
	for pi, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			owner := fmt.Sprintf("starved-%d@example.com", pi)
			createIdentity(t, e.Kratos.AdminURL, owner)
			bot := http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", 40+pi)}}
			send := func(kind string, token string, hdr http.Header) answer {
				flow, csrf, cookie := "", "", ""
				if p.submit == "hera" {
					flow, csrf, cookie = browserFlow(t, e.HeraURL, kind)
				} else {
					flow = newClient(t, hera).apiFlow(kind)
				}
				fields := map[string]string{"method": "code", "email": owner, "csrf_token": csrf}
				if token != "" {
					fields["cf-turnstile-response"] = token
				}
				return flowSubmit(t, hera, kind, flow, p.submit, p.enc, fields, cookie, hdr)
			}
			if a := send("verification", "", bot); a.heraError() != "hera_captcha" {
				t.Fatalf("verification without a captcha: %d %s", a.status, a.body)
			}
			for range 10 {
				send("verification", sv.Token(), bot)
			}
			e.WaitCourier(t) // the verification mails are out
			before := e.Mail.Len()
			a := send("recovery", sv.Token(), http.Header{"X-Forwarded-For": {fmt.Sprintf("192.0.2.%d", 40+pi)}})
			if a.heraError() != "" {
				t.Fatalf("the owner's recovery after 10 verification requests: %d %s", a.status, a.body)
			}
			if n := e.MailsTo(t, before, owner); n != 1 {
				t.Fatalf("the owner's recovery sent %d mails", n)
			}
		})
	}
}

// TestOwnerUnderFakeCaptchaHammer (defect 5): 50 parallel submissions with
// invalid captcha tokens for one account, the captcha provider slow, hold
// none of the account's slots: the owner, with a valid token and no device
// cookie, gets Kratos's answer within 2 s, never "busy", on every path.
func TestOwnerUnderFakeCaptchaHammer(t *testing.T) {
	sv := captchatest.New(t, captchatest.Options{})
	sv.SetDelay(700 * time.Millisecond)
	e, base := guardedStack(t, captchaEnv(sv))
	hera := "http://" + base["HERA_LISTEN"]
	for pi, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			owner := fmt.Sprintf("hammered-%d@example.com", pi)
			createIdentity(t, e.Kratos.AdminURL, owner)
			submit := func(password, token, ip string) answer {
				flow, csrf, cookie := "", "", ""
				if p.submit == "hera" {
					flow, csrf, cookie = browserFlow(t, e.HeraURL, "login")
				} else {
					flow = newClient(t, hera).apiFlow("login")
				}
				return flowSubmit(t, hera, "login", flow, p.submit, p.enc, map[string]string{"method": "password",
					"identifier": owner, "password": password, "csrf_token": csrf, "cf-turnstile-response": token},
					cookie, http.Header{"X-Forwarded-For": {ip}})
			}
			type prepared struct{ flow, csrf, cookie string }
			bots := make([]prepared, 50)
			for i := range bots {
				if p.submit == "hera" {
					bots[i].flow, bots[i].csrf, bots[i].cookie = browserFlow(t, e.HeraURL, "login")
				} else {
					bots[i].flow = newClient(t, hera).apiFlow("login")
				}
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, bp := range bots {
				wg.Go(func() {
					<-start
					a := flowSubmit(t, hera, "login", bp.flow, p.submit, p.enc, map[string]string{"method": "password",
						"identifier": owner, "password": "guess", "csrf_token": bp.csrf, "cf-turnstile-response": "forged"},
						bp.cookie, http.Header{"X-Forwarded-For": {fmt.Sprintf("198.18.%d.%d", pi, i+1)}})
					if a.heraError() != "hera_captcha" {
						t.Errorf("bot request: %d %s", a.status, a.body)
					}
				})
			}
			close(start)
			time.Sleep(200 * time.Millisecond) // the bot's tokens are at the provider
			a := submit(rightPassword, sv.Token(), "192.0.2.99")
			wg.Wait()
			t.Logf("%s: the owner's sign-in under 50 parallel fake-captcha requests: %d in %v", p.name, a.status, a.took.Round(time.Millisecond))
			if a.heraError() != "" || a.status != http.StatusOK {
				t.Fatalf("owner: %d %s", a.status, a.body)
			}
			if a.took > 2*time.Second {
				t.Fatalf("owner waited %v", a.took)
			}
		})
	}
}
