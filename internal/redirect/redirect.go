// Package redirect decides where Hera may send a browser. A target is
// allowed only when it is an absolute http(s) URL (or a path on Hera) whose
// scheme and host equal an allowlist entry's and whose path lies within the
// entry's path at a segment boundary: an entry https://app.example.com/dashboard
// allows /dashboard and /dashboard/x, never /dashboard-evil (which Kratos's
// own prefix check lets through).
package redirect

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Allowlist is a set of allowed redirect prefixes.
type Allowlist struct {
	base    *url.URL // Hera's public URL: relative targets are paths below it
	entries []entry
}

type entry struct {
	scheme, host, path string // host lower-case with explicit port; path without trailing slash ("" for root)
}

// New returns an allowlist of base (Hera itself) and the given URLs.
func New(base *url.URL, allowed []string) (*Allowlist, error) {
	if base == nil || base.Host == "" {
		return nil, errors.New("redirect: base URL required")
	}
	a := &Allowlist{base: base}
	e, err := parseEntry(base.String())
	if err != nil {
		return nil, err
	}
	a.entries = append(a.entries, e)
	var bad []string
	for _, s := range allowed {
		e, err := parseEntry(s)
		if err != nil {
			bad = append(bad, s+": "+err.Error())
			continue
		}
		a.entries = append(a.entries, e)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("redirect: bad allowed URL: %s", strings.Join(bad, "; "))
	}
	return a, nil
}

func parseEntry(s string) (entry, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return entry{}, errors.New("want an absolute http(s) URL without user info")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return entry{}, errors.New("must not carry a query or fragment")
	}
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	if !cleanPath(p + "/") {
		return entry{}, errors.New("path is not clean")
	}
	return entry{scheme: u.Scheme, host: hostPort(u), path: p}, nil
}

// hostPort returns the lower-case host with an explicit port.
func hostPort(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}

// Allowed reports whether target may be redirected to, and returns it as an
// absolute URL.
func (a *Allowlist) Allowed(target string) (string, bool) {
	if target == "" || len(target) > 4096 {
		return "", false
	}
	for i := 0; i < len(target); i++ {
		c := target[i]
		// Control characters, spaces and backslashes are read differently by
		// browsers and servers ("/\evil.com" is //evil.com to a browser).
		if c <= ' ' || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", false
	}
	if !u.IsAbs() {
		// Only absolute paths on Hera itself: not "//host", not "evil".
		if u.Host != "" || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
			return "", false
		}
		// Written from Hera's root, which is the base URL's path when Hera
		// is served under one ("/settings" is https://example.com/auth/settings).
		if base := strings.TrimSuffix(a.base.EscapedPath(), "/"); base != "" {
			if u, err = url.Parse(base + target); err != nil {
				return "", false
			}
		}
		u = a.base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !cleanPath(p) {
		return "", false
	}
	hp := hostPort(u)
	for _, e := range a.entries {
		if e.scheme != u.Scheme || e.host != hp {
			continue
		}
		if e.path == "" || p == e.path || strings.HasPrefix(p, e.path+"/") {
			return u.String(), true
		}
	}
	return "", false
}

// cleanPath rejects paths a server might normalise into somewhere else:
// dot segments, empty segments, and any percent-encoded slash, backslash
// or dot.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	lower := strings.ToLower(p)
	for _, bad := range []string{"%2f", "%5c", "%2e", "%00", "%25"} {
		if strings.Contains(lower, bad) {
			return false
		}
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "." || s == ".." || (s == "" && i != len(segs)-1) {
			return false
		}
	}
	return true
}
