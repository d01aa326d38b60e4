//go:build integration

package hydra_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/stack"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// world is one real Hydra shared by the integration subtests, with a
// relying party registered in it.
type world struct {
	hydra *hydra.Client
	rp    *relyingParty
}

// startWorld starts Kratos and Hydra with the shared test harness.
func startWorld(t *testing.T) *world {
	t.Helper()
	e := stacktest.Start(t, stacktest.Options{Hydra: true})
	return newWorld(t, e.Hydra.PublicURL, e.Hydra.AdminURL, e.HeraURL)
}

func newWorld(t *testing.T, public, admin, hera string) *world {
	t.Helper()
	return &world{
		hydra: mustClient(t, admin, 10*time.Second),
		rp:    newRelyingParty(t, public, admin, hera),
	}
}

// startHydraWithEnv starts Hydra alone, through the stack package, with
// extra environment variables (Hydra reads configuration keys from them;
// the stack gives Hydra a clean environment, so a wrapper script sets them).
func startHydraWithEnv(t *testing.T, env ...string) *world {
	t.Helper()
	root := stacktest.RepoRoot(t)
	dir := t.TempDir()
	script := "#!/bin/sh\nexec env " + strings.Join(env, " ") + " '" + filepath.Join(root, "bin", "hydra") + "' \"$@\"\n"
	wrapper := filepath.Join(dir, "hydra")
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	var ports []int
	for len(ports) < 2 {
		p, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if len(ports) == 0 || ports[0] != p {
			ports = append(ports, p)
		}
	}
	var (
		mu   sync.Mutex
		logs bytes.Buffer
	)
	out := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) })
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("hydra output:\n%s", logs.String())
		}
	})
	hera := "http://localhost:1" // nothing serves it; the tests read challenges from Location
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := stack.StartHydra(ctx, stack.HydraConfig{
		Bin: wrapper, Dir: filepath.Join(dir, "state"), HeraURL: hera,
		PublicPort: ports[0], AdminPort: ports[1], Secret: stack.RandomSecret(), Output: out,
	})
	if err != nil {
		t.Fatalf("start hydra: %v", err)
	}
	t.Cleanup(func() { _ = h.Stop() })
	return newWorld(t, h.PublicURL, h.AdminURL, hera)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// relyingParty is an OAuth 2.0 client registered in Hydra, with its
// redirect URI on a local server (which the tests never need to reach: they
// read the code from the Location header).
type relyingParty struct {
	public, hera string // Hydra's public URL (issuer without the slash), Hera's URL
	id, secret   string
	redirectURI  string
	postLogout   string
	audience     string
}

func newRelyingParty(t *testing.T, public, admin, hera string) *relyingParty {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "relying party")
	}))
	t.Cleanup(srv.Close)
	rp := &relyingParty{
		public:      public,
		hera:        hera,
		id:          "example-app",
		secret:      "example-secret-" + randHex(8),
		redirectURI: srv.URL + "/callback",
		postLogout:  srv.URL + "/logged-out",
		audience:    "https://api.example.com",
	}
	adminPOST(t, admin+"/admin/clients", map[string]any{
		"client_id":                  rp.id,
		"client_secret":              rp.secret,
		"client_name":                "Example App",
		"client_uri":                 "https://app.example.com",
		"logo_uri":                   "https://app.example.com/logo.png",
		"policy_uri":                 "https://app.example.com/privacy",
		"tos_uri":                    "https://app.example.com/terms",
		"redirect_uris":              []string{rp.redirectURI},
		"post_logout_redirect_uris":  []string{rp.postLogout},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid offline_access email",
		"audience":                   []string{rp.audience},
		"token_endpoint_auth_method": "client_secret_basic",
		"metadata":                   map[string]any{"first_party": true},
	})
	return rp
}

func adminPOST(t *testing.T, u string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", u, res.StatusCode, rb)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// browser is a user agent with a cookie jar that never follows redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// redirect GETs u and returns where the answer, which must be a redirect,
// points.
func (b *browser) redirect(u string) *url.URL {
	b.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("GET %s: %d, want a redirect\n%s", u, res.StatusCode, body)
	}
	loc, err := res.Location()
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return loc
}

// authRequest is one authorization request the relying party starts.
type authRequest struct {
	state, nonce, verifier string
	params                 url.Values
}

