package web

import (
	"bytes"
	"strings"
)

// The page frame and the flow form are written by code, not by
// html/template: reflection-driven template execution was most of a page
// view's cost (docs/benchmarks.md). Each function below writes exactly what
// html/template writes for a string in the same context, so both render the
// same bytes; FuzzEscapers (render_oracle_test.go) checks every function against html/template
// itself, and the differential test renders pages both ways.

// escHTML writes s for HTML text, a <title>, or a double-quoted attribute
// value that is not a URL (html/template's htmlEscaper, attrEscaper and
// rcdataEscaper for strings).
func escHTML(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// filterFailsafe replaces a URL whose scheme could run code, as
// html/template does.
const filterFailsafe = "#ZgotmplZ"

// escURL writes s as a whole URL attribute value (href, src, action): a
// scheme other than http, https or mailto is refused, then the URL is
// normalized and escaped (html/template's urlFilter, urlNormalizer,
// attrEscaper).
func escURL(b *bytes.Buffer, s string) {
	if !isSafeURL(s) {
		b.WriteString(filterFailsafe)
		return
	}
	escURLTrusted(b, s)
}

// escURLTrusted is escURL for a URL already checked by code (a QR code's
// data: URL): normalized and escaped, not filtered, as html/template treats
// a template.URL.
func escURLTrusted(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var repl string
		switch {
		case c == '&':
			repl = "&amp;"
		case c == '+':
			repl = "&#43;"
		case urlKeep(c):
			continue
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			continue // a valid escape stays as it is
		}
		b.WriteString(s[last:i])
		if repl != "" {
			b.WriteString(repl)
		} else {
			writePercent(b, c)
		}
		last = i + 1
	}
	b.WriteString(s[last:])
}

// escQuery writes s as part of a URL's query inside an attribute: every
// byte but the unreserved ones is percent-encoded (html/template's
// urlEscaper, after which the attribute needs no further escaping).
func escQuery(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; !unreserved(c) {
			b.WriteString(s[last:i])
			writePercent(b, c)
			last = i + 1
		}
	}
	b.WriteString(s[last:])
}

// isSafeURL is true for a relative URL or an http, https or mailto one.
func isSafeURL(s string) bool {
	if protocol, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(protocol, "/") {
		return strings.EqualFold(protocol, "http") || strings.EqualFold(protocol, "https") || strings.EqualFold(protocol, "mailto")
	}
	return true
}

// urlKeep reports whether a normalized URL keeps byte c as it is:
// RFC 3986's unreserved characters and the reserved ones that give a URL
// its structure (and that html/template leaves alone).
func urlKeep(c byte) bool {
	switch c {
	case '!', '#', '$', '&', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']':
		return true
	}
	return unreserved(c)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func writePercent(b *bytes.Buffer, c byte) {
	const hex = "0123456789abcdef"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}
