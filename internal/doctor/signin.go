package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// checkSession signs in once, as a temporary identity, to see Kratos's
// session cookie, and with that session checks the settings UI URL (a
// settings flow needs one). The identity is deleted afterwards, and its
// session with it.
func (d *doctor) checkSession(ctx context.Context) []Result {
	notChecked := func(why string) []Result {
		return []Result{{Check: "kratos.session", Status: Skip,
			Message: "Kratos's session cookie and settings UI are not checked: " + why}}
	}
	if d.o.NoSignIn {
		return notChecked("not at start, which creates no identity: run hera doctor")
	}
	a, f, err := d.newLoginFlow(ctx, "")
	switch {
	case err != nil:
		return notChecked(err.Error())
	case f == nil:
		return notChecked("no sign-in flow: " + describeError(a))
	case !f.hasInput("password", "password") && !f.hasInput("identifier_first", "identifier"):
		// (Identifier first, the password field comes on the second step;
		// Kratos takes identifier and password in one go all the same.)
		return notChecked("password sign-in is off in Kratos, and the check signs in with a password")
	}
	id, identifier, password, err := d.createIdentity(ctx)
	var unreachable *url.Error
	switch {
	case errors.As(err, &unreachable):
		return []Result{{
			Check: "kratos.admin", Status: Fail,
			Message: fmt.Sprintf("Kratos's admin API at %s does not answer: %v", d.o.KratosAdminURL, err),
			Setting: "KRATOS_ADMIN_URL (Hera's environment): where Hera reaches Kratos's admin API",
			Fix:     "KRATOS_ADMIN_URL=http://kratos:4434   # Kratos's serve.admin.host and port, as Hera reaches them",
		}}
	case err != nil:
		return notChecked(err.Error())
	}
	defer cleanup(ctx, func(ctx context.Context) {
		_, _ = d.do(ctx, http.MethodDelete, d.kratosAdmin("/admin/identities/"+url.PathEscape(id)), nil, "", nil)
	})

	form := url.Values{"csrf_token": {f.csrfToken()}, "method": {"password"}, "identifier": {identifier}, "password": {password}}
	res, err := d.do(ctx, http.MethodPost, d.kratosPublic("/self-service/login?"+url.Values{"flow": {f.ID}}.Encode()), form,
		"application/json", a.Cookies())
	if err != nil {
		return notChecked("signing in: " + err.Error())
	}
	if res.StatusCode != http.StatusOK {
		return notChecked(fmt.Sprintf("signing in as a temporary identity failed: %d %s", res.StatusCode, flowMessages(res)))
	}
	var session *http.Cookie
	var others []*http.Cookie
	for _, c := range res.Cookies() {
		switch {
		case c.Name == d.o.SessionCookie:
			session = c
		case !strings.HasPrefix(c.Name, "csrf_token_") && c.Name != "ory_kratos_continuity":
			others = append(others, c)
		}
	}
	var out []Result
	if session == nil {
		if len(others) == 0 {
			return notChecked("Kratos set no session cookie after a sign-in")
		}
		session = others[0]
		out = append(out, Result{
			Check: "kratos.cookie.session.name", Status: Fail,
			Message: fmt.Sprintf("Kratos names its session cookie %s, Hera expects %s: Hera does not see sessions when it counts second-factor guesses",
				session.Name, d.o.SessionCookie),
			Setting: "HERA_KRATOS_SESSION_COOKIE (Hera's environment), the same as Kratos's session.cookie.name",
			Fix:     "HERA_KRATOS_SESSION_COOKIE=" + session.Name,
		})
	}
	out = append(out, d.checkCookie(sessionKind, session)...)

	cookies := mergeCookies(a.Cookies(), res.Cookies())
	s, err := d.do(ctx, http.MethodGet, d.kratosPublic("/self-service/settings/browser"), nil, "", cookies)
	if err != nil {
		return append(out, Result{Check: "kratos.ui_url.settings", Status: Skip, Message: "Kratos's settings UI is not checked: " + err.Error()})
	}
	loc, ok := location(s)
	if !ok || loc.Query().Get("flow") == "" {
		return append(out, Result{Check: "kratos.ui_url.settings", Status: Skip,
			Message: fmt.Sprintf("Kratos's settings UI is not checked: a signed-in settings flow answered %d", s.StatusCode)})
	}
	return append(out, d.compareUI("kratos.ui_url.settings", loc, d.hera+"/settings", "Kratos's settings UI",
		"selfservice.flows.settings.ui_url", []string{"selfservice", "flows", "settings", "ui_url"}))
}

