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

	"github.com/a-h/templ"
	"github.com/heraproject/hera/internal/web/view"

	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/requestid"
)

//go:embed static
var staticFS embed.FS

// renderer writes pages: the page frame and each page's component
// (package view, templ).
type renderer struct {
	log   *slog.Logger
	brand view.Brand
	// translator and langs localize a page; set by the server.
	translator func(*http.Request) translator
	langs      func(cur string) []view.LangOption
	cat        *i18n.Catalog
	bufs       sync.Pool // *bytes.Buffer
	// base is the path Hera is served under ("" at the root).
	base string
}

// page writes a full page: the frame around content, the page's own
// component (package view), which renders into p. Each handler builds its
// component with its typed model, so a model can only reach the page made
// for it. Pages are never cached: they carry CSRF tokens and personal data.
func (rd *renderer) page(w http.ResponseWriter, r *http.Request, status int, p *view.Page, content templ.Component) {
	p.Nonce = nonceFrom(r.Context())
	p.Brand = rd.brand
	if p.Lang == "" && rd.translator != nil {
		p.Lang = rd.translator(r).lang
	}
	if p.Lang == "" {
		p.Lang = "en"
	}
	p.Dir = i18n.Dir(p.Lang)
	if rd.langs != nil {
		p.Langs = rd.langs(p.Lang)
	}
	p.Path = relativePath(rd.base, r)
	p.Base = rd.base
	p.RequestID = requestid.From(r.Context())
	t := translator{lang: p.Lang, c: rd.cat}
	p.T, p.TH = t.T, t.H
	if p.RequestID != "" && !p.RequestIDInPage {
		p.RequestIDHTML = string(rd.cat.HTML(p.Lang, "hera.layout.request_id", map[string]any{"request_id": codeHTML(p.RequestID)}))
	}
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
	err := view.Layout(p, content).Render(r.Context(), buf)
	if clientGone(r, err) {
		// templ stops when the request's context ends: the browser left.
		rd.log.InfoContext(r.Context(), "client went away", "path", r.URL.Path, "err", err)
		w.WriteHeader(statusClientClosed)
		return
	}
	if err != nil {
		rd.log.ErrorContext(r.Context(), "render", "path", r.URL.Path, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "Something went wrong on our side. Request ID: %s\n", p.RequestID)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if p.CaptchaCSP != nil {
		w.Header().Set("Content-Security-Policy", csp(p.Nonce, p.CaptchaCSP))
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// codeHTML is s as an HTML <code> element, for catalog strings that
// embed it.
func codeHTML(s string) template.HTML {
	return template.HTML("<code>" + template.HTMLEscapeString(s) + "</code>")
}

// staticFiles serves the embedded CSS and JavaScript.
func staticFiles(base string) http.Handler {
	sub, _ := fs.Sub(staticFS, "static") // cannot fail: the embed directive guarantees the directory
	fsrv := http.FileServerFS(sub)
	return http.StripPrefix(base+"/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	}))
}
