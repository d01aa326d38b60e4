// Package stacktest starts real Kratos and Hydra for integration tests: free
// loopback ports, a temporary SQLite database each, a mailbox for the codes
// Kratos sends and, through a real SMTP sink, for Hera's alert mails,
// everything stopped when the test ends.
package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack"
)

// Options selects what to start.
type Options struct {
	Hydra bool // also start Hydra
	// TokenHook makes Hydra call the token hook of the Hera the test
	// serves (Env.TokenHookSecret); without a Hera, Hydra would wait on it.
	TokenHook bool
	// KratosEnv overrides Kratos configuration keys, e.g.
	// "SELFSERVICE_FLOWS_LOGIN_LIFESPAN=2s".
	KratosEnv []string
	// KratosNoDev runs Kratos without --dev, as in production: its cookies
	// are Secure.
	KratosNoDev bool
	// HydraEnv overrides Hydra configuration keys, e.g.
	// "URLS_LOGIN=https://elsewhere.example/login".
	HydraEnv []string
	// Schema is the identity schema (JSON); nil: the dev stack's.
	Schema []byte
	// PathPrefix serves Hera under a path ("/auth"): HeraURL carries it,
	// and Kratos and Hydra are configured with it.
	PathPrefix string
	// SocialProvider also starts the upstream OpenID Connect provider (a
	// second Hydra and its login and consent app, stack.StartUpstream) and
	// enables Kratos's oidc method with it.
	SocialProvider bool
	// ReturnURLs are more URLs Kratos lets browsers return to, e.g. an
	// app's on another origin (Hera's own allowlist is Hera's setting).
	ReturnURLs []string
}

// Env is a running test stack. Hera itself is not running: the test serves
// its handler on HeraListener (ServeHera), whose URL Kratos and Hydra already
// know as HeraURL.
type Env struct {
	Kratos *stack.Kratos
	Hydra  *stack.Hydra // nil unless Options.Hydra
	// Upstream is the social sign-in provider's Hydra and ProviderApp its
	// login and consent app, served at ProviderURL; nil unless
	// Options.SocialProvider.
	Upstream    *stack.Hydra
	ProviderApp *stack.ProviderApp
	ProviderURL string
	// Mail holds what Kratos's courier and the SMTP sink delivered.
	Mail *stack.Mailbox
	// SMTP is the sink Hera sends its alert mails to; SMTPURL its
	// HERA_SMTP_URL (loopback, without TLS).
	SMTP         *stack.SMTPSink
	SMTPURL      string
	HeraURL      string // http://localhost:<port>, then Options.PathPrefix
	HeraListener net.Listener
	// TokenHookSecret is what Hydra sends to Hera's token hook: Hera must be
	// configured with it (HERA_OAUTH2_TOKEN_HOOK_SECRET) or Hydra issues
	// no tokens.
	TokenHookSecret string
	// WebhookSecret is what Kratos's web hooks send to Hera
	// (HERA_KRATOS_WEBHOOK_SECRET; apptest sets it).
	WebhookSecret string

	logs *Buffer
}

