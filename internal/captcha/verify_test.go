package captcha_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/captcha/captchatest"
)

const field = "cf-turnstile-response"

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// mustVerifier returns a Verifier pointed at srv; edit adjusts the config.
func mustVerifier(t *testing.T, srv *captchatest.Server, edit func(*captcha.Config)) *captcha.Verifier {
	t.Helper()
	c := captcha.Config{
		SiteKey:   captchatest.TestSiteKey,
		Secret:    srv.Secret(),
		VerifyURL: srv.URL,
		Timeout:   5 * time.Second,
	}
	if edit != nil {
		edit(&c)
	}
	v, err := captcha.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func tokenForm(tok string) url.Values { return url.Values{field: {tok}} }

// checkErr checks err's kind and reason (kind 0: no error).
func checkErr(t *testing.T, err error, kind captcha.Fault, reason captcha.Reason) {
	t.Helper()
	if kind == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %s/%s", kind, reason)
	}
	var e *captcha.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *captcha.Error", err, err)
	}
	if e.Fault != kind || e.Reason != reason {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Fault, e.Reason, err, kind, reason)
	}
	wantSentinel := captcha.ErrChallengeFailed
	otherSentinel := captcha.ErrUnavailable
	if kind == captcha.FaultUnavailable {
		wantSentinel, otherSentinel = otherSentinel, wantSentinel
	}
	if !errors.Is(err, wantSentinel) || errors.Is(err, otherSentinel) {
		t.Errorf("errors.Is does not follow the kind: %v", err)
	}
	if captcha.FaultOf(err) != kind || captcha.ReasonOf(err) != reason {
		t.Errorf("KindOf/ReasonOf = %s/%s", captcha.FaultOf(err), captcha.ReasonOf(err))
	}
}

// checkNoLeak fails if the token or secret appear in the error or result.
func checkNoLeak(t *testing.T, err error, res captcha.Result, secrets ...string) {
	t.Helper()
	text := fmt.Sprintf("%v %+v %#v", err, res, err)
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("error or result leaks %q: %s", s, text)
		}
	}
}

