package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/heraproject/hera/internal/captcha"
)

type nonceKey struct{}

// csp is the Content-Security-Policy of a page. Only pages that show a
// captcha widget allow its provider's origins.
func csp(nonce string, c *captcha.CSP) string {
	if c == nil {
		// Every page without a captcha: one string, built once per request.
		return "default-src 'self'; script-src 'self' 'nonce-" + nonce + "'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; frame-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
	}
	src := func(base string, extra []string) string {
		if len(extra) == 0 {
			return base
		}
		if base == "'none'" {
			return strings.Join(extra, " ")
		}
		return base + " " + strings.Join(extra, " ")
	}
	var script, frame, style, connect []string
	if c != nil {
		script, frame, style, connect = c.ScriptSrc, c.FrameSrc, c.StyleSrc, c.ConnectSrc
	}
	return strings.Join([]string{
		"default-src 'self'",
		src("script-src 'self' 'nonce-"+nonce+"'", script),
		src("style-src 'self'", style),
		"img-src 'self' data: https:",
		src("connect-src 'self'", connect),
		"frame-src " + src("'none'", frame),
		"object-src 'none'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func nonceFrom(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// securityHeaders sets the headers every response carries, with a fresh
// CSP nonce per request: scripts run only from Hera's origin and with the
// nonce, never inline or through eval.
func securityHeaders(hsts bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [18]byte
		_, _ = rand.Read(b[:])
		nonce := base64.RawStdEncoding.EncodeToString(b[:])
		h := w.Header()
		h.Set("Content-Security-Policy", csp(nonce, nil))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce)))
	})
}
