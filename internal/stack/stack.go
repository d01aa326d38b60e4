// Package stack starts real Ory Kratos and Ory Hydra processes, configured
// for Hera, from the binaries scripts/build-ory.sh puts in bin/. The dev stack
// (cmd/devstack) and the integration-test harness (stack/stacktest) both use
// it, so what developers click through is what the tests exercise.
package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/heraproject/hera/deploy/dev"
)

// Process is a running Kratos or Hydra.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Stop asks the process to end (SIGTERM) and kills it if it has not ended
// within 10 seconds.
func (p *Process) Stop() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}

// Kill ends the process at once, as a crash would.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is why the process exited; valid after Done is closed.
func (p *Process) Err() error { return p.err }

// KratosConfig describes one Kratos instance.
type KratosConfig struct {
	Bin        string // path to the kratos binary
	Dir        string // state directory: rendered config, SQLite database
	HeraURL    string // browser-facing Hera base URL, no trailing slash
	PublicPort int
	AdminPort  int
	MailURL    string // where the courier POSTs each message
	BcryptCost int    // 4 in tests for speed; Kratos's default is 12
	LogLevel   string
	Secret     string // cookie and cipher secret, at least 32 characters
	// Schema is the identity schema (JSON); nil means the dev stack's
	// (deploy/dev/identity.schema.json: e-mail and name).
	Schema []byte
	// Social, when set, enables Kratos's oidc method with this one
	// OpenID Connect provider (see StartUpstream).
	Social *SocialConfig
	Output io.Writer
	// Env overrides configuration keys the Ory way, e.g.
	// SELFSERVICE_FLOWS_LOGIN_LIFESPAN=2s.
	Env []string
	// NoDev runs Kratos without --dev, as in production: its cookies are
	// Secure (also on an http base URL) and bcrypt costs at least 12.
	NoDev bool
	// ReturnURLs are more URLs browsers may return to after a flow
	// (selfservice.allowed_return_urls besides Hera's own), e.g. an app's.
	ReturnURLs []string
	// WebhookSecret is what Kratos's web hooks send to Hera
	// (HERA_KRATOS_WEBHOOK_SECRET must be the same); "": a random one, for
	// a Kratos whose Hera records no activity.
	WebhookSecret string
}

// Kratos is a running Kratos.
type Kratos struct {
	*Process
	PublicURL string
	AdminURL  string
}

