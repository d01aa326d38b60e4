package captchatest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/captcha/captchatest"
)

type reply struct {
	Status     int
	Success    bool     `json:"success"`
	Codes      []string `json:"error-codes"`
	Hostname   string   `json:"hostname"`
	Action     string   `json:"action"`
	ChallengeT string   `json:"challenge_ts"`
	Raw        string
}

func post(t *testing.T, u string, form url.Values) reply {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Raw: string(b)}
	_ = json.Unmarshal(b, &r)
	return r
}

func params(secret, token, key string) url.Values {
	v := url.Values{"secret": {secret}, "response": {token}, "remoteip": {"192.0.2.1"}}
	if key != "" {
		v.Set("idempotency_key", key)
	}
	return v
}

func code(r reply) string {
	if r.Success {
		return "pass"
	}
	return strings.Join(r.Codes, ",")
}

func TestNormalMode(t *testing.T) {
	s := captchatest.New(t, captchatest.Options{Hostname: "login.example.com", Action: "login", PassTokens: []string{"ok-1"}})
	sec := s.Secret()
	if sec != captchatest.DefaultSecret {
		t.Fatalf("Secret() = %q", sec)
	}
	fresh := s.Token()
	if fresh == s.Token() || !strings.HasPrefix(fresh, captchatest.DummyTokenPrefix) {
		t.Fatalf("Token() = %q", fresh)
	}
	steps := []struct {
		form url.Values
		want string
	}{
		{params(sec, "ok-1", "k1"), "pass"},
		{params(sec, "ok-1", "k2"), "timeout-or-duplicate"},
		{params(sec, "ok-1", "k1"), "pass"},                 // a retry of k1 gets k1's answer
		{params(sec, "pass", ""), "invalid-input-response"}, // PassTokens replaced the default
		{params(sec, captchatest.DummyToken, ""), "pass"},
		{params(sec, captchatest.DummyToken, ""), "timeout-or-duplicate"},
		{params(sec, fresh, ""), "pass"},
		{params(sec, "", ""), "missing-input-response"},
		{params(sec, strings.Repeat("x", 2049), ""), "invalid-input-response"},
		{params("", "x", ""), "missing-input-secret"},
		{params("wrong", s.Token(), ""), "invalid-input-secret"},
		{params(captchatest.TestSecretPass, "anything", ""), "pass"},
		{params(captchatest.TestSecretPass, "anything", ""), "pass"}, // nothing spent
		{params(captchatest.TestSecretFail, "anything", ""), "invalid-input-response"},
		{params(captchatest.TestSecretSpent, "anything", ""), "timeout-or-duplicate"},
		{url.Values{"secret": {sec, sec}, "response": {s.Token()}}, "bad-request"},
	}
	for i, st := range steps {
		r := post(t, s.URL, st.form)
		if r.Status != 200 || code(r) != st.want {
			t.Errorf("step %d: %d %s, want %s", i, r.Status, r.Raw, st.want)
		}
		if r.Success && (r.Hostname != "login.example.com" || r.Action != "login" || r.ChallengeT == "") {
			t.Errorf("step %d: success answer %s", i, r.Raw)
		}
	}
	if !s.Spent("ok-1") || s.Spent(s.Token()) {
		t.Error("Spent")
	}

	reqs := s.Requests()
	if len(reqs) != len(steps) {
		t.Fatalf("%d requests recorded, want %d", len(reqs), len(steps))
	}
	if r := reqs[0]; r.Secret != sec || r.Response != "ok-1" || r.RemoteIP != "192.0.2.1" || r.IdempotencyKey != "k1" ||
		r.Method != "POST" || r.Mode != captchatest.Normal || r.Status != 200 || r.Answer != "pass" {
		t.Errorf("request 0 = %+v", r)
	}
	if reqs[2].Answer != "replay:pass" {
		t.Errorf("request 2 answer %q", reqs[2].Answer)
	}
	reqs[0].Form.Set("secret", "changed")
	if s.Requests()[0].Secret != sec || s.Requests()[0].Form.Get("secret") != sec {
		t.Error("Requests() shares its maps")
	}
	s.ResetRequests()
	if s.RequestCount() != 0 {
		t.Error("ResetRequests")
	}

	s.SetHostname("other.example")
	s.SetAction("")
	s.AddPassToken("added")
	if r := post(t, s.URL, params(sec, "added", "")); !r.Success || r.Hostname != "other.example" || r.Action != "" {
		t.Errorf("after setters: %s", r.Raw)
	}
}

