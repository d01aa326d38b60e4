// Package captchatest runs a local siteverify endpoint (Turnstile, hCaptcha
// and reCAPTCHA answer alike) for tests: loopback only, no network.
//
// It checks the secret, passes the configured tokens (by default "pass" and
// any token starting with "XXXX.DUMMY.TOKEN", like Turnstile's dummy token),
// spends a token on first use (the second use answers timeout-or-duplicate),
// replays its answer to a retry (same idempotency_key, secret and token), and
// records every request. SetMode makes it answer 500, garbage, internal-error, or hang.
//
//	srv := captchatest.New(t, captchatest.Options{})
//	v, _ := captcha.New(captcha.Config{SiteKey: captchatest.TestSiteKey,
//		Secret: srv.Secret(), VerifyURL: srv.URL})
//	form := url.Values{"cf-turnstile-response": {srv.Token()}}
//
// Cloudflare's test secrets behave as documented whatever the configured
// secret: TestSecretPass passes any non-empty token (and spends nothing),
// TestSecretFail fails it, TestSecretSpent reports it spent.
package captchatest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults and well-known values.
const (
	DefaultSecret    = "captchatest-secret"
	DefaultHostname  = "localhost"
	PassToken        = "pass"
	DummyTokenPrefix = "XXXX.DUMMY.TOKEN"
	DummyToken       = "XXXX.DUMMY.TOKEN.XXXX" // Turnstile's dummy token

	// Cloudflare's published test keys.
	TestSiteKey     = "1x00000000000000000000AA"
	TestSecretPass  = "1x0000000000000000000000000000000AA"
	TestSecretFail  = "2x0000000000000000000000000000000AA"
	TestSecretSpent = "3x0000000000000000000000000000000AA"
)

// Mode selects how the server answers.
type Mode int

const (
	Normal            Mode = iota // check secret and token
	Status500                     // answer 500 to every request
	Status500Once                 // answer 500 once, then Normal
	Garbage                       // answer 200 with a body that is not JSON
	Hang                          // never answer; wait until the client gives up (or Close)
	InternalError                 // answer success=false, internal-error, every time
	InternalErrorOnce             // answer internal-error once, then Normal
)

func (m Mode) String() string {
	switch m {
	case Normal:
		return "normal"
	case Status500:
		return "500"
	case Status500Once:
		return "500-once"
	case Garbage:
		return "garbage"
	case Hang:
		return "hang"
	case InternalError:
		return "internal-error"
	case InternalErrorOnce:
		return "internal-error-once"
	}
	return "Mode(?)"
}

// Options configures a Server. Zero values take the defaults.
type Options struct {
	Secret       string   // the secret accepted; default DefaultSecret
	SiteKey      string   // when set, a different sitekey parameter is refused (sitekey-secret-mismatch)
	Hostname     string   // reported for passing tokens; default DefaultHostname
	Action       string   // reported for passing tokens
	PassTokens   []string // tokens that pass; default {PassToken}
	PassPrefixes []string // token prefixes that pass; default {DummyTokenPrefix}
}

// Request is one request the server received.
type Request struct {
	Time           time.Time
	Method         string
	ContentType    string
	Form           url.Values // the parsed body
	Secret         string
	Response       string // the token
	RemoteIP       string
	IdempotencyKey string
	SiteKey        string
	Mode           Mode   // the mode it was answered in
	Status         int    // HTTP status answered
	Answer         string // "pass", an error code, "replay:…", "garbage" or "hang"
}

// Server is a running siteverify endpoint.
type Server struct {
	URL string // the siteverify URL, http://127.0.0.1:port/siteverify

	srv       *httptest.Server
	done      chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	opts     Options
	mode     Mode
	delay    time.Duration
	pass     map[string]bool
	spent    map[string]bool
	answers  map[string]stored // by replayKey
	requests []Request
}

// hangLimit bounds how long Hang holds a request whose client never gives up.
const hangLimit = 2 * time.Minute

type stored struct {
	status int
	body   []byte
	answer string
}

// New starts a server that is closed when the test ends.
func New(tb testing.TB, o Options) *Server {
	tb.Helper()
	s := NewServer(o)
	tb.Cleanup(s.Close)
	return s
}

// NewServer starts a server; the caller must Close it.
func NewServer(o Options) *Server {
	if o.Secret == "" {
		o.Secret = DefaultSecret
	}
	if o.Hostname == "" {
		o.Hostname = DefaultHostname
	}
	if o.PassTokens == nil {
		o.PassTokens = []string{PassToken}
	}
	if o.PassPrefixes == nil {
		o.PassPrefixes = []string{DummyTokenPrefix}
	}
	s := &Server{
		done:    make(chan struct{}),
		opts:    o,
		pass:    map[string]bool{},
		spent:   map[string]bool{},
		answers: map[string]stored{},
	}
	for _, t := range o.PassTokens {
		s.pass[t] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/siteverify", s.serve)
	s.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	s.URL = s.srv.URL + "/siteverify"
	return s
}

// Close stops the server, releasing hanging requests first.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Secret is the secret the server accepts.
func (s *Server) Secret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Secret
}

// SetDelay makes every answer from the next request on wait d: a slow
// provider.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetMode switches how the server answers from the next request on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetHostname sets the hostname reported for passing tokens.
func (s *Server) SetHostname(h string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Hostname = h
}

// SetAction sets the action reported for passing tokens.
func (s *Server) SetAction(a string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Action = a
}

