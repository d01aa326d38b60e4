package stack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeAdmin is Hydra's admin API as far as ProviderApp uses it: it serves
// the given requests and records what was accepted or rejected.
type fakeAdmin struct {
	mu       sync.Mutex
	requests map[string]any // "<kind>/<challenge>" → request
	puts     []put
}

type put struct {
	Path, Challenge string
	Body            map[string]any
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := strings.TrimPrefix(r.URL.Path, "/admin/oauth2/auth/requests/")
	base, _, _ := strings.Cut(kind, "/")
	challenge := r.URL.Query().Get(base + "_challenge")
	switch r.Method {
	case http.MethodGet:
		req, ok := f.requests[kind+"/"+challenge]
		if !ok {
			http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(req)
	case http.MethodPut:
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		f.puts = append(f.puts, put{Path: kind, Challenge: challenge, Body: body})
		_ = json.NewEncoder(w).Encode(map[string]string{"redirect_to": "http://hydra.test/next/" + kind})
	}
}

func (f *fakeAdmin) last(t *testing.T) put {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.puts) == 0 {
		t.Fatal("nothing accepted or rejected")
	}
	return f.puts[len(f.puts)-1]
}

func (f *fakeAdmin) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.puts)
}

func newProviderForTest(t *testing.T) (*fakeAdmin, *httptest.Server) {
	t.Helper()
	f := &fakeAdmin{requests: map[string]any{
		"login/lc":   map[string]any{"challenge": "lc", "client": map[string]any{"client_id": "kratos", "client_name": "Hera <test>"}},
		"login/skip": map[string]any{"challenge": "skip", "skip": true, "subject": "grace"},
		"consent/cc": map[string]any{"subject": "mail:x@y.test", "requested_scope": []string{"openid", "email", "profile"},
			"requested_access_token_audience": []string{},
			"context":                         map[string]any{"email": "x@y.test", "email_verified": true, "given_name": "X", "family_name": "Y"}},
		"consent/openid": map[string]any{"subject": "ada", "requested_scope": []string{"openid"},
			"context": map[string]any{"email": "ada@provider.test", "email_verified": true, "given_name": "Ada"}},
	}}
	admin := httptest.NewServer(f)
	t.Cleanup(admin.Close)
	app := httptest.NewServer(NewProviderApp(admin.URL, nil))
	t.Cleanup(app.Close)
	return f, app
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func mustRedirect(t *testing.T, res *http.Response, err error, to string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != to {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%d to %q, want 303 to %s\n%s", res.StatusCode, res.Header.Get("Location"), to, b)
	}
}

func TestProviderAppLogin(t *testing.T) {
	f, app := newProviderForTest(t)

	// The form: every test user, the other-address fields, escaped.
	res, err := http.Get(app.URL + "/login?login_challenge=lc")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	page := string(b)
	for _, want := range []string{`<html lang="en">`, "Hera &lt;test&gt;</strong> asks you to sign in", `value="ada"`,
		"Ada Lovelace &lt;ada@provider.test&gt;", `<label for="email">`, `name="login_challenge" value="lc"`} {
		if !strings.Contains(page, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("%d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}

	// A test user.
	res, err = noRedirect.PostForm(app.URL+"/login", url.Values{"login_challenge": {"lc"}, "user": {"ada"}})
	mustRedirect(t, res, err, "http://hydra.test/next/login/accept")
	p := f.last(t)
	ctx, _ := p.Body["context"].(map[string]any)
	if p.Challenge != "lc" || p.Body["subject"] != "ada" || p.Body["remember"] != false || ctx["email"] != "ada@provider.test" || ctx["email_verified"] != true {
		t.Errorf("accepted %+v", p)
	}

	// Any address, verified or not.
	res, err = noRedirect.PostForm(app.URL+"/login", url.Values{"login_challenge": {"lc"}, "email": {" Kay@Example.COM "},
		"given_name": {"Kay"}, "family_name": {""}})
	mustRedirect(t, res, err, "http://hydra.test/next/login/accept")
	p = f.last(t)
	ctx, _ = p.Body["context"].(map[string]any)
	if p.Body["subject"] != "mail:kay@example.com" || ctx["email"] != "Kay@Example.COM" || ctx["email_verified"] != false || ctx["given_name"] != "Kay" {
		t.Errorf("accepted %+v", p)
	}

	// Cancel rejects.
	res, err = noRedirect.PostForm(app.URL+"/login", url.Values{"login_challenge": {"lc"}, "cancel": {"1"}})
	mustRedirect(t, res, err, "http://hydra.test/next/login/reject")
	if p := f.last(t); p.Body["error"] != "access_denied" {
		t.Errorf("rejected %+v", p)
	}

	// A remembered user is accepted without a form.
	res, err = noRedirect.Get(app.URL + "/login?login_challenge=skip")
	mustRedirect(t, res, err, "http://hydra.test/next/login/accept")
	if p := f.last(t); p.Body["subject"] != "grace" {
		t.Errorf("accepted %+v", p)
	}

	// Refused: no address, a name with the address, a subject not listed.
	for _, form := range []url.Values{
		{"login_challenge": {"lc"}, "email": {""}},
		{"login_challenge": {"lc"}, "email": {"Eve <eve@x.test>"}},
		{"login_challenge": {"lc"}, "user": {"mail:eve@x.test"}},
		{"login_challenge": {"lc"}, "user": {"eve"}},
		{"user": {"ada"}},
	} {
		res, err := noRedirect.PostForm(app.URL+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d, want 400", form, res.StatusCode)
		}
	}
	// Hydra does not know the challenge: a 502 page, nothing accepted.
	n := f.count()
	res, err = http.Get(app.URL + "/login?login_challenge=nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway || f.count() != n {
		t.Errorf("unknown challenge: %d", res.StatusCode)
	}
}

func TestProviderAppConsent(t *testing.T) {
	f, app := newProviderForTest(t)
	res, err := noRedirect.Get(app.URL + "/consent?consent_challenge=cc")
	mustRedirect(t, res, err, "http://hydra.test/next/consent/accept")
	p := f.last(t)
	session, _ := p.Body["session"].(map[string]any)
	claims, _ := session["id_token"].(map[string]any)
	want := map[string]any{"email": "x@y.test", "email_verified": true, "name": "X Y", "given_name": "X", "family_name": "Y"}
	if len(claims) != len(want) {
		t.Errorf("claims %v, want %v", claims, want)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if scopes, _ := p.Body["grant_scope"].([]any); len(scopes) != 3 {
		t.Errorf("granted %v", p.Body["grant_scope"])
	}

	// Only what the scopes allow.
	res, err = noRedirect.Get(app.URL + "/consent?consent_challenge=openid")
	mustRedirect(t, res, err, "http://hydra.test/next/consent/accept")
	session, _ = f.last(t).Body["session"].(map[string]any)
	if claims, _ := session["id_token"].(map[string]any); len(claims) != 0 {
		t.Errorf("openid alone: claims %v", claims)
	}
}

// TestSocialTemplateData: the Kratos configuration's provider values are
// quoted for YAML, and the mapper lands next to it.
func TestSocialTemplateData(t *testing.T) {
	dir := t.TempDir()
	d, err := socialTemplateData(dir, &SocialConfig{ID: "acme", Label: `Acme "ID": #1`, IssuerURL: "http://localhost:1/", ClientID: "k", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if d["Label"] != `"Acme \"ID\": #1"` || d["ID"] != `"acme"` {
		t.Errorf("%v", d)
	}
	b, err := os.ReadFile(filepath.Join(dir, "oidc.acme.jsonnet"))
	if err != nil || !strings.Contains(string(b), "std.extVar('claims')") {
		t.Errorf("mapper: %v %s", err, b)
	}
	if _, err := socialTemplateData(dir, &SocialConfig{ID: "acme"}); err == nil {
		t.Error("a provider without issuer and client accepted")
	}
}
