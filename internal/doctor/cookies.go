package doctor

import (
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
)

// cookieKind says which of Kratos's cookies is checked and which settings
// shape it.
type cookieKind struct {
	id   string // csrf, session
	what string // in messages
	// The configuration keys of its domain, path and SameSite, with the
	// key they fall back to, if any.
	domain, path, sameSite settingKey
}

// settingKey is a configuration key and the one Kratos uses while it is
// unset.
type settingKey struct {
	key, fallback string
}

// also names a fallback key in parentheses.
func also(fallback string) string {
	if fallback == "" {
		return ""
	}
	return " (and " + fallback + ")"
}

func (s settingKey) describe() string {
	d := s.key + " (kratos.yml; environment " + envName(s.key) + ")"
	if s.fallback != "" {
		d += ", or " + s.fallback + " while it is unset"
	}
	return d
}

var (
	csrfKind = cookieKind{
		id: "csrf", what: "Kratos's CSRF cookie",
		domain:   settingKey{key: "cookies.domain"},
		path:     settingKey{key: "cookies.path"},
		sameSite: settingKey{key: "cookies.same_site"},
	}
	sessionKind = cookieKind{
		id: "session", what: "Kratos's session cookie",
		domain:   settingKey{key: "session.cookie.domain", fallback: "cookies.domain"},
		path:     settingKey{key: "session.cookie.path", fallback: "cookies.path"},
		sameSite: settingKey{key: "session.cookie.same_site", fallback: "cookies.same_site"},
	}
)

// csrfCookie is Kratos's CSRF cookie among cs.
func csrfCookie(cs []*http.Cookie) *http.Cookie {
	for _, c := range cs {
		if strings.HasPrefix(c.Name, "csrf_token_") {
			return c
		}
	}
	return nil
}

// checkCookie checks that a browser will keep c, set by Kratos through
// Hera's /api/kratos/, and send it back to Hera's pages and to
// /api/kratos/: its Domain, Path, Secure and SameSite against Hera's
// public URL. A cookie that passes is one result; each problem is one.
func (d *doctor) checkCookie(k cookieKind, c *http.Cookie) []Result {
	pub := d.o.PublicURL
	host := strings.ToLower(pub.Hostname())
	https := strings.EqualFold(pub.Scheme, "https")
	basePath := strings.TrimSuffix(pub.EscapedPath(), "/")
	id := "kratos.cookie." + k.id
	var out []Result
	fail := func(aspect, msg, setting, fix string) {
		out = append(out, Result{Check: id + "." + aspect, Status: Fail, Message: msg, Setting: setting, Fix: fix})
	}
	shown := c.Name
	if len(shown) > len("csrf_token_")+8 && strings.HasPrefix(shown, "csrf_token_") {
		shown = shown[:len("csrf_token_")+8] + "…"
	}
	name := fmt.Sprintf("%s %s", k.what, shown)
	fixKey := func(key, value string) string {
		return yaml(strings.Split(key, "."), value)
	}

	domain := strings.ToLower(strings.TrimPrefix(c.Domain, "."))
	if domain != "" && !domainMatch(host, domain) {
		fail("domain", fmt.Sprintf("%s is for the domain %s, which does not contain Hera's host %s: browsers refuse it", name, domain, host),
			k.domain.describe(), "# remove "+k.domain.key+also(k.domain.fallback)+" so that the cookie is Hera's host's alone, or:\n"+fixKey(k.domain.key, host))
	}

	// The browser receives the cookie on Hera's /api/kratos/…; without a
	// Path it would be scoped to that directory.
	cpath := c.Path
	if cpath == "" || cpath[0] != '/' {
		cpath = path.Dir(basePath + "/api/kratos/self-service/login/browser")
	}
	if !pathMatch(basePath+"/", cpath) {
		want := basePath
		if want == "" {
			want = "/"
		}
		fail("path", fmt.Sprintf("%s has Path=%s, so browsers do not send it to Hera's pages under %s/", name, cpath, basePath),
			k.path.describe(), fixKey(k.path.key, want))
	}

	switch {
	case c.Secure && !https:
		fail("secure", fmt.Sprintf("%s is Secure, but Hera's public URL %s is http: browsers do not keep Secure cookies from an http site (Chrome and Firefox make an exception for localhost, Safari does not)", name, d.hera),
			"kratos serve --dev: without it Kratos marks every cookie Secure",
			"# serve Hera over https (HERA_PUBLIC_URL=https://…) and point Kratos at it:\n"+
				yaml([]string{"serve", "public", "base_url"}, "https://"+pub.Host+basePath+"/api/kratos/")+
				"# or, on a development machine only, run Kratos in dev mode:\n#   kratos serve --dev")
	case !c.Secure && https:
		fail("secure", fmt.Sprintf("%s is not Secure although Hera's public URL is https: Kratos runs with --dev, which also turns off other protections", name),
			"kratos serve --dev", "# start Kratos without --dev:\nkratos serve -c kratos.yml")
	}

	switch {
	case c.SameSite == http.SameSiteNoneMode && !c.Secure:
		fail("same_site", fmt.Sprintf("%s is SameSite=None but not Secure: browsers refuse it", name), k.sameSite.describe(), fixKey(k.sameSite.key, "Lax"))
	case c.SameSite == http.SameSiteStrictMode:
		fail("same_site", fmt.Sprintf("%s is SameSite=Strict: browsers leave it out when users arrive from another site (an app's sign-in link, OAuth2, a social sign-in provider, a link in a mail)", name),
			k.sameSite.describe(), fixKey(k.sameSite.key, "Lax"))
	}

	if len(out) == 0 {
		out = append(out, Result{Check: id, Status: Pass,
			Message: fmt.Sprintf("%s comes back to Hera (%s)", name, describeCookie(c, cpath))})
	}
	return out
}

func describeCookie(c *http.Cookie, cpath string) string {
	parts := []string{"Path=" + cpath}
	if c.Domain != "" {
		parts = append(parts, "Domain="+strings.TrimPrefix(c.Domain, "."))
	} else {
		parts = append(parts, "host-only")
	}
	switch c.SameSite {
	case http.SameSiteLaxMode:
		parts = append(parts, "SameSite=Lax")
	case http.SameSiteStrictMode:
		parts = append(parts, "SameSite=Strict")
	case http.SameSiteNoneMode:
		parts = append(parts, "SameSite=None")
	}
	if c.Secure {
		parts = append(parts, "Secure")
	} else {
		parts = append(parts, "not Secure")
	}
	return strings.Join(parts, ", ")
}

// domainMatch is RFC 6265's domain-match: host is domain or ends with
// "."+domain (and is not an IP address).
func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return net.ParseIP(host) == nil && strings.HasSuffix(host, "."+domain)
}

// pathMatch is RFC 6265's path-match of a request path against a cookie's
// path.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}
