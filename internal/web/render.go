package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"

	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/requestid"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is what every page template receives.
type page struct {
	Title     string
	Nonce     string
	RequestID string
	Scripts   []Script
	Captcha   *CaptchaView
	Data      any
	Brand     Brand
	Lang      string
	Dir       string
	Langs     []LangOption
	Path      string // this page, for the language switcher

	captchaCSP *Captcha // the provider origins this page's CSP allows
}

// Brand is the operator's branding, on every page.
type Brand struct {
	Name       string
	LogoURL    string
	FaviconURL string
	PrivacyURL string
	TermsURL   string
	CSS        bool // /brand.css exists
}

// catalog is the message catalog templates translate with.
func (rd *renderer) catalog() *i18n.Catalog { return rd.cat }

// renderer holds the parsed templates, one set per page.
type renderer struct {
	pages map[string]*template.Template
	log   *slog.Logger
	brand Brand
	// tr and langs localize a page; set by the server.
	tr    func(*http.Request) tr
	langs func(cur string) []LangOption
	cat   *i18n.Catalog
	bufs  sync.Pool // *bytes.Buffer
}

// templatePages are the pages rendered by html/template, each parsed with
// partials.html; the flow page and the frame around every page are written
// by code (writeFlow, writeLayout).
func templatePages() []string {
	return []string{"error", "welcome", "sessions", "logout", "consent", "apps", "delete_account"}
}

func newRenderer(log *slog.Logger) (*renderer, error) {
	r := &renderer{pages: map[string]*template.Template{}, log: log}
	for _, name := range templatePages() {
		t, err := template.New(name+".html").Funcs(templateFuncs(r.catalog)).ParseFS(templateFS, "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// templateFuncs are the functions page templates call.
func templateFuncs(cat func() *i18n.Catalog) template.FuncMap {
	return template.FuncMap{
		// t localizes one of Hera's strings: {{t $.Lang "key" "name" value …}}.
		"t": func(lang, key string, kv ...any) string {
			return tr{lang: lang, c: cat()}.T(key, kv...)
		},
		// th is t for strings that embed markup made by code (below); the
		// other arguments are escaped.
		"th": func(lang, key string, kv ...any) template.HTML {
			args := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				if k, ok := kv[i].(string); ok {
					args[k] = kv[i+1]
				}
			}
			return cat().HTML(lang, key, args)
		},
		"code": codeHTML,
	}
}

// render writes a full page. Pages are never cached: they carry CSRF tokens
// and personal data.
func (rd *renderer) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Nonce = nonceFrom(r.Context())
	p.Brand = rd.brand
	if p.Lang == "" && rd.tr != nil {
		p.Lang = rd.tr(r).lang
	}
	if p.Lang == "" {
		p.Lang = "en"
	}
	p.Dir = i18n.Dir(p.Lang)
	if rd.langs != nil {
		p.Langs = rd.langs(p.Lang)
	}
	p.Path = currentPath(r)
	p.RequestID = requestid.From(r.Context())
	// The page is written whole before any byte is sent, so a failure can
	// still answer with an error status. Buffers are reused across requests.
	buf, _ := rd.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= 1<<20 { // a huge page's buffer is not kept
			buf.Reset()
			rd.bufs.Put(buf)
		}
	}()
	err := writeLayout(buf, &p, rd.cat, func(b *bytes.Buffer) error {
		if fp, ok := p.Data.(*FlowPage); ok && name == "flow" {
			writeFlow(b, fp, p.Lang, rd.cat)
			return nil
		}
		t, ok := rd.pages[name]
		if !ok {
			return fmt.Errorf("no page %q", name)
		}
		return t.ExecuteTemplate(b, "content", &p)
	})
	if err != nil {
		rd.log.ErrorContext(r.Context(), "render", "page", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "Something went wrong on our side. Request ID: %s\n", p.RequestID)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if p.captchaCSP != nil {
		w.Header().Set("Content-Security-Policy", csp(p.Nonce, p.captchaCSP))
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// brandCSS serves the operator's colour and extra stylesheet.
func brandCSS(color, extra string) http.Handler {
	var b bytes.Buffer
	if color != "" {
		// The colour was checked to be #rrggbb at start.
		fmt.Fprintf(&b, ":root { --primary: %s; }\n@media (prefers-color-scheme: dark) { :root { --primary: %s; } }\n", color, color)
	}
	b.WriteString(extra)
	body := b.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

// staticFiles serves the embedded CSS and JavaScript.
func staticFiles() http.Handler {
	sub, _ := fs.Sub(staticFS, "static") // cannot fail: the embed directive guarantees the directory
	fsrv := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	}))
}