// AddPassToken makes tok pass (once: it is spent by its first use).
func (s *Server) AddPassToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pass[tok] = true
}

// Token returns a fresh token that passes once.
func (s *Server) Token() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := DummyTokenPrefix + "." + hex.EncodeToString(b[:])
	s.pass[tok] = true
	return tok
}

// Spent reports whether tok has been used.
func (s *Server) Spent(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spent[tok]
}

// Requests returns a copy of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Form = cloneValues(r.Form)
		out[i] = r
	}
	return out
}

// RequestCount is len(Requests()).
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// ResetRequests forgets the recorded requests (not spent tokens).
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	req := Request{Time: time.Now(), Method: r.Method, ContentType: r.Header.Get("Content-Type")}
	mt, _, _ := mime.ParseMediaType(req.ContentType)
	formOK := r.Method == http.MethodPost && mt == "application/x-www-form-urlencoded" && r.ParseForm() == nil
	req.Form = cloneValues(r.PostForm)
	one := func(k string) string {
		if v := req.Form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	req.Secret, req.Response, req.RemoteIP = one("secret"), one("response"), one("remoteip")
	req.IdempotencyKey, req.SiteKey = one("idempotency_key"), one("sitekey")

	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		case <-s.done:
		}
	}
	s.mu.Lock()
	mode := s.mode
	switch mode {
	case Status500Once, InternalErrorOnce:
		s.mode = Normal
	}
	req.Mode = mode
	status, body, answer := 0, []byte(nil), ""
	switch mode {
	case Status500, Status500Once:
		status, body, answer = http.StatusInternalServerError, []byte("internal server error\n"), "500"
	case Garbage:
		status, body, answer = http.StatusOK, []byte("<html>this is not JSON</html>"), "garbage"
	case InternalError, InternalErrorOnce:
		status, body, answer = http.StatusOK, failure("internal-error"), "internal-error"
	case Hang:
		answer = "hang"
	default:
		if r.Method != http.MethodPost {
			status, body, answer = http.StatusMethodNotAllowed, []byte("method not allowed\n"), "405"
		} else if !formOK || hasRepeats(req.Form) {
			status, body, answer = http.StatusOK, failure("bad-request"), "bad-request"
		} else if st, ok := s.answers[replayKey(req)]; ok && req.IdempotencyKey != "" {
			status, body, answer = st.status, st.body, "replay:"+st.answer
		} else {
			status = http.StatusOK
			body, answer = s.decide(req)
			if req.IdempotencyKey != "" {
				s.answers[replayKey(req)] = stored{status: status, body: body, answer: answer}
			}
		}
	}
	req.Status, req.Answer = status, answer
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if mode == Hang {
		t := time.NewTimer(hangLimit)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-s.done:
		case <-t.C:
		}
		return // a client still waiting (only at Close or after hangLimit) gets an empty 200
	}
	if json.Valid(body) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decide answers a well-formed request in Normal mode. s.mu is held.
func (s *Server) decide(req Request) (body []byte, answer string) {
	tok := req.Response
	switch req.Secret {
	case "":
		return failure("missing-input-secret"), "missing-input-secret"
	case TestSecretPass:
		if tok == "" {
			return failure("missing-input-response"), "missing-input-response"
		}
		return s.success(), "pass"
	case TestSecretFail:
		return failure("invalid-input-response"), "invalid-input-response"
	case TestSecretSpent:
		return failure("timeout-or-duplicate"), "timeout-or-duplicate"
	case s.opts.Secret:
	default:
		return failure("invalid-input-secret"), "invalid-input-secret"
	}
	if s.opts.SiteKey != "" && req.SiteKey != "" && req.SiteKey != s.opts.SiteKey {
		return failure("sitekey-secret-mismatch"), "sitekey-secret-mismatch"
	}
	switch {
	case tok == "":
		return failure("missing-input-response"), "missing-input-response"
	case len(tok) > 2048:
		return failure("invalid-input-response"), "invalid-input-response"
	case s.spent[tok]:
		return failure("timeout-or-duplicate"), "timeout-or-duplicate"
	}
	s.spent[tok] = true
	if !s.passes(tok) {
		return failure("invalid-input-response"), "invalid-input-response"
	}
	return s.success(), "pass"
}

func (s *Server) passes(tok string) bool {
	if s.pass[tok] {
		return true
	}
	return slices.ContainsFunc(s.opts.PassPrefixes, func(p string) bool { return p != "" && strings.HasPrefix(tok, p) })
}

func (s *Server) success() []byte {
	b, _ := json.Marshal(map[string]any{
		"success":      true,
		"error-codes":  []string{},
		"challenge_ts": time.Now().UTC().Format(time.RFC3339),
		"hostname":     s.opts.Hostname,
		"action":       s.opts.Action,
		"cdata":        "",
	})
	return b
}

func failure(code string) []byte {
	b, _ := json.Marshal(map[string]any{"success": false, "error-codes": []string{code}, "messages": []string{}})
	return b
}

// replayKey: an answer is replayed for the same idempotency key, secret and
// token, as siteverify does for a retried request.
func replayKey(r Request) string {
	return r.IdempotencyKey + "\x00" + r.Secret + "\x00" + r.Response
}

func hasRepeats(v url.Values) bool {
	for _, vals := range v {
		if len(vals) > 1 {
			return true
		}
	}
	return false
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vals := range v {
		out[k] = slices.Clone(vals)
	}
	return out
}
