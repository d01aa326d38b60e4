package web

import (
	"bytes"
	"html/template"
	"strconv"

	"github.com/heraproject/hera/internal/i18n"
)

// writeLayout writes the frame every page shares (head, header, footer with
// the language switcher and request ID) around the page's content. It is
// the layout template written as code: see escape.go for why, and
// testdata/oracle/layout.html for the template it must match byte for byte.
func writeLayout(b *bytes.Buffer, p *page, cat *i18n.Catalog, content func(*bytes.Buffer) error) error {
	t := func(key string) string { return cat.T(p.Lang, key, nil) }
	b.WriteString("<!doctype html>\n<html lang=\"")
	escHTML(b, p.Lang)
	b.WriteString("\" dir=\"")
	escHTML(b, p.Dir)
	b.WriteString("\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"same-origin\">\n<title>")
	escHTML(b, p.Title)
	b.WriteString(" · ")
	escHTML(b, p.Brand.Name)
	b.WriteString("</title>\n<link rel=\"stylesheet\" href=\"/static/hera.css\">")
	if p.Brand.CSS {
		b.WriteString("\n<link rel=\"stylesheet\" href=\"/brand.css\">")
	}
	if p.Brand.FaviconURL != "" {
		b.WriteString("\n<link rel=\"icon\" href=\"")
		escURL(b, p.Brand.FaviconURL)
		b.WriteString("\">")
	} else {
		// No icon: say so, or every browser asks for /favicon.ico.
		b.WriteString("\n<link rel=\"icon\" href=\"data:,\">")
	}
	b.WriteString("\n<script src=\"/static/hera.js\" nonce=\"")
	escHTML(b, p.Nonce)
	b.WriteString("\" defer></script>")
	for _, s := range p.Scripts {
		b.WriteString("\n<script src=\"")
		escURL(b, s.Src)
		b.WriteString("\" nonce=\"")
		escHTML(b, p.Nonce)
		b.WriteString("\" async")
		optAttr(b, " integrity=\"", s.Integrity)
		optAttr(b, " crossorigin=\"", s.CrossOrigin)
		optAttr(b, " referrerpolicy=\"", s.ReferrerPolicy)
		b.WriteString("></script>")
	}
	if c := p.Captcha; c != nil {
		b.WriteString("\n<script src=\"")
		escURL(b, c.ScriptURL)
		b.WriteString("\" nonce=\"")
		escHTML(b, p.Nonce)
		b.WriteString("\" async defer></script>")
	}
	b.WriteString("\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">")
	escHTML(b, t("hera.layout.skip_to_content"))
	b.WriteString("</a>\n<header class=\"top\"><a class=\"brand\" href=\"/\">")
	if p.Brand.LogoURL != "" {
		b.WriteString("<img src=\"")
		escURL(b, p.Brand.LogoURL)
		b.WriteString("\" alt=\"\" height=\"32\">")
	}
	b.WriteString("<span>")
	escHTML(b, p.Brand.Name)
	b.WriteString("</span></a></header>\n<main id=\"main\" class=\"card\">\n")
	if err := content(b); err != nil {
		return err
	}
	b.WriteString("\n</main>\n<footer class=\"foot\">")
	if p.Brand.PrivacyURL != "" || p.Brand.TermsURL != "" {
		b.WriteString("<nav class=\"legal\" aria-label=\"")
		escHTML(b, t("hera.layout.legal"))
		b.WriteString("\">")
		if p.Brand.PrivacyURL != "" {
			writeLink(b, p.Brand.PrivacyURL, t("hera.layout.privacy_policy"))
		}
		if p.Brand.TermsURL != "" {
			writeLink(b, p.Brand.TermsURL, t("hera.layout.terms_of_service"))
		}
		b.WriteString("</nav>")
	}
	if len(p.Langs) > 0 {
		b.WriteString("<nav class=\"langs\" aria-label=\"")
		escHTML(b, t("hera.layout.language"))
		b.WriteString("\">")
		for _, l := range p.Langs {
			if l.Current {
				b.WriteString("<span aria-current=\"true\" lang=\"")
				escHTML(b, l.Code)
				b.WriteString("\">")
				escHTML(b, l.Name)
				b.WriteString("</span>")
				continue
			}
			b.WriteString("<a href=\"/language?lang=")
			escQuery(b, l.Code)
			b.WriteString("&amp;next=")
			escQuery(b, p.Path)
			b.WriteString("\" lang=\"")
			escHTML(b, l.Code)
			b.WriteString("\" hreflang=\"")
			escHTML(b, l.Code)
			b.WriteString("\">")
			escHTML(b, l.Name)
			b.WriteString("</a>")
		}
		b.WriteString("</nav>")
	}
	if p.RequestID != "" {
		b.WriteString("<span class=\"rid\">")
		b.WriteString(string(cat.HTML(p.Lang, "hera.layout.request_id", map[string]any{"request_id": codeHTML(p.RequestID)})))
		b.WriteString("</span>")
	}
	b.WriteString("</footer>\n</body>\n</html>\n")
	return nil
}

// codeHTML is s as an HTML <code> element, for catalog strings that
// embed it.
func codeHTML(s string) template.HTML {
	return template.HTML("<code>" + template.HTMLEscapeString(s) + "</code>")
}

// optAttr writes an attribute (open is ` name="`) when v is set.
func optAttr(b *bytes.Buffer, open, v string) {
	if v == "" {
		return
	}
	b.WriteString(open)
	escHTML(b, v)
	b.WriteByte('"')
}

// writeLink writes <a href="href">text</a>.
func writeLink(b *bytes.Buffer, href, text string) {
	b.WriteString("<a href=\"")
	escURL(b, href)
	b.WriteString("\">")
	escHTML(b, text)
	b.WriteString("</a>")
}

// writeAlerts writes messages as the alerts the templates show.
func writeAlerts(b *bytes.Buffer, as []Alert) {
	for _, a := range as {
		b.WriteString("<p id=\"")
		escHTML(b, a.ID)
		b.WriteString("\" class=\"alert alert-")
		escHTML(b, a.Type)
		if a.Type == "error" {
			b.WriteString("\" role=\"alert\">")
		} else {
			b.WriteString("\" role=\"status\">")
		}
		escHTML(b, a.Text)
		b.WriteString("</p>\n")
	}
}

func writeInt(b *bytes.Buffer, n int) {
	var a [20]byte
	b.Write(strconv.AppendInt(a[:0], int64(n), 10))
}
