package web_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web"
	"github.com/heraproject/hera/internal/webtest"
	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.html from the current rendering")

// Placeholders for what differs on every request.
const (
	noncePlaceholder     = "NONCE-PLACEHOLDER"
	requestIDPlaceholder = "REQUEST-ID-PLACEHOLDER"
)

// renderFixture serves f through the real Hera server with a fake Kratos
// that knows only f, and returns the page with nonce and request ID
// replaced by placeholders.
func renderFixture(t *testing.T, f fixture) string {
	t.Helper()
	return renderFixtureWith(t, f, nil, nil)
}

// renderFixtureWith is renderFixture with extra settings and request
// headers.
func renderFixtureWith(t *testing.T, f fixture, extraEnv, headers map[string]string) string {
	t.Helper()
	env := map[string]string{
		"HERA_PUBLIC_URL":   goldenPublicURL,
		"KRATOS_PUBLIC_URL": goldenKratosURL,
		"KRATOS_ADMIN_URL":  goldenAdminURL,
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{
		Logger:  slog.New(slog.DiscardHandler),
		Options: web.OptionsFrom(cfg),
		Kratos:  &fixtureKratos{f: f},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/"+string(f.kind)+"?flow="+url.QueryEscape(f.id), nil)
	req.Header.Set("Accept", "text/html")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%s: status %d %s\n%s", f.name, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	nonce := cspNonce(res.Header.Get("Content-Security-Policy"))
	rid := res.Header.Get("X-Request-Id")
	if nonce == "" || rid == "" {
		t.Fatalf("%s: no nonce (%q) or request ID (%q)", f.name, nonce, rid)
	}
	// html/template writes the nonce's "+" as "&#43;" in attributes.
	return strings.NewReplacer(
		nonce, noncePlaceholder,
		strings.ReplaceAll(nonce, "+", "&#43;"), noncePlaceholder,
		rid, requestIDPlaceholder,
	).Replace(string(body))
}

var nonceRE = regexp.MustCompile(`'nonce-([^']+)'`)

func cspNonce(csp string) string {
	if m := nonceRE.FindStringSubmatch(csp); m != nil {
		return m[1]
	}
	return ""
}

// TestGoldenFlows renders every fixture and compares it with
// testdata/golden/<name>.html; -update rewrites the golden files.
func TestGoldenFlows(t *testing.T) {
	fixtures := loadFixtures(t)
	if *update {
		if err := os.MkdirAll(filepath.Join("testdata", "golden"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, f := range fixtures {
		want[f.name+".html"] = true
		t.Run(f.name, func(t *testing.T) {
			got := renderFixture(t, f)
			if again := renderFixture(t, f); again != got {
				t.Fatalf("rendering is not stable:\n%s", webtest.FirstDiff(got, again))
			}
			matchGolden(t, filepath.Join("testdata", "golden", f.name+".html"), got)
		})
	}
	// A golden file without its fixture is stale.
	goldens, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.html"))
	for _, g := range goldens {
		if !want[filepath.Base(g)] {
			if *update {
				_ = os.Remove(g)
				continue
			}
			t.Errorf("%s has no fixture in testdata/flows", g)
		}
	}
}

// matchGolden compares a rendering with its golden file, or rewrites the
// file with -update.
func matchGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/web -run Golden -update)", err)
	}
	if string(golden) != got {
		t.Errorf("%s differs from the rendering (go test ./internal/web -run Golden -update rewrites it):\n%s", path, webtest.FirstDiff(string(golden), got))
	}
}

// TestGoldenPagesChecks checks every rendered flow page for what a diff
// would not tell: structure, labels, ARIA references, CSP.
func TestGoldenPagesChecks(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			page := renderFixture(t, f)
			for _, p := range checkPage(page, f.kind, f.id) {
				t.Error(p)
			}
			for _, m := range lostMessages(t, f, page) {
				t.Errorf("Kratos's message %q is not on the page", m)
			}
		})
	}
}

// lostMessages returns the texts of the fixture's messages — the flow's
// and its nodes', except those of nodes Hera drops on purpose (scripts) —
// that the page does not show.
func lostMessages(t *testing.T, f fixture, page string) []string {
	t.Helper()
	var flow kratos.Flow
	if err := kratos.Decode(f.raw, &flow); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var body *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "body" {
			body = n
		}
		for c := n.FirstChild; c != nil && body == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	shown := strings.Join(strings.Fields(textIn(body)), " ")
	msgs := flow.UI.Messages
	for _, n := range flow.UI.Nodes {
		if n.Type != "script" {
			msgs = append(msgs, n.Messages...)
		}
	}
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, m := range msgs {
		// The page shows the message as the English catalog words it.
		want := cat.Message("en", m.ID, m.Text, m.Context)
		if text := strings.Join(strings.Fields(want), " "); !strings.Contains(shown, text) {
			lost = append(lost, want)
		}
	}
	return lost
}

