package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
)

// The page frame and the flow form are written by code (layout.go,
// flowhtml.go) instead of html/template, for speed. These tests hold the
// code to the templates it replaced (testdata/oracle), executed by
// html/template itself: same page, same bytes, for every recorded flow in
// every language, for hostile values, and for whatever the fuzzer finds.

// oracle renders pages with the original templates.
type oracle struct {
	tmpl *template.Template
	cat  *i18n.Catalog
}

func newOracle(t testing.TB) *oracle {
	t.Helper()
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := template.New("layout.html").Funcs(templateFuncs(func() *i18n.Catalog { return cat })).
		ParseFiles(filepath.Join("testdata", "oracle", "layout.html"), filepath.Join("testdata", "oracle", "flow.html"))
	if err != nil {
		t.Fatal(err)
	}
	return &oracle{tmpl: tm, cat: cat}
}

// both renders p with the templates and with the code.
func (o *oracle) both(t testing.TB, p page) (want, got string) {
	t.Helper()
	var w bytes.Buffer
	if err := o.tmpl.ExecuteTemplate(&w, "layout", p); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var g bytes.Buffer
	if err := writeLayout(&g, &p, o.cat, func(b *bytes.Buffer) error {
		writeFlow(b, p.Data.(*FlowPage), p.Lang, o.cat)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return w.String(), g.String()
}

// flowPageFor builds the page a flow renders as, with the frame's fields
// set as the renderer sets them.
func (o *oracle) flowPageFor(kind kratos.Kind, f *kratos.Flow, lang string) page {
	t := tr{lang: lang, c: o.cat}
	fp := newFlowPage(kind, f, viewContext{submitPath: "/api/kratos/" + string(kind) + "/submit?flow=" + f.ID, kratosPrefix: "http://localhost:4455/api/kratos/"}, t)
	fp.Links, fp.ForgotPassword = flowLinks(kind, f, t)
	return page{Title: fp.Title, Scripts: fp.Scripts, Data: fp, Lang: lang, Dir: i18n.Dir(lang),
		Langs: langSwitcher(o.cat)(lang), Nonce: "bm9uY2Vub25jZW5vbmNlbm9u", RequestID: "0123456789abcdef",
		Path: "/" + string(kind) + "?flow=" + f.ID, Brand: Brand{Name: "Hera"}}
}

type recordedFlow struct {
	name string
	kind kratos.Kind
	raw  []byte
}

func recordedFlows(t testing.TB) []recordedFlow {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "flows", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded flows in testdata/flows")
	}
	var out []recordedFlow
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		var f kratos.Flow
		if err := kratos.Decode(raw, &f); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// The kind is in ui.action (…/self-service/<kind>?flow=) or, for a
		// passed verification flow, in request_url (…/<kind>/browser).
		k, ok := kindIn(f.UI.Action)
		if !ok {
			if k, ok = kindIn(f.RequestURL); !ok {
				t.Fatalf("%s: no flow kind in ui.action or request_url", file)
			}
		}
		out = append(out, recordedFlow{name: name, kind: k, raw: raw})
	}
	return out
}

func kindIn(u string) (kratos.Kind, bool) {
	_, rest, ok := strings.Cut(u, "/self-service/")
	if !ok {
		return "", false
	}
	rest, _, _ = strings.Cut(rest, "?")
	return kratos.ParseKind(strings.TrimSuffix(rest, "/browser"))
}

// hostile is in every place a value can go.
const hostile = `"><script>alert(1)</script>'+&<b>` + "\x00" + `javascript:x é`

func variants(p page) map[string]page {
	fp := *p.Data.(*FlowPage)
	withCaptcha := fp
	withCaptcha.Captcha = &CaptchaView{ScriptURL: "https://challenges.cloudflare.com/turnstile/v0/api.js", Class: "cf-turnstile", SiteKey: "1x00000000000000000000AA", Action: "login"}
	withClient := fp
	withClient.Client = &ClientView{Name: "Demo & Co", LogoURI: "https://example.com/logo.png?a=1&b=2"}
	hostileClient := fp
	hostileClient.Client = &ClientView{Name: hostile, LogoURI: "javascript:alert(1)"}
	hostileCaptcha := fp
	hostileCaptcha.Captcha = &CaptchaView{ScriptURL: "javascript:alert(1)", Class: hostile, SiteKey: hostile, Action: hostile}

	out := map[string]page{"plain": p}
	v := p
	v.Data = &withCaptcha
	v.Captcha = withCaptcha.Captcha
	out["captcha"] = v
	v = p
	v.Data = &withClient
	out["client"] = v
	v = p
	v.Data = &hostileClient
	out["hostile client"] = v
	v = p
	v.Data = &hostileCaptcha
	v.Captcha = hostileCaptcha.Captcha
	out["hostile captcha"] = v
	v = p
	v.Brand = Brand{Name: "Acme + Co", LogoURL: "https://acme.example/logo.svg", FaviconURL: "https://acme.example/f.ico",
		PrivacyURL: "https://acme.example/privacy?x=1&y=2", TermsURL: "/terms", CSS: true}
	out["brand"] = v
	v = p
	v.Brand = Brand{Name: hostile, LogoURL: "javascript:alert(1)", FaviconURL: "data:text/html,x", PrivacyURL: hostile, TermsURL: " JaVaScRiPt:x", CSS: true}
	v.Title, v.Nonce, v.RequestID, v.Path = hostile, hostile, hostile, "/login?flow=a&x="+hostile
	v.Scripts = []Script{{Src: hostile, Integrity: hostile, CrossOrigin: hostile, ReferrerPolicy: hostile}, {Src: "/api/kratos/.well-known/ory/webauthn.js"}}
	v.Langs = append(slices.Clone(v.Langs), LangOption{Code: hostile, Name: hostile})
	out["hostile frame"] = v
	v = p
	v.Langs = nil
	v.RequestID = ""
	out["bare frame"] = v
	return out
}

