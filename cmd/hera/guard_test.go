package main

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dev "github.com/heraproject/hera/deploy/dev"
	"github.com/heraproject/hera/internal/captcha/captchatest"
	"github.com/heraproject/hera/internal/dbtest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
	"golang.org/x/net/html"
)

func TestMain(m *testing.M) { dbtestMain(m) }

const lockedText = "Too many attempts. Try again in"

var realmSeq atomic.Int64

// guardedStack starts real Kratos and Hera through run() with the given
// settings; Hera listens on the address Kratos knows as its UI.
func guardedStack(t *testing.T, env map[string]string, kratosEnv ...string) (*stacktest.Env, map[string]string) {
	t.Helper()
	return guardedStackWith(t, stacktest.Options{KratosEnv: kratosEnv}, env)
}

// guardedStackWith is guardedStack with the stack's options (an identity
// schema, say).
func guardedStackWith(t *testing.T, o stacktest.Options, env map[string]string) (*stacktest.Env, map[string]string) {
	t.Helper()
	e := stacktest.Start(t, o)
	addr := e.HeraListener.Addr().String()
	e.HeraListener.Close()
	base := map[string]string{
		"HERA_LISTEN":       addr,
		"HERA_PUBLIC_URL":   e.HeraURL,
		"KRATOS_PUBLIC_URL": e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":  e.Kratos.AdminURL,
		"HERA_LOCKOUT_REALM": "t" + time.Now().Format("150405") + "-" +
			string(rune('a'+realmSeq.Add(1)%26)),
	}
	for k, v := range env {
		base[k] = v
	}
	startHera(t, copyEnv(base))
	return e, base
}

// storeEnv is Hera's environment for a lockout store: memory, or a fresh
// PostgreSQL database or Redis key space.
func storeEnv(t *testing.T, store string) map[string]string {
	env := map[string]string{"HERA_LOCKOUT_STORE": store}
	switch store {
	case "postgres":
		env["HERA_LOCKOUT_POSTGRES_DSN"] = dbtest.Postgres(t)
	case "redis":
		addr, _ := dbtest.Redis(t)
		env["HERA_LOCKOUT_REDIS_URL"] = "redis://" + addr + "/0"
	}
	return env
}

func copyEnv(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func signUp(t *testing.T, b *webtest.Browser, email, pw string) {
	t.Helper()
	p := b.Get("/registration")
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{"traits.email": email})
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": pw})
	if p.URL.Path != "/verification" {
		t.Fatalf("sign-up ended at %s: %s", p.URL, p.Text())
	}
	p = b.Get("/logout")
	b.Submit(p.Form("confirm", "yes"), "confirm", "yes", nil)
}

// tryLogin submits one password sign-in, optionally at another Hera
// instance, with extra fields (a captcha token).
func tryLogin(t *testing.T, b *webtest.Browser, at, identifier, pw string, extra map[string]string) *webtest.Page {
	t.Helper()
	p := b.Get("/login")
	f := p.Form("method", "password")
	fields := map[string]string{"identifier": identifier, "password": pw}
	for k, v := range extra {
		fields[k] = v
	}
	if at != "" {
		f.Action = at + f.Action
	}
	return b.Submit(f, "method", "password", fields)
}

func signedIn(p *webtest.Page) bool {
	return p.URL.Path == "/" && strings.Contains(p.Text(), "You are signed in")
}