func TestVerifyAgainstServer(t *testing.T) {
	tests := []struct {
		name   string
		opts   captchatest.Options
		edit   func(*captcha.Config)
		setup  func(srv *captchatest.Server) // before the checked call
		token  func(srv *captchatest.Server) string
		kind   captcha.Fault
		reason captcha.Reason
		codes  []string
		// siteverify requests expected, and whether they share one key
		requests int
		status   int // Error.Status
	}{
		{name: "pass", token: fixed("pass"), requests: 1},
		{name: "fresh dummy token", token: (*captchatest.Server).Token, requests: 1},
		{name: "turnstile dummy token", token: fixed(captchatest.DummyToken), requests: 1},
		{name: "exactly max length", token: fixed(captchatest.DummyTokenPrefix + strings.Repeat("x", captcha.MaxTokenLen-len(captchatest.DummyTokenPrefix))), requests: 1},
		{name: "fail", token: fixed("not-a-passing-token"), kind: captcha.FaultChallenge, reason: captcha.ReasonRejected,
			codes: []string{captcha.CodeInvalidInputResponse}, requests: 1},
		{name: "spent", setup: spend("pass"), token: fixed("pass"), kind: captcha.FaultChallenge, reason: captcha.ReasonRejected,
			codes: []string{captcha.CodeTimeoutOrDuplicate}, requests: 1},
		{name: "timeout", setup: mode(captchatest.Hang), token: fixed("pass"),
			edit: func(c *captcha.Config) { c.Timeout = 200 * time.Millisecond },
			kind: captcha.FaultUnavailable, reason: captcha.ReasonTimeout, requests: 1},
		{name: "garbage", setup: mode(captchatest.Garbage), token: fixed("pass"),
			kind: captcha.FaultUnavailable, reason: captcha.ReasonBadResponse, requests: 1},
		{name: "500 then success", setup: mode(captchatest.Status500Once), token: fixed("pass"), requests: 2},
		{name: "500 twice", setup: mode(captchatest.Status500), token: fixed("pass"),
			kind: captcha.FaultUnavailable, reason: captcha.ReasonHTTPStatus, requests: 2, status: 500},
		{name: "internal-error then success", setup: mode(captchatest.InternalErrorOnce), token: fixed("pass"), requests: 2},
		{name: "internal-error twice", setup: mode(captchatest.InternalError), token: fixed("pass"),
			kind: captcha.FaultUnavailable, reason: captcha.ReasonProviderError, codes: []string{captcha.CodeInternalError}, requests: 2},
		{name: "hostname matches", edit: hostnames("login.example.com", "localhost"), token: fixed("pass"), requests: 1},
		{name: "hostname matches any case", opts: captchatest.Options{Hostname: "Login.Example.COM"},
			edit: hostnames("login.example.com"), token: fixed("pass"), requests: 1},
		{name: "hostname mismatch", edit: hostnames("login.example.com"), token: fixed("pass"),
			kind: captcha.FaultChallenge, reason: captcha.ReasonHostnameMismatch, requests: 1},
		{name: "hostname empty in answer", opts: captchatest.Options{Hostname: ""}, setup: func(s *captchatest.Server) { s.SetHostname("") },
			edit: hostnames("localhost"), token: fixed("pass"),
			kind: captcha.FaultChallenge, reason: captcha.ReasonHostnameMismatch, requests: 1},
		{name: "action matches", opts: captchatest.Options{Action: "login"}, edit: action("login"), token: fixed("pass"), requests: 1},
		{name: "action mismatch", opts: captchatest.Options{Action: "registration"}, edit: action("login"), token: fixed("pass"),
			kind: captcha.FaultChallenge, reason: captcha.ReasonActionMismatch, requests: 1},
		{name: "action missing in answer", edit: action("login"), token: fixed("pass"),
			kind: captcha.FaultChallenge, reason: captcha.ReasonActionMismatch, requests: 1},
		{name: "wrong secret", edit: func(c *captcha.Config) { c.Secret = "wrong-secret" }, token: fixed("pass"),
			kind: captcha.FaultUnavailable, reason: captcha.ReasonMisconfigured, codes: []string{captcha.CodeInvalidInputSecret}, requests: 1},
		{name: "cloudflare test secret passes", edit: secret(captchatest.TestSecretPass), token: fixed(captchatest.DummyToken), requests: 1},
		{name: "cloudflare test secret fails", edit: secret(captchatest.TestSecretFail), token: fixed(captchatest.DummyToken),
			kind: captcha.FaultChallenge, reason: captcha.ReasonRejected, codes: []string{captcha.CodeInvalidInputResponse}, requests: 1},
		{name: "cloudflare test secret spent", edit: secret(captchatest.TestSecretSpent), token: fixed(captchatest.DummyToken),
			kind: captcha.FaultChallenge, reason: captcha.ReasonRejected, codes: []string{captcha.CodeTimeoutOrDuplicate}, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := captchatest.New(t, tt.opts)
			v := mustVerifier(t, srv, tt.edit)
			if tt.setup != nil {
				tt.setup(srv)
			}
			srv.ResetRequests()
			tok := tt.token(srv)

			start := time.Now()
			res, err := v.Verify(context.Background(), tokenForm(tok), "203.0.113.7")
			elapsed := time.Since(start)

			checkErr(t, err, tt.kind, tt.reason)
			checkNoLeak(t, err, res, tok, srv.Secret(), captchatest.TestSecretPass, captchatest.TestSecretFail, captchatest.TestSecretSpent)
			if res.Success != (err == nil) {
				t.Errorf("Success = %v with error %v", res.Success, err)
			}
			if tt.codes != nil && fmt.Sprint(res.ErrorCodes) != fmt.Sprint(tt.codes) {
				t.Errorf("codes = %v, want %v", res.ErrorCodes, tt.codes)
			}
			var e *captcha.Error
			if errors.As(err, &e) {
				if tt.codes != nil && fmt.Sprint(e.Codes) != fmt.Sprint(tt.codes) {
					t.Errorf("Error.Codes = %v, want %v", e.Codes, tt.codes)
				}
				if e.Status != tt.status {
					t.Errorf("Error.Status = %d, want %d", e.Status, tt.status)
				}
				if e.Attempts != tt.requests {
					t.Errorf("Error.Attempts = %d, want %d", e.Attempts, tt.requests)
				}
			}
			if tt.reason == captcha.ReasonTimeout && elapsed > 1500*time.Millisecond {
				t.Errorf("timeout took %v", elapsed)
			}

			reqs := srv.Requests()
			if len(reqs) != tt.requests || res.Attempts != tt.requests {
				t.Fatalf("server saw %d requests, Attempts = %d, want %d", len(reqs), res.Attempts, tt.requests)
			}
			if !uuidV4.MatchString(res.IdempotencyKey) {
				t.Errorf("idempotency key %q is not a v4 UUID", res.IdempotencyKey)
			}
			for i, r := range reqs {
				if r.Method != http.MethodPost || r.ContentType != "application/x-www-form-urlencoded" {
					t.Errorf("request %d: %s %q", i, r.Method, r.ContentType)
				}
				if r.IdempotencyKey != res.IdempotencyKey {
					t.Errorf("request %d: idempotency key %q, want %q (reused on retry)", i, r.IdempotencyKey, res.IdempotencyKey)
				}
				if r.RemoteIP != "203.0.113.7" || r.Response != tok {
					t.Errorf("request %d: remoteip %q, response %q", i, r.RemoteIP, r.Response)
				}
				if _, ok := r.Form["sitekey"]; ok {
					t.Errorf("request %d: Turnstile sent a sitekey", i)
				}
			}
			if err == nil && res.Hostname == "" {
				t.Error("Result.Hostname empty on success")
			}
			if err == nil && res.ChallengeTS.IsZero() {
				t.Error("Result.ChallengeTS not parsed")
			}
		})
	}
}

