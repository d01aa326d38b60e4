package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// fault is how the Kratos in front of Hera misbehaves.
type fault string

const (
	faultNone       fault = "none"        // pass everything on to the real Kratos
	faultSlow       fault = "slow"        // answer long after KRATOS_TIMEOUT
	faultNotJSON    fault = "not-json"    // 200 with an HTML body
	faultTruncated  fault = "truncated"   // 200 with JSON cut off half-way
	faultWrongShape fault = "wrong-shape" // 200 with JSON that is not what was asked for
	faultProtocol   fault = "protocol"    // bytes that are not HTTP at all
	faultDown       fault = "down"        // nothing listens on the port
)

// faultyKratos stands at a fixed address between Hera and a real Kratos.
// It misbehaves as told, can be switched off (a closed port) and on again
// at the same address, and otherwise passes everything on unchanged.
type faultyKratos struct {
	t    *testing.T
	addr string

	mu     sync.Mutex
	mode   fault
	srv    *http.Server
	target *httputil.ReverseProxy
}

func newFaultyKratos(t *testing.T) *faultyKratos {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &faultyKratos{t: t, addr: ln.Addr().String(), mode: faultNone}
	k.serve(ln)
	t.Cleanup(func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.srv != nil {
			_ = k.srv.Close()
		}
	})
	return k
}

func (k *faultyKratos) URL() string { return "http://" + k.addr }