// TestLockout runs the lockout end to end on every store.
func TestLockout(t *testing.T) {
	const pw = "the right password 77"
	for _, store := range []string{"memory", "postgres", "redis"} {
		t.Run(store, func(t *testing.T) {
			env := storeEnv(t, store)
			e, _ := guardedStack(t, env)
			b := webtest.New(t, e.HeraURL)
			email := "lock-" + store + "@example.com"
			signUp(t, b, email, pw)

			// Variants of one identifier share its counter.
			variants := []string{email, " LOCK-" + strings.ToUpper(store) + "@example.com ", "lock-\u200b" + store + "@example.com", "ｌｏｃｋ-" + store + "@example.com", email}
			for i, v := range variants {
				p := tryLogin(t, b, "", v, "wrong password", nil)
				if !strings.Contains(strings.Join(p.Alerts(), " "), "credentials are invalid") {
					t.Fatalf("failure %d (%q): %v", i+1, v, p.Alerts())
				}
			}
			// Locked: even the right password is refused, before Kratos.
			p := tryLogin(t, b, "", email, pw, nil)
			if signedIn(p) || !p.Contains(lockedText) {
				t.Fatalf("not locked after 5 failures: %s", p.Text())
			}
			// An unknown identifier locks the same way, with the same page.
			ghost := "ghost-" + store + "@example.com"
			for range 5 {
				tryLogin(t, b, "", ghost, "wrong password", nil)
			}
			q := tryLogin(t, b, "", ghost, pw, nil)
			if q.Status != p.Status || !q.Contains(lockedText) || normalise(q) != normalise(p) {
				t.Errorf("unknown and known identifiers differ when locked:\n%s\n%s", normalise(q), normalise(p))
			}
			// (Expiry, with an injectable clock: internal/guard.)
		})
	}
}

// TestLockoutUsernameSchema: with a schema whose identifier is a username,
// guesses count against the username, whatever its case, and lock it.
func TestLockoutUsernameSchema(t *testing.T) {
	const pw = "the right password 77"
	schema, err := dev.FS.ReadFile("identity.username.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := guardedStackWith(t, stacktest.Options{Schema: schema}, nil)
	b := webtest.New(t, e.HeraURL)
	user := "grace." + time.Now().Format("150405")
	p := b.Get("/registration")
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{"traits.username": user, "traits.email": user + "@example.com"})
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": pw})
	if p.URL.Path != "/verification" && p.URL.Path != "/" {
		t.Fatalf("sign-up ended at %s: %s", p.URL, p.Text())
	}
	p = b.Get("/logout")
	b.Submit(p.Form("confirm", "yes"), "confirm", "yes", nil)

	for i, v := range []string{user, strings.ToUpper(user), " " + user, user, user} {
		p := tryLogin(t, b, "", v, "wrong password", nil)
		if !strings.Contains(strings.Join(p.Alerts(), " "), "credentials are invalid") {
			t.Fatalf("failure %d (%q): %v", i+1, v, p.Alerts())
		}
	}
	if p := tryLogin(t, b, "", user, pw, nil); signedIn(p) || !p.Contains(lockedText) {
		t.Fatalf("username not locked after 5 failures: %s", p.Text())
	}
}

// normalise removes what differs between two renderings of the same page:
// flow IDs, CSRF tokens, request IDs.
func normalise(p *webtest.Page) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "footer" {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(strings.TrimSpace(n.Data))
		}
		if n.Type == html.ElementNode {
			b.WriteString("<" + n.Data)
			for _, a := range n.Attr {
				if a.Key == "action" || a.Key == "value" || a.Key == "nonce" {
					continue
				}
				b.WriteString(" " + a.Key + "=" + a.Val)
			}
			b.WriteString(">")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(p.Doc)
	return b.String()
}

// TestLockoutSharedAcrossInstances: two Hera replicas sharing one store lock
// an identifier at the threshold when the failures are spread across both.
func TestLockoutSharedAcrossInstances(t *testing.T) {
	for _, store := range []string{"postgres", "redis"} {
		t.Run(store, func(t *testing.T) {
			env := storeEnv(t, store)
			e, base := guardedStack(t, env)
			second := copyEnv(base)
			second["HERA_LISTEN"] = closedAddr(t)
			// The same host name as the first instance, so the browser's
			// cookies (Kratos's CSRF cookie) reach both.
			other := strings.Replace(startHera(t, second), "127.0.0.1", "localhost", 1)

			b := webtest.New(t, e.HeraURL)
			email := "shared-" + store + "@example.com"
			signUp(t, b, email, "the right password 77")
			for i := range 5 {
				at := ""
				if i%2 == 1 {
					at = other
				}
				p := tryLogin(t, b, at, email, "wrong", nil)
				if p.Contains(lockedText) {
					t.Fatalf("locked after %d failures", i)
				}
			}
			for _, at := range []string{"", other} {
				if p := tryLogin(t, b, at, email, "the right password 77", nil); !p.Contains(lockedText) {
					t.Errorf("instance %q not locked: %s", at, p.Text())
				}
			}
		})
	}
}

