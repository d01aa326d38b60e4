// Package webtest is a small scripted browser for integration tests: a
// cookie jar, redirects followed, HTML forms parsed and submitted the way a
// browser without JavaScript submits them.
package webtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// Browser is one user agent with its own cookies.
type Browser struct {
	t      testing.TB
	Base   string
	Client *http.Client
	Jar    http.CookieJar
	// Hops are the URLs of the last request's redirect chain.
	Hops []string
}

// New returns a browser for the site at base (e.g. http://localhost:4455).
func New(t testing.TB, base string) *Browser {
	jar, _ := cookiejar.New(nil)
	return NewWithJar(t, base, jar)
}

// NewWithJar returns a browser that keeps cookies in jar.
func NewWithJar(t testing.TB, base string, jar http.CookieJar) *Browser {
	b := &Browser{t: t, Base: strings.TrimSuffix(base, "/"), Jar: jar}
	b.Client = &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 15 {
				return fmt.Errorf("too many redirects: %v", b.Hops)
			}
			b.Hops = append(b.Hops, req.URL.String())
			return nil
		},
	}
	return b
}

// Page is a loaded page.
type Page struct {
	t      testing.TB
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
	Doc    *html.Node
}

// Get loads path (relative to Base, or absolute).
func (b *Browser) Get(path string) *Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(path), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	return b.Do(req)
}

// Post submits form fields to path as a browser form post would.
func (b *Browser) Post(path string, fields url.Values) *Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(fields.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Origin", b.Base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.Do(req)
}

// Do sends req, following redirects, and parses the answer.
func (b *Browser) Do(req *http.Request) *Page {
	b.t.Helper()
	b.Hops = nil
	res, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &Page{t: b.t, URL: res.Request.URL, Status: res.StatusCode, Header: res.Header, Body: string(body)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		p.Doc, err = html.Parse(strings.NewReader(p.Body))
		if err != nil {
			b.t.Fatalf("%s: not HTML: %v", p.URL, err)
		}
	}
	return p
}

func (b *Browser) abs(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return b.Base + path
}

// Submit submits form f by clicking the submit button name=value (name ""
// for no button), with fields overriding the form's own values.
func (b *Browser) Submit(f *Form, button, value string, fields map[string]string) *Page {
	b.t.Helper()
	vals := url.Values{}
	for k, v := range f.Fields {
		vals[k] = append([]string(nil), v...)
	}
	for k, v := range fields {
		vals.Set(k, v)
	}
	action := f.Action
	if button != "" {
		vals.Set(button, value)
		if fa := f.buttonAction(button, value); fa != "" {
			action = fa
		}
	}
	u, err := f.page.URL.Parse(action)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.Post(u.String(), vals)
}

// SubmitAt submits form f to action, as a button with that formaction does.
func (b *Browser) SubmitAt(f *Form, action string, fields map[string]string) *Page {
	b.t.Helper()
	g := *f
	g.Action = action
	return b.Submit(&g, "", "", fields)
}

// Form is an HTML form: its action and the values a browser would send
// without any button.
type Form struct {
	ID      string
	Action  string
	Fields  url.Values
	Buttons []Button
	page    *Page
}

// Button is a submit button of a form.
type Button struct {
	Name, Value, Text, FormAction string
}

func (f *Form) buttonAction(name, value string) string {
	for _, b := range f.Buttons {
		if b.Name == name && b.Value == value {
			return b.FormAction
		}
	}
	return ""
}

// HasButton reports whether the form has a submit button name=value.
func (f *Form) HasButton(name, value string) bool {
	for _, b := range f.Buttons {
		if b.Name == name && b.Value == value {
			return true
		}
	}
	return false
}

// Forms returns every form of the page.
func (p *Page) Forms() []*Form {
	var out []*Form
	walk(p.Doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode && n.Data == "form" {
			out = append(out, p.parseForm(n))
			return false
		}
		return true
	})
	return out
}

// Form returns the form that has a submit button name=value (value "" for
// any value) or fails the test.
func (p *Page) Form(button, value string) *Form {
	p.t.Helper()
	for _, f := range p.Forms() {
		for _, b := range f.Buttons {
			if b.Name == button && (value == "" || b.Value == value) {
				return f
			}
		}
	}
	p.t.Fatalf("%s (status %d): no form with button %s=%s\n%s", p.URL, p.Status, button, value, p.Text())
	return nil
}

// FormByAction returns the form posting to action or fails the test.
func (p *Page) FormByAction(action string) *Form {
	p.t.Helper()
	for _, f := range p.Forms() {
		if f.Action == action {
			return f
		}
	}
	p.t.Fatalf("%s: no form posting to %q\n%s", p.URL, action, p.Text())
	return nil
}

