package integration

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/captcha/captchatest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
	"golang.org/x/net/html"
)

type htmlNode = html.Node

const password = "correct horse battery 42"

type heraEnv struct {
	*stacktest.Env
	logs *lockedBuffer
	hera *apptest.Hera
}

// startHera starts real Kratos (and Hydra if asked) and Hera in front of
// it, assembled as production assembles it (apptest). extraEnv are
// KEY=value settings.
func startHera(t *testing.T, o stacktest.Options, extraEnv ...string) *heraEnv {
	t.Helper()
	o.TokenHook = o.Hydra // Hera serves it
	e := stacktest.Start(t, o)
	env := map[string]string{}
	for _, kv := range extraEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	h := apptest.Start(t, e, env)
	return &heraEnv{Env: e, logs: h.Logs, hera: h}
}

var emailSeq atomic.Int64

func newEmail(prefix string) string {
	return prefix + "-" + time.Now().Format("150405") + "-" + string(rune('a'+emailSeq.Add(1)%26)) + "@example.com"
}

func mustPath(t *testing.T, p *webtest.Page, path string) {
	t.Helper()
	if p.URL.Path != path || p.Status != http.StatusOK {
		t.Fatalf("at %s (status %d), want %s\nalerts: %v\n%s", p.URL, p.Status, path, p.Alerts(), p.Text())
	}
}

// register signs up through Hera's two-step registration and returns the
// page the browser lands on.
func register(t *testing.T, b *webtest.Browser, email, pw string) *webtest.Page {
	t.Helper()
	p := b.Get("/registration")
	mustPath(t, p, "/registration")
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{
		"traits.email": email, "traits.name.first": "Ada", "traits.name.last": "Lovelace",
	})
	mustPath(t, p, "/registration")
	return b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": pw})
}

func login(t *testing.T, b *webtest.Browser, email, pw string) *webtest.Page {
	t.Helper()
	p := b.Get("/login")
	mustPath(t, p, "/login")
	return b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": pw})
}

func logout(t *testing.T, b *webtest.Browser) *webtest.Page {
	t.Helper()
	p := b.Get("/logout")
	mustPath(t, p, "/logout")
	return b.Submit(p.Form("confirm", "yes"), "confirm", "yes", nil)
}