func fixed(tok string) func(*captchatest.Server) string {
	return func(*captchatest.Server) string { return tok }
}

func mode(m captchatest.Mode) func(*captchatest.Server) {
	return func(s *captchatest.Server) { s.SetMode(m) }
}

// spend uses tok once, through a throwaway verifier.
func spend(tok string) func(*captchatest.Server) {
	return func(s *captchatest.Server) {
		v, err := captcha.New(captcha.Config{SiteKey: "k", Secret: s.Secret(), VerifyURL: s.URL})
		if err != nil {
			panic(err)
		}
		if _, err := v.Verify(context.Background(), tokenForm(tok), ""); err != nil {
			panic(err)
		}
	}
}

func hostnames(h ...string) func(*captcha.Config) {
	return func(c *captcha.Config) { c.Hostnames = h }
}

func action(a string) func(*captcha.Config) { return func(c *captcha.Config) { c.Action = a } }

func secret(s string) func(*captcha.Config) { return func(c *captcha.Config) { c.Secret = s } }

// Tokens that are missing, empty, too long, repeated or malformed never reach
// siteverify.
func TestVerifyRejectsBadTokensLocally(t *testing.T) {
	srv := captchatest.New(t, captchatest.Options{})
	v := mustVerifier(t, srv, nil)
	long := captchatest.DummyTokenPrefix + strings.Repeat("x", captcha.MaxTokenLen)
	tests := []struct {
		name   string
		form   url.Values
		reason captcha.Reason
	}{
		{"nil form", nil, captcha.ReasonMissingToken},
		{"no field", url.Values{"identifier": {"a@example.com"}}, captcha.ReasonMissingToken},
		{"field without values", url.Values{field: {}}, captcha.ReasonMissingToken},
		{"another provider's field", url.Values{"h-captcha-response": {"pass"}, "g-recaptcha-response": {"pass"}}, captcha.ReasonMissingToken},
		{"empty", tokenForm(""), captcha.ReasonEmptyToken},
		{"oversized", tokenForm(long), captcha.ReasonTokenTooLong},
		{"oversized by one", tokenForm(strings.Repeat("a", captcha.MaxTokenLen+1)), captcha.ReasonTokenTooLong},
		{"duplicated", url.Values{field: {"pass", "pass"}}, captcha.ReasonDuplicateToken},
		{"duplicated with empty", url.Values{field: {"", "pass"}}, captcha.ReasonDuplicateToken},
		{"space", tokenForm("pa ss"), captcha.ReasonMalformedToken},
		{"newline", tokenForm("pass\n"), captcha.ReasonMalformedToken},
		{"NUL", tokenForm("pass\x00"), captcha.ReasonMalformedToken},
		{"non-ASCII", tokenForm("pässword"), captcha.ReasonMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := v.Verify(context.Background(), tt.form, "203.0.113.7")
			checkErr(t, err, captcha.FaultChallenge, tt.reason)
			if res.Success || res.Attempts != 0 {
				t.Errorf("result %+v", res)
			}
			var e *captcha.Error
			if errors.As(err, &e) && e.Attempts != 0 {
				t.Errorf("Attempts = %d", e.Attempts)
			}
			checkNoLeak(t, err, res, long, srv.Secret())
		})
	}
	if n := srv.RequestCount(); n != 0 {
		t.Fatalf("siteverify received %d requests, want 0", n)
	}
}