// flowMessages are the messages of a flow Kratos answered with, or its
// error.
func flowMessages(a *answer) string {
	var f struct {
		UI struct {
			Messages []struct {
				Text string `json:"text"`
			} `json:"messages"`
			Nodes []struct {
				Messages []struct {
					Text string `json:"text"`
				} `json:"messages"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	if json.Unmarshal(a.body, &f) == nil {
		var msgs []string
		for _, m := range f.UI.Messages {
			msgs = append(msgs, m.Text)
		}
		for _, n := range f.UI.Nodes {
			for _, m := range n.Messages {
				msgs = append(msgs, m.Text)
			}
		}
		if len(msgs) > 0 {
			return strings.Join(msgs, "; ")
		}
	}
	return describeError(a)
}

// mergeCookies is what a browser would send after receiving first, then
// second: later cookies replace earlier ones of the same name, expired
// ones are dropped.
func mergeCookies(first, second []*http.Cookie) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range append(slices.Clone(first), second...) {
		out = slices.DeleteFunc(out, func(o *http.Cookie) bool { return o.Name == c.Name })
		if c.MaxAge >= 0 {
			out = append(out, c)
		}
	}
	return out
}

// schemaNode is what the doctor reads of an identity schema to make up
// traits that it accepts.
type schemaNode struct {
	Type       json.RawMessage        `json:"type"`
	Format     string                 `json:"format"`
	Pattern    string                 `json:"pattern"`
	MinLength  *int                   `json:"minLength"`
	MaxLength  *int                   `json:"maxLength"`
	Minimum    *float64               `json:"minimum"`
	Enum       []any                  `json:"enum"`
	Const      any                    `json:"const"`
	Ref        string                 `json:"$ref"`
	Properties map[string]*schemaNode `json:"properties"`
	Required   []string               `json:"required"`
	Items      *schemaNode            `json:"items"`
	MinItems   int                    `json:"minItems"`
	Ory        struct {
		Credentials struct {
			Password struct {
				Identifier bool `json:"identifier"`
			} `json:"password"`
		} `json:"credentials"`
		Verification struct {
			Via string `json:"via"`
		} `json:"verification"`
	} `json:"ory.sh/kratos"`
}

// typ is the node's type (the first that is not null of a list).
func (n *schemaNode) typ() string {
	var s string
	if json.Unmarshal(n.Type, &s) == nil {
		return s
	}
	var ss []string
	_ = json.Unmarshal(n.Type, &ss)
	for _, s := range ss {
		if s != "null" {
			return s
		}
	}
	if n.Properties != nil {
		return "object"
	}
	return ""
}

// hasIdentifier reports whether the node or one below it is a password
// identifier.
func (n *schemaNode) hasIdentifier() bool {
	if n.Ory.Credentials.Password.Identifier {
		return true
	}
	for _, p := range n.Properties {
		if p.hasIdentifier() {
			return true
		}
	}
	return false
}

// traitMaker makes up trait values for a temporary identity.
type traitMaker struct {
	rnd         string // random hex
	digits      string // random digits
	identifiers []string
	addresses   []map[string]any // verifiable addresses, verified
}

func (m *traitMaker) value(n *schemaNode) (any, error) {
	if n.Ref != "" {
		return nil, errors.New("the identity schema uses $ref")
	}
	if n.Const != nil {
		return n.Const, nil
	}
	if len(n.Enum) > 0 {
		return n.Enum[0], nil
	}
	switch n.typ() {
	case "object":
		obj := map[string]any{}
		keys := make([]string, 0, len(n.Properties))
		for k := range n.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := n.Properties[k]
			if !slices.Contains(n.Required, k) && !p.hasIdentifier() {
				continue
			}
			v, err := m.value(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			obj[k] = v
		}
		return obj, nil
	case "array":
		arr := []any{}
		for range n.MinItems {
			if n.Items == nil {
				return nil, errors.New("an array without items")
			}
			v, err := m.value(n.Items)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case "boolean":
		return false, nil
	case "integer", "number":
		if n.Minimum != nil {
			return *n.Minimum, nil
		}
		return 0, nil
	case "string":
		s, err := m.str(n)
		if err != nil {
			return nil, err
		}
		if n.Ory.Credentials.Password.Identifier {
			m.identifiers = append(m.identifiers, s)
		}
		if via := n.Ory.Verification.Via; via != "" {
			m.addresses = append(m.addresses, map[string]any{"value": s, "via": via, "verified": true, "status": "completed"})
		}
		return s, nil
	}
	return nil, fmt.Errorf("a trait of type %s", n.Type)
}

func (m *traitMaker) str(n *schemaNode) (string, error) {
	var candidates []string
	switch n.Format {
	case "email":
		candidates = []string{"hera-doctor-" + m.rnd + "@example.com"}
	case "tel":
		// 555-01xx numbers are fictional (NANP).
		candidates = []string{"+120155501" + m.digits[:2]}
	case "uri", "url":
		candidates = []string{"https://example.com/hera-doctor-" + m.rnd}
	case "date":
		candidates = []string{"2000-01-01"}
	case "date-time":
		candidates = []string{"2000-01-01T00:00:00Z"}
	case "":
		plain := "hd" + m.rnd
		if n.MaxLength != nil && len(plain) > *n.MaxLength && *n.MaxLength > 0 {
			plain = plain[:*n.MaxLength]
		}
		if n.MinLength != nil && len(plain) < *n.MinLength {
			plain += strings.Repeat("x", *n.MinLength-len(plain))
		}
		candidates = []string{plain, m.digits + m.digits, "heradoctor" + strings.Map(hexToLetter, m.rnd)}
	default:
		return "", fmt.Errorf("a trait of format %s", n.Format)
	}
	var re *regexp.Regexp
	if n.Pattern != "" {
		var err error
		if re, err = regexp.Compile(n.Pattern); err != nil {
			return "", fmt.Errorf("a pattern the doctor cannot read: %s", n.Pattern)
		}
	}
	for _, c := range candidates {
		if re != nil && !re.MatchString(c) {
			continue
		}
		if n.MinLength != nil && len(c) < *n.MinLength || n.MaxLength != nil && len(c) > *n.MaxLength {
			continue
		}
		return c, nil
	}
	return "", fmt.Errorf("no value the doctor makes up fits the trait (pattern %q)", n.Pattern)
}

func hexToLetter(r rune) rune {
	if r >= '0' && r <= '9' {
		return 'g' + (r - '0')
	}
	return r
}

// createIdentity creates a temporary identity with a random password,
// traits made up for the first identity schema that has a password
// identifier, and its addresses verified (so that a require_verified_address
// hook lets it sign in).
func (d *doctor) createIdentity(ctx context.Context) (id, identifier, password string, err error) {
	a, err := d.do(ctx, http.MethodGet, d.kratosPublic("/schemas?page_size=100"), nil, "application/json", nil)
	if err != nil {
		return "", "", "", fmt.Errorf("reading the identity schemas: %v", err)
	}
	var schemas []struct {
		ID     string `json:"id"`
		Schema struct {
			Properties struct {
				Traits *schemaNode `json:"traits"`
			} `json:"properties"`
		} `json:"schema"`
	}
	if a.StatusCode != http.StatusOK || json.Unmarshal(a.body, &schemas) != nil {
		return "", "", "", fmt.Errorf("reading the identity schemas: %d %s", a.StatusCode, describeError(a))
	}
	password = randomHex(16)
	var why []string
	for _, s := range schemas {
		traits := s.Schema.Properties.Traits
		if traits == nil || !traits.hasIdentifier() {
			why = append(why, fmt.Sprintf("schema %s has no password identifier", s.ID))
			continue
		}
		for range 3 { // another identifier if one is taken
			m := &traitMaker{rnd: randomHex(8), digits: randomDigits(4)}
			v, err := m.value(traits)
			if err != nil {
				why = append(why, fmt.Sprintf("schema %s: %v", s.ID, err))
				break
			}
			if len(m.identifiers) == 0 {
				why = append(why, fmt.Sprintf("schema %s: no password identifier made", s.ID))
				break
			}
			body := map[string]any{
				"schema_id": s.ID,
				"traits":    v,
				"state":     "active",
				"credentials": map[string]any{
					"password": map[string]any{"config": map[string]any{"password": password}},
				},
				"metadata_admin": map[string]any{"created_by": "hera doctor", "temporary": true},
			}
			if len(m.addresses) > 0 {
				body["verifiable_addresses"] = m.addresses
			}
			res, err := d.do(ctx, http.MethodPost, d.kratosAdmin("/admin/identities"), body, "application/json", nil)
			if err != nil {
				return "", "", "", err
			}
			if res.StatusCode == http.StatusConflict {
				continue
			}
			if res.StatusCode != http.StatusCreated {
				why = append(why, fmt.Sprintf("schema %s: creating a temporary identity: %d %s", s.ID, res.StatusCode, describeError(res)))
				break
			}
			var created struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(res.body, &created); err != nil || created.ID == "" {
				return "", "", "", fmt.Errorf("creating a temporary identity: %.200s", res.body)
			}
			return created.ID, m.identifiers[0], password, nil
		}
	}
	if len(why) == 0 {
		why = []string{"Kratos serves no identity schema"}
	}
	return "", "", "", errors.New("no temporary identity to sign in with: " + strings.Join(why, "; "))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
