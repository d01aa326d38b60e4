package web

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/kratos"
)

// typedCookie carries what the user typed into a form whose flow Kratos
// refused as expired or failing its CSRF check, to the restarted flow's
// page: the identifier and address fields only, never a password or code.
// It is scoped to the flow's page, lives minutes, and is read once.
const typedCookie = "hera_typed"

// Bounds of what typedCookie keeps; a browser's cookie limit is 4 KiB.
const (
	typedMaxFields = 4
	typedMaxLen    = 320
)

// keepTyped remembers the identifier and addresses of a submission that
// must be typed again into a new flow.
func (s *server) keepTyped(w http.ResponseWriter, kind kratos.Kind, at *attempt.Attempt) {
	if at == nil {
		return
	}
	keep := url.Values{}
	for name, vs := range at.Fields {
		if len(vs) != 1 || !typedField(name, vs[0], at) || len(keep) == typedMaxFields {
			continue
		}
		keep.Set(name, vs[0])
	}
	if len(keep) == 0 {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: typedCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(keep.Encode())),
		Path: s.url("/" + string(kind)), MaxAge: 600, HttpOnly: true, Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
}

// typedField says whether a field of the submission names the account or
// an address: the login identifier, the recovery or verification address,
// or a trait holding the account or an address the guard saw. Passwords,
// codes and other traits are never kept.
func typedField(name, value string, at *attempt.Attempt) bool {
	if value == "" || len(value) > typedMaxLen || strings.ContainsFunc(value, unicode.IsControl) {
		return false
	}
	switch {
	case name == "identifier":
		return true
	case name == "email":
		return at.Kind == kratos.Recovery || at.Kind == kratos.Verification
	case strings.HasPrefix(name, "traits."):
		return value == at.Account || slices.Contains(at.Sends, value)
	}
	return false
}

// takeTyped returns what keepTyped kept for this flow's page, and forgets it.
func (s *server) takeTyped(w http.ResponseWriter, r *http.Request, kind kratos.Kind) url.Values {
	c, err := r.Cookie(typedCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: typedCookie, Path: s.url("/" + string(kind)), MaxAge: -1, HttpOnly: true,
		Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	q, err := url.ParseQuery(string(b))
	if err != nil || len(q) > typedMaxFields {
		return nil
	}
	return q
}

// prefillTyped puts kept values into the empty text fields of the same
// name. A password field is never filled, whatever the cookie says.
func prefillTyped(p *FlowPage, typed url.Values) {
	for fi := range p.Forms {
		for ii := range p.Forms[fi].Items {
			it := &p.Forms[fi].Items[ii]
			if it.Kind != "input" || it.Value != "" || it.Type == "password" || it.Type == "hidden" {
				continue
			}
			if v := typed.Get(it.Name); v != "" && len(v) <= typedMaxLen {
				it.Value = v
			}
		}
	}
}