func TestVerifyRemoteIP(t *testing.T) {
	tests := []struct{ in, sent string }{
		{"203.0.113.7", "203.0.113.7"},
		{"203.0.113.7:4242", "203.0.113.7"},
		{" 203.0.113.7 ", "203.0.113.7"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"", ""},
		{"unknown", ""},
		{"example.com:80", ""},
	}
	srv := captchatest.New(t, captchatest.Options{})
	v := mustVerifier(t, srv, nil)
	for _, tt := range tests {
		srv.ResetRequests()
		if _, err := v.Verify(context.Background(), tokenForm(srv.Token()), tt.in); err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		r := srv.Requests()[0]
		_, present := r.Form["remoteip"]
		if r.RemoteIP != tt.sent || present != (tt.sent != "") {
			t.Errorf("remote IP %q: sent %q (present %v), want %q", tt.in, r.RemoteIP, present, tt.sent)
		}
	}
}

// Every verification gets its own idempotency key.
func TestVerifyFreshIdempotencyKey(t *testing.T) {
	srv := captchatest.New(t, captchatest.Options{})
	v := mustVerifier(t, srv, nil)
	seen := map[string]bool{}
	for range 20 {
		res, err := v.Verify(context.Background(), tokenForm(srv.Token()), "")
		if err != nil {
			t.Fatal(err)
		}
		if seen[res.IdempotencyKey] {
			t.Fatalf("idempotency key %q reused", res.IdempotencyKey)
		}
		seen[res.IdempotencyKey] = true
	}
}

func TestVerifyProviders(t *testing.T) {
	tests := []struct {
		provider  captcha.Provider
		field     string
		siteKeyed bool
	}{
		{captcha.Turnstile, "cf-turnstile-response", false},
		{captcha.HCaptcha, "h-captcha-response", true},
		{captcha.ReCAPTCHA, "g-recaptcha-response", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.provider), func(t *testing.T) {
			srv := captchatest.New(t, captchatest.Options{SiteKey: "site-key"})
			v := mustVerifier(t, srv, func(c *captcha.Config) { c.Provider = tt.provider; c.SiteKey = "site-key" })
			if v.FormField() != tt.field {
				t.Fatalf("FormField = %q", v.FormField())
			}
			// Only the provider's own field counts (hCaptcha also posts g-recaptcha-response).
			form := url.Values{tt.field: {"pass"}}
			for _, f := range captcha.FormFields() {
				if f != tt.field {
					form[f] = []string{"garbage token", "twice"}
				}
			}
			if _, err := v.Verify(context.Background(), form, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[0]
			if got := r.SiteKey == "site-key"; got != tt.siteKeyed {
				t.Errorf("sitekey sent: %q", r.SiteKey)
			}

			// A site key that does not belong to the secret is Hera's fault.
			v = mustVerifier(t, srv, func(c *captcha.Config) { c.Provider = tt.provider; c.SiteKey = "other-key" })
			_, err := v.Verify(context.Background(), url.Values{tt.field: {srv.Token()}}, "")
			if tt.siteKeyed {
				checkErr(t, err, captcha.FaultUnavailable, captcha.ReasonMisconfigured)
			} else {
				checkErr(t, err, 0, "")
			}
		})
	}
}

