package integration

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

var record = flag.Bool("record", false, "drive a real Kratos through every flow state and rewrite internal/web/testdata/flows/*.json")

// Recorded fixtures are rewritten to these origins, so that they do not
// depend on the random ports of the run that recorded them; internal/web's
// golden tests render them with the same (kit_test.go).
const (
	goldenPublicURL = "http://localhost:4455"
	goldenKratosURL = "http://127.0.0.1:4433"
	goldenAdminURL  = "http://127.0.0.1:4434"
)

// TestRecordFlows records the raw flow JSON of real Kratos, one file per
// flow state, for TestGoldenFlows:
//
//	go test ./internal/web -run RecordFlows -record -count=1
//	go test ./internal/web -run Golden -update
//
// Without -record it does nothing and passes: it needs the real stack and
// rewrites files in the source tree, so it runs only when asked. (It does
// not t.Skip, so that ordinary runs report no skipped tests.)
func TestRecordFlows(t *testing.T) {
	if !*record {
		return
	}
	e := startHera(t, stacktest.Options{})
	r := &recorder{t: t, e: e, dir: filepath.Join(stacktest.RepoRoot(t), "internal", "web", "testdata", "flows")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Registration: step 1, step 2, and the errors of each step.
	b := webtest.New(t, e.HeraURL)
	p := b.Get("/registration")
	mustPath(t, p, "/registration")
	r.save(b, p, "registration")
	email := newEmail("rec")
	p = b.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{
		"traits.email": email, "traits.name.first": "Ada", "traits.name.last": "Lovelace",
	})
	mustPath(t, p, "/registration")
	r.save(b, p, "registration_step2")
	p = b.Submit(p.Form("method", "password"), "method", "password", map[string]string{"password": "short"})
	mustPath(t, p, "/registration")
	r.mustAlert(p, "registration_password_error")
	r.save(b, p, "registration_password_error")

	bad := webtest.New(t, e.HeraURL)
	p = bad.Get("/registration")
	p = bad.Submit(p.Form("method", "profile"), "method", "profile", map[string]string{
		"traits.email": "not-an-email", "traits.name.first": "Ada", "traits.name.last": "Lovelace",
	})
	mustPath(t, p, "/registration")
	r.mustAlert(p, "registration_error")
	r.save(bad, p, "registration_error")

	// A signed-in user: settings, a saved profile, refresh.
	user := webtest.New(t, e.HeraURL)
	userEmail := newEmail("rec-user")
	p = register(t, user, userEmail, password)
	mustPath(t, p, "/verification")
	p = user.Get("/settings")
	mustPath(t, p, "/settings")
	r.save(user, p, "settings")
	p = user.Submit(p.FormByID("form-profile"), "method", "profile", map[string]string{"traits.name.first": "Grace"})
	mustPath(t, p, "/settings")
	if !p.Contains("Your changes have been saved") {
		t.Fatalf("profile not saved: %s", p.Text())
	}
	r.save(user, p, "settings_success")
	p = user.Get("/login?refresh=true")
	mustPath(t, p, "/login")
	r.save(user, p, "login_refresh")
	logout(t, user)

	// Login: fresh, wrong password, one-time code sent, wrong code.
	anon := webtest.New(t, e.HeraURL)
	p = anon.Get("/login")
	mustPath(t, p, "/login")
	r.save(anon, p, "login")
	p = anon.Submit(p.Form("method", "password"), "method", "password", map[string]string{"identifier": userEmail, "password": "not the password"})
	mustPath(t, p, "/login")
	r.mustAlert(p, "login_error")
	r.save(anon, p, "login_error")

	anon = webtest.New(t, e.HeraURL)
	p = anon.Get("/login")
	mails := e.Mail.Len()
	p = anon.Submit(p.Form("method", "code"), "method", "code", map[string]string{"identifier": userEmail})
	mustPath(t, p, "/login")
	code := e.WaitCode(t, mails, userEmail, "login_code")
	r.save(anon, p, "login_code_sent")
	p = anon.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": otherCode(code)})
	mustPath(t, p, "/login")
	r.mustAlert(p, "login_code_error")
	r.save(anon, p, "login_code_error")

	// Recovery: fresh, code sent, wrong code.
	anon = webtest.New(t, e.HeraURL)
	p = anon.Get("/recovery")
	mustPath(t, p, "/recovery")
	r.save(anon, p, "recovery")
	mails = e.Mail.Len()
	p = anon.Submit(p.Form("method", "code"), "method", "code", map[string]string{"email": userEmail})
	mustPath(t, p, "/recovery")
	code = e.WaitCode(t, mails, userEmail, "recovery")
	r.save(anon, p, "recovery_sent")
	p = anon.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": otherCode(code)})
	mustPath(t, p, "/recovery")
	r.mustAlert(p, "recovery_code_error")
	r.save(anon, p, "recovery_code_error")

	// Verification: fresh, code sent, passed.
	anon = webtest.New(t, e.HeraURL)
	p = anon.Get("/verification")
	mustPath(t, p, "/verification")
	r.save(anon, p, "verification")
	mails = e.Mail.Len()
	p = anon.Submit(p.Form("method", "code"), "method", "code", map[string]string{"email": userEmail})
	mustPath(t, p, "/verification")
	code = e.WaitCode(t, mails, userEmail, "verification")
	r.save(anon, p, "verification_sent")
	p = anon.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
	mustPath(t, p, "/verification")
	if !p.Contains("You successfully verified your email address") {
		t.Fatalf("verification not confirmed: %s", p.Text())
	}
	r.save(anon, p, "verification_passed")

	// Second factors: enrol TOTP and backup codes, then sign in with them.
	mfa := webtest.New(t, e.HeraURL)
	mfaEmail := newEmail("rec-mfa")
	register(t, mfa, mfaEmail, password)
	p = mfa.Get("/settings")
	mustPath(t, p, "/settings")
	var secret string
	for _, c := range p.Find(func(n *htmlNode) bool {
		return n.Data == "code" && webtest.Attr(n.Parent, "id") == "form-totp-totp_secret_key"
	}) {
		secret = strings.TrimSpace(webtest.TextOf(c))
	}
	if secret == "" {
		t.Fatalf("no TOTP secret shown: %s", p.Text())
	}
	code, err := webtest.TOTP(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p = mfa.Submit(p.FormByID("form-totp"), "method", "totp", map[string]string{"totp_code": code})
	mustPath(t, p, "/settings")
	if !p.Contains("Your changes have been saved") {
		t.Fatalf("TOTP not enrolled: %v", p.Alerts())
	}
	p = mfa.Submit(p.FormByID("form-lookup_secret"), "lookup_secret_regenerate", "true", nil)
	mustPath(t, p, "/settings")
	r.save(mfa, p, "settings_lookup_reveal")
	p = mfa.Submit(p.FormByID("form-lookup_secret"), "lookup_secret_confirm", "true", nil)
	mustPath(t, p, "/settings")
	if !p.Contains("Your changes have been saved") {
		t.Fatalf("codes not confirmed: %v %s", p.Alerts(), p.Text())
	}
	r.save(mfa, p, "settings_mfa_enrolled")
	logout(t, mfa)
	p = login(t, mfa, mfaEmail, password)
	mustPath(t, p, "/login")
	if !p.Contains("Second factor") {
		t.Fatalf("no second-factor step: %s", p.Text())
	}
	r.save(mfa, p, "login_aal2")
	p = mfa.Submit(p.Form("method", "totp"), "method", "totp", map[string]string{"totp_code": "000000"})
	mustPath(t, p, "/login")
	r.mustAlert(p, "login_aal2_error")
	r.save(mfa, p, "login_aal2_error")
}

// otherCode returns a code of the same length that is not code.
func otherCode(code string) string {
	wrong := strings.Repeat("1", len(code))
	if wrong == code {
		wrong = strings.Repeat("2", len(code))
	}
	return wrong
}

type recorder struct {
	t   *testing.T
	e   *heraEnv
	dir string
}

func (r *recorder) mustAlert(p *webtest.Page, name string) {
	r.t.Helper()
	if len(p.Alerts()) == 0 {
		r.t.Fatalf("%s: no error shown at %s\n%s", name, p.URL, p.Text())
	}
}

// save fetches the raw JSON of the flow page p shows straight from Kratos,
// with the browser's cookies, and writes it to testdata/flows/<name>.json.
func (r *recorder) save(b *webtest.Browser, p *webtest.Page, name string) {
	r.t.Helper()
	kind := strings.TrimPrefix(p.URL.Path, "/")
	id := p.Query("flow")
	if id == "" {
		r.t.Fatalf("%s: no flow in %s", name, p.URL)
	}
	hera, err := url.Parse(r.e.HeraURL + "/api/kratos/")
	if err != nil {
		r.t.Fatal(err)
	}
	var cookies []string
	for _, c := range b.Jar.Cookies(hera) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	req, err := http.NewRequest(http.MethodGet, r.e.Kratos.PublicURL+"/self-service/"+kind+"/flows?id="+url.QueryEscape(id), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", strings.Join(cookies, "; "))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		r.t.Fatalf("%s: GET %s: %d %s", name, req.URL, res.StatusCode, body)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
	out.WriteByte('\n')
	text := r.rewriteOrigins(out.String())
	if !json.Valid([]byte(text)) {
		r.t.Fatalf("%s: rewritten JSON is invalid", name)
	}
	if err := os.WriteFile(filepath.Join(r.dir, name+".json"), []byte(text), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// rewriteOrigins replaces the run's random origins with fixed ones, in
// plain and query-escaped form.
func (r *recorder) rewriteOrigins(s string) string {
	var pairs []string
	for _, o := range [][2]string{
		{r.e.HeraURL, goldenPublicURL},
		{r.e.Kratos.PublicURL, goldenKratosURL},
		{r.e.Kratos.AdminURL, goldenAdminURL},
	} {
		pairs = append(pairs, o[0], o[1], url.QueryEscape(o[0]), url.QueryEscape(o[1]))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