func TestBadRequests(t *testing.T) {
	s := captchatest.New(t, captchatest.Options{SiteKey: "site"})
	resp, err := http.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	resp, err = http.Post(s.URL, "application/json", strings.NewReader(`{"secret":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "bad-request") {
		t.Errorf("JSON body: %s", b)
	}
	f := params(s.Secret(), s.Token(), "")
	f.Set("sitekey", "other")
	if r := post(t, s.URL, f); code(r) != "sitekey-secret-mismatch" {
		t.Errorf("wrong sitekey: %s", r.Raw)
	}
	f = params(s.Secret(), s.Token(), "")
	f.Set("sitekey", "site")
	if r := post(t, s.URL, f); !r.Success {
		t.Errorf("right sitekey: %s", r.Raw)
	}
}

func TestModes(t *testing.T) {
	s := captchatest.New(t, captchatest.Options{})
	sec := s.Secret()

	s.SetMode(captchatest.Status500)
	for range 2 {
		if r := post(t, s.URL, params(sec, "pass", "a")); r.Status != 500 {
			t.Errorf("Status500: %d", r.Status)
		}
	}
	s.SetMode(captchatest.Garbage)
	if r := post(t, s.URL, params(sec, "pass", "a")); r.Status != 200 || json.Valid([]byte(r.Raw)) {
		t.Errorf("Garbage: %d %s", r.Status, r.Raw)
	}
	s.SetMode(captchatest.InternalError)
	for range 2 {
		if r := post(t, s.URL, params(sec, "pass", "a")); code(r) != "internal-error" {
			t.Errorf("InternalError: %s", r.Raw)
		}
	}
	// The failures above neither spent the token nor stored an answer for
	// key "a".
	s.SetMode(captchatest.Status500Once)
	if r := post(t, s.URL, params(sec, "pass", "a")); r.Status != 500 {
		t.Errorf("Status500Once first: %d", r.Status)
	}
	if r := post(t, s.URL, params(sec, "pass", "a")); !r.Success {
		t.Errorf("Status500Once second: %s", r.Raw)
	}
	s.SetMode(captchatest.InternalErrorOnce)
	tok := s.Token()
	if r := post(t, s.URL, params(sec, tok, "b")); code(r) != "internal-error" {
		t.Errorf("InternalErrorOnce first: %s", r.Raw)
	}
	if r := post(t, s.URL, params(sec, tok, "b")); !r.Success {
		t.Errorf("InternalErrorOnce second: %s", r.Raw)
	}
	var modes []string
	for _, r := range s.Requests() {
		modes = append(modes, r.Mode.String()+"="+r.Answer)
	}
	want := "500=500 500=500 garbage=garbage internal-error=internal-error internal-error=internal-error " +
		"500-once=500 normal=pass internal-error-once=internal-error normal=pass"
	if got := strings.Join(modes, " "); got != want {
		t.Errorf("recorded\n%s\nwant\n%s", got, want)
	}
}

func TestHang(t *testing.T) {
	s := captchatest.New(t, captchatest.Options{})
	s.SetMode(captchatest.Hang)

	// Until the client gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL, strings.NewReader(params(s.Secret(), "pass", "").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("Hang answered")
	}

	// Or until Close, which must not wait for the hang.
	s2 := captchatest.NewServer(captchatest.Options{})
	s2.SetMode(captchatest.Hang)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.PostForm(s2.URL, params(s2.Secret(), "pass", ""))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for s2.RequestCount() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	s2.Close()
	s2.Close() // idempotent
	<-errc
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}