// FormByID returns the form with the given id or fails the test.
func (p *Page) FormByID(id string) *Form {
	p.t.Helper()
	for _, f := range p.Forms() {
		if f.ID == id {
			return f
		}
	}
	p.t.Fatalf("%s: no form %q\n%s", p.URL, id, p.Text())
	return nil
}

func (p *Page) parseForm(n *html.Node) *Form {
	f := &Form{ID: attr(n, "id"), Action: attr(n, "action"), Fields: url.Values{}, page: p}
	walk(n, func(c *html.Node) bool {
		if c.Type != html.ElementNode {
			return true
		}
		name := attr(c, "name")
		switch c.Data {
		case "input":
			typ := attr(c, "type")
			switch typ {
			case "submit":
				f.Buttons = append(f.Buttons, Button{Name: name, Value: attr(c, "value"), FormAction: attr(c, "formaction")})
			case "checkbox", "radio":
				if hasAttr(c, "checked") && name != "" {
					f.Fields.Add(name, valueOr(c, "on"))
				}
			case "button", "image", "reset", "file":
			default:
				if name != "" && !hasAttr(c, "disabled") {
					f.Fields.Add(name, attr(c, "value"))
				}
			}
		case "button":
			typ := attr(c, "type")
			if typ == "" || typ == "submit" {
				f.Buttons = append(f.Buttons, Button{Name: name, Value: attr(c, "value"), Text: textOf(c), FormAction: attr(c, "formaction")})
			}
		case "select":
			walk(c, func(o *html.Node) bool {
				if o.Type == html.ElementNode && o.Data == "option" && hasAttr(o, "selected") {
					f.Fields.Set(name, attr(o, "value"))
				}
				return true
			})
			return false
		case "textarea":
			f.Fields.Add(name, textOf(c))
		}
		return true
	})
	return f
}

// Text is the page's visible text, white space collapsed.
func (p *Page) Text() string {
	if p.Doc == nil {
		return p.Body
	}
	var b strings.Builder
	walk(p.Doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style" || n.Data == "head") {
			return false
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		return true
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

// Contains reports whether the visible text contains s.
func (p *Page) Contains(s string) bool { return strings.Contains(p.Text(), s) }

// Alerts returns the texts of elements with role=alert.
func (p *Page) Alerts() []string {
	var out []string
	walk(p.Doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode && attr(n, "role") == "alert" {
			out = append(out, strings.Join(strings.Fields(textOf(n)), " "))
		}
		return true
	})
	return out
}

// Find returns elements matching pred.
func (p *Page) Find(pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(p.Doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode && pred(n) {
			out = append(out, n)
		}
		return true
	})
	return out
}

// ElementText returns the text of the element with the given id, or "".
func (p *Page) ElementText(id string) string {
	for _, n := range p.Find(func(n *html.Node) bool { return attr(n, "id") == id }) {
		return strings.TrimSpace(textOf(n))
	}
	return ""
}

// Query returns a query parameter of the page's URL.
func (p *Page) Query(name string) string { return p.URL.Query().Get(name) }

// Attr returns an attribute of n.
func Attr(n *html.Node, name string) string { return attr(n, name) }

// LookupAttr returns n's attribute name and whether n has it.
func LookupAttr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

// FirstDiff shows where a and b first differ: the line, and around the
// first differing byte (templ writes most of a page on one line).
func FirstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	if i == len(a) && i == len(b) {
		return "(no difference)"
	}
	line := 1 + strings.Count(a[:i], "\n")
	from := max(0, i-100)
	return fmt.Sprintf("line %d, byte %d:\n- …%s\n+ …%s", line, i, a[from:min(len(a), i+100)], b[from:min(len(b), i+100)])
}

// TextOf returns the text inside n.
func TextOf(n *html.Node) string { return textOf(n) }

func attr(n *html.Node, name string) string {
	v, _ := LookupAttr(n, name)
	return v
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

func valueOr(n *html.Node, def string) string {
	if hasAttr(n, "value") {
		return attr(n, "value")
	}
	return def
}

func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) bool {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
		return true
	})
	return b.String()
}

// walk visits n and its descendants depth-first; visit returns false to
// skip a node's children.
func walk(n *html.Node, visit func(*html.Node) bool) {
	if n == nil {
		return
	}
	if !visit(n) {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, visit)
	}
}

// TOTP computes the RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32
// secret at time at, as authenticator apps do.
func TOTP(secret string, at time.Time) (string, error) {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		return "", err
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1000000), nil
}