// handlerServer serves h and counts requests.
func handlerServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

const okAnswer = `{"success":true,"error-codes":[],"challenge_ts":"2026-01-02T03:04:05Z","hostname":"localhost"}`

// Answers captchatest cannot produce.
func TestVerifyOddAnswers(t *testing.T) {
	const sec = "the-secret-value"
	const tok = "the-token-value"
	tests := []struct {
		name     string
		h        http.HandlerFunc
		kind     captcha.Fault
		reason   captcha.Reason
		requests int32
	}{
		{"plain success", answer(200, okAnswer), 0, "", 1},
		{"400", answer(400, okAnswer), captcha.FaultUnavailable, captcha.ReasonHTTPStatus, 1},
		{"403", answer(403, okAnswer), captcha.FaultUnavailable, captcha.ReasonHTTPStatus, 1},
		{"429", answer(429, okAnswer), captcha.FaultUnavailable, captcha.ReasonHTTPStatus, 1},
		{"204", answer(204, ""), captcha.FaultUnavailable, captcha.ReasonHTTPStatus, 1},
		{"503 twice", answer(503, okAnswer), captcha.FaultUnavailable, captcha.ReasonHTTPStatus, 2},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}, captcha.FaultUnavailable, captcha.ReasonHTTPStatus, 1},
		{"empty body", answer(200, ""), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"null", answer(200, "null"), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"empty object", answer(200, "{}"), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"success as string", answer(200, `{"success":"true"}`), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"success as number", answer(200, `{"success":1}`), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"array", answer(200, `[{"success":true}]`), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"trailing garbage", answer(200, okAnswer+"x"), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"two objects", answer(200, okAnswer+okAnswer), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"codes not a list", answer(200, `{"success":false,"error-codes":"internal-error"}`), captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"too large", answer(200, `{"success":true,"hostname":"`+strings.Repeat("a", captcha.MaxResponseBytes)+`"}`),
			captcha.FaultUnavailable, captcha.ReasonBadResponse, 1},
		{"large but within limit", answer(200, `{"success":true,"cdata":"`+strings.Repeat("a", 60<<10)+`"}`), 0, "", 1},
		{"success false without codes", answer(200, `{"success":false}`), captcha.FaultChallenge, captcha.ReasonRejected, 1},
		{"unknown code", answer(200, `{"success":false,"error-codes":["something-new"]}`), captcha.FaultChallenge, captcha.ReasonRejected, 1},
		{"missing-input-secret", answer(200, `{"success":false,"error-codes":["missing-input-secret"]}`), captcha.FaultUnavailable, captcha.ReasonMisconfigured, 1},
		{"bad-request", answer(200, `{"success":false,"error-codes":["bad-request"]}`), captcha.FaultUnavailable, captcha.ReasonMisconfigured, 1},
		{"misconfiguration wins over the token", answer(200, `{"success":false,"error-codes":["invalid-input-response","invalid-input-secret"]}`),
			captcha.FaultUnavailable, captcha.ReasonMisconfigured, 1},
		{"misconfiguration is not retried", answer(200, `{"success":false,"error-codes":["internal-error","invalid-input-secret"]}`),
			captcha.FaultUnavailable, captcha.ReasonMisconfigured, 1},
		{"hcaptcha expired", answer(200, `{"success":false,"error-codes":["expired-input-response"]}`), captcha.FaultChallenge, captcha.ReasonRejected, 1},
		{"echoed secret redacted", answer(200, `{"success":false,"error-codes":["`+sec+`","x`+tok+`"],"hostname":"`+sec+`"}`),
			captcha.FaultChallenge, captcha.ReasonRejected, 1},
		{"closed connection", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}, captcha.FaultUnavailable, captcha.ReasonTransport, 1},
		{"slow body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"success":`))
			_ = http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, captcha.FaultUnavailable, captcha.ReasonTimeout, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, n := handlerServer(t, tt.h)
			timeout := 5 * time.Second
			if tt.reason == captcha.ReasonTimeout {
				timeout = 300 * time.Millisecond
			}
			v, err := captcha.New(captcha.Config{SiteKey: "k", Secret: sec, VerifyURL: srv.URL, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), tokenForm(tok), "")
			checkErr(t, err, tt.kind, tt.reason)
			checkNoLeak(t, err, res, sec, tok)
			if got := n.Load(); got != tt.requests {
				t.Errorf("requests = %d, want %d", got, tt.requests)
			}
		})
	}
}