func TestFlows(t *testing.T) {
	e := startHera(t, stacktest.Options{
		KratosEnv: []string{"SELFSERVICE_FLOWS_SETTINGS_PRIVILEGED_SESSION_MAX_AGE=4s"},
	})

	t.Run("registration, verification, logout, login", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("reg")
		mails := e.Mail.Len()
		p := register(t, b, email, password)
		// Kratos's show_verification_ui comes first: the code was sent.
		mustPath(t, p, "/verification")
		code := e.WaitCode(t, mails, email, "verification")
		p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
		mustPath(t, p, "/verification")
		if !p.Contains("You successfully verified your email address") {
			t.Fatalf("verification not confirmed: %s", p.Text())
		}
		p = b.Get("/")
		if !p.Contains("signed in as " + email) {
			t.Fatalf("welcome page: %s", p.Text())
		}
		p = logout(t, b)
		mustPath(t, p, "/login")
		if b.Get("/").Contains(email) {
			t.Fatal("still signed in after logout")
		}
		p = login(t, b, email, password)
		mustPath(t, p, "/")
		if !p.Contains("signed in as " + email) {
			t.Fatalf("after login: %s", p.Text())
		}
	})

	t.Run("wrong password shows Kratos's message on the same flow", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("wrong")
		register(t, b, email, password)
		logout(t, b)
		p := b.Get("/login")
		flow := p.Query("flow")
		p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": "not the password"})
		mustPath(t, p, "/login")
		if p.Query("flow") != flow {
			t.Errorf("flow changed: %s → %s", flow, p.Query("flow"))
		}
		if alerts := strings.Join(p.Alerts(), " | "); !strings.Contains(alerts, "credentials are invalid") {
			t.Fatalf("alerts %q", alerts)
		}
		// The identifier the user typed is kept.
		if got := p.Form("method", "password").Fields.Get("identifier"); got != email {
			t.Errorf("identifier %q, want %q", got, email)
		}
	})

	t.Run("login with a one-time code", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("code")
		register(t, b, email, password)
		logout(t, b)
		p := b.Get("/login")
		mails := e.Mail.Len()
		p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"identifier": email})
		mustPath(t, p, "/login")
		code := e.WaitCode(t, mails, email, "login_code")
		p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
		mustPath(t, p, "/")
		if !p.Contains("signed in as " + email) {
			t.Fatalf("after code login: %s", p.Text())
		}
	})

	t.Run("recovery by code from Forgot password, then the new password works", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("recover")
		register(t, b, email, password)
		logout(t, b)
		p := b.Get("/login")
		mails := e.Mail.Len()
		f := p.Form("method", "password")
		// "Forgot password?" posts the login form to /recovery/start.
		if f.Buttons[len(f.Buttons)-1].FormAction != "/recovery/start" {
			t.Fatalf("no Forgot password button: %+v", f.Buttons)
		}
		p = b.SubmitAt(f, "/recovery/start", map[string]string{"identifier": email})
		mustPath(t, p, "/recovery")
		code := e.WaitCode(t, mails, email, "recovery")
		p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
		// Recovery ends in the settings flow with a privileged session.
		mustPath(t, p, "/settings")
		newPW := "a brand new passphrase 7"
		p = b.Submit(p.FormByID("form-password"), "method", "password", map[string]string{"password": newPW})
		mustPath(t, p, "/settings")
		if !p.Contains("Your changes have been saved") {
			t.Fatalf("password not saved: %v %s", p.Alerts(), p.Text())
		}
		logout(t, b)
		if p := login(t, b, email, password); p.URL.Path == "/" {
			t.Fatal("old password still works")
		}
		p = login(t, b, email, newPW)
		mustPath(t, p, "/")
	})

	t.Run("settings: profile, password with re-authentication", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("settings")
		register(t, b, email, password)
		p := b.Get("/settings")
		mustPath(t, p, "/settings")
		p = b.Submit(p.FormByID("form-profile"), "method", "profile", map[string]string{"traits.name.first": "Grace"})
		mustPath(t, p, "/settings")
		if !p.Contains("Your changes have been saved") {
			t.Fatalf("profile not saved: %s", p.Text())
		}
		if !b.Get("/").Contains("Welcome, Grace Lovelace") {
			t.Fatal("new name not shown")
		}
		// Past privileged_session_max_age (4s here) Kratos wants the
		// password again before it changes the password.
		time.Sleep(5 * time.Second)
		p = b.Get("/settings")
		newPW := "another fine passphrase 9"
		p = b.Submit(p.FormByID("form-password"), "method", "password", map[string]string{"password": newPW})
		mustPath(t, p, "/login")
		if p.Query("flow") == "" || !p.Contains("Confirm it's you") {
			t.Fatalf("no re-authentication: %s", p.Text())
		}
		p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
		mustPath(t, p, "/settings")
		p = b.Submit(p.FormByID("form-password"), "method", "password", map[string]string{"password": newPW})
		mustPath(t, p, "/settings")
		if !p.Contains("Your changes have been saved") {
			t.Fatalf("password not saved after re-auth: %v", p.Alerts())
		}
		logout(t, b)
		mustPath(t, login(t, b, email, newPW), "/")
	})

	t.Run("TOTP and lookup secrets as second factors", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("mfa")
		register(t, b, email, password)
		p := b.Get("/settings")
		var secret string
		for _, c := range p.Find(func(n *htmlNode) bool {
			return n.Data == "code" && webtest.Attr(n.Parent, "id") == "form-totp-totp_secret_key"
		}) {
			secret = strings.TrimSpace(webtest.TextOf(c))
		}
		if secret == "" {
			t.Fatalf("no TOTP secret shown: %s", p.Text())
		}
		if len(p.Find(func(n *htmlNode) bool {
			return n.Data == "img" && strings.HasPrefix(webtest.Attr(n, "src"), "data:image/png;base64,")
		})) != 1 {
			t.Error("no TOTP QR code image")
		}
		code, err := webtest.TOTP(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p = b.Submit(p.FormByID("form-totp"), "method", "totp", map[string]string{"totp_code": code})
		mustPath(t, p, "/settings")
		if !p.Contains("Your changes have been saved") {
			t.Fatalf("TOTP not enrolled: %v", p.Alerts())
		}

		// Backup codes: reveal, confirm.
		p = b.Submit(p.FormByID("form-lookup_secret"), "lookup_secret_regenerate", "true", nil)
		mustPath(t, p, "/settings")
		var codes []string
		for _, li := range p.Find(func(n *htmlNode) bool {
			return n.Data == "li" && strings.Contains(webtest.Attr(n.Parent, "class"), "secrets")
		}) {
			codes = append(codes, strings.TrimSpace(webtest.TextOf(li)))
		}
		if len(codes) < 10 {
			t.Fatalf("backup codes: %v", codes)
		}
		p = b.Submit(p.FormByID("form-lookup_secret"), "lookup_secret_confirm", "true", nil)
		if !p.Contains("Your changes have been saved") {
			t.Fatalf("codes not confirmed: %v %s", p.Alerts(), p.Text())
		}

		// Sign in again: password, then the authenticator app.
		logout(t, b)
		p = login(t, b, email, password)
		mustPath(t, p, "/login")
		if p.Query("flow") == "" || !p.Contains("Second factor") {
			t.Fatalf("no second-factor step: %s", p.Text())
		}
		p = b.Submit(p.Form("method", "totp"), "method", "totp", map[string]string{"totp_code": "000000"})
		if alerts := strings.Join(p.Alerts(), " "); !strings.Contains(alerts, "authentication code is invalid") {
			t.Fatalf("wrong TOTP code: %q", alerts)
		}
		code, _ = webtest.TOTP(secret, time.Now())
		p = b.Submit(p.Form("method", "totp"), "method", "totp", map[string]string{"totp_code": code})
		mustPath(t, p, "/")
		if !p.Contains("two factors") {
			t.Fatalf("not aal2: %s", p.Text())
		}

		// And with a backup code instead.
		logout(t, b)
		p = login(t, b, email, password)
		p = b.Submit(p.Form("method", "lookup_secret"), "method", "lookup_secret", map[string]string{"lookup_secret": codes[0]})
		mustPath(t, p, "/")
		if !p.Contains("two factors") {
			t.Fatalf("backup code login: %s", p.Text())
		}
	})

	t.Run("sessions: list and revoke the others", func(t *testing.T) {
		email := newEmail("sessions")
		a := webtest.New(t, e.HeraURL)
		register(t, a, email, password)
		other := webtest.New(t, e.HeraURL)
		mustPath(t, login(t, other, email, password), "/")
		p := a.Get("/sessions")
		mustPath(t, p, "/sessions")
		if !p.Contains("Sign out all other sessions") {
			t.Fatalf("other session not listed: %s", p.Text())
		}
		p = a.Submit(p.FormByAction("/sessions/revoke-others"), "", "", nil)
		mustPath(t, p, "/sessions")
		if !p.Contains("No other active sessions") {
			t.Fatalf("after revoke: %s", p.Text())
		}
		if other.Get("/").Contains(email) {
			t.Fatal("revoked session still signed in")
		}
		if !a.Get("/").Contains(email) {
			t.Fatal("current session was revoked")
		}
	})

	t.Run("return_to outside the allowlist never reaches Kratos", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		flowReturnTo := func(p *webtest.Page) string {
			t.Helper()
			res := b.Get("/api/kratos/flows?type=login&id=" + p.Query("flow"))
			var f struct {
				ReturnTo string `json:"return_to"`
			}
			if err := json.Unmarshal([]byte(res.Body), &f); err != nil {
				t.Fatalf("flow JSON: %v %s", err, res.Body)
			}
			return f.ReturnTo
		}
		for _, evil := range []string{"https://evil.example/", e.HeraURL + "-evil/", "//evil.example/x", e.HeraURL + "/%2e%2e/admin"} {
			p := b.Get("/login?return_to=" + url.QueryEscape(evil))
			mustPath(t, p, "/login")
			if got := flowReturnTo(p); got != "" {
				t.Errorf("return_to %q reached Kratos as %q", evil, got)
			}
		}
		p := b.Get("/login?return_to=" + url.QueryEscape("/sessions"))
		if got := flowReturnTo(p); got != e.HeraURL+"/sessions" {
			t.Errorf("allowed return_to became %q", got)
		}
	})

	t.Run("flow JSON by id alone", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		get := func(kind, id string) {
			t.Helper()
			res := b.Get("/api/kratos/flows?id=" + id)
			var f struct {
				ID         string `json:"id"`
				RequestURL string `json:"request_url"`
			}
			if err := json.Unmarshal([]byte(res.Body), &f); err != nil || res.Status != http.StatusOK {
				t.Fatalf("%s: %d %v %s", kind, res.Status, err, res.Body)
			}
			if f.ID != id || !strings.Contains(f.RequestURL, "/self-service/"+kind+"/browser") {
				t.Errorf("%s: got flow %s from %s", kind, f.ID, f.RequestURL)
			}
			// The type stays a hint: the right one answers, a wrong one is 404.
			if res := b.Get("/api/kratos/flows?type=" + kind + "&id=" + id); res.Status != http.StatusOK {
				t.Errorf("%s with its type: %d", kind, res.Status)
			}
			if res := b.Get("/api/kratos/flows?type=verification&id=" + id); kind != "verification" && res.Status != http.StatusNotFound {
				t.Errorf("%s asked as verification: %d, want 404", kind, res.Status)
			}
		}
		for _, kind := range []string{"login", "registration", "recovery", "verification"} {
			get(kind, b.Get("/"+kind).Query("flow"))
		}
		unknown := "id=00000000-0000-4000-8000-000000000000"
		for q, want := range map[string]int{
			// Kratos answers 401 for any settings ID without a session.
			unknown:                 http.StatusUnauthorized,
			"id=not-a-uuid":         http.StatusBadRequest,
			"type=nope&" + unknown:  http.StatusBadRequest,
			"type=login&" + unknown: http.StatusNotFound,
		} {
			if res := b.Get("/api/kratos/flows?" + q); res.Status != want || !strings.Contains(res.Body, `"error"`) {
				t.Errorf("%s: %d %s, want %d", q, res.Status, res.Body, want)
			}
		}
		register(t, b, newEmail("flowjson"), "correct horse battery staple 9")
		get("settings", b.Get("/settings").Query("flow"))
		if res := b.Get("/api/kratos/flows?" + unknown); res.Status != http.StatusNotFound {
			t.Errorf("unknown ID, signed in: %d %s, want 404", res.Status, res.Body)
		}
	})

	t.Run("unknown flow restarts", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		p := b.Get("/login?flow=00000000-0000-4000-8000-000000000000")
		mustPath(t, p, "/login")
		if f := p.Query("flow"); f == "" || f == "00000000-0000-4000-8000-000000000000" {
			t.Fatalf("not restarted: %s", p.URL)
		}
		p = b.Get("/registration?flow=not-a-uuid")
		mustPath(t, p, "/registration")
	})

	t.Run("CSRF check failed on submit: notice and identifier kept", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		p := b.Get("/login")
		form := p.Form("method", "password")
		form.Fields.Set("csrf_token", "tampered"+form.Fields.Get("csrf_token"))
		p = b.Submit(form, "method", "password", map[string]string{"identifier": "typed@example.com", "password": "s3cret-typed-pw"})
		mustPath(t, p, "/login")
		mustShowRestart(t, p, "typed@example.com", "s3cret-typed-pw")
		// The same in German: the notice is translated.
		de := webtest.New(t, e.HeraURL)
		p = de.Get("/language?lang=de&next=/login")
		form = p.Form("method", "password")
		form.Fields.Set("csrf_token", "x")
		p = de.Submit(form, "method", "password", map[string]string{"identifier": "typed@example.com", "password": "pw"})
		if !p.Contains("Ihr Anmeldeformular ist abgelaufen") {
			t.Errorf("German notice missing: %s", p.Text())
		}
	})

	t.Run("CSRF cookie that never arrives: loop guard", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := webtest.NewWithJar(t, e.HeraURL, dropCSRF{jar})
		p := b.Get("/login")
		if p.Status != http.StatusConflict || !p.Contains("security cookie did not reach") {
			t.Fatalf("status %d at %s: %s", p.Status, p.URL, p.Text())
		}
		if len(b.Hops) > 6 {
			t.Errorf("%d redirects before giving up: %v", len(b.Hops), b.Hops)
		}
		// The guard resets: a browser that keeps its cookies works again.
		good := webtest.New(t, e.HeraURL)
		mustPath(t, good.Get("/login"), "/login")
	})

	t.Run("proxy refuses what is not a public Kratos route", func(t *testing.T) {
		for _, path := range []string{
			"/api/kratos/admin/identities",
			"/api/kratos/self-service/%2e%2e/admin/identities",
			"/api/kratos/self-service/login/%2fbrowser",
			"/api/kratos/identities",
			"/api/kratos/sessions/00000000-0000-4000-8000-000000000000",
		} {
			res, err := http.Get(e.HeraURL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, res.StatusCode)
			}
		}
		// Oversized bodies are refused before anything reads them whole.
		big := strings.NewReader("identifier=" + strings.Repeat("a", 70<<10))
		req, _ := http.NewRequest(http.MethodPost, e.HeraURL+"/api/kratos/login/submit?flow=00000000-0000-4000-8000-000000000000", big)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if res, err := http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		} else if res.Body.Close(); res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("70 KiB form: status %d, want 413", res.StatusCode)
		}
		// Public routes pass, cookies and all.
		res, err := http.Get(e.HeraURL + "/api/kratos/.well-known/ory/webauthn.js")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("webauthn.js: %d", res.StatusCode)
		}
	})
}

