package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/heraproject/hera/internal/captcha"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web"
	"golang.org/x/net/html"
)

const (
	fuzzPublicURL  = "http://localhost:4455"
	fuzzFlowID     = "3a1e7c52-52a4-4d39-9a0e-6ef0e3c1d5b1"
	fuzzCaptchaJS  = "https://challenges.cloudflare.com/turnstile/v0/api.js"
	fuzzCaptchaOrg = "https://challenges.cloudflare.com"
)

var fuzzKinds = []kratos.Kind{kratos.Login, kratos.Registration, kratos.Recovery, kratos.Verification, kratos.Settings}

// fuzzKratos is a Kratos that answers every flow fetch with the current
// fuzz input, checked the way kratos.Client checks a real answer.
type fuzzKratos struct {
	stubKratos
	mu  sync.Mutex
	raw []byte
}

func (k *fuzzKratos) set(raw []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.raw = raw
}

func (k *fuzzKratos) GetFlow(context.Context, kratos.Kind, string, kratos.Browser) (*kratos.Flow, error) {
	k.mu.Lock()
	raw := k.raw
	k.mu.Unlock()
	var f kratos.Flow
	if err := kratos.Decode(raw, &f); err != nil {
		return nil, fmt.Errorf("%w: malformed answer: %v", kratos.ErrUnavailable, err)
	}
	if f.ID == "" || f.UI.Action == "" {
		return nil, fmt.Errorf("%w: flow without id or ui", kratos.ErrUnavailable)
	}
	return &f, nil
}

// flowRenderer serves fuzzed flows through the real Hera server, with and
// without a captcha widget on the page.
type flowRenderer struct {
	k       *fuzzKratos
	plain   http.Handler
	captcha http.Handler
	logs    *logSink
}

// logSink keeps what was logged since it was last taken.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