// 5xx then an answer: the retry carries the same idempotency key and its
// answer decides.
func TestVerifyRetryAfter5xx(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	srv, _ := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		keys = append(keys, r.PostForm.Get("idempotency_key"))
		first := len(keys) == 1
		mu.Unlock()
		if first {
			answer(502, "bad gateway")(w, r)
			return
		}
		answer(200, `{"success":false,"error-codes":["timeout-or-duplicate"]}`)(w, r)
	})
	v, err := captcha.New(captcha.Config{SiteKey: "k", Secret: "s", VerifyURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), tokenForm("tok"), "")
	checkErr(t, err, captcha.FaultChallenge, captcha.ReasonRejected)
	if len(keys) != 2 || keys[0] != keys[1] || keys[0] != res.IdempotencyKey {
		t.Errorf("keys %q, result key %q", keys, res.IdempotencyKey)
	}
	var e *captcha.Error
	if errors.As(err, &e) && (e.Status != 0 || e.Attempts != 2) {
		t.Errorf("Error %+v: want the retry's status (200 → 0) and 2 attempts", e)
	}
}

func TestVerifyContext(t *testing.T) {
	srv := captchatest.New(t, captchatest.Options{})
	srv.SetMode(captchatest.Hang)
	v := mustVerifier(t, srv, func(c *captcha.Config) { c.Timeout = 10 * time.Second })

	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := v.Verify(ctx, tokenForm("pass"), "")
		checkErr(t, err, captcha.FaultUnavailable, captcha.ReasonCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("does not wrap context.Canceled: %v", err)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := v.Verify(ctx, tokenForm("pass"), "")
		checkErr(t, err, captcha.FaultUnavailable, captcha.ReasonTimeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("does not wrap context.DeadlineExceeded: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("no retry after the deadline", func(t *testing.T) {
		srv := captchatest.New(t, captchatest.Options{})
		srv.SetMode(captchatest.Status500)
		v := mustVerifier(t, srv, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := v.Verify(ctx, tokenForm("pass"), "")
		checkErr(t, err, captcha.FaultUnavailable, captcha.ReasonCanceled)
		if n := srv.RequestCount(); n != 0 {
			t.Errorf("%d requests after cancel", n)
		}
	})
}

// The transport error text names no URL (an operator might put a key in it).
func TestVerifyTransportErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/siteverify?key=url-credential"
	srv.Close() // nothing listens any more
	v, err := captcha.New(captcha.Config{SiteKey: "k", Secret: "s3cr3t", VerifyURL: u})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), tokenForm("tok"), "")
	checkErr(t, err, captcha.FaultUnavailable, captcha.ReasonTransport)
	checkNoLeak(t, err, res, "url-credential", "s3cr3t")
}

// Many verifications at once (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	srv := captchatest.New(t, captchatest.Options{})
	v := mustVerifier(t, srv, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 32 {
		tok := srv.Token()
		wg.Go(func() {
			for range 2 { // the second use is spent
				_, err := v.Verify(context.Background(), tokenForm(tok), "192.0.2.1")
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	var passed, spent int
	for err := range errs {
		switch {
		case err == nil:
			passed++
		case errors.Is(err, captcha.ErrChallengeFailed):
			spent++
		default:
			t.Error(err)
		}
	}
	if passed != 32 || spent != 32 {
		t.Errorf("passed %d, spent %d, want 32 each", passed, spent)
	}
}