// StartKratos renders the configuration, migrates the database and starts
// Kratos, returning once both of its APIs are ready.
func StartKratos(ctx context.Context, c KratosConfig) (*Kratos, error) {
	if c.BcryptCost == 0 {
		c.BcryptCost = 12
	}
	if c.LogLevel == "" {
		c.LogLevel = "warning"
	}
	if len(c.Secret) < 32 {
		return nil, errors.New("stack: kratos secret must be at least 32 characters")
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	schema := filepath.Join(c.Dir, "identity.schema.json")
	b := c.Schema
	if b == nil {
		var err error
		if b, err = dev.FS.ReadFile("identity.schema.json"); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(schema, b, 0o600); err != nil {
		return nil, err
	}
	var social map[string]any
	if c.Social != nil {
		var err error
		if social, err = socialTemplateData(c.Dir, c.Social); err != nil {
			return nil, err
		}
	}
	hooks, err := webHooks(c)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(c.Dir, "kratos.yml")
	err = render("kratos.yml.tmpl", cfgPath, map[string]any{
		"DSN":          sqliteDSN(filepath.Join(c.Dir, "kratos.sqlite")),
		"PublicPort":   c.PublicPort,
		"AdminPort":    c.AdminPort,
		"HeraURL":      c.HeraURL,
		"HeraOrigin":   origin(c.HeraURL),
		"MailURL":      c.MailURL,
		"BcryptCost":   c.BcryptCost,
		"LogLevel":     c.LogLevel,
		"CookieSecret": c.Secret,
		"CipherSecret": c.Secret[:32],
		"SchemaPath":   schema,
		"Social":       social,
		"ReturnURLs":   c.ReturnURLs,
		"Hooks":        hooks,
	})
	if err != nil {
		return nil, err
	}
	if err := runOnce(ctx, c.Output, c.Bin, "migrate", "sql", "-e", "--yes", "-c", cfgPath); err != nil {
		return nil, fmt.Errorf("stack: kratos migrate: %w", err)
	}
	args := []string{"serve", "-c", cfgPath, "--dev", "--watch-courier", "--sqa-opt-out"}
	if c.NoDev {
		args = slices.DeleteFunc(args, func(a string) bool { return a == "--dev" })
	}
	p, err := start(c.Output, c.Env, "kratos", c.Bin, args...)
	if err != nil {
		return nil, err
	}
	k := &Kratos{
		Process:   p,
		PublicURL: "http://127.0.0.1:" + strconv.Itoa(c.PublicPort),
		AdminURL:  "http://127.0.0.1:" + strconv.Itoa(c.AdminPort),
	}
	if err := waitReady(ctx, p, k.PublicURL+"/health/ready", k.AdminURL+"/admin/health/ready"); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return k, nil
}

// webHooks writes Hera's hook body next to the configuration and returns
// each web hook's configuration by its path under Hera's /hooks/kratos/,
// as one line of JSON (YAML's flow style), so the template puts it at any
// depth.
func webHooks(c KratosConfig) (map[string]string, error) {
	body := filepath.Join(c.Dir, "hera-hook.jsonnet")
	if err := os.WriteFile(body, dev.HookBody, 0o600); err != nil {
		return nil, err
	}
	secret := c.WebhookSecret
	if secret == "" {
		secret = RandomSecret()
	}
	out := map[string]string{}
	for _, path := range []string{"login", "registration", "recovery", "verification", "settings/password", "settings/profile",
		"settings/totp", "settings/webauthn", "settings/passkey", "settings/lookup_secret"} {
		b, err := json.Marshal(map[string]any{"hook": "web_hook", "config": map[string]any{
			"url":      strings.TrimSuffix(c.HeraURL, "/") + "/hooks/kratos/" + path,
			"method":   "POST",
			"body":     "file://" + body,
			"response": map[string]any{"ignore": true},
			"auth":     map[string]any{"type": "api_key", "config": map[string]any{"name": "Authorization", "value": "Bearer " + secret, "in": "header"}},
		}})
		if err != nil {
			return nil, err
		}
		out[path] = string(b)
	}
	return out, nil
}

// HydraConfig describes one Hydra instance.
type HydraConfig struct {
	Bin        string
	Dir        string
	HeraURL    string
	PublicPort int
	AdminPort  int
	LogLevel   string
	Secret     string // system secret, at least 32 characters
	// TokenHookSecret, when set, makes Hydra call Hera's token hook
	// (HERA_OAUTH2_TOKEN_HOOK_SECRET must be the same).
	TokenHookSecret string
	// UIURL, when set, is the login and consent app Hydra sends browsers
	// to instead of Hera (<UIURL>/login, /consent, /logout, /error): the
	// upstream provider's own app (StartUpstream).
	UIURL string
	// CookiePrefix, when set, renames Hydra's cookies (<prefix>_session,
	// <prefix>_login_csrf, <prefix>_consent_csrf), so that two Hydras on
	// one host keep theirs apart: browsers ignore ports for cookies.
	CookiePrefix string
	Output       io.Writer
	// Env overrides configuration keys the Ory way, e.g.
	// URLS_LOGIN=https://elsewhere.example/login.
	Env []string
}

// Hydra is a running Hydra.
type Hydra struct {
	*Process
	PublicURL string // also the issuer, as browsers and clients see it
	AdminURL  string
}

// StartHydra renders the configuration, migrates the database and starts
// Hydra, returning once both of its APIs are ready.
func StartHydra(ctx context.Context, c HydraConfig) (*Hydra, error) {
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	if len(c.Secret) < 32 {
		return nil, errors.New("stack: hydra secret must be at least 32 characters")
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	public := "http://localhost:" + strconv.Itoa(c.PublicPort)
	ui := c.UIURL
	if ui == "" {
		ui = c.HeraURL
	}
	cfgPath := filepath.Join(c.Dir, "hydra.yml")
	err := render("hydra.yml.tmpl", cfgPath, map[string]any{
		"DSN":          sqliteDSN(filepath.Join(c.Dir, "hydra.sqlite")),
		"PublicPort":   c.PublicPort,
		"AdminPort":    c.AdminPort,
		"IssuerURL":    public + "/",
		"HeraURL":      c.HeraURL,
		"UIURL":        ui,
		"CookiePrefix": c.CookiePrefix,
		"LogLevel":     c.LogLevel,
		"SystemSecret": c.Secret,
		"TokenHook":    c.TokenHookSecret,
	})
	if err != nil {
		return nil, err
	}
	if err := runOnce(ctx, c.Output, c.Bin, "migrate", "sql", "-e", "--yes", "-c", cfgPath); err != nil {
		return nil, fmt.Errorf("stack: hydra migrate: %w", err)
	}
	p, err := start(c.Output, c.Env, "hydra", c.Bin, "serve", "all", "--dev", "-c", cfgPath, "--sqa-opt-out")
	if err != nil {
		return nil, err
	}
	h := &Hydra{
		Process:   p,
		PublicURL: public,
		AdminURL:  "http://127.0.0.1:" + strconv.Itoa(c.AdminPort),
	}
	if err := waitReady(ctx, p, "http://127.0.0.1:"+strconv.Itoa(c.PublicPort)+"/health/ready", h.AdminURL+"/health/ready"); err != nil {
		_ = p.Stop()
		return nil, err
	}
	if err := generateKeys(ctx, "http://127.0.0.1:"+strconv.Itoa(c.PublicPort)); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return h, nil
}

// generateKeys has Hydra create its signing keys now (its JWKS endpoint
// generates the missing ones) rather than inside the first token exchange:
// an RSA-4096 key takes seconds on a busy machine, and a first sign-in
// should not wait for it.
func generateKeys(ctx context.Context, public string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, public+"/.well-known/jwks.json", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("stack: hydra keys: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("stack: hydra keys: %s", res.Status)
	}
	return nil
}

// RandomSecret returns 32 random bytes as 64 hex characters.
func RandomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func render(name, dst string, data any) error {
	src, err := dev.FS.ReadFile(name)
	if err != nil {
		return err
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o600)
}

func runOnce(ctx context.Context, out io.Writer, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		if out != nil {
			_, _ = out.Write(buf.Bytes())
		}
		return fmt.Errorf("%s %v: %w\n%s", filepath.Base(bin), args, err, tail(buf.Bytes(), 2000))
	}
	return nil
}

func start(out io.Writer, env []string, name, bin string, args ...string) (*Process, error) {
	if out == nil {
		out = io.Discard
	}
	cmd := exec.Command(bin, args...)
	// A clean environment: Ory servers read configuration from environment
	// variables, and a stray DSN or SERVE_* must not leak in.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a terminal's Ctrl-C reaches the dev stack
	// first and the stack stops the servers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stack: start %s: %w (did scripts/build-ory.sh run?)", name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls the URLs until each answers 200, the process dies, or a
// minute passes.
func waitReady(ctx context.Context, p *Process, urls ...string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := &http.Client{
		Timeout:       2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, u := range urls {
		for {
			res, err := client.Get(u)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-p.done:
				return fmt.Errorf("stack: %s exited before it was ready: %v", p.name, p.err)
			case <-ctx.Done():
				return fmt.Errorf("stack: %s not ready at %s: %w", p.name, u, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// sqliteDSN is the DSN of a file database shared by a server's request
// handlers and its background workers (Kratos's courier). In WAL mode
// readers and the writer do not block each other, so a request reading
// while the courier writes does not fail with "database is locked"; a
// writer waits for another up to the busy timeout. (Immediate transactions
// were tried and deadlock: Kratos reads on a second connection while it
// holds a transaction.)
func sqliteDSN(path string) string {
	return "sqlite://" + path + "?_fk=true&mode=rwc&_journal_mode=WAL&_busy_timeout=10000"
}

// origin is the scheme and host of u (Hera's URL may carry a path; a
// WebAuthn origin may not).
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return p.Scheme + "://" + p.Host
}