func newFlowRenderer(tb testing.TB) *flowRenderer {
	tb.Helper()
	env := map[string]string{
		"HERA_PUBLIC_URL":   fuzzPublicURL,
		"KRATOS_PUBLIC_URL": "http://127.0.0.1:4433",
		"KRATOS_ADMIN_URL":  "http://127.0.0.1:4434",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	fr := &flowRenderer{k: &fuzzKratos{}, logs: &logSink{}}
	log := slog.New(slog.NewJSONHandler(fr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fr.plain, err = web.NewServer(web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: fr.k})
	if err != nil {
		tb.Fatal(err)
	}
	fr.captcha, err = web.NewServer(web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: fr.k, Captcha: &web.Captcha{
		Widget: captcha.Widget{ScriptURL: fuzzCaptchaJS, Class: "cf-turnstile", SiteKey: "1x00000000000000000000AA"},
		CSP:    captcha.CSP{ScriptSrc: []string{fuzzCaptchaOrg}, FrameSrc: []string{fuzzCaptchaOrg}},
		Flows:  fuzzKinds,
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return fr
}

// render serves raw as the flow of the kind selected by sel and returns
// the response and what was logged while serving it.
func (fr *flowRenderer) render(sel uint8, raw []byte, notice string) (*http.Response, string, string) {
	fr.k.set(raw)
	fr.logs.take()
	kind := fuzzKinds[int(sel)%len(fuzzKinds)]
	h := fr.plain
	if int(sel)/len(fuzzKinds)%2 == 1 {
		h = fr.captcha
	}
	target := "/" + string(kind) + "?flow=" + fuzzFlowID
	if notice != "" {
		target += "&notice=" + url.QueryEscape(notice)
	}
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)

	return res, string(body), fr.logs.take()
}

var fuzzNonceRE = regexp.MustCompile(`'nonce-([^']+)'`)

// pageProblems checks a rendered page for what must hold whatever Kratos
// sent: it parses as HTML, every script is Hera's (or the captcha
// provider's) and carries the request's nonce, no inline handlers, and
// every URL attribute is http(s), relative or a PNG/JPEG/GIF data URL.
func pageProblems(res *http.Response, body, logged string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, line := range strings.Split(logged, "\n") {
		var rec struct{ Msg, Panic, Err string }
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "panic":
			add("handler panicked: %s", rec.Panic)
		case "render":
			add("template failed: %s", rec.Err)
		}
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		add("status %d, Content-Type %q: %.200s", res.StatusCode, ct, body)
		return problems
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadGateway {
		add("status %d", res.StatusCode)
	}
	m := fuzzNonceRE.FindStringSubmatch(res.Header.Get("Content-Security-Policy"))
	if m == nil {
		add("no nonce in the CSP %q", res.Header.Get("Content-Security-Policy"))
		return problems
	}
	nonce := m[1]

	scripts := 0
	z := html.NewTokenizer(strings.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); err != io.EOF {
				add("tokenizer: %v", err)
			}
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.Data {
		case "script":
			scripts++
			src, hasSrc := tokAttr(tok, "src")
			if n, _ := tokAttr(tok, "nonce"); n != nonce {
				add("<script src=%q> without the request's nonce (%q)", src, n)
			}
			switch {
			case !hasSrc:
				add("inline script")
			case src == fuzzCaptchaJS:
			case strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "//"):
			case strings.HasPrefix(src, fuzzPublicURL+"/"):
			default:
				add("script from elsewhere: %q", src)
			}
		case "base", "iframe", "object", "embed", "frame", "applet":
			add("<%s> on the page", tok.Data)
		case "meta":
			if v, _ := tokAttr(tok, "http-equiv"); strings.EqualFold(v, "refresh") {
				add("<meta http-equiv=refresh>")
			}
		}
		for _, a := range tok.Attr {
			key := strings.ToLower(a.Key)
			if strings.HasPrefix(key, "on") {
				add("<%s> has an inline handler %s=%q", tok.Data, a.Key, a.Val)
			}
			switch key {
			case "href", "src", "action", "formaction", "srcset", "poster", "cite", "background", "ping", "xlink:href", "data":
				if tok.Data == "link" && key == "href" && a.Val == "data:," {
					continue // the empty icon of pages without a brand favicon
				}
				if !safeAttrURL(a.Val) {
					add("<%s %s=%q>: not http(s), relative or an image data URL", tok.Data, a.Key, a.Val)
				}
			}
		}
	}
	// Every "<script" in the bytes is a script element the tokenizer saw
	// (and checked): nothing that could become one elsewhere.
	if n := strings.Count(strings.ToLower(body), "<script"); n != scripts {
		add("%d <script in the page, %d script elements", n, scripts)
	}
	if _, err := html.Parse(strings.NewReader(body)); err != nil {
		add("parse: %v", err)
	}
	return problems
}

func tokAttr(tok html.Token, key string) (string, bool) {
	for _, a := range tok.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

var imageDataURL = regexp.MustCompile(`^data:image/(png|jpeg|gif);base64,`)

// safeAttrURL allows http(s), relative URLs and PNG/JPEG/GIF data URLs.
func safeAttrURL(v string) bool {
	s := strings.ToLower(strings.TrimSpace(v))
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || imageDataURL.MatchString(s) {
		return true
	}
	// Browsers drop tabs and newlines anywhere in a URL before looking
	// for the scheme ("java\tscript:").
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
	u, err := url.Parse(s)
	if err != nil {
		// Not parseable by Go: only harmless if it cannot carry a scheme.
		return !strings.Contains(s, ":")
	}
	return u.Scheme == ""
}

// hostileFlows are flows built to break the view model: scripts and links
// to elsewhere, javascript: and data: URLs, markup in texts, odd values.
func hostileFlows() [][]byte {
	node := func(typ, group string, attrs map[string]any, label string) map[string]any {
		n := map[string]any{"type": typ, "group": group, "attributes": attrs, "messages": []any{}, "meta": map[string]any{}}
		if label != "" {
			n["meta"] = map[string]any{"label": map[string]any{"id": 1, "text": label, "type": "info"}}
		}
		return n
	}
	flow := func(nodes ...map[string]any) map[string]any {
		return map[string]any{
			"id": fuzzFlowID, "type": "browser", "state": "choose_method",
			"request_url": "http://127.0.0.1:4433/self-service/login/browser",
			"ui": map[string]any{"action": fuzzPublicURL + "/api/kratos/self-service/login?flow=" + fuzzFlowID, "method": "POST",
				"nodes": nodes, "messages": []any{map[string]any{"id": 4000006, "text": "<script>alert(1)</script>", "type": "error"}}},
		}
	}
	xss := `"><script>alert(1)</script><img src=x onerror=alert(1)>`
	var out [][]byte
	add := func(v any) {
		b, _ := json.Marshal(v)
		out = append(out, b)
	}
	add(flow(
		node("a", "default", map[string]any{"node_type": "a", "id": "x", "href": "javascript:alert(1)", "title": map[string]any{"text": "click"}}, ""),
		node("a", "default", map[string]any{"node_type": "a", "id": "y", "href": " JaVaScRiPt:alert(1)", "title": map[string]any{"text": xss}}, ""),
		node("a", "default", map[string]any{"node_type": "a", "id": "z", "href": "data:text/html,<script>alert(1)</script>"}, ""),
		node("img", "totp", map[string]any{"node_type": "img", "id": "qr", "src": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}, ""),
		node("img", "totp", map[string]any{"node_type": "img", "id": "qr2", "src": "data:image/png;base64," + xss}, xss),
		node("img", "totp", map[string]any{"node_type": "img", "id": "qr3", "src": "javascript:alert(1)"}, ""),
		node("script", "webauthn", map[string]any{"node_type": "script", "id": "s1", "src": "https://evil.example/x.js", "type": "text/javascript"}, ""),
		node("script", "webauthn", map[string]any{"node_type": "script", "id": "s2", "src": fuzzPublicURL + "/api/kratos/.well-known/ory/webauthn.js\"><script>alert(1)</script>", "integrity": xss, "crossorigin": xss}, ""),
		node("script", "webauthn", map[string]any{"node_type": "script", "id": "s3", "src": "//evil.example/api/kratos/x.js"}, ""),
		node("input", "password", map[string]any{"node_type": "input", "name": xss, "type": "submit", "value": xss}, xss),
		node("input", "webauthn", map[string]any{"node_type": "input", "name": "t", "type": "button", "onclickTrigger": "alert(1)//", "onloadTrigger": xss, "onclick": "alert(1)"}, "Use key"),
		node("input", "default", map[string]any{"node_type": "input", "name": "csrf_token", "type": "hidden", "value": xss, "onloadTrigger": "javascript:alert(1)"}, ""),
		node("input", "default", map[string]any{"node_type": "input", "name": "identifier", "type": "javascript", "value": map[string]any{"o": xss}, "pattern": xss, "autocomplete": xss, "maxlength": -5}, xss),
		node("input", "profile", map[string]any{"node_type": "input", "name": "traits.choice", "type": "text", "options": []any{map[string]any{"value": xss, "label": map[string]any{"text": xss}}, map[string]any{"value": 5}}}, ""),
		node("text", "lookup_secret", map[string]any{"node_type": "text", "id": xss, "text": map[string]any{"text": xss, "context": map[string]any{"secrets": []any{map[string]any{"text": xss}, 5, "x"}}}}, xss),
		node("div", "captcha", map[string]any{"node_type": "div", "id": xss, "class": xss, "data": map[string]any{"x": xss}}, ""),
	))
	// An OAuth2 login whose client names hostile URLs.
	f := flow(node("input", "password", map[string]any{"node_type": "input", "name": "password", "type": "password"}, "Password"))
	f["oauth2_login_request"] = map[string]any{"challenge": "c", "client": map[string]any{"client_id": "x", "client_name": xss,
		"logo_uri": "javascript:alert(1)", "client_uri": "data:text/html,x"}, "oidc_context": map[string]any{"login_hint": xss}}
	f["return_to"] = "javascript:alert(1)"
	f["oauth2_login_challenge"] = xss
	add(f)
	// A second factor and a settings flow with odd groups.
	f = flow(node("input", "totp", map[string]any{"node_type": "input", "name": "totp_code", "type": "text"}, "Code"),
		node("input", "zz-unknown", map[string]any{"node_type": "input", "name": "x", "type": "submit", "value": "x"}, ""),
		node("input", "é", map[string]any{"node_type": "input", "name": "y", "type": "checkbox", "value": true}, ""))
	f["requested_aal"] = "aal2"
	add(f)
	// Not even a flow.
	out = append(out, []byte(`{"id":"x","ui":{"action":"x","nodes":[null,{},{"type":"input"}]}}`), []byte(`null`), []byte(`{"id":`), []byte(`[]`))
	return out
}

// FuzzFlowPage renders fuzzed Kratos flow JSON through the real Hera server
// (each flow kind; with and without a captcha widget) and checks the page.
func FuzzFlowPage(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		for i, k := range fuzzKinds {
			if fx.kind == k || (strings.HasPrefix(fx.name, "synthetic") && k == kratos.Settings) {
				f.Add(uint8(i), fx.raw)
				f.Add(uint8(i+len(fuzzKinds)), fx.raw)
			}
		}
	}
	for i, raw := range hostileFlows() {
		f.Add(uint8(i), raw)
		f.Add(uint8(len(fuzzKinds)-1), raw) // settings: one form per group
	}
	fr := newFlowRenderer(f)
	f.Fuzz(func(t *testing.T, sel uint8, raw []byte) {
		res, body, logged := fr.render(sel, raw, "")
		if problems := pageProblems(res, body, logged); len(problems) > 0 {
			t.Fatalf("%s page for %.300q:\n%s", fuzzKinds[int(sel)%len(fuzzKinds)], raw, strings.Join(problems, "\n"))
		}
	})
}

// TestPageProblemsCatchesBadPages: the fuzz invariants cannot pass
// vacuously.
func TestPageProblemsCatchesBadPages(t *testing.T) {
	const nonce = "n0nce"
	wrap := func(inner string) string {
		return `<!doctype html><html lang="en"><head><title>t</title><script src="/static/hera.js" nonce="` + nonce + `"></script></head><body>` + inner + `</body></html>`
	}
	res := func() *http.Response {
		return &http.Response{StatusCode: 200, Header: http.Header{
			"Content-Type":            {"text/html; charset=utf-8"},
			"Content-Security-Policy": {"script-src 'self' 'nonce-" + nonce + "'"},
		}}
	}
	if p := pageProblems(res(), wrap(`<a href="/x">x</a><img src="data:image/png;base64,AAAA" alt="">`), ""); len(p) != 0 {
		t.Fatalf("good page reported: %v", p)
	}
	for _, tc := range []struct{ name, body, logged, want string }{
		{"javascript link", wrap(`<a href="javascript:alert(1)">x</a>`), "", "not http(s)"},
		{"tab in scheme", wrap(`<a href="java	script:alert(1)">x</a>`), "", "not http(s)"},
		{"data html image", wrap(`<img src="data:text/html,x">`), "", "not http(s)"},
		{"data html icon", wrap(`<link rel="icon" href="data:text/html,x">`), "", "not http(s)"},
		{"form to javascript", wrap(`<form action="javascript:x"></form>`), "", "not http(s)"},
		{"script without nonce", wrap(`<script src="/x.js"></script>`), "", "nonce"},
		{"script from elsewhere", wrap(`<script src="https://evil.example/x.js" nonce="` + nonce + `"></script>`), "", "elsewhere"},
		{"inline script", wrap(`<script nonce="` + nonce + `">alert(1)</script>`), "", "inline script"},
		{"script in a comment", wrap(`<!-- <script src="/x.js"></script> -->`), "", "<script in the page"},
		{"inline handler", wrap(`<img src="/x" onerror="alert(1)">`), "", "inline handler"},
		{"base", wrap(`<base href="https://evil.example/">`), "", "<base>"},
		{"panic", wrap(``), `{"msg":"panic","panic":"boom"}`, "panicked"},
	} {
		found := false
		for _, p := range pageProblems(res(), tc.body, tc.logged) {
			found = found || strings.Contains(p, tc.want)
		}
		if !found {
			t.Errorf("%s: want a problem containing %q", tc.name, tc.want)
		}
	}
	plain := res()
	plain.StatusCode, plain.Header = 500, http.Header{"Content-Type": {"text/plain"}}
	if p := pageProblems(plain, "Something went wrong", ""); len(p) == 0 {
		t.Error("plain-text 500 not reported")
	}
}

// TestFlowPageNodeWithoutGroup: a settings flow (or a second-factor login)
// with a node whose group is empty must render, not panic. Kratos always
// names a group, but the view model must not crash on what it is sent;
// the fuzzer found this.
func TestFlowPageNodeWithoutGroup(t *testing.T) {
	fr := newFlowRenderer(t)
	raw := []byte(`{"id":"` + fuzzFlowID + `","ui":{"action":"` + fuzzPublicURL + `/api/kratos/self-service/settings?flow=` + fuzzFlowID +
		`","method":"POST","nodes":[{"type":"input","group":"","attributes":{"node_type":"input","name":"x","type":"text"},"meta":{}}]}}`)
	res, body, logged := fr.render(uint8(len(fuzzKinds)-1), raw, "")
	if problems := pageProblems(res, body, logged); len(problems) > 0 || res.StatusCode != http.StatusOK {
		t.Fatalf("settings flow with a node without group: status %d\n%s\n(defect: web.groupHeading indexes g[:1] of an empty group name)",
			res.StatusCode, strings.Join(problems, "\n"))
	}
	if !strings.Contains(body, `name="x"`) {
		t.Errorf("the node is not on the page")
	}
}
