//go:build integration

package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/doctor"
	"github.com/heraproject/hera/internal/stack"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// TestMigration runs docs/migrating.md's steps where they run without a
// browser. Kratos and Hydra start configured the old way: browsers reach
// Kratos directly at its own base URL, its UI URLs are another UI's pages
// (kratos-selfservice-ui-node's), its cookies are for the parent domain the
// two shared, its session cookie has a name of its own, and Kratos answers
// Hydra's login challenges itself (oauth2_provider); Hydra sends browsers to
// the old UI. Hera's doctor, pointed at them as the guide's step 1 says,
// names every setting the guide changes. Then the guide's changes are
// applied — Kratos and Hydra restarted on the same databases and secrets —
// and every check passes. A session made before the move (a native app's
// token) is still valid after it.
func TestMigration(t *testing.T) {
	root := stacktest.RepoRoot(t)
	for _, b := range []string{"kratos", "hydra"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			t.Fatalf("bin/%s is missing: run scripts/build-ory.sh (scripts/test.sh does): %v", b, err)
		}
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "migrating.md"))
	if err != nil {
		t.Fatal(err)
	}

	ports := migrationPorts(t, 5)
	hera := fmt.Sprintf("http://localhost:%d", ports[4])
	kratosPublic := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	const (
		oldUI = "https://auth.example.com" // the old UI's pages
		app   = "https://app.example.com/" // an application users return to
	)
	dir := t.TempDir()
	mail := httptest.NewServer(stack.NewMailbox())
	t.Cleanup(mail.Close)
	logs := &stacktest.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			stacktest.LogLines(t, "kratos/hydra output (last 8 KiB)", logs.Tail(8<<10))
		}
	})
	kratosSecret, hydraSecret := stack.RandomSecret(), stack.RandomSecret()
	startKratos := func(env []string) *stack.Kratos {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		k, err := stack.StartKratos(ctx, stack.KratosConfig{
			Bin: filepath.Join(root, "bin", "kratos"), Dir: filepath.Join(dir, "kratos"), HeraURL: hera,
			PublicPort: ports[0], AdminPort: ports[1], MailURL: mail.URL, BcryptCost: 4,
			Secret: kratosSecret, Output: logs, Env: env,
		})
		if err != nil {
			t.Fatalf("start kratos: %v\n%s", err, logs.Tail(8<<10))
		}
		t.Cleanup(func() { _ = k.Stop() })
		return k
	}
	startHydra := func(ui string) *stack.Hydra {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		h, err := stack.StartHydra(ctx, stack.HydraConfig{
			Bin: filepath.Join(root, "bin", "hydra"), Dir: filepath.Join(dir, "hydra"), HeraURL: hera, UIURL: ui,
			PublicPort: ports[2], AdminPort: ports[3], Secret: hydraSecret, Output: logs,
		})
		if err != nil {
			t.Fatalf("start hydra: %v\n%s", err, logs.Tail(8<<10))
		}
		t.Cleanup(func() { _ = h.Stop() })
		return h
	}
	// Hera's configuration: its address, Kratos's and Hydra's, the app.
	options := func(k *stack.Kratos, h *stack.Hydra, sessionCookie string) doctor.Options {
		o := doctor.Options{
			PublicURL:         migrationURL(t, hera),
			AllowedReturnURLs: []string{app},
			KratosPublicURL:   migrationURL(t, k.PublicURL),
			KratosAdminURL:    migrationURL(t, k.AdminURL),
			HydraAdminURL:     migrationURL(t, h.AdminURL),
			HydraPublicURL:    migrationURL(t, h.PublicURL),
			SessionCookie:     sessionCookie,
			Timeout:           10 * time.Second,
		}
		return o
	}
	hydraAdmin := fmt.Sprintf("http://127.0.0.1:%d", ports[3])

	// Before: the old way.
	old := []string{
		"SERVE_PUBLIC_BASE_URL=" + kratosPublic + "/",
		"SELFSERVICE_DEFAULT_BROWSER_RETURN_URL=" + oldUI + "/",
		"SELFSERVICE_ALLOWED_RETURN_URLS=" + oldUI + "/," + app,
		"SELFSERVICE_FLOWS_ERROR_UI_URL=" + oldUI + "/error",
		"SELFSERVICE_FLOWS_LOGIN_UI_URL=" + oldUI + "/login",
		"SELFSERVICE_FLOWS_REGISTRATION_UI_URL=" + oldUI + "/registration",
		"SELFSERVICE_FLOWS_RECOVERY_UI_URL=" + oldUI + "/recovery",
		"SELFSERVICE_FLOWS_VERIFICATION_UI_URL=" + oldUI + "/verification",
		"SELFSERVICE_FLOWS_SETTINGS_UI_URL=" + oldUI + "/settings",
		"SELFSERVICE_FLOWS_VERIFICATION_AFTER_DEFAULT_BROWSER_RETURN_URL=" + oldUI + "/",
		"SELFSERVICE_FLOWS_LOGOUT_AFTER_DEFAULT_BROWSER_RETURN_URL=" + oldUI + "/login",
		"COOKIES_DOMAIN=example.com",
		"SESSION_COOKIE_NAME=auth_session",
		"OAUTH2_PROVIDER_URL=" + hydraAdmin,
	}
	h := startHydra(oldUI)
	k := startKratos(old)
	token := nativeSignIn(t, k)

	// Step 1: Hera's doctor, with Hera's configuration, before Kratos and
	// Hydra change. Hera reads the session cookie under the name it knows
	// by default.
	r := migrationReport(t, options(k, h, "ory_kratos_session"))
	want := []string{
		"kratos.base_url", "kratos.cookie.csrf.domain",
		"kratos.ui_url.login", "kratos.ui_url.registration", "kratos.ui_url.recovery", "kratos.ui_url.verification",
		"kratos.ui_url.error", "kratos.oauth2_provider", "kratos.return_to",
		"kratos.cookie.session.name", "kratos.cookie.session.domain", "kratos.ui_url.settings",
		"hydra.urls.login", "hydra.urls.consent", "hydra.urls.logout", "hydra.urls.registration", "hydra.urls.error",
	}
	var failed []string
	for _, res := range r.Results {
		if res.Status != doctor.Fail {
			continue
		}
		failed = append(failed, res.Check)
		// The guide names each setting the doctor does.
		key, _, _ := strings.Cut(res.Setting, " ")
		if key == "" || !bytes.Contains(guide, []byte(key)) {
			t.Errorf("%s: docs/migrating.md does not mention %q (setting %q)", res.Check, key, res.Setting)
		}
	}
	if r.Skipped() != 0 {
		t.Errorf("%d checks not made on the old configuration", r.Skipped())
	}
	slices.Sort(failed)
	slices.Sort(want)
	if !slices.Equal(failed, want) {
		t.Errorf("the doctor names\n  %v\non the old configuration, want\n  %v", failed, want)
	}

	// Steps 3 and 4: Kratos's and Hydra's settings for Hera, as the guide
	// writes them; Kratos keeps its session cookie's name, and Hera is told
	// it (HERA_KRATOS_SESSION_COOKIE).
	migrated := []string{
		"SERVE_PUBLIC_BASE_URL=" + hera + "/api/kratos/",
		"SELFSERVICE_DEFAULT_BROWSER_RETURN_URL=" + hera + "/",
		"SELFSERVICE_ALLOWED_RETURN_URLS=" + hera + "/," + app,
		"SELFSERVICE_FLOWS_ERROR_UI_URL=" + hera + "/error",
		"SELFSERVICE_FLOWS_LOGIN_UI_URL=" + hera + "/login",
		"SELFSERVICE_FLOWS_REGISTRATION_UI_URL=" + hera + "/registration",
		"SELFSERVICE_FLOWS_RECOVERY_UI_URL=" + hera + "/recovery",
		"SELFSERVICE_FLOWS_VERIFICATION_UI_URL=" + hera + "/verification",
		"SELFSERVICE_FLOWS_SETTINGS_UI_URL=" + hera + "/settings",
		"SELFSERVICE_FLOWS_VERIFICATION_AFTER_DEFAULT_BROWSER_RETURN_URL=" + hera + "/",
		"SELFSERVICE_FLOWS_LOGOUT_AFTER_DEFAULT_BROWSER_RETURN_URL=" + hera + "/login",
		"SESSION_COOKIE_NAME=auth_session",
		// oauth2_provider and cookies.domain: removed.
	}
	for _, p := range []*stack.Process{k.Process, h.Process} {
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	h = startHydra("")
	k = startKratos(migrated)

	// Step 5: every check passes.
	r = migrationReport(t, options(k, h, "auth_session"))
	if r.Failed() != 0 || r.Skipped() != 0 {
		t.Errorf("after the migration: %d problems, %d not checked", r.Failed(), r.Skipped())
	}
	// The session made before the move is still valid.
	req, err := http.NewRequest(http.MethodGet, k.PublicURL+"/sessions/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Session-Token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("whoami with the session token made before the migration: %d, want 200", res.StatusCode)
	}
}