// passTo sets the real Kratos everything is passed on to.
func (k *faultyKratos) passTo(public string) {
	u, err := url.Parse(public)
	if err != nil {
		k.t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.target = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
		},
		// Hera giving up on a slow answer is what these tests do.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

func (k *faultyKratos) serve(ln net.Listener) {
	srv := &http.Server{Handler: k, ReadHeaderTimeout: 5 * time.Second}
	k.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// set switches the mode; faultDown closes the port, any other mode opens
// it again at the same address.
func (k *faultyKratos) set(m fault) {
	k.t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	was := k.mode
	k.mode = m
	switch {
	case m == faultDown && was != faultDown:
		_ = k.srv.Close()
		k.srv = nil
	case m != faultDown && was == faultDown:
		var ln net.Listener
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ln, err = net.Listen("tcp", k.addr); err == nil {
				break
			}
		}
		if err != nil {
			k.t.Fatalf("listen again on %s: %v", k.addr, err)
		}
		k.serve(ln)
	}
}

func (k *faultyKratos) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	mode, target := k.mode, k.target
	k.mu.Unlock()
	switch mode {
	case faultSlow:
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	case faultNotJSON:
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>")
	case faultTruncated:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+faultFlowID+`","type":"browser","ui":{"action":"http://localhost/api/kratos/self-service/login?flow=`+faultFlowID+`","method":"POST","nodes":[{"type":"input","gro`)
	case faultWrongShape:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"hello":"world","items":[1,2,3]}`)
	case faultProtocol:
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("SSH-2.0-OpenSSH_9.6 not what you wanted\r\n\x00\x01\x02")
		_ = buf.Flush()
		_ = c.Close()
	default:
		if target == nil {
			http.Error(w, "no Kratos yet", http.StatusServiceUnavailable)
			return
		}
		target.ServeHTTP(w, r)
	}
}

const (
	faultFlowID = "0b6f1c1e-6b0c-4f55-a6a4-1f0a3f8b4c2d"
	// faultEmail names the known account of the recovery check after one
	// fault: one each, because Hera counts a guess Kratos may have judged
	// without answering (and production's guard would lock one account
	// after five faults).
	faultEmailFormat = "faults-%s@example.com"
)

// faultHera is a Hera (in process, as the integration tests run it) whose
// Kratos public API is a faultyKratos in front of a real Kratos.
type faultHera struct {
	*stacktest.Env
	kratos *faultyKratos
	logs   *lockedBuffer
	client *http.Client
}

func startFaultHera(t *testing.T, timeout string) *faultHera {
	t.Helper()
	fk := newFaultyKratos(t)
	e := stacktest.Start(t, stacktest.Options{})
	fk.passTo(e.Kratos.PublicURL)
	h := apptest.Start(t, e, map[string]string{"KRATOS_PUBLIC_URL": fk.URL(), "KRATOS_TIMEOUT": timeout})
	logs := h.Logs
	// Known accounts, made through the admin API: a wrong password for one
	// is checked in milliseconds (bcrypt cost 4), well inside the short
	// KRATOS_TIMEOUT, where an unknown identifier costs Kratos a full hash.
	for _, f := range []fault{faultNone, faultSlow, faultNotJSON, faultTruncated, faultWrongShape, faultProtocol, faultDown} {
		body, _ := json.Marshal(map[string]any{"schema_id": "default", "traits": map[string]any{"email": fmt.Sprintf(faultEmailFormat, f)},
			"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": "the right password 42"}}}})
		res, err := http.Post(e.Kratos.AdminURL+"/admin/identities", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create identity: %d", res.StatusCode)
		}
	}
	return &faultHera{Env: e, kratos: fk, logs: logs, client: &http.Client{
		Timeout:       10 * time.Second, // no test hangs, whatever Hera does
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// submissions numbers the fault tests' submissions.
var submissions atomic.Int64

// linesFor returns the log records of one request.
func (h *faultHera) linesFor(id string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["request_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// surface is one kind of page that needs Kratos.
type surface struct {
	name string
	do   func(h *faultHera) (*http.Request, error)
}

func surfaces() []surface {
	get := func(path string) func(h *faultHera) (*http.Request, error) {
		return func(h *faultHera) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, h.HeraURL+path, nil)
			if err == nil {
				req.Header.Set("Accept", "text/html")
			}
			return req, err
		}
	}
	return []surface{
		{"flow page", get("/login?flow=" + faultFlowID)},
		{"submission", func(h *faultHera) (*http.Request, error) {
			// A guess Kratos may judge without answering counts: an
			// identifier per request keeps the faults from locking one.
			form := url.Values{"identifier": {fmt.Sprintf("someone-%d@example.com", submissions.Add(1))}, "password": {"a password 123"},
				"method": {"password"}, "csrf_token": {"x"}}
			req, err := http.NewRequest(http.MethodPost, h.HeraURL+"/api/kratos/login/submit?flow="+faultFlowID, strings.NewReader(form.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept", "text/html")
				req.Header.Set("Origin", h.HeraURL)
				req.Header.Set("Sec-Fetch-Site", "same-origin")
			}
			return req, err
		}},
		{"welcome page", get("/")},
		{"proxy", get("/api/kratos/self-service/login/browser")},
	}
}

// leakMarkers must never be on a page a user sees: stack traces, Go
// errors, internal addresses.
var leakMarkers = []string{"goroutine ", ".go:", "panic", "runtime error", "dial tcp", "connection refused", "127.0.0.1",
	"deadline exceeded", "Client.Timeout", "invalid character", "unexpected end of JSON", "malformed", "EOF", "kratos:"}

// expectGenericError checks one request made while Kratos misbehaves: the
// generic error page with the request ID, quickly, nothing internal on it,
// and its cause logged exactly once.
func expectGenericError(t *testing.T, h *faultHera, s surface, mode fault, statuses ...int) {
	t.Helper()
	req, err := s.do(h)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := h.client.Do(req)
	elapsed := time.Since(start)
	if err != nil {
		t.Errorf("%s, Kratos %s: no answer after %v: %v", s.name, mode, elapsed, err)
		return
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	body := string(b)
	id := res.Header.Get("X-Request-Id")
	if elapsed > faultTimeout+3*time.Second {
		t.Errorf("%s, Kratos %s: answered after %v (KRATOS_TIMEOUT is %v)", s.name, mode, elapsed, faultTimeout)
	}
	statusOK := false
	for _, st := range statuses {
		statusOK = statusOK || res.StatusCode == st
	}
	if !statusOK {
		t.Errorf("%s, Kratos %s: status %d, want %v: Hera took Kratos's answer for a real one (Location %q, page: %q)",
			s.name, mode, res.StatusCode, statuses, res.Header.Get("Location"), mainText(body))
		return
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Something went wrong") {
		t.Errorf("%s, Kratos %s: not the generic error page: %s %.300s", s.name, mode, res.Header.Get("Content-Type"), body)
	}
	// Once: the page quotes it for support, the footer does not repeat it.
	if n := strings.Count(body, "<code>"+id+"</code>"); id == "" || n != 1 {
		t.Errorf("%s, Kratos %s: request ID %q on the page %d times, want once", s.name, mode, id, n)
	}
	for _, m := range leakMarkers {
		if strings.Contains(body, m) {
			t.Errorf("%s, Kratos %s: the page shows %q", s.name, mode, m)
		}
	}
	var causes []map[string]any
	for _, l := range h.linesFor(id) {
		if _, ok := l["err"]; ok {
			causes = append(causes, l)
		}
		if _, ok := l["stack"]; ok {
			t.Errorf("%s, Kratos %s: a stack trace was logged: %v", s.name, mode, l["msg"])
		}
	}
	if len(causes) != 1 {
		t.Errorf("%s, Kratos %s: cause logged %d times, want once: %v", s.name, mode, len(causes), causes)
	} else {
		if causes[0]["level"] != "ERROR" {
			t.Errorf("%s, Kratos %s: cause logged at %v, want ERROR", s.name, mode, causes[0]["level"])
		}
		// Logs never carry query strings (flow IDs, tokens, challenges).
		if cause := fmt.Sprint(causes[0]["err"]); strings.Contains(cause, faultFlowID) {
			t.Errorf("%s, Kratos %s: the logged cause quotes the request's query string: %s", s.name, mode, cause)
		}
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// mainText is the visible text of a page's <main>, white space collapsed.
func mainText(page string) string {
	if i := strings.Index(page, "<main"); i >= 0 {
		page = page[i:]
	}
	if i := strings.Index(page, "</main>"); i >= 0 {
		page = page[:i]
	}
	return strings.Join(strings.Fields(tagRE.ReplaceAllString(page, " ")), " ")
}

// expectRecovered checks that the same Hera works again with the real
// Kratos: a flow starts and renders, a submission gets Kratos's answer,
// the welcome page and the proxy answer.
func expectRecovered(t *testing.T, h *faultHera, after fault) {
	t.Helper()
	b := webtest.New(t, h.HeraURL)
	b.Client.Timeout = 10 * time.Second
	p := b.Get("/login")
	if p.URL.Path != "/login" || p.Status != http.StatusOK || p.Query("flow") == "" {
		t.Fatalf("after Kratos was %s: /login at %s status %d: %.300s", after, p.URL, p.Status, p.Text())
	}
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": fmt.Sprintf(faultEmailFormat, after), "password": "not the password 1"})
	if p.Status != http.StatusOK || !strings.Contains(strings.Join(p.Alerts(), " "), "credentials are invalid") {
		t.Fatalf("after Kratos was %s: submission got %d %v", after, p.Status, p.Alerts())
	}
	if p = b.Get("/"); p.Status != http.StatusOK || !p.Contains("You are not signed in") {
		t.Fatalf("after Kratos was %s: welcome page %d: %.300s", after, p.Status, p.Text())
	}
	res, err := h.client.Get(h.HeraURL + "/api/kratos/sessions/whoami")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("after Kratos was %s: proxy whoami %d %s, want Kratos's 401", after, res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// faultTimeout is TestKratosFaults' KRATOS_TIMEOUT: well below the slow
// fault's 10 s, so a timely answer is Hera's own, and long enough that the
// real Kratos answers within it on a busy machine (the recovery checks).
const faultTimeout = 2 * time.Second

// TestKratosFaults takes the Kratos in front of one Hera through every way
// of failing — slow, garbage answers, down — and back after each, without
// restarting Hera.
func TestKratosFaults(t *testing.T) {
	h := startFaultHera(t, faultTimeout.String())
	expectRecovered(t, h, faultNone)

	for _, mode := range []fault{faultSlow, faultNotJSON, faultTruncated, faultWrongShape, faultProtocol, faultDown} {
		t.Run(string(mode), func(t *testing.T) {
			h.kratos.set(mode)
			for _, s := range surfaces() {
				switch {
				case s.name == "proxy" && mode == faultSlow:
					expectGenericError(t, h, s, mode, http.StatusGatewayTimeout)
				case s.name == "proxy" && (mode == faultNotJSON || mode == faultTruncated || mode == faultWrongShape):
					// The proxy passes Kratos's answers on as they are: it
					// does not read bodies, so a 200 goes through untouched.
					expectPassedThrough(t, h, s, mode)
				default:
					expectGenericError(t, h, s, mode, http.StatusBadGateway, http.StatusGatewayTimeout)
				}
			}
			h.kratos.set(faultNone)
			expectRecovered(t, h, mode)
		})
	}
}

// expectPassedThrough checks that the proxy hands a body-level garbage
// answer to the client unchanged (and quickly), logging nothing as an
// error.
func expectPassedThrough(t *testing.T, h *faultHera, s surface, mode fault) {
	t.Helper()
	req, err := s.do(h)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.client.Do(req)
	if err != nil {
		t.Errorf("%s, Kratos %s: %v", s.name, mode, err)
		return
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(b) == 0 {
		t.Errorf("%s, Kratos %s: status %d, %d bytes; want Kratos's 200 passed on", s.name, mode, res.StatusCode, len(b))
	}
	for _, l := range h.linesFor(res.Header.Get("X-Request-Id")) {
		if l["level"] == "ERROR" {
			t.Errorf("%s, Kratos %s: logged %v", s.name, mode, l)
		}
	}
}
