package kratos

import (
	"net/http"
	"strings"
)

// DefaultSessionCookie is the name of Kratos's session cookie unless its
// session.cookie.name says otherwise.
const DefaultSessionCookie = "ory_kratos_session"

// SessionHandle returns the session credential Kratos will read from a
// request, in Kratos v1.3.1's order (session/manager_http.go, extractToken):
// a non-empty X-Session-Token header; else the session cookie, the first
// of its name among cookies as net/http parses the Cookie header (Kratos
// reads it with r.Cookie), in its canonical spelling
// ([CanonicalSessionCookie]); else an "Authorization: Bearer" token. token
// reports that the handle is a token, to be forwarded as X-Session-Token.
// Tokens are looked up by Kratos as they are, so they are taken as they
// are.
func SessionHandle(h http.Header, cookies []*http.Cookie, cookieName string) (handle string, token bool) {
	if t := h.Get("X-Session-Token"); t != "" {
		return t, true
	}
	for _, c := range cookies {
		if c.Name == cookieName {
			return CanonicalSessionCookie(c.Value), false
		}
	}
	parts := strings.Split(h.Get("Authorization"), " ")
	if len(parts) == 2 && strings.ToLower(parts[0]) == "bearer" && parts[1] != "" {
		return parts[1], true
	}
	return "", false
}

// CanonicalCookie writes the Cookie header of cookies as net/http parsed
// them (r.Cookies(): the pairs it cannot parse are already left out): each
// name once (the first, which is the one r.Cookie returns), and only the
// cookies keep accepts (nil keeps all). Forwarded instead of the browser's
// header, it makes Kratos read the very cookies Hera's checks read,
// whatever the odd but legal syntax the browser sent.
func CanonicalCookie(cookies []*http.Cookie, keep func(name string) bool) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, c := range cookies {
		if seen[c.Name] || (keep != nil && !keep(c.Name)) {
			continue
		}
		seen[c.Name] = true
		s := (&http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted}).String()
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// IssuedSession returns the session handle an answer hands the client: the
// canonical value of a session cookie it sets (not one it clears), or the
// session token of an API flow's answer. "" when it issues none.
func IssuedSession(setCookies []string, cookieName string, o *Outcome) string {
	for _, sc := range setCookies {
		if !strings.HasPrefix(strings.TrimLeft(sc, " \t"), cookieName) {
			continue // cannot name the session cookie: not worth parsing
		}
		c, err := http.ParseSetCookie(sc)
		if err != nil || c.Name != cookieName {
			continue
		}
		if c.Value != "" && c.MaxAge >= 0 {
			return CanonicalSessionCookie(c.Value)
		}
	}
	if o != nil {
		return o.SessionToken
	}
	return ""
}
