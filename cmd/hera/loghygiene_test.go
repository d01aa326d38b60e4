package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/captcha/captchatest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
	"golang.org/x/oauth2"
)

// secretSet collects every secret a journey uses, each with a label
// ("password", "cookie ory_kratos_session", …) for the report.
type secretSet struct {
	mu sync.Mutex
	m  map[string]string // value → label
}

func newSecretSet() *secretSet { return &secretSet{m: map[string]string{}} }

// add records a secret. Values too short to be told apart from ordinary
// log content (flags, tiny numbers) are not secrets anyone could use.
func (s *secretSet) add(label, v string) {
	if len(v) < 6 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[v]; !ok {
		s.m[v] = label
	}
}

func (s *secretSet) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

// summary counts the secrets by label: "password ×3, code ×2, …".
func (s *secretSet) summary() string {
	n := map[string]int{}
	for _, label := range s.snapshot() {
		n[label]++
	}
	var out []string
	for label, c := range n {
		out = append(out, fmt.Sprintf("%s ×%d", label, c))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (s *secretSet) has(labelPrefix string) bool {
	for _, label := range s.snapshot() {
		if strings.HasPrefix(label, labelPrefix) {
			return true
		}
	}
	return false
}

var digitsOnly = regexp.MustCompile(`^[0-9]+$`)

// containsSecret reports whether hay holds v, as it is or URL-encoded.
// All-digit secrets (one-time codes) count only as a whole number, so
// that timestamps and durations that happen to contain the digits do not.
func containsSecret(hay, v string) bool {
	if digitsOnly.MatchString(v) {
		return regexp.MustCompile(`(^|[^0-9])` + v + `([^0-9]|$)`).MatchString(hay)
	}
	if strings.Contains(hay, v) {
		return true
	}
	if q := url.QueryEscape(v); q != v && strings.Contains(hay, q) {
		return true
	}
	return false
}

// stringsIn returns every string (keys and values) of a decoded JSON value,
// so secrets the JSON encoder escaped (<, >, &, non-ASCII) are found too.
func stringsIn(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case map[string]any:
		var out []string
		for k, vv := range t {
			out = append(out, k)
			out = append(out, stringsIn(vv)...)
		}
		return out
	case []any:
		var out []string
		for _, vv := range t {
			out = append(out, stringsIn(vv)...)
		}
		return out
	}
	return nil
}

// findLeaks scans every log line for every secret.
func findLeaks(log string, secrets map[string]string) []string {
	var leaks []string
	for i, line := range strings.Split(log, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		hay := line
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			hay += "\n" + strings.Join(stringsIn(rec), "\n")
		}
		for v, label := range secrets {
			if containsSecret(hay, v) {
				leaks = append(leaks, fmt.Sprintf("log line %d (%v): %s", i+1, rec["msg"], label))
			}
		}
	}
	sort.Strings(leaks)
	return leaks
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// journey drives one browser through Hera and collects the secrets it
// sees on the way.
type journey struct {
	t       *testing.T
	b       *webtest.Browser
	s       *secretSet
	captcha *captchatest.Server
	urls    []*url.URL // whose cookies to collect
}

// sensitiveParams are query parameters that carry secrets.
var sensitiveParams = []string{"login_challenge", "consent_challenge", "logout_challenge", "login_verifier",
	"consent_verifier", "logout_verifier", "code", "token", "id_token_hint"}

// seen collects the secrets on a page: the URLs it passed through, its
// forms' CSRF tokens and challenges, and every cookie of the browser.
func (j *journey) seen(p *webtest.Page) *webtest.Page {
	j.t.Helper()
	urls := slices.Clone(j.b.Hops)
	if p != nil && p.URL != nil {
		urls = append(urls, p.URL.String())
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		for _, name := range sensitiveParams {
			for _, v := range u.Query()[name] {
				j.s.add("url "+name, v)
			}
		}
	}
	if p != nil && p.Doc != nil {
		for _, f := range p.Forms() {
			for name, vs := range f.Fields {
				for _, v := range vs {
					switch {
					case strings.Contains(name, "csrf"):
						j.s.add("form csrf_token", v)
					case strings.Contains(name, "challenge"):
						j.s.add("form "+name, v)
					}
				}
			}
		}
	}
	j.cookies()
	return p
}

func (j *journey) cookies() {
	for _, u := range j.urls {
		for _, c := range j.b.Jar.Cookies(u) {
			j.s.add("cookie "+c.Name, c.Value)
		}
	}
}

func (j *journey) get(path string) *webtest.Page {
	j.t.Helper()
	return j.seen(j.b.Get(path))
}

// submit submits a form, recording its hidden tokens and the secrets typed.
func (j *journey) submit(f *webtest.Form, button, value string, fields map[string]string) *webtest.Page {
	j.t.Helper()
	for name, v := range fields {
		switch name {
		case "password":
			j.s.add("password", v)
		case "code":
			j.s.add("code", v)
		case "cf-turnstile-response":
			j.s.add("captcha token", v)
		}
	}
	return j.seen(j.b.Submit(f, button, value, fields))
}

func (j *journey) token() string {
	tok := j.captcha.Token()
	j.s.add("captcha token", tok)
	return tok
}

func (j *journey) logout() {
	j.t.Helper()
	p := j.get("/logout")
	j.submit(p.Form("confirm", "yes"), "confirm", "yes", nil)
}

// TestLogHygiene runs a full journey — registration, verification, a wrong
// and a right password, recovery by code, an OAuth2 login and consent —
// through run() with a captcha, Hydra and debug logging, then scans every
// line Hera logged for every secret that went by.
func TestLogHygiene(t *testing.T) {
	sv := captchatest.New(t, captchatest.Options{Secret: "captcha-secret-" + randomHex(12)})
	e := stacktest.Start(t, stacktest.Options{Hydra: true, TokenHook: true})
	addr := e.HeraListener.Addr().String()
	e.HeraListener.Close()
	var logs syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			stacktest.LogLines(t, "hera log", logs.String())
		}
	})
	startHeraOut(t, map[string]string{
		"HERA_LISTEN":       addr,
		"HERA_PUBLIC_URL":   e.HeraURL,
		"KRATOS_PUBLIC_URL": e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":  e.Kratos.AdminURL,
		"HYDRA_ADMIN_URL":   e.Hydra.AdminURL,

		"HERA_OAUTH2_TOKEN_HOOK_SECRET": e.TokenHookSecret,
		"HERA_LOG_LEVEL":                "debug",
		"HERA_CAPTCHA_PROVIDER":         "turnstile",
		"HERA_CAPTCHA_SITE_KEY":         captchatest.TestSiteKey,
		"HERA_CAPTCHA_SECRET":           sv.Secret(),
		"HERA_CAPTCHA_VERIFY_URL":       sv.URL,
		"HERA_LOCKOUT_REALM":            "hygiene-" + randomHex(4),
	}, &logs)

	s := newSecretSet()
	s.add("captcha secret", sv.Secret())
	heraURL, _ := url.Parse(e.HeraURL)
	hydraURL, _ := url.Parse(e.Hydra.PublicURL)
	j := &journey{t: t, b: webtest.New(t, e.HeraURL), s: s, captcha: sv, urls: []*url.URL{heraURL, hydraURL}}
	email := "hygiene-" + randomHex(4) + "@example.com"
	pw := "first password " + randomHex(8)
	wrong := "wrong password " + randomHex(8)
	newPW := "recovered password " + randomHex(8)
	mailCode := func(after int, kind string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		m, err := e.Mail.Wait(ctx, after, email, kind)
		if err != nil || m.Code() == "" {
			t.Fatalf("no %s code for %s: %v", kind, email, err)
		}
		return m.Code()
	}

	// Registration (two steps, captcha on each), then verification.
	mails := e.Mail.Len()
	p := j.get("/registration")
	p = j.submit(p.Form("method", "profile"), "method", "profile", map[string]string{"traits.email": email, "cf-turnstile-response": j.token()})
	p = j.submit(p.Form("method", "password"), "method", "password", map[string]string{"password": pw, "cf-turnstile-response": j.token()})
	if p.URL.Path != "/verification" {
		t.Fatalf("registration ended at %s: %v %s", p.URL, p.Alerts(), p.Text())
	}
	p = j.submit(p.Form("method", "code"), "method", "code", map[string]string{"code": mailCode(mails, "verification"), "cf-turnstile-response": j.token()})
	if !p.Contains("You successfully verified") {
		t.Fatalf("verification: %s", p.Text())
	}
	j.logout()

	// Sign-in: a wrong password, then the right one.
	p = j.get("/login")
	p = j.submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": wrong, "cf-turnstile-response": j.token()})
	if !strings.Contains(strings.Join(p.Alerts(), " "), "credentials are invalid") {
		t.Fatalf("wrong password: %v %s", p.Alerts(), p.Text())
	}
	p = j.submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": pw, "cf-turnstile-response": j.token()})
	if p.URL.Path != "/" || !p.Contains("You are signed in") {
		t.Fatalf("right password: %s %v %s", p.URL, p.Alerts(), p.Text())
	}
	j.logout()

	// Recovery by code, then a new password.
	mails = e.Mail.Len()
	p = j.get("/recovery")
	p = j.submit(p.Form("method", "code"), "method", "code", map[string]string{"email": email, "cf-turnstile-response": j.token()})
	p = j.submit(p.Form("method", "code"), "method", "code", map[string]string{"code": mailCode(mails, "recovery"), "cf-turnstile-response": j.token()})
	if p.URL.Path != "/settings" {
		t.Fatalf("recovery ended at %s: %v %s", p.URL, p.Alerts(), p.Text())
	}
	p = j.submit(p.FormByID("form-password"), "method", "password", map[string]string{"password": newPW})
	if !p.Contains("Your changes have been saved") {
		t.Fatalf("new password not saved: %v %s", p.Alerts(), p.Text())
	}
	j.logout()

	// OAuth2: Hydra → Hera's login (password + captcha) → consent → the
	// client's callback → tokens.
	app := newHygieneClient(t, e.Hydra.AdminURL, e.Hydra.PublicURL, s)
	verifier := oauth2.GenerateVerifier()
	s.add("pkce verifier", verifier)
	p = j.get(app.cfg.AuthCodeURL("state-"+randomHex(8), oauth2.S256ChallengeOption(verifier)))
	if p.URL.Path != "/login" {
		t.Fatalf("OAuth2 start ended at %s: %s", p.URL, p.Text())
	}
	p = j.submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": newPW, "cf-turnstile-response": j.token()})
	if p.URL.Path != "/consent" {
		t.Fatalf("OAuth2 login ended at %s: %v %s", p.URL, p.Alerts(), p.Text())
	}
	p = j.submit(p.Form("decision", "allow"), "decision", "allow", nil)
	code := p.URL.Query().Get("code")
	if !strings.HasPrefix(p.URL.String(), app.callback) || code == "" {
		t.Fatalf("not at the client's callback with a code: %s %s", p.URL, p.Text())
	}
	tok, err := app.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	s.add("oauth2 access_token", tok.AccessToken)
	s.add("oauth2 refresh_token", tok.RefreshToken)
	if id, _ := tok.Extra("id_token").(string); id != "" {
		s.add("oauth2 id_token", id)
	}

	// The journey used every kind of secret the brief names.
	for _, want := range []string{"password", "code", "captcha token", "captcha secret", "cookie ory_kratos_session", "cookie csrf_token",
		"cookie ory_hydra", "form csrf_token", "url login_challenge", "url consent_challenge", "url login_verifier", "url token",
		"url code", "oauth2 client_secret", "oauth2 access_token"} {
		if !s.has(want) {
			t.Errorf("the journey collected no %q", want)
		}
	}
	secrets := s.snapshot()
	settle(&logs) // the last batch of lines
	journeyLog := logs.String()
	lines := strings.Count(journeyLog, "\n")
	t.Logf("log hygiene: %d secrets checked against %d log lines: %s", len(secrets), lines, s.summary())

	t.Run("scanner catches a planted secret", func(t *testing.T) {
		var session, digits string
		for v, label := range secrets {
			switch {
			case label == "cookie ory_kratos_session":
				session = v
			case label == "code" && digitsOnly.MatchString(v):
				digits = v
			}
		}
		if session == "" || digits == "" {
			t.Fatalf("no session cookie or numeric code collected")
		}
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "%s\n", `{"time":"2026-01-01T00:00:00.`+digits+`1Z","msg":"request","duration_ms":1.`+digits+`7}`)
		if got := findLeaks(buf.String(), secrets); len(got) != 0 {
			t.Fatalf("false positive on digits inside numbers: %v", got)
		}
		for _, planted := range []string{
			`{"msg":"oops","cookie":"ory_kratos_session=` + session + `"}`,
			`{"msg":"oops","err":"code ` + digits + ` rejected"}`,
			`{"msg":"oops","url":"/x?code=` + url.QueryEscape(session) + `"}`,
			`{"msg":"oops","v":"` + strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(pw) + `"}`,
		} {
			if got := findLeaks(journeyLog+planted+"\n", secrets); len(got) == 0 {
				t.Errorf("planted secret not found in %s", planted)
			}
		}
	})

	t.Run("journey", func(t *testing.T) {
		if lines < 50 {
			t.Fatalf("only %d log lines: is HERA_LOG_LEVEL=debug logging?", lines)
		}
		for _, leak := range findLeaks(journeyLog, secrets) {
			t.Errorf("secret in the log: %s", leak)
		}
	})

	// Hydra unreachable while a browser holds a challenge: the failure is
	// logged, and the challenge must not be in it.
	t.Run("challenges while Hydra is down", func(t *testing.T) {
		j := &journey{t: t, b: webtest.NewWithJar(t, e.HeraURL, j.b.Jar), s: s, captcha: sv, urls: j.urls}
		p := j.get(app.cfg.AuthCodeURL("state-"+randomHex(8), oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")))
		consent := p.URL.Query().Get("consent_challenge")
		if p.URL.Path != "/consent" || consent == "" {
			t.Fatalf("prompt=consent ended at %s", p.URL)
		}
		p = j.get(app.cfg.AuthCodeURL("state-"+randomHex(8), oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
		var login string
		for _, h := range j.b.Hops {
			if u, err := url.Parse(h); err == nil && u.Query().Get("login_challenge") != "" {
				login = u.Query().Get("login_challenge")
			}
		}
		if login == "" {
			t.Fatalf("prompt=login gave no login challenge (at %s)", p.URL)
		}
		settle(&logs)
		from := len(logs.String())
		if err := e.Hydra.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/consent?consent_challenge=" + url.QueryEscape(consent), "/login?login_challenge=" + url.QueryEscape(login)} {
			if p := j.b.Get(path); p.Status != http.StatusBadGateway {
				t.Errorf("%s with Hydra down: status %d", strings.Split(path, "?")[0], p.Status)
			}
		}
		settle(&logs)
		downLog := logs.String()[from:]
		if !strings.Contains(downLog, `"level":"ERROR"`) {
			t.Fatalf("Hydra's outage was not logged:\n%s", downLog)
		}
		for _, leak := range findLeaks(downLog, map[string]string{consent: "consent challenge", login: "login challenge"}) {
			t.Errorf("secret in the log while Hydra is down: %s (the error quotes Hydra's request URL with its query)", leak)
		}
	})
}

// hygieneClient is an OAuth2 client registered in Hydra, with its callback
// served locally.
type hygieneClient struct {
	cfg      oauth2.Config
	callback string
}

func newHygieneClient(t *testing.T, admin, public string, s *secretSet) *hygieneClient {
	t.Helper()
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("callback"))
	}))
	t.Cleanup(cb.Close)
	id, secret := "hygiene-"+randomHex(4), "client-secret-"+randomHex(16)
	s.add("oauth2 client_secret", secret)
	body, _ := json.Marshal(map[string]any{
		"client_id": id, "client_secret": secret, "client_name": "Hygiene",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"scope": "openid offline_access email profile", "redirect_uris": []string{cb.URL + "/callback"},
		"token_endpoint_auth_method": "client_secret_post",
	})
	res, err := http.Post(admin+"/admin/clients", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create client: %d", res.StatusCode)
	}
	return &hygieneClient{callback: cb.URL + "/callback", cfg: oauth2.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: cb.URL + "/callback",
		Endpoint: oauth2.Endpoint{AuthURL: public + "/oauth2/auth", TokenURL: public + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "offline_access", "email", "profile"},
	}}
}
