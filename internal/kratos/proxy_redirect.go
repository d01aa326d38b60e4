package kratos

import (
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Kratos checks where it may send a browser by comparing raw prefixes of
// the decoded path (x.SecureRedirectTo): with https://hera.example/ allowed,
// https://hera.example/account/../../evil and /dashboard-evil pass. The
// proxy holds what it forwards to Hera's allowlist (ProxyConfig.CheckRedirect)
// in both directions: return_to on the way in, Location on the way out.

// Query parameters Kratos turns into a redirect.
var (
	returnToParams = []string{"return_to"}
	// A registration's after_verification_return_to becomes the return_to
	// of the verification flow that follows, unchecked until then.
	registrationParams = []string{"return_to", "after_verification_return_to"}
)

// redirectParams names the query parameters of a forwarded request for rest
// (the path below the prefix) that Kratos redirects to: those of the flow
// creation endpoints and of logout.
func redirectParams(rest string) []string {
	tail, ok := strings.CutPrefix(rest, "/self-service/")
	if !ok {
		return nil
	}
	if tail == "logout" || tail == "logout/browser" {
		return returnToParams
	}
	name, how, ok := strings.Cut(tail, "/")
	if !ok || (how != "browser" && how != "api") {
		return nil
	}
	switch k, _ := ParseKind(name); k {
	case "":
		return nil
	case Registration:
		return registrationParams
	default:
		return returnToParams
	}
}

// returnToAllowed reports whether the query raw of a request for rest may
// reach Kratos: each redirect parameter at most once, and absolute and
// allowed by CheckRedirect when not empty (Kratos reads an empty value as
// absent). The query is parsed as Kratos parses it; one that does not parse
// is refused, since Kratos would read the part that does. A relative target
// is refused: Kratos resolves it against its default_browser_return_url,
// not against Hera.
func (p *Proxy) returnToAllowed(rest, raw string) bool {
	params := redirectParams(rest)
	if params == nil || raw == "" {
		return true
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return false
	}
	for _, name := range params {
		vs := q[name]
		switch {
		case len(vs) == 0:
		case len(vs) > 1:
			return false
		case vs[0] == "":
		case !absolute(vs[0]) || !p.cfg.CheckRedirect(vs[0]):
			return false
		}
	}
	return true
}

// absolute reports whether target names its scheme and host.
func absolute(target string) bool {
	u, err := url.Parse(target)
	return err == nil && u.Scheme != "" && u.Host != ""
}

// modifyResponse checks Kratos's redirects, tells the hooks what Kratos
// did to sessions, then sizes the answer.
func (p *Proxy) modifyResponse(res *http.Response) error {
	if p.cfg.CheckRedirect != nil && res.StatusCode >= 300 && res.StatusCode < 400 && res.Request != nil {
		p.checkLocation(res)
	}
	if res.Request != nil {
		if h, ok := res.Request.Context().Value(hooksKey{}).(*hooks); ok {
			if h.done != nil {
				h.done(res.StatusCode)
			}
			if p.cfg.IssuedSession != nil && p.cfg.SessionCookie != "" {
				if handle := IssuedSession(res.Header.Values("Set-Cookie"), p.cfg.SessionCookie, nil); handle != "" {
					for _, c := range p.cfg.IssuedSession(h.in, h.path, handle) {
						if v := c.String(); v != "" {
							res.Header.Add("Set-Cookie", v)
						}
					}
				}
			}
		}
	}
	return p.sizeBody(res)
}

// checkLocation sends the browser to RedirectRefused instead of a Location
// CheckRedirect refuses. Status and the other headers stay: a session
// cookie Kratos set (or cleared) still lands.
func (p *Proxy) checkLocation(res *http.Response) {
	locs := res.Header.Values("Location")
	if len(locs) == 0 {
		return
	}
	path := p.publicPath(res.Request)
	if len(locs) == 1 && p.locationAllowed(path, locs[0]) {
		return
	}
	p.cfg.Logger.WarnContext(res.Request.Context(), "kratos proxy refused a redirect", "path", path, "status", res.StatusCode)
	res.Header.Set("Location", p.cfg.RedirectRefused)
	// The body of Kratos's redirect links the refused address: it goes.
	if res.Body != nil && res.Body != http.NoBody {
		_, _ = io.CopyN(io.Discard, res.Body, bufferedAnswer)
		_ = res.Body.Close()
	}
	res.Body = http.NoBody
	res.ContentLength = 0
	res.TransferEncoding = nil
	res.Header.Set("Content-Length", "0")
}

// publicPath is the path the browser asked for, of out, the request sent
// to Kratos.
func (p *Proxy) publicPath(out *http.Request) string {
	return p.cfg.Prefix + strings.TrimPrefix(out.URL.Path, p.cfg.Upstream.Path)
}

// locationAllowed reports whether CheckRedirect allows loc, a Location
// answered to a request for path. A path-relative loc is resolved against
// path, as a browser does; other forms go to CheckRedirect as they are
// (which resolves "/x" against Hera).
func (p *Proxy) locationAllowed(path, loc string) bool {
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(loc)
	if err != nil {
		return false
	}
	if u.Scheme == "" && u.Host == "" && !strings.HasPrefix(loc, "/") {
		loc = (&url.URL{Path: path}).ResolveReference(u).String()
	}
	return p.cfg.CheckRedirect(loc)
}
