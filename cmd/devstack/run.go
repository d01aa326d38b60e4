package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dev "github.com/heraproject/hera/deploy/dev"
	"github.com/heraproject/hera/internal/stack"
)

const (
	kratosPublicPort = 4433
	kratosAdminPort  = 4434
	mailAddr         = "127.0.0.1:4436"
	smtpAddr         = "127.0.0.1:4437" // Hera's alert mails
	hydraPublicPort  = 4444
	hydraAdminPort   = 4445

	// The upstream OpenID Connect provider (-social): a second Hydra and
	// its login and consent app.
	upstreamPublicPort = 4446
	upstreamAdminPort  = 4447
	providerAppAddr    = "127.0.0.1:4448"

	demoClientID     = "hera-demo"
	demoClientSecret = "hera-demo-secret"
	demoRedirectURI  = "http://127.0.0.1:5555/callback"
)

// identifierFirstEnv switches Kratos to identifier-first sign-in
// (-identifier-first). Mitigating account enumeration makes the second step
// the same for every identifier; without it, Kratos shows an account's own
// methods and tells an unknown identifier so (docs/kratos-setup.md).
var identifierFirstEnv = []string{
	"SELFSERVICE_FLOWS_LOGIN_STYLE=identifier_first",
	"SECURITY_ACCOUNT_ENUMERATION_MITIGATE=true",
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin", "directory with kratos, hydra and hera binaries")
	state := fs.String("state", ".dev", "directory for databases, configs, secrets and logs")
	social := fs.Bool("social", false, "also run an upstream OpenID Connect provider (a second Hydra with a login app of test users) and enable Kratos's social sign-in with it")
	identifierFirst := fs.Bool("identifier-first", false, "Kratos's identifier-first sign-in: the identifier first, then the ways to sign in (account enumeration mitigated)")
	schemaName := fs.String("schema", "email", "identity schema: email (e-mail and name), username (a username to sign in with, e-mail for recovery) or phone (a phone number; codes by text message)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var schema []byte
	switch *schemaName {
	case "email":
	case "username", "phone":
		b, err := dev.FS.ReadFile("identity." + *schemaName + ".schema.json")
		if err != nil {
			return err
		}
		schema = b
	default:
		return fmt.Errorf("-schema %q: want email, username or phone", *schemaName)
	}
	heraURL := strings.TrimSuffix(or(getenv("HERA_PUBLIC_URL"), "http://localhost:4455"), "/")
	if _, err := url.Parse(heraURL); err != nil {
		return fmt.Errorf("HERA_PUBLIC_URL: %w", err)
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return err
	}
	secret, err := persistentSecret(filepath.Join(*state, "secret"))
	if err != nil {
		return err
	}

	// Mail: printed to the console so recovery and verification codes are
	// at hand; Kratos's come over HTTP, Hera's alert mails over SMTP.
	mb := stack.NewMailbox()
	mb.OnMail = func(m stack.Mail) {
		if m.SMTP {
			fmt.Fprintf(stdout, "\n==== Hera mail (%s) to %s: %s ====\n", or(m.Kind, "not Hera's"), m.Recipient, m.Subject)
		} else {
			fmt.Fprintf(stdout, "\n==== mail to %s: %s ====\n", m.Recipient, m.Subject)
		}
		if c := m.Code(); c != "" {
			fmt.Fprintf(stdout, "     code: %s\n", c)
		}
		fmt.Fprintf(stdout, "%s\n==== end of mail ====\n\n", strings.TrimSpace(m.Body))
	}
	mailLn, err := net.Listen("tcp", mailAddr)
	if err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	mailSrv := &http.Server{Handler: mb, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = mailSrv.Serve(mailLn) }()
	defer mailSrv.Close()
	smtpSink, err := stack.StartSMTPSink(mb, stack.SMTPSinkConfig{Addr: smtpAddr, Log: stderr})
	if err != nil {
		return fmt.Errorf("smtp sink: %w", err)
	}
	defer smtpSink.Close()

	kratosLog, err := os.OpenFile(filepath.Join(*state, "kratos.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer kratosLog.Close()
	hydraLog, err := os.OpenFile(filepath.Join(*state, "hydra.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer hydraLog.Close()

	// Social sign-in: the upstream provider's login app serves at once;
	// its Hydra starts after Kratos, which reads the provider's discovery
	// document only when someone signs in with it.
	var up *stack.UpstreamConfig
	var providerApp *stack.ProviderApp
	if *social {
		up = &stack.UpstreamConfig{
			Bin: filepath.Join(*bin, "hydra"), Dir: filepath.Join(*state, "upstream"), HeraURL: heraURL,
			AppURL: "http://" + providerAppAddr, PublicPort: upstreamPublicPort, AdminPort: upstreamAdminPort,
			Secret: secret, ClientSecret: secret, LogLevel: "info",
		}
		providerApp = stack.NewProviderApp(up.AdminURL(), nil)
		appLn, err := net.Listen("tcp", providerAppAddr)
		if err != nil {
			return fmt.Errorf("provider app: %w", err)
		}
		appSrv := &http.Server{Handler: providerApp, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = appSrv.Serve(appLn) }()
		defer appSrv.Close()
	}

	// Kratos's web hooks tell Hera of every sign-in and settings change
	// (the account's activity); both sides share this secret.
	webhookSecret := getenv("HERA_KRATOS_WEBHOOK_SECRET")
	if webhookSecret == "" {
		webhookSecret = secret
	}
	fmt.Fprintln(stderr, "starting Kratos ...")
	kc := stack.KratosConfig{
		Bin: filepath.Join(*bin, "kratos"), Dir: filepath.Join(*state, "kratos"), HeraURL: heraURL,
		PublicPort: kratosPublicPort, AdminPort: kratosAdminPort, MailURL: "http://" + mailAddr + "/",
		LogLevel: "info", Secret: secret, Output: kratosLog, Schema: schema, WebhookSecret: webhookSecret,
	}
	if up != nil {
		kc.Social = up.Social()
	}
	if *identifierFirst {
		kc.Env = append(kc.Env, identifierFirstEnv...)
	}
	k, err := stack.StartKratos(ctx, kc)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, kratosLog.Name())
	}
	defer k.Stop()

	if up != nil {
		upLog, err := os.OpenFile(filepath.Join(*state, "upstream-hydra.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer upLog.Close()
		up.Output = upLog
		fmt.Fprintln(stderr, "starting the upstream provider's Hydra ...")
		uh, err := stack.StartUpstream(ctx, *up)
		if err != nil {
			return fmt.Errorf("%w (log: %s)", err, upLog.Name())
		}
		defer uh.Stop()
	}

	// Hydra asks Hera before issuing tokens (deleted or deactivated
	// identities get none); both sides share this secret.
	hookSecret := getenv("HERA_OAUTH2_TOKEN_HOOK_SECRET")
	if hookSecret == "" {
		hookSecret = stack.RandomSecret()
	}
	fmt.Fprintln(stderr, "starting Hydra ...")
	h, err := stack.StartHydra(ctx, stack.HydraConfig{
		Bin: filepath.Join(*bin, "hydra"), Dir: filepath.Join(*state, "hydra"), HeraURL: heraURL,
		PublicPort: hydraPublicPort, AdminPort: hydraAdminPort, LogLevel: "info", Secret: secret, Output: hydraLog,
		TokenHookSecret: hookSecret,
	})
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, hydraLog.Name())
	}
	defer h.Stop()
	if err := ensureDemoClient(ctx, h.AdminURL); err != nil {
		return fmt.Errorf("demo OAuth2 client: %w", err)
	}

	// Hera gets the caller's environment; only what is unset is defaulted.
	env := os.Environ()
	for _, kv := range [][2]string{
		{"HERA_PUBLIC_URL", heraURL},
		{"KRATOS_PUBLIC_URL", k.PublicURL},
		{"KRATOS_ADMIN_URL", k.AdminURL},
		{"HYDRA_ADMIN_URL", h.AdminURL},
		{"HYDRA_PUBLIC_URL", h.PublicURL},
		{"HERA_OAUTH2_TOKEN_HOOK_SECRET", hookSecret},
		{"HERA_KRATOS_WEBHOOK_SECRET", webhookSecret},
		{"HERA_METRICS_LISTEN", "127.0.0.1:4456"},
		{"HERA_SMTP_URL", smtpSink.URL},
		{"HERA_SMTP_FROM", "Hera dev <no-reply@localhost>"},
		// Device cookies that survive restarts: "new sign-in" mails
		// need them to tell a browser seen before.
		{"HERA_DEVICE_COOKIE_SECRET", secret},
	} {
		if getenv(kv[0]) == "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	hera := exec.Command(filepath.Join(*bin, "hera"))
	hera.Env, hera.Stdout, hera.Stderr = env, stdout, stderr
	hera.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := hera.Start(); err != nil {
		return fmt.Errorf("start hera: %w", err)
	}
	heraDone := make(chan error, 1)
	go func() { heraDone <- hera.Wait() }()
	defer func() {
		_ = hera.Process.Signal(syscall.SIGTERM)
		select {
		case <-heraDone:
		case <-time.After(20 * time.Second):
			_ = hera.Process.Kill()
		}
	}()
	if err := waitHera(ctx, heraURL, heraDone); err != nil {
		return err
	}

	fmt.Fprintf(stdout, `
Hera dev stack is ready.

  Hera           %[1]s/   (sign up: %[1]s/registration)
  Kratos public  %[2]s   (browsers use %[1]s/api/kratos/)
  Kratos admin   %[3]s
  Hydra public   %[4]s
  Hydra admin    %[5]s
  Metrics        http://127.0.0.1:4456/metrics
  Mail           printed here (Kratos's codes, and Hera's alert mails through
                 SMTP at %[10]s); logs of Kratos and Hydra in %[6]s/

  Demo OAuth2 client: id %[7]s, secret %[8]s, redirect %[9]s
  Try it:  bin/hydra perform authorization-code --endpoint %[4]s --client-id %[7]s \
             --client-secret %[8]s --port 5555 --scope openid --scope offline_access --scope email --scope profile
`, heraURL, k.PublicURL, k.AdminURL, h.PublicURL, h.AdminURL, *state, demoClientID, demoClientSecret, demoRedirectURI, smtpSink.URL)
	if providerApp != nil {
		fmt.Fprintf(stdout, `
  Social sign-in: "Sign in with %s" on %s/login goes to the upstream provider
  (Hydra %s, login app %s), which signs in any of these test users,
  or any e-mail address typed there (an existing account's address shows
  Kratos's account-linking prompt):
`, stack.UpstreamProviderLabel, heraURL, "http://localhost:"+strconv.Itoa(upstreamPublicPort), up.AppURL)
		for _, u := range providerApp.Users() {
			fmt.Fprintf(stdout, "    %s\n", u)
		}
	}
	if *identifierFirst {
		fmt.Fprintf(stdout, "\n  Sign-in is identifier-first: %s/login asks for the e-mail address, then how to sign in.\n", heraURL)
	}
	fmt.Fprint(stdout, "\nPress Ctrl-C to stop.\n")

	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "\nstopping ...")
		return nil
	case err := <-heraDone:
		heraDone <- err
		return fmt.Errorf("hera exited: %v", err)
	case <-k.Done():
		return fmt.Errorf("kratos exited: %v (log: %s)", k.Err(), kratosLog.Name())
	case <-h.Done():
		return fmt.Errorf("hydra exited: %v (log: %s)", h.Err(), hydraLog.Name())
	}
}

// persistentSecret keeps one secret across restarts, so sessions survive them.
func persistentSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) >= 32 {
		return string(bytes.TrimSpace(b)), nil
	}
	s := stack.RandomSecret()
	return s, os.WriteFile(path, []byte(s+"\n"), 0o600)
}

// ensureDemoClient creates or updates the demo client through Hydra's admin API.
func ensureDemoClient(ctx context.Context, admin string) error {
	body, _ := json.Marshal(map[string]any{
		"client_id":                  demoClientID,
		"client_secret":              demoClientSecret,
		"client_name":                "Hera demo app",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code", "id_token"},
		"scope":                      "openid offline_access email profile",
		"redirect_uris":              []string{demoRedirectURI},
		"token_endpoint_auth_method": "client_secret_post",
	})
	for _, m := range []struct{ method, url string }{
		{http.MethodPut, admin + "/admin/clients/" + demoClientID},
		{http.MethodPost, admin + "/admin/clients"},
	} {
		req, _ := http.NewRequestWithContext(ctx, m.method, m.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		switch {
		case res.StatusCode < 300:
			return nil
		case res.StatusCode == http.StatusNotFound && m.method == http.MethodPut:
			continue
		default:
			return fmt.Errorf("%s %s: %d %s", m.method, m.url, res.StatusCode, b)
		}
	}
	return errors.New("unreachable")
}

func waitHera(ctx context.Context, heraURL string, done chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		res, err := http.Get(heraURL + "/health/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("hera exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("hera not ready at %s/health/ready", heraURL)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