// TestPageChecksCatchBrokenPages makes sure checkPage cannot pass
// vacuously: each broken page must be reported for the right reason, and
// the same page without the defect must pass.
func TestPageChecksCatchBrokenPages(t *testing.T) {
	const action = `/api/kratos/login/submit?flow=f1`
	wrap := func(body string) string {
		return `<!doctype html><html lang="en"><head><title>t</title><script src="/static/hera.js" nonce="` + noncePlaceholder + `" defer></script></head><body><main>` +
			body + `</main></body></html>`
	}
	form := func(inner string) string {
		return `<form action="` + action + `" method="post">` + inner + `<button type="submit" name="method" value="password" class="primary">Sign in</button></form>`
	}
	good := wrap(form(`<label for="a">Name</label><input id="a" name="a" type="text" aria-describedby="a-msg"><p id="a-msg" role="alert">Wrong</p>`))
	if problems := checkPage(good, kratos.Login, "f1"); len(problems) != 0 {
		t.Fatalf("good page reported: %v", problems)
	}
	for _, tc := range []struct {
		name, page, want string
	}{
		{"duplicate id", wrap(form(`<label for="a">A</label><input id="a" name="a"><p id="a">x</p>`)), "duplicate id"},
		{"input without label", wrap(form(`<input id="a" name="a" type="email">`)), "no label"},
		{"input without id", wrap(form(`<label>Name <input name="a" type="text"></label>`)), "no id"},
		{"label for another id", wrap(form(`<label for="b">A</label><input id="a" name="a"><input type="hidden" id="b">`)), "no label"},
		{"empty label", wrap(form(`<label for="a"> </label><input id="a" name="a">`)), "no label"},
		{"select without label", wrap(form(`<select id="s" name="s"><option>x</option></select>`)), "no label"},
		{"textarea without label", wrap(form(`<textarea id="x" name="x"></textarea>`)), "no label"},
		{"dangling aria-describedby", wrap(form(`<label for="a">A</label><input id="a" name="a" aria-describedby="a-msg"><p id="other">x</p>`)), "aria-describedby"},
		{"empty button", wrap(form(`<button type="button" class="needs-js"></button>`)), "button without text"},
		{"empty alert", wrap(form(`<p role="alert">  </p>`)), "role=alert without text"},
		{"form posting to Kratos", wrap(`<form action="http://localhost:4455/api/kratos/self-service/login?flow=f1" method="post"><button>Go</button></form>`), "form action"},
		{"form for another flow", wrap(`<form action="/api/kratos/login/submit?flow=f2" method="post"><button>Go</button></form>`), "form action"},
		{"form with GET", wrap(`<form action="` + action + `"><button>Go</button></form>`), "method"},
		{"inline handler", wrap(form(`<button type="button" onclick="window.oryPasskeyLogin()">Passkey</button>`)), "inline event handler"},
		{"inline script", wrap(`<script nonce="` + noncePlaceholder + `">alert(1)</script>`), "inline script"},
		{"script without nonce", wrap(`<script src="/x.js"></script>`), "nonce"},
		{"script with real nonce", wrap(`<script src="/x.js" nonce="abc"></script>`), "nonce"},
		{"javascript URL", wrap(`<a href=" JavaScript:alert(1)">x</a>`), "javascript: URL"},
		{"img without alt", wrap(`<img src="/x.png">`), "img without alt"},
		{"unclosed element", wrap(`<div><p>x</p>`), "unclosed"},
		{"stray end tag", wrap(`<p>x</p></div>`), "end tag"},
		{"resend before the primary button", wrap(`<form action="` + action + `" method="post"><label for="c">Code</label><input id="c" name="code">` +
			`<button type="submit" name="resend" value="code" class="secondary" formnovalidate>Resend code</button>` +
			`<button type="submit" name="method" value="code" class="primary">Continue</button></form>`), "Enter would press"},
		{"no primary method button", wrap(`<form action="` + action + `" method="post"><label for="c">Code</label><input id="c" name="code">` +
			`<button type="submit" name="method" value="code" class="secondary" formnovalidate>Continue</button></form>`), "Enter would press"},
		{"no lang", `<!doctype html><html><head><title>t</title></head><body></body></html>`, "lang"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := checkPage(tc.page, kratos.Login, "f1")
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %v", tc.want, problems)
		})
	}
}

// voidElements have no end tag.
var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