// nativeSignIn creates an identity with a password through Kratos's admin
// API and signs it in as a native app does; it returns the session token.
func nativeSignIn(t *testing.T, k *stack.Kratos) string {
	t.Helper()
	const email, password = "ada@example.com", "a long and unguessable passphrase"
	body := fmt.Sprintf(`{"schema_id":"default","traits":{"email":%q},"credentials":{"password":{"config":{"password":%q}}}}`, email, password)
	res, err := http.Post(k.AdminURL+"/admin/identities", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create identity: %d", res.StatusCode)
	}
	var flow struct {
		ID string `json:"id"`
	}
	res, err = http.Get(k.PublicURL + "/self-service/login/api")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(res.Body).Decode(&flow)
	res.Body.Close()
	if err != nil || flow.ID == "" {
		t.Fatalf("native login flow: %d %v", res.StatusCode, err)
	}
	sub, _ := json.Marshal(map[string]string{"method": "password", "identifier": email, "password": password})
	res, err = http.Post(k.PublicURL+"/self-service/login?flow="+flow.ID, "application/json", bytes.NewReader(sub))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"session_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || out.Token == "" {
		t.Fatalf("native sign-in: %d %v", res.StatusCode, err)
	}
	return out.Token
}

// migrationReport runs the doctor and logs its report.
func migrationReport(t *testing.T, o doctor.Options) doctor.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := doctor.Run(ctx, o)
	var b strings.Builder
	_ = r.Write(&b, false)
	t.Logf("hera doctor:\n%s", b.String())
	return r
}

func migrationURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// migrationPorts returns n distinct loopback ports that were free a moment ago.
func migrationPorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