// Start starts the stack or fails the test. Binaries come from bin/ at the
// repository root (scripts/build-ory.sh); a missing binary fails, never skips.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	root := RepoRoot(t)
	for _, b := range []string{"kratos", "hydra"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			t.Fatalf("bin/%s is missing: run scripts/build-ory.sh (scripts/test.sh does): %v", b, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	e := &Env{Mail: stack.NewMailbox(), logs: &Buffer{}, WebhookSecret: stack.RandomSecret()}
	mailSrv := httptest.NewServer(e.Mail)
	t.Cleanup(mailSrv.Close)
	sink, err := stack.StartSMTPSink(e.Mail, stack.SMTPSinkConfig{Log: e.logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	e.SMTP, e.SMTPURL = sink, sink.URL

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.HeraListener = ln
	e.HeraURL = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + o.PathPrefix
	t.Cleanup(func() { _ = ln.Close() })
	t.Cleanup(func() {
		if t.Failed() {
			LogLines(t, "kratos/hydra output (last 8 KiB)", e.logs.Tail(8<<10))
		}
	})

	dir := t.TempDir()
	ports := freePorts(t, 6)
	var social *stack.SocialConfig
	type started struct {
		h   *stack.Hydra
		err error
	}
	upstream := make(chan started, 1)
	if o.SocialProvider {
		// The upstream Hydra starts while Kratos does: Kratos reads the
		// provider's discovery document only when someone signs in.
		up := stack.UpstreamConfig{
			Bin: filepath.Join(root, "bin", "hydra"), Dir: filepath.Join(dir, "upstream"), HeraURL: e.HeraURL,
			PublicPort: ports[4], AdminPort: ports[5], Secret: stack.RandomSecret(), ClientSecret: stack.RandomSecret(),
			Output: e.logs,
		}
		e.ProviderApp = stack.NewProviderApp(up.AdminURL(), nil)
		appSrv := httptest.NewServer(e.ProviderApp)
		t.Cleanup(appSrv.Close)
		e.ProviderURL = appSrv.URL
		up.AppURL = appSrv.URL
		social = up.Social()
		go func() {
			h, err := stack.StartUpstream(ctx, up)
			upstream <- started{h, err}
		}()
	} else {
		upstream <- started{}
	}
	var k *stack.Kratos
	err = e.retryOnPortTaken(func(attempt int) error {
		if attempt > 0 {
			ports[0], ports[1] = freePort(t), freePort(t)
		}
		var err error
		k, err = stack.StartKratos(ctx, stack.KratosConfig{
			Bin:        filepath.Join(root, "bin", "kratos"),
			Dir:        filepath.Join(dir, "kratos"+strconv.Itoa(attempt)),
			HeraURL:    e.HeraURL,
			PublicPort: ports[0],
			AdminPort:  ports[1],
			MailURL:    mailSrv.URL,
			BcryptCost: 4,
			Secret:     stack.RandomSecret(),
			Output:     e.logs,
			Env:        o.KratosEnv,
			NoDev:      o.KratosNoDev,
			Schema:     o.Schema,
			Social:     social,
			ReturnURLs: o.ReturnURLs,

			WebhookSecret: e.WebhookSecret,
		})
		return err
	})
	if up := <-upstream; up.err != nil {
		if err == nil {
			_ = k.Stop()
		}
		t.Fatalf("start the upstream provider: %v\n%s", up.err, e.logs.Tail(8<<10))
	} else if up.h != nil {
		e.Upstream = up.h
		t.Cleanup(func() { _ = up.h.Stop() })
	}
	if err != nil {
		t.Fatalf("start kratos: %v\n%s", err, e.logs.Tail(8<<10))
	}
	e.Kratos = k
	t.Cleanup(func() { _ = k.Stop() })

	if o.Hydra {
		if o.TokenHook {
			e.TokenHookSecret = stack.RandomSecret()
		}
		var h *stack.Hydra
		err := e.retryOnPortTaken(func(attempt int) error {
			if attempt > 0 {
				ports[2], ports[3] = freePort(t), freePort(t)
			}
			var err error
			h, err = stack.StartHydra(ctx, stack.HydraConfig{
				Bin:        filepath.Join(root, "bin", "hydra"),
				Dir:        filepath.Join(dir, "hydra"+strconv.Itoa(attempt)),
				HeraURL:    e.HeraURL,
				PublicPort: ports[2],
				AdminPort:  ports[3],
				Secret:     stack.RandomSecret(),
				Output:     e.logs,
				Env:        o.HydraEnv,
				// Info: a failing test's output then shows why Hydra
				// refused a token request (its client errors are not
				// warnings).
				LogLevel: "info",

				TokenHookSecret: e.TokenHookSecret,
			})
			return err
		})
		if err != nil {
			t.Fatalf("start hydra: %v\n%s", err, e.logs.Tail(8<<10))
		}
		e.Hydra = h
		t.Cleanup(func() { _ = h.Stop() })
	}
	return e
}

// ServeHera serves h on HeraListener until the test ends.
func (e *Env) ServeHera(t testing.TB, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(e.HeraListener) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// RepoRoot finds the repository root (the directory with Hera's go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/heraproject/hera\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal(errors.New("repository root not found"))
		}
		dir = parent
	}
}

// retryOnPortTaken runs start again, on other ports, when the server it
// starts exited because another process bound one of its ports between
// freePorts and the server's own bind (test binaries of several packages
// run at once): at most three attempts.
func (e *Env) retryOnPortTaken(start func(attempt int) error) error {
	var err error
	for attempt := range 3 {
		mark := e.logs.Len()
		err = start(attempt)
		if err == nil || !strings.Contains(e.logs.Since(mark), "address already in use") {
			return err
		}
	}
	return err
}

// freePort returns one free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct free loopback ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// Buffer collects output (a child process's, a logger's) written from
// several goroutines, for tests to read while it grows.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is how many bytes were written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Since returns what was written after the first i bytes.
func (b *Buffer) Since(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[min(i, b.buf.Len()):])
}

// Tail is the last n bytes written.
func (b *Buffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.Bytes()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return string(s)
}

