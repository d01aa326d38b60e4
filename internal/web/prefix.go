package web

import (
	"net/http"
	"net/url"
	"strings"
)

// Hera may be served under a path, HERA_PUBLIC_URL's (https://example.com/auth):
// every route, link, form action, redirect and cookie path lives below it.
// Inside Hera, paths are written from Hera's root ("/login"); s.url adds
// the base path where a browser gets to see one.

// basePath is the path Hera is served under: "" at the root, else
// "/auth" without a trailing slash.
func (s *server) basePath() string { return strings.TrimSuffix(s.Options.PublicURL.Path, "/") }

// url is path p (from Hera's root, with any query) as browsers address it.
func (s *server) url(p string) string { return s.basePath() + p }

// cookiePath is the Path of Hera's own cookies: all of Hera, nothing else
// on the host.
func (s *server) cookiePath() string { return s.url("/") }

// relativePath is r's path and query from Hera's root, for links back to
// this page (the language switcher's next=).
func relativePath(base string, r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, base)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u := url.URL{Path: p, RawQuery: r.URL.RawQuery}
	return u.String()
}