func TestRenderMatchesTemplates(t *testing.T) {
	o := newOracle(t)
	for _, rf := range recordedFlows(t) {
		for _, lang := range o.cat.Languages() {
			var f kratos.Flow
			if err := kratos.Decode(rf.raw, &f); err != nil {
				t.Fatalf("%s: %v", rf.name, err)
			}
			for name, p := range variants(o.flowPageFor(rf.kind, &f, lang)) {
				if want, got := o.both(t, p); got != want {
					t.Errorf("%s/%s/%s: code and template differ:\n%s", rf.name, lang, name, firstDifference(want, got))
				}
			}
		}
	}
}

// FuzzRenderMatchesTemplates renders whatever flow the fuzzer makes up
// both ways.
func FuzzRenderMatchesTemplates(f *testing.F) {
	o := newOracle(f)
	for _, rf := range recordedFlows(f) {
		f.Add(rf.raw, string(rf.kind), "en", hostile)
	}
	f.Fuzz(func(t *testing.T, raw []byte, kind, lang, s string) {
		k, ok := kratos.ParseKind(kind)
		if !ok {
			k = kratos.Login
		}
		var fl kratos.Flow
		if kratos.Decode(raw, &fl) != nil {
			return
		}
		p := o.flowPageFor(k, &fl, o.cat.Negotiate(nil, lang, "", "en"))
		p.Brand.Name, p.Brand.PrivacyURL, p.Path = s, s, s
		fp := p.Data.(*FlowPage)
		fp.Client = &ClientView{Name: s, LogoURI: s}
		fp.Captcha = &CaptchaView{Class: s, SiteKey: s, Action: s}
		if want, got := o.both(t, p); got != want {
			t.Errorf("code and template differ:\n%s", firstDifference(want, got))
		}
	})
}

// FuzzEscapers holds each escaping function to html/template in the
// context it serves.
func FuzzEscapers(f *testing.F) {
	for _, s := range []string{"", "plain", hostile, "%zz%4", "%41%4g", "a b\tc\nd", "http://x/y?a=b&c=d#e", "data:image/png;base64,iVBO+R/w==",
		"mailto:a@b", "HTTPS://X", "javascript:alert(1)", "/a:b", "a:b/c", "\xff\xfe", "ü€😀", "\uFDD0\uFFFE"} {
		f.Add(s)
	}
	text := template.Must(template.New("").Parse(`<p title="{{.}}">{{.}}</p><title>{{.}}</title>`))
	url := template.Must(template.New("").Parse(`<a href="{{.}}"></a><div data-action="{{.}}"></div>`))
	typed := template.Must(template.New("").Parse(`<img src="{{.}}">`))
	query := template.Must(template.New("").Parse(`<a href="/language?lang={{.}}&amp;next={{.}}"></a>`))
	exec := func(t *testing.T, tm *template.Template, v any) string {
		var b bytes.Buffer
		if err := tm.Execute(&b, v); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		e := func(fn func(*bytes.Buffer, string)) string {
			b.Reset()
			fn(&b, s)
			return b.String()
		}
		h, u, ut, q := e(escHTML), e(escURL), e(escURLTrusted), e(escQuery)
		if want, got := exec(t, text, s), `<p title="`+h+`">`+h+`</p><title>`+h+`</title>`; got != want {
			t.Errorf("escHTML(%q):\n got %s\nwant %s", s, got, want)
		}
		if want, got := exec(t, url, s), `<a href="`+u+`"></a><div data-action="`+u+`"></div>`; got != want {
			t.Errorf("escURL(%q):\n got %s\nwant %s", s, got, want)
		}
		if want, got := exec(t, typed, template.URL(s)), `<img src="`+ut+`">`; got != want {
			t.Errorf("escURLTrusted(%q):\n got %s\nwant %s", s, got, want)
		}
		if want, got := exec(t, query, s), `<a href="/language?lang=`+q+`&amp;next=`+q+`"></a>`; got != want {
			t.Errorf("escQuery(%q):\n got %s\nwant %s", s, got, want)
		}
	})
}

// FuzzRawString holds rawString's fast paths to encoding/json.
func FuzzRawString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"with \"quotes\" and \\ and \u00e9"`, `""`, `null`, `12`, `true`, `{"a":1}`, "\"\xff\"", `"é😀"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var v struct {
			V json.RawMessage `json:"v"`
		}
		doc := append(append([]byte(`{"v":`), raw...), '}')
		if kratos.Decode(doc, &v) != nil || len(v.V) == 0 {
			return
		}
		want := string(v.V)
		if string(v.V) == "null" {
			want = ""
		} else {
			var s string
			if json.Unmarshal(v.V, &s) == nil {
				want = s
			}
		}
		if got := rawString(v.V); got != want {
			t.Errorf("rawString(%s) = %q, want %q", v.V, got, want)
		}
	})
}

// firstDifference shows where two pages part.
func firstDifference(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-120)
	return "template: …" + want[from:min(len(want), i+120)] + "\ncode:     …" + got[from:min(len(got), i+120)]
}

// TestCSPWithoutCaptcha: the policy of pages without a captcha, written
// out in one string for speed, is the one the general builder makes.
func TestCSPWithoutCaptcha(t *testing.T) {
	if got, want := csp("n0nce", nil), csp("n0nce", &Captcha{}); got != want {
		t.Fatalf("csp without captcha:\n got %s\nwant %s", got, want)
	}
}