// TestProxySubmissionsGoThroughTheChecks posts straight to Kratos's submit
// endpoint through the proxy, as a native app or a scripted attacker would:
// production's guard sees it (a captcha on sign-in here), and when it
// refuses, Kratos never does.
func TestProxySubmissionsGoThroughTheChecks(t *testing.T) {
	sv := captchatest.New(t, captchatest.Options{})
	e := startHera(t, stacktest.Options{}, "HERA_CAPTCHA_PROVIDER=turnstile", "HERA_CAPTCHA_SITE_KEY="+captchatest.TestSiteKey,
		"HERA_CAPTCHA_SECRET="+sv.Secret(), "HERA_CAPTCHA_VERIFY_URL="+sv.URL, "HERA_CAPTCHA_FLOWS=login")
	g := newDecisionLog(t, e)
	b := webtest.New(t, e.HeraURL)
	p := b.Get("/login")
	f := p.Form("method", "password")
	fields := url.Values{}
	for k, v := range f.Fields {
		fields[k] = v
	}
	fields.Set("identifier", "someone@example.com")
	fields.Set("password", "guess")
	fields.Set("method", "password")

	// A form post and a JSON API call to Kratos's own endpoint, no token.
	p = b.Post("/api/kratos/self-service/login?flow="+p.Query("flow"), fields)
	if !p.Contains("Please complete the challenge") {
		t.Fatalf("form post not refused: %s %s", p.URL, p.Text())
	}
	req, _ := http.NewRequest(http.MethodPost, e.HeraURL+"/api/kratos/self-service/login?flow="+p.Query("flow"),
		strings.NewReader(`{"method":"password","identifier":"someone@example.com","password":"guess","csrf_token":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("JSON submission: status %d, want 403", res.StatusCode)
	}
	ds := g.all()
	if len(ds) != 2 || ds[0].Outcome != "captcha_failed" || ds[1].Outcome != "captcha_failed" {
		t.Errorf("guard decisions %+v, want two captcha refusals", ds)
	}
	if strings.Contains(e.logs.String(), `"msg":"submission"`) {
		t.Error("a refused submission reached Kratos")
	}

	// Allowed: the submission reaches Kratos and its outcome is counted on
	// the account it names.
	p = b.Get("/login")
	b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": "nobody@example.com",
		"password": "guess", "cf-turnstile-response": sv.Token()})
	if got := g.last(); got.Outcome != "credential_failure" || got.AccountKey != g.accountKey("nobody@example.com") {
		t.Errorf("last decision %+v", got)
	}
}

// dropCSRF is a cookie jar that loses Kratos's CSRF cookie, as a browser
// does when Kratos's cookie domain does not match Hera's.
type dropCSRF struct{ http.CookieJar }

func (d dropCSRF) SetCookies(u *url.URL, cs []*http.Cookie) {
	var keep []*http.Cookie
	for _, c := range cs {
		if !strings.HasPrefix(c.Name, "csrf_token") {
			keep = append(keep, c)
		}
	}
	d.CookieJar.SetCookies(u, keep)
}

// TestExpiredFlows: an expired flow, fetched or submitted, continues on a
// fresh one instead of showing an error.
func TestExpiredFlows(t *testing.T) {
	e := startHera(t, stacktest.Options{KratosEnv: []string{"SELFSERVICE_FLOWS_LOGIN_LIFESPAN=1s"}})
	b := webtest.New(t, e.HeraURL)
	p := b.Get("/login")
	old := p.Query("flow")
	form := p.Form("method", "password")
	time.Sleep(1500 * time.Millisecond)

	p = b.Get("/login?flow=" + old)
	mustPath(t, p, "/login")
	if p.Query("flow") == old {
		t.Fatal("expired flow rendered instead of restarted")
	}

	p = b.Submit(form, "method", "password", map[string]string{"identifier": "x@example.com", "password": "whatever"})
	mustPath(t, p, "/login")
	if p.Query("flow") == old {
		t.Fatalf("submission of an expired flow stayed on it: %s", p.URL)
	}
	mustShowRestart(t, p, "x@example.com", "whatever")
	// Read once: a reload shows neither the notice nor the identifier.
	p = b.Get("/login?flow=" + p.Query("flow"))
	if p.Contains("form expired") || p.Form("method", "password").Fields.Get("identifier") != "" {
		t.Errorf("kept past one page view: %s", p.Text())
	}
}

// mustShowRestart checks a restarted flow's page: the notice, the
// identifier typed before, and no trace of the password.
func mustShowRestart(t *testing.T, p *webtest.Page, identifier, password string) {
	t.Helper()
	if !p.Contains("Your sign-in form expired or your browser's security check failed. Please try again.") {
		t.Errorf("no restart notice: %s", p.Text())
	}
	if got := p.Form("method", "password").Fields.Get("identifier"); got != identifier {
		t.Errorf("identifier field %q, want %q", got, identifier)
	}
	if strings.Contains(p.Body, password) {
		t.Error("the password is on the page")
	}
}

// lockedBuffer is the stack test kit's goroutine-safe buffer.
type lockedBuffer = stacktest.Buffer
