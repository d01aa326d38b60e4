package doctor

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraproject/hera/deploy/dev"
)

func testDoctor(t *testing.T, public string) *doctor {
	t.Helper()
	u, err := url.Parse(public)
	if err != nil {
		t.Fatal(err)
	}
	return newDoctor(Options{PublicURL: u})
}

func TestCheckCookie(t *testing.T) {
	for _, tc := range []struct {
		name   string
		public string
		cookie string // a Set-Cookie header
		kind   cookieKind
		want   []string // failing checks; none: one pass
	}{
		{name: "dev stack", public: "http://localhost:4455", cookie: "csrf_token_ab=x; Path=/; HttpOnly; SameSite=Lax", kind: csrfKind},
		{name: "production", public: "https://login.example.com", cookie: "ory_kratos_session=x; Path=/; HttpOnly; Secure; SameSite=Lax", kind: sessionKind},
		{name: "parent domain", public: "https://login.example.com", cookie: "ory_kratos_session=x; Domain=example.com; Path=/; Secure; SameSite=Lax", kind: sessionKind},
		{name: "leading dot", public: "https://login.example.com", cookie: "ory_kratos_session=x; Domain=.example.com; Path=/; Secure", kind: sessionKind},
		{name: "under a path prefix", public: "https://example.com/auth", cookie: "ory_kratos_session=x; Path=/auth; Secure", kind: sessionKind},
		{name: "other domain", public: "https://login.example.com", cookie: "ory_kratos_session=x; Domain=example.org; Path=/; Secure",
			kind: sessionKind, want: []string{"kratos.cookie.session.domain"}},
		{name: "suffix is no subdomain", public: "https://badexample.com", cookie: "csrf_token_ab=x; Domain=example.com; Path=/; Secure",
			kind: csrfKind, want: []string{"kratos.cookie.csrf.domain"}},
		{name: "path elsewhere", public: "https://login.example.com", cookie: "csrf_token_ab=x; Path=/api; Secure",
			kind: csrfKind, want: []string{"kratos.cookie.csrf.path"}},
		{name: "no path: Kratos's directory", public: "https://login.example.com", cookie: "csrf_token_ab=x; Secure",
			kind: csrfKind, want: []string{"kratos.cookie.csrf.path"}},
		{name: "path prefix not a segment", public: "https://example.com/authx", cookie: "csrf_token_ab=x; Path=/auth; Secure",
			kind: csrfKind, want: []string{"kratos.cookie.csrf.path"}},
		{name: "Secure on http", public: "http://localhost:4455", cookie: "csrf_token_ab=x; Path=/; Secure; SameSite=Lax",
			kind: csrfKind, want: []string{"kratos.cookie.csrf.secure"}},
		{name: "--dev on https", public: "https://login.example.com", cookie: "csrf_token_ab=x; Path=/; SameSite=Lax",
			kind: csrfKind, want: []string{"kratos.cookie.csrf.secure"}},
		{name: "SameSite=None without Secure", public: "http://localhost:4455", cookie: "ory_kratos_session=x; Path=/; SameSite=None",
			kind: sessionKind, want: []string{"kratos.cookie.session.same_site"}},
		{name: "SameSite=Strict", public: "https://login.example.com", cookie: "ory_kratos_session=x; Path=/; Secure; SameSite=Strict",
			kind: sessionKind, want: []string{"kratos.cookie.session.same_site"}},
		{name: "everything wrong", public: "http://login.example.com", cookie: "ory_kratos_session=x; Domain=example.org; Path=/x; Secure; SameSite=Strict",
			kind: sessionKind, want: []string{"kratos.cookie.session.domain", "kratos.cookie.session.path", "kratos.cookie.session.secure", "kratos.cookie.session.same_site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := http.ParseSetCookie(tc.cookie)
			if err != nil {
				t.Fatal(err)
			}
			rs := testDoctor(t, tc.public).checkCookie(tc.kind, c)
			var got []string
			for _, r := range rs {
				if r.Status == Fail {
					got = append(got, r.Check)
					if r.Setting == "" || r.Fix == "" || r.Message == "" {
						t.Errorf("%s: a failure without message, setting or fix: %+v", r.Check, r)
					}
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("failures %v, want %v", got, tc.want)
			}
			if len(tc.want) == 0 && (len(rs) != 1 || rs[0].Status != Pass) {
				t.Errorf("want one pass, got %+v", rs)
			}
		})
	}
}

func TestSameURL(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"http://localhost:4455/login", "http://localhost:4455/login", true},
		{"HTTP://LocalHost:4455/login", "http://localhost:4455/login", true},
		{"https://example.com:443/login", "https://example.com/login", true},
		{"http://example.com:80/login", "http://example.com/login", true},
		{"https://example.com/login/", "https://example.com/login", false},
		{"https://example.com/Login", "https://example.com/login", false},
		{"http://example.com/login", "https://example.com/login", false},
		{"https://example.com:8443/login", "https://example.com/login", false},
		{"https://example.com/auth/login", "https://example.com/login", false},
	} {
		if got := sameURL(tc.a, tc.b); got != tc.same {
			t.Errorf("sameURL(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestBaseURL(t *testing.T) {
	d := testDoctor(t, "https://example.com/auth")
	if r := d.checkBaseURL("https://example.com/auth/api/kratos/self-service/login?flow=1"); r.Status != Pass {
		t.Errorf("right base URL: %+v", r)
	}
	r := d.checkBaseURL("http://kratos:4433/self-service/login?flow=secret-flow-id")
	if r.Status != Fail || !strings.Contains(r.Message, "http://kratos:4433/,") || strings.Contains(r.Message, "secret") {
		t.Errorf("wrong base URL: %+v", r)
	}
	if want := "serve:\n  public:\n    base_url: https://example.com/auth/api/kratos/\n"; r.Fix != want {
		t.Errorf("fix %q, want %q", r.Fix, want)
	}
}

// TestTraitMaker makes up traits for each identity schema the dev stack
// ships and checks them against the schema's own constraints.
func TestTraitMaker(t *testing.T) {
	for _, name := range []string{"identity.schema.json", "identity.username.schema.json", "identity.phone.schema.json"} {
		t.Run(name, func(t *testing.T) {
			b, err := dev.FS.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var s struct {
				Properties struct {
					Traits *schemaNode `json:"traits"`
				} `json:"properties"`
			}
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			m := &traitMaker{rnd: randomHex(8), digits: randomDigits(4)}
			v, err := m.value(s.Properties.Traits)
			if err != nil {
				t.Fatal(err)
			}
			traits := v.(map[string]any)
			for _, req := range s.Properties.Traits.Required {
				if _, ok := traits[req]; !ok {
					t.Errorf("required trait %s missing: %v", req, traits)
				}
			}
			for k, p := range s.Properties.Traits.Properties {
				val, ok := traits[k].(string)
				if !ok {
					continue
				}
				if p.Pattern != "" && !regexp.MustCompile(p.Pattern).MatchString(val) {
					t.Errorf("%s=%q does not match %s", k, val, p.Pattern)
				}
				if p.MinLength != nil && len(val) < *p.MinLength || p.MaxLength != nil && len(val) > *p.MaxLength {
					t.Errorf("%s=%q: length out of bounds", k, val)
				}
			}
			if len(m.identifiers) != 1 {
				t.Errorf("identifiers %v, want one", m.identifiers)
			}
			t.Logf("traits %v, identifier %v, verified %v", traits, m.identifiers, m.addresses)
		})
	}

	m := &traitMaker{rnd: "0123456789abcdef", digits: "0123"}
	for _, tc := range []struct {
		schema string
		ok     bool
	}{
		{`{"type":"string","pattern":"^[0-9]+$"}`, true},
		{`{"type":"string","pattern":"^[a-z]+$"}`, true},
		{`{"type":"string","enum":["a","b"]}`, true},
		{`{"type":"string","pattern":"^(?=x)"}`, false},
		{`{"type":"string","format":"ipv4"}`, false},
		{`{"$ref":"#/definitions/x"}`, false},
	} {
		var n schemaNode
		if err := json.Unmarshal([]byte(tc.schema), &n); err != nil {
			t.Fatal(err)
		}
		v, err := m.value(&n)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, %v", tc.schema, v, err)
		}
	}
}

func TestWrite(t *testing.T) {
	r := Report{Results: []Result{
		{Check: "a", Status: Pass, Message: "fine"},
		{Check: "b", Status: Fail, Message: "broken", Setting: "x.y (kratos.yml)", Fix: "x:\n  y: z\n"},
		{Check: "c", Status: Skip, Message: "not checked: why"},
	}}
	var b strings.Builder
	if err := r.Write(&b, false); err != nil {
		t.Fatal(err)
	}
	want := "✓ fine\n✗ broken\n  setting: x.y (kratos.yml)\n  fix:\n    x:\n      y: z\n– not checked: why\n\n1 problem found: 1 check passed, 1 not checked.\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	_ = r.Write(&b, true)
	if !strings.HasPrefix(b.String(), "OK   fine\nFAIL broken\n") || !strings.Contains(b.String(), "SKIP not checked") {
		t.Errorf("plain:\n%s", b.String())
	}
}

func TestMergeCookies(t *testing.T) {
	got := mergeCookies(
		[]*http.Cookie{{Name: "a", Value: "1"}, {Name: "b", Value: "1"}},
		[]*http.Cookie{{Name: "a", Value: "2"}, {Name: "b", MaxAge: -1}, {Name: "c", Value: "3"}})
	var s []string
	for _, c := range got {
		s = append(s, c.Name+"="+c.Value)
	}
	if strings.Join(s, " ") != "a=2 c=3" {
		t.Errorf("merged %v", s)
	}
}
