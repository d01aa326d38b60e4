package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// logLines are the JSON log records whose msg is msg.
func logLines(e *heraEnv, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestRefusedReturnToIsShownAndLogged: a sign-in link whose return_to the
// allowlist refuses still signs the user in, tells them they will stay on
// Hera, and logs a line an operator can act on (the target without its
// query, the request ID) that carries none of the target's secrets.
func TestRefusedReturnToIsShownAndLogged(t *testing.T) {
	e := startHera(t, stacktest.Options{})
	email := newEmail("refused")
	b := webtest.New(t, e.HeraURL)
	register(t, b, email, password)
	logout(t, b)

	const target = "https://elsewhere.invalid/welcome?token=s3cr3t-value#frag"
	p := b.Get("/login?return_to=" + url.QueryEscape(target))
	mustPath(t, p, "/login")
	if got := p.ElementText("notice-return"); !strings.Contains(got, "does not allow") {
		t.Fatalf("no notice about the refused return_to on the sign-in page: %q\n%s", got, p.Text())
	}
	lines := logLines(e, "return_to refused")
	if len(lines) != 1 {
		t.Fatalf("%d return_to refused lines, want 1:\n%s", len(lines), e.logs.String())
	}
	l := lines[0]
	if l["return_to"] != "https://elsewhere.invalid/welcome?…" || l["flow"] != "login" {
		t.Errorf("log line %v: want the target without its query and the flow", l)
	}
	if id, _ := l["request_id"].(string); id == "" {
		t.Errorf("log line %v has no request_id", l)
	}
	if strings.Contains(e.logs.String(), "s3cr3t-value") {
		t.Error("the log quotes the refused target's query string")
	}

	// The notice is shown once: reloading the flow does not repeat it,
	// and the sign-in lands on Hera.
	reload := b.Get(p.URL.String())
	if reload.ElementText("notice-return") != "" {
		t.Error("the notice is shown again on reload")
	}
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": email, "password": password})
	mustPath(t, p, "/")
	if !p.Contains(email) {
		t.Fatalf("not signed in: %s", p.Text())
	}

	// An allowed return_to shows no notice.
	logout(t, b)
	p = b.Get("/login?return_to=" + url.QueryEscape(e.HeraURL+"/sessions"))
	mustPath(t, p, "/login")
	if p.ElementText("notice-return") != "" {
		t.Error("notice shown for an allowed return_to")
	}
}

// TestCrossOriginPostGetsTheErrorPage: a form post from another site to
// each of Hera's state-changing endpoints is refused with Hera's own error
// page — in the reader's language, with the request ID and a way back —
// and changes nothing: the session survives.
func TestCrossOriginPostGetsTheErrorPage(t *testing.T) {
	e := startHera(t, stacktest.Options{})
	email := newEmail("xorigin")
	b := webtest.New(t, e.HeraURL)
	register(t, b, email, password)

	for _, path := range []string{"/logout", "/sessions/revoke-others", "/settings/delete", "/recovery/start",
		"/sessions/00000000-0000-4000-8000-000000000000/revoke", "/api/kratos/login/submit?flow=00000000-0000-4000-8000-000000000000"} {
		req, err := http.NewRequest(http.MethodPost, e.HeraURL+path, strings.NewReader("confirm=yes"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Language", "de")
		req.Header.Set("Origin", "https://attacker.invalid")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		p := b.Do(req)
		if p.Status != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", path, p.Status)
			continue
		}
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("POST %s: Content-Type %q, want Hera's HTML error page", path, ct)
			continue
		}
		rid := p.Header.Get("X-Request-Id")
		for _, want := range []string{"Anfrage abgelehnt", "von einer anderen Website", rid} {
			if rid == "" || !p.Contains(want) {
				t.Errorf("POST %s: page lacks %q (request ID header %q):\n%s", path, want, rid, p.Text())
			}
		}
		if len(p.Find(func(n *htmlNode) bool { href, _ := webtest.LookupAttr(n, "href"); return n.Data == "a" && href == "/" })) == 0 {
			t.Errorf("POST %s: no link back to the start page", path)
		}
	}
	if p := b.Get("/"); !p.Contains(email) {
		t.Errorf("a refused cross-origin post signed the user out: %s", p.Text())
	}
	if n := len(logLines(e, "cross-origin request refused")); n != 6 {
		t.Errorf("%d refusals logged, want 6", n)
	}
}