// checkPage returns what is wrong with a rendered flow page of the given
// kind and flow ID.
func checkPage(page string, kind kratos.Kind, flowID string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// Every element Hera writes is closed explicitly, in order: html.Parse
	// would silently repair what a browser might repair differently.
	var open []string
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); err != io.EOF {
				add("tokenizer: %v", err)
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			if !voidElements[tok.Data] {
				open = append(open, tok.Data)
			}
		case html.SelfClosingTagToken:
			if !voidElements[tok.Data] {
				add("self-closing non-void element <%s/>", tok.Data)
			}
		case html.EndTagToken:
			// The innermost open element of that name (lists nest).
			i := len(open) - 1
			for i >= 0 && open[i] != tok.Data {
				i--
			}
			switch {
			case i < 0:
				add("end tag </%s> without its start tag (open: %v)", tok.Data, open)
			case i < len(open)-1:
				add("unclosed %v before </%s>", open[i+1:], tok.Data)
				open = open[:i]
			default:
				open = open[:i]
			}
		}
	}
	if len(open) > 0 {
		add("unclosed elements at the end: %v", open)
	}

	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return append(problems, "parse: "+err.Error())
	}
	var elems []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			elems = append(elems, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)

	ids := map[string]*html.Node{}
	labels := map[string]string{} // for → text
	for _, n := range elems {
		if id, ok := attrOf(n, "id"); ok {
			if ids[id] != nil {
				add("duplicate id %q", id)
			}
			ids[id] = n
		}
		if f, ok := attrOf(n, "for"); ok && n.Data == "label" {
			labels[f] += strings.TrimSpace(textIn(n))
		}
	}
	if lang, _ := attrOf(elems[0], "lang"); elems[0].Data != "html" || lang == "" {
		add("<html> without lang")
	}

	wantAction := "/api/kratos/" + string(kind) + "/submit?flow=" + url.QueryEscape(flowID)
	forms := 0
	for _, n := range elems {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				add("<%s> has an inline event handler %s=%q", n.Data, a.Key, a.Val)
			}
			switch a.Key {
			case "href", "src", "action", "formaction":
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					add("<%s %s=%q>: javascript: URL", n.Data, a.Key, a.Val)
				}
			case "aria-describedby", "aria-labelledby":
				for _, ref := range strings.Fields(a.Val) {
					if ids[ref] == nil {
						add("<%s> %s refers to missing id %q", n.Data, a.Key, ref)
					}
				}
			}
		}
		label := func() string {
			id, _ := attrOf(n, "id")
			if id == "" {
				add("<%s name=%q> has no id", n.Data, attr(n, "name"))
			}
			if l := strings.TrimSpace(attr(n, "aria-label")); l != "" {
				return l
			}
			return labels[id]
		}
		switch n.Data {
		case "input":
			switch attr(n, "type") {
			case "hidden", "submit", "button", "image", "reset":
				continue
			}
			if _, hidden := attrOf(n, "hidden"); hidden {
				continue // not rendered, so not in the accessibility tree
			}
			if label() == "" {
				add("<input name=%q> has no label", attr(n, "name"))
			}
		case "select", "textarea":
			if label() == "" {
				add("<%s name=%q> has no label", n.Data, attr(n, "name"))
			}
		case "button":
			if strings.TrimSpace(textIn(n)) == "" && strings.TrimSpace(attr(n, "aria-label")) == "" {
				add("button without text (name=%q value=%q)", attr(n, "name"), attr(n, "value"))
			}
		case "img":
			if _, ok := attrOf(n, "alt"); !ok {
				add("img without alt (%.40s)", attr(n, "src"))
			}
		case "form":
			forms++
			// Enter in a field presses the form's first submit button: in
			// a form that submits a Kratos method, that must be a method
			// button, marked as the primary action.
			var submits []*html.Node
			hasMethod := false
			for _, c := range elems {
				if c.Data == "button" && (attr(c, "type") == "" || attr(c, "type") == "submit") && inside(c, n) {
					submits = append(submits, c)
					hasMethod = hasMethod || attr(c, "name") == "method"
				}
			}
			if hasMethod {
				first := submits[0]
				if attr(first, "name") != "method" || !slices.Contains(strings.Fields(attr(first, "class")), "primary") {
					add("form %q: Enter would press %q (%s=%s, class %q), not the primary method button",
						attr(n, "id"), strings.TrimSpace(textIn(first)), attr(first, "name"), attr(first, "value"), attr(first, "class"))
				}
			}
			if got := attr(n, "action"); got != wantAction {
				add("form action %q, want %q", got, wantAction)
			}
			if !strings.EqualFold(attr(n, "method"), "post") {
				add("form method %q, want post", attr(n, "method"))
			}
		case "script":
			if _, ok := attrOf(n, "src"); !ok {
				add("inline script: %.60q", textIn(n))
			}
			if attr(n, "nonce") != noncePlaceholder {
				add("script %q without the request's nonce", attr(n, "src"))
			}
		}
		if r := attr(n, "role"); (r == "alert" || r == "status") && strings.TrimSpace(textIn(n)) == "" {
			add("<%s id=%q> role=%s without text", n.Data, attr(n, "id"), r)
		}
	}
	if forms == 0 {
		add("no form")
	}
	return problems
}

// inside reports whether n is a descendant of ancestor.
func inside(n, ancestor *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p == ancestor {
			return true
		}
	}
	return false
}

func attrOf(n *html.Node, key string) (string, bool) { return webtest.LookupAttr(n, key) }

func attr(n *html.Node, key string) string {
	v, _ := attrOf(n, key)
	return v
}

func textIn(n *html.Node) string {
	var b bytes.Buffer
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