// authorize sends the browser to Hydra's authorization endpoint with the
// given extra parameters and returns where Hydra sends it.
func (rp *relyingParty) authorize(b *browser, extra url.Values) (*authRequest, *url.URL) {
	b.t.Helper()
	ar := &authRequest{state: randHex(8), nonce: randHex(8), verifier: randHex(32)}
	sum := sha256.Sum256([]byte(ar.verifier))
	q := url.Values{
		"client_id":             {rp.id},
		"response_type":         {"code"},
		"scope":                 {"openid offline_access email"},
		"redirect_uri":          {rp.redirectURI},
		"state":                 {ar.state},
		"nonce":                 {ar.nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	ar.params = q
	return ar, b.redirect(rp.public + "/oauth2/auth?" + q.Encode())
}

// challenge checks that loc is Hera's page at path and returns the named
// challenge from it.
func (rp *relyingParty) challenge(t *testing.T, loc *url.URL, path, name string) string {
	t.Helper()
	hera, _ := url.Parse(rp.hera)
	if loc.Scheme != hera.Scheme || loc.Host != hera.Host || loc.Path != path {
		t.Fatalf("redirected to %s, want %s%s", loc, rp.hera, path)
	}
	c := loc.Query().Get(name)
	if c == "" {
		t.Fatalf("redirected to %s without %s", loc, name)
	}
	return c
}

// callback checks that loc is the client's redirect URI and returns its
// query.
func (rp *relyingParty) callback(t *testing.T, loc *url.URL, ar *authRequest) url.Values {
	t.Helper()
	if strings.Split(loc.String(), "?")[0] != rp.redirectURI {
		t.Fatalf("redirected to %s, want %s", loc, rp.redirectURI)
	}
	q := loc.Query()
	if q.Get("state") != ar.state {
		t.Errorf("state = %q, want %q", q.Get("state"), ar.state)
	}
	return q
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// exchange redeems an authorization code at Hydra's token endpoint.
func (rp *relyingParty) exchange(t *testing.T, code string, ar *authRequest) *tokens {
	t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {rp.redirectURI},
		"code_verifier": {ar.verifier},
	}
	req, _ := http.NewRequest(http.MethodPost, rp.public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(rp.id), url.QueryEscape(rp.secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", res.StatusCode, b)
	}
	var tk tokens
	if err := json.Unmarshal(b, &tk); err != nil {
		t.Fatal(err)
	}
	return &tk
}

// verifyJWT checks an RS256 JWT's signature against Hydra's JWKS and returns
// its claims.
func (rp *relyingParty) verifyJWT(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	var hdr struct{ Alg, Kid string }
	decodeSegment(t, parts[0], &hdr)
	if hdr.Alg != "RS256" {
		t.Fatalf("alg = %q, want RS256", hdr.Alg)
	}
	res, err := http.Get(rp.public + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var jwks struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	if err := json.NewDecoder(res.Body).Decode(&jwks); err != nil {
		t.Fatal(err)
	}
	var pub *rsa.PublicKey
	for _, k := range jwks.Keys {
		if k.Kid == hdr.Kid && k.Kty == "RSA" {
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil {
				t.Fatalf("bad JWK %s", k.Kid)
			}
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	if pub == nil {
		t.Fatalf("no JWK with kid %q", hdr.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("ID token signature: %v", err)
	}
	var claims map[string]any
	decodeSegment(t, parts[1], &claims)
	return claims
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// loginOpts says how the scripted login and consent UI answers.
type loginOpts struct {
	subject         string
	remember        bool
	rememberConsent bool
	idToken         map[string]any
	extra           url.Values
}

// signIn runs a whole authorization code flow, playing the login and
// consent UI through the admin API, and returns the tokens.
func (w *world) signIn(t *testing.T, b *browser, o loginOpts) (*tokens, *hydra.LoginRequest, *hydra.ConsentRequest) {
	t.Helper()
	ctx := context.Background()
	ar, loc := w.rp.authorize(b, o.extra)
	lc := w.rp.challenge(t, loc, "/login", "login_challenge")
	lr, err := w.hydra.GetLoginRequest(ctx, lc)
	if err != nil {
		t.Fatal(err)
	}
	next, err := w.hydra.AcceptLogin(ctx, lc, hydra.AcceptLogin{
		Subject: o.subject, Remember: o.remember, RememberFor: 3600, AMR: []string{"pwd"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cc := w.rp.challenge(t, b.redirect(next), "/consent", "consent_challenge")
	cr, err := w.hydra.GetConsentRequest(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	next, err = w.hydra.AcceptConsent(ctx, cc, hydra.AcceptConsent{
		GrantScope: cr.RequestedScope, Remember: o.rememberConsent,
		Session: hydra.ConsentSession{IDToken: o.idToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	q := w.rp.callback(t, b.redirect(next), ar)
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	return w.rp.exchange(t, q.Get("code"), ar), lr, cr
}