// LogLines logs a server's output after a failure, a line per call (the
// test command shows test log lines only, and CI only the first of them):
// warnings and errors first, then the whole text.
func LogLines(t testing.TB, title, text string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	t.Logf("%s, warnings and errors:", title)
	for _, l := range lines {
		lower := strings.ToLower(l)
		if strings.Contains(lower, `"level":"warn`) || strings.Contains(lower, `"level":"error`) ||
			strings.Contains(lower, "level=warn") || strings.Contains(lower, "level=error") {
			t.Logf("! %s", l)
		}
	}
	t.Logf("%s:", title)
	for _, l := range lines {
		t.Logf("| %s", l)
	}
}

// WaitCode waits for the code Kratos mails to `to` (kind: verification,
// recovery, login_code…) after the mailbox held `after` messages, and fails
// the test when none comes within 20 s.
func (e *Env) WaitCode(t testing.TB, after int, to, kind string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := e.Mail.Wait(ctx, after, to, kind)
	if err != nil {
		t.Fatalf("no %s mail to %s: %v", kind, to, err)
	}
	if m.Code() == "" {
		t.Fatalf("mail without code: %+v", m)
	}
	return m.Code()
}

// CreateClient registers an OAuth2 client in Hydra: authorization code and
// refresh token grants, the scopes Hera's pages know, secret "secret-<id>"
// sent in the body, the given callback; extra sets or overrides fields
// (client_name, skip_consent, backchannel_logout_uri…).
func (e *Env) CreateClient(t testing.TB, id, callback string, extra map[string]any) {
	t.Helper()
	if e.Hydra == nil {
		t.Fatal("CreateClient: the stack has no Hydra")
	}
	body := map[string]any{
		"client_id":                  id,
		"client_secret":              "secret-" + id,
		"client_name":                "App " + id,
		"client_uri":                 "https://app.example.com/",
		"policy_uri":                 "https://app.example.com/privacy",
		"tos_uri":                    "https://app.example.com/terms",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid offline_access email profile",
		"redirect_uris":              []string{callback},
		"post_logout_redirect_uris":  []string{strings.TrimSuffix(callback, "/callback") + "/logged-out"},
		"token_endpoint_auth_method": "client_secret_post",
	}
	for k, v := range extra {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(e.Hydra.AdminURL+"/admin/clients", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create client %s: %d", id, res.StatusCode)
	}
}

// MailsTo returns how many messages Kratos sent to recipient (compared
// without case; Hera's own mails are not counted: HeraMails) since the
// mailbox held `after`, once Kratos's courier has
// delivered everything it had queued: Kratos queues a message before it
// answers the request that causes it and sends it asynchronously, so a
// count taken at once can miss a message still in the queue. It waits up
// to 30 s for the queue to empty and fails the test otherwise.
func (e *Env) MailsTo(t testing.TB, after int, recipient string) int {
	t.Helper()
	e.WaitCourier(t)
	n := 0
	for _, m := range e.Mail.Since(after) {
		if !m.SMTP && strings.EqualFold(m.Recipient, recipient) {
			n++
		}
	}
	return n
}

// HeraMails returns the mails Hera sent through the SMTP sink to
// recipient (compared without case) since the mailbox held `after`.
func (e *Env) HeraMails(after int, recipient string) []stack.Mail {
	var out []stack.Mail
	for _, m := range e.Mail.Since(after) {
		if m.SMTP && strings.EqualFold(m.Recipient, recipient) {
			out = append(out, m)
		}
	}
	return out
}

// WaitHeraMail waits for Hera's alert mail of kind (new_sign_in,
// password_changed, …) to `to` after the mailbox held `after` messages,
// and fails the test when none comes within 30 s (its worker polls the
// queue every few seconds).
func (e *Env) WaitHeraMail(t testing.TB, after int, to, kind string) stack.Mail {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := e.Mail.Wait(ctx, after, to, "hera_"+kind)
	if err != nil {
		t.Fatalf("no %s mail to %s: %v", kind, to, err)
	}
	return m
}

// WaitCourier waits until Kratos's courier has no message queued or being
// sent (its admin API's message list), up to 30 s.
func (e *Env) WaitCourier(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pending := 0
		for _, status := range []string{"queued", "processing"} {
			res, err := http.Get(e.Kratos.AdminURL + "/admin/courier/messages?page_size=100&status=" + status)
			if err != nil {
				t.Fatalf("courier messages: %v", err)
			}
			var list []json.RawMessage
			err = json.NewDecoder(res.Body).Decode(&list)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("courier messages: %d %v", res.StatusCode, err)
			}
			pending += len(list)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Kratos's courier still has %d messages to send after 30 s", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