// TestLockoutStoreDown: fail closed by default, open when configured.
func TestLockoutStoreDown(t *testing.T) {
	dead := "redis://" + dbtest.ClosedAddr(t) + "/0"
	for _, failOpen := range []bool{false, true} {
		env := map[string]string{"HERA_LOCKOUT_STORE": "redis", "HERA_LOCKOUT_REDIS_URL": dead, "HERA_LOCKOUT_TIMEOUT": "300ms"}
		if failOpen {
			env["HERA_LOCKOUT_FAIL_OPEN"] = "true"
		}
		e, _ := guardedStack(t, env)
		b := webtest.New(t, e.HeraURL)
		p := tryLogin(t, b, "", "nobody@example.com", "whatever", nil)
		switch {
		case !failOpen && !p.Contains("temporarily unavailable"):
			t.Errorf("fail closed: %s", p.Text())
		case failOpen && !strings.Contains(strings.Join(p.Alerts(), " "), "credentials are invalid"):
			t.Errorf("fail open: the attempt should reach Kratos: %v", p.Alerts())
		}
	}
}

// TestCaptcha runs the captcha against a local siteverify server.
func TestCaptcha(t *testing.T) {
	sv := captchatest.New(t, captchatest.Options{})
	e, _ := guardedStack(t, map[string]string{
		"HERA_CAPTCHA_PROVIDER":   "turnstile",
		"HERA_CAPTCHA_SITE_KEY":   "1x00000000000000000000AA",
		"HERA_CAPTCHA_SECRET":     sv.Secret(),
		"HERA_CAPTCHA_VERIFY_URL": sv.URL,
		// Long enough for the local siteverify on a busy machine, short
		// enough that the Hang mode below fails within a few seconds.
		"HERA_CAPTCHA_TIMEOUT": "3s",
		"HERA_CAPTCHA_FLOWS":   "registration,recovery",
	})
	const pw = "the right password 77"
	b := webtest.New(t, e.HeraURL)
	email := "captcha@example.com"

	// Registration needs the captcha on every step.
	p := b.Get("/registration")
	if len(p.Find(func(n *html.Node) bool { return webtest.Attr(n, "class") == "cf-turnstile" })) != 1 {
		t.Fatal("no captcha widget on the registration page")
	}
	csp := p.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "https://challenges.cloudflare.com") {
		t.Errorf("CSP does not allow the provider: %s", csp)
	}
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{"traits.email": email})
	if !p.Contains("Please complete the challenge") {
		t.Fatalf("registration without a token went through: %s", p.Text())
	}
	if n := sv.RequestCount(); n != 0 {
		t.Errorf("missing token reached siteverify %d times", n)
	}
	tok := sv.Token()
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{"traits.email": email, "cf-turnstile-response": tok})
	f := p.Form("method", "password")
	// A spent token is refused.
	p = b.Submit(f, "method", "password", map[string]string{"password": pw, "cf-turnstile-response": tok})
	if !p.Contains("Please complete the challenge") {
		t.Fatalf("spent token accepted: %s", p.Text())
	}
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": pw, "cf-turnstile-response": sv.Token()})
	if p.URL.Path != "/verification" {
		t.Fatalf("registration with a valid token: %s %s", p.URL, p.Text())
	}
	if req := sv.Requests(); len(req) == 0 || req[len(req)-1].RemoteIP == "" || req[len(req)-1].IdempotencyKey == "" {
		t.Errorf("siteverify got %+v", sv.Requests())
	}
	b.Submit(b.Get("/logout").Form("confirm", "yes"), "confirm", "yes", nil)

	// Login is not a captcha flow here: it escalates after 3 failures.
	for range 3 {
		tryLogin(t, b, "", email, "wrong", nil)
	}
	p = tryLogin(t, b, "", email, pw, nil)
	if !p.Contains("Please complete the challenge") {
		t.Fatalf("no captcha escalation after 3 failures: %s", p.Text())
	}
	if len(p.Find(func(n *html.Node) bool { return webtest.Attr(n, "class") == "cf-turnstile" })) != 1 {
		t.Fatal("escalated login page has no widget")
	}
	// Failed captchas count against nobody: many of them, then a real try.
	for range 6 {
		tryLogin(t, b, "", email, pw, map[string]string{"cf-turnstile-response": "bad-token"})
	}
	if p := tryLogin(t, b, "", email, pw, map[string]string{"cf-turnstile-response": sv.Token()}); !signedIn(p) {
		t.Fatalf("valid token and password refused: %s", p.Text())
	}
	b.Submit(b.Get("/logout").Form("confirm", "yes"), "confirm", "yes", nil)

	// Provider trouble fails closed with a clear message.
	for _, mode := range []captchatest.Mode{captchatest.Hang, captchatest.Garbage, captchatest.Status500} {
		sv.SetMode(mode)
		p := b.Get("/recovery")
		p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"email": email, "cf-turnstile-response": sv.Token()})
		if !p.Contains("temporarily unavailable") {
			t.Errorf("mode %v: %s", mode, p.Text())
		}
	}
	sv.SetMode(captchatest.Normal)
}

// TestSecondFactorLockout: guessing TOTP codes on one session locks the
// identity's second factor (TestSecondFactorCountedPerIdentity spreads the
// guesses over sessions).
func TestSecondFactorLockout(t *testing.T) {
	e, _ := guardedStack(t, map[string]string{"HERA_LOCKOUT_DURATION": "1m"})
	const pw = rightPassword
	email := "totp-lock@example.com"
	secret := enrolTOTP(t, e.HeraURL, email)
	b := webtest.New(t, e.HeraURL)
	p := tryLogin(t, b, "", email, pw, nil)
	if !p.Contains("Second factor") {
		t.Fatalf("no second factor step: %s", p.Text())
	}
	flow := p.URL.String()
	for range 5 {
		p = b.Get(flow)
		b.Submit(p.Form("method", "totp"), "method", "totp", map[string]string{"totp_code": "000000"})
	}
	code, _ := webtest.TOTP(secret, time.Now())
	p = b.Get(flow)
	p = b.Submit(p.Form("method", "totp"), "method", "totp", map[string]string{"totp_code": code})
	if !p.Contains(lockedText) {
		t.Fatalf("right TOTP code accepted after 5 wrong ones: %s", p.Text())
	}
}

// TestMetricsAndStoreReadiness: /metrics on its own listener counts routes,
// Kratos calls and guard decisions; readiness covers the lockout store.
func TestMetricsAndStoreReadiness(t *testing.T) {
	maddr := closedAddr(t)
	e, _ := guardedStack(t, map[string]string{"HERA_METRICS_LISTEN": maddr})
	b := webtest.New(t, e.HeraURL)
	tryLogin(t, b, "", "someone@example.com", "wrong", nil)
	if p := b.Get("/metrics"); p.Status != 404 {
		t.Errorf("/metrics on the public listener: %d", p.Status)
	}
	m := webtest.New(t, "http://"+maddr).Get("/metrics")
	for _, want := range []string{
		`hera_http_requests_total{method="GET",route="GET /login",status="200"}`,
		`hera_http_requests_total{method="POST",route="POST /api/kratos/{flow}/submit",status="303"} 1`,
		`hera_upstream_request_duration_seconds_count{method="GET",status="2xx",upstream="kratos"}`,
		`hera_upstream_request_duration_seconds_count{method="GET",status="3xx",upstream="kratos_proxy"}`,
		`hera_auth_decisions_total{flow="login",outcome="allowed"} 1`,
		`hera_auth_decisions_total{flow="login",outcome="credential_failure"} 1`,
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// A shared store that is down makes Hera unready.
	dead := "redis://" + dbtest.ClosedAddr(t) + "/0"
	e2, env := guardedStack(t, map[string]string{"HERA_LOCKOUT_STORE": "redis", "HERA_LOCKOUT_REDIS_URL": dead, "HERA_LOCKOUT_TIMEOUT": "200ms"})
	_ = e2
	expectReady(t, "http://"+env["HERA_LISTEN"], 503, []string{"lockout_store"})
}
