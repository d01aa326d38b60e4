package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// doctorEnv is Hera's environment for a test stack, as an operator would
// set it, plus extra.
func doctorEnv(e *stacktest.Env, extra map[string]string) map[string]string {
	env := map[string]string{
		"HERA_PUBLIC_URL":   e.HeraURL,
		"KRATOS_PUBLIC_URL": e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":  e.Kratos.AdminURL,
		// Alert mails through the stack's SMTP sink, "new sign-in" mails
		// included: the mail checks pass.
		"HERA_SMTP_URL":             e.SMTPURL,
		"HERA_SMTP_FROM":            "Hera <no-reply@hera.test>",
		"HERA_DEVICE_COOKIE_SECRET": strings.Repeat("d", 32),
		// Kratos's web hooks, as the stack configures them: the activity
		// check passes.
		"HERA_KRATOS_WEBHOOK_SECRET": e.WebhookSecret,
	}
	if e.Hydra != nil {
		env["HYDRA_ADMIN_URL"] = e.Hydra.AdminURL
		env["HYDRA_PUBLIC_URL"] = e.Hydra.PublicURL
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// runDoctorCmd runs `hera doctor args…` through run() and returns what it
// printed and the exit status main would give.
func runDoctorCmd(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	var out syncBuffer
	err := run(context.Background(), append([]string{"hera", "doctor"}, args...), mapEnv(env), &out, &out)
	code := 0
	if err != nil {
		code = 1
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		out.Write([]byte("hera: " + err.Error() + "\n"))
	}
	return out.String(), code
}

// failures are the report's ✗ lines.
func failures(out string) []string {
	var fs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "✗") {
			fs = append(fs, l)
		}
	}
	return fs
}

// TestDoctorCorrectStack: the test stack is configured as
// docs/kratos-setup.md says, so every check passes and hera doctor exits 0.
// Without Hydra's public URL, Hydra's URLs are reported as not checked,
// which is no problem.
func TestDoctorCorrectStack(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{Hydra: true})
	env := doctorEnv(e, map[string]string{"HERA_ALLOWED_RETURN_URLS": e.HeraURL + "/account"})
	out, code := runDoctorCmd(t, env)
	t.Logf("hera doctor on the correct stack (exit %d):\n%s", code, out)
	if code != 0 || len(failures(out)) != 0 || !strings.Contains(out, "No problems found") || strings.Contains(out, "–") {
		t.Errorf("exit %d, want 0 with every check passed", code)
	}
	for _, want := range []string{"form actions", "CSRF cookie", "session cookie", "login UI", "registration UI", "recovery UI",
		"verification UI", "settings UI", "error UI", "return_to " + e.HeraURL + "/account", "Hydra's login URL", "Hydra's consent URL",
		"Hydra's logout URL", "Hydra's error URL", "web hooks have a key"} {
		if !strings.Contains(out, want) {
			t.Errorf("no check of %q", want)
		}
	}

	delete(env, "HYDRA_PUBLIC_URL")
	out, code = runDoctorCmd(t, env, "-plain")
	t.Logf("without HYDRA_PUBLIC_URL (exit %d):\n%s", code, out)
	if code != 0 || !strings.Contains(out, "SKIP Hydra's login, consent and logout URLs are not checked") {
		t.Errorf("exit %d, want 0 with Hydra's URLs not checked", code)
	}
}

// TestDoctorBrokenStacks starts a stack with each mistake on purpose and
// checks that hera doctor exits 1 and names the setting that fixes it, and
// nothing else.
func TestDoctorBrokenStacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    stacktest.Options
		env  map[string]string
		// want: a substring of each failure's setting line, in order.
		want []string
	}{{
		name: "wrong Kratos base URL",
		o:    stacktest.Options{KratosEnv: []string{"SERVE_PUBLIC_BASE_URL=http://kratos.internal:4433/"}},
		want: []string{"setting: serve.public.base_url"},
	}, {
		name: "cookie domain that does not cover Hera",
		o:    stacktest.Options{KratosEnv: []string{"COOKIES_DOMAIN=example.org"}},
		want: []string{"setting: cookies.domain", "setting: session.cookie.domain"},
	}, {
		name: "Secure cookies on an http public URL",
		o:    stacktest.Options{KratosNoDev: true},
		want: []string{"setting: kratos serve --dev", "setting: kratos serve --dev"},
	}, {
		name: "Hydra's login and consent URLs elsewhere",
		o: stacktest.Options{Hydra: true, HydraEnv: []string{
			"URLS_LOGIN=https://elsewhere.example/login", "URLS_CONSENT=https://elsewhere.example/consent"}},
		want: []string{"setting: urls.login", "setting: urls.consent"},
	}, {
		name: "a return URL Kratos refuses",
		env:  map[string]string{"HERA_ALLOWED_RETURN_URLS": "https://app.example.com/"},
		want: []string{"setting: selfservice.allowed_return_urls"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := stacktest.Start(t, tc.o)
			out, code := runDoctorCmd(t, doctorEnv(e, tc.env))
			t.Logf("hera doctor, %s (exit %d):\n%s", tc.name, code, out)
			if code != exitProblems {
				t.Errorf("exit %d, want %d", code, exitProblems)
			}
			if f := failures(out); len(f) != len(tc.want) {
				t.Errorf("%d problems reported, want %d:\n%s", len(f), len(tc.want), strings.Join(f, "\n"))
			}
			var settings []string
			for _, l := range strings.Split(out, "\n") {
				if s, ok := strings.CutPrefix(l, "  setting: "); ok {
					settings = append(settings, "setting: "+s)
				}
			}
			for i, w := range tc.want {
				if i >= len(settings) || !strings.HasPrefix(settings[i], w) {
					t.Errorf("problem %d: want %q, settings named: %q", i+1, w, settings)
				}
			}
			if !strings.Contains(out, "  fix:\n") {
				t.Error("no fix shown")
			}
			if strings.Contains(out, "flow=") || strings.Contains(out, "_challenge=") {
				t.Error("the report shows a flow ID or a challenge")
			}
		})
	}
}

func TestDoctorUsage(t *testing.T) {
	if _, code := runDoctorCmd(t, nil, "-h"); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	if out, code := runDoctorCmd(t, nil, "-nope"); code != exitInvalid {
		t.Errorf("unknown flag: exit %d, want %d\n%s", code, exitInvalid, out)
	}
	if out, code := runDoctorCmd(t, nil, "extra"); code != exitInvalid {
		t.Errorf("an argument: exit %d, want %d\n%s", code, exitInvalid, out)
	}
	out, code := runDoctorCmd(t, map[string]string{"KRATOS_PUBLIC_URL": "://bad"})
	if code != exitInvalid || !strings.Contains(out, "KRATOS_ADMIN_URL: required") {
		t.Errorf("bad configuration: exit %d, want %d\n%s", code, exitInvalid, out)
	}
	dead := "http://" + closedAddr(t)
	out, code = runDoctorCmd(t, map[string]string{"KRATOS_PUBLIC_URL": dead, "KRATOS_ADMIN_URL": dead})
	t.Logf("Kratos down (exit %d):\n%s", code, out)
	if code != exitProblems || !strings.Contains(out, "setting: KRATOS_PUBLIC_URL") {
		t.Errorf("Kratos down: exit %d, want %d naming KRATOS_PUBLIC_URL", code, exitProblems)
	}
}

// TestStartupWarnings: Hera started on a misconfigured stack logs one
// warning per problem hera doctor finds, naming the check, the setting and
// the fix — all but the session cookie's, which needs doctor's temporary
// sign-in: at start no identity is created.
func TestStartupWarnings(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{Hydra: true, KratosEnv: []string{"COOKIES_DOMAIN=example.org"},
		HydraEnv: []string{"URLS_CONSENT=https://elsewhere.example/consent"}})
	addr := e.HeraListener.Addr().String()
	e.HeraListener.Close()
	env := doctorEnv(e, map[string]string{"HERA_LISTEN": addr, "HERA_ALLOWED_RETURN_URLS": "https://app.example.com/"})
	var logs syncBuffer
	startHeraOut(t, env, &logs)
	lines := waitLogLine(t, &logs, "configuration checked", 30*time.Second)

	want := map[string]string{ // check → setting
		"kratos.cookie.csrf.domain": "cookies.domain",
		"kratos.return_to":          "selfservice.allowed_return_urls",
		"hydra.urls.consent":        "urls.consent",
	}
	var warned int
	for _, l := range lines {
		if l["msg"] != "configuration problem" {
			continue
		}
		warned++
		if l["level"] != "WARN" {
			t.Errorf("level %v: %v", l["level"], l)
		}
		check, _ := l["check"].(string)
		setting, _ := l["setting"].(string)
		if w, ok := want[check]; !ok || !strings.HasPrefix(setting, w) {
			t.Errorf("unexpected warning: %v", l)
		}
		if l["problem"] == "" || l["fix"] == "" {
			t.Errorf("warning without problem or fix: %v", l)
		}
		delete(want, check)
	}
	for check := range want {
		t.Errorf("no warning for %s", check)
	}
	for _, l := range lines {
		if l["msg"] == "configuration problem" {
			b, _ := json.Marshal(l)
			t.Logf("%s", b)
		}
	}
	if warned != 3 {
		t.Errorf("%d warnings, want 3", warned)
	}
	signedIn := true
	for _, l := range lines {
		if l["msg"] == "configuration checked" && l["problems"] != float64(3) {
			t.Errorf("summary: %v", l)
		}
		if l["msg"] == "configuration not checked" && l["check"] == "kratos.session" {
			signedIn = false
		}
	}
	if signedIn {
		t.Error("the start-up checks signed in (no 'not checked' line for kratos.session)")
	}
	if n := identities(t, e); n != 0 {
		t.Errorf("%d identities in Kratos after the start-up checks, want 0", n)
	}
	if t.Failed() {
		t.Log(logs.String())
	}
}

// TestStartupNotDelayed: a Kratos and a Hydra that accept connections and
// never answer hold up neither start-up nor shutdown; the checks give up
// when Hera stops.
func TestStartupNotDelayed(t *testing.T) {
	hang := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(hang); _ = srv.Close() })
	slow := "http://" + ln.Addr().String()

	addr := closedAddr(t)
	env := map[string]string{
		"HERA_LISTEN": addr, "KRATOS_PUBLIC_URL": slow, "KRATOS_ADMIN_URL": slow,
		"HYDRA_ADMIN_URL": slow, "HYDRA_PUBLIC_URL": slow, "KRATOS_TIMEOUT": "30s", "HYDRA_TIMEOUT": "30s",
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	begin := time.Now()
	go func() { done <- run(ctx, []string{"hera"}, mapEnv(env), &logs, &logs) }()
	for {
		res, err := http.Get("http://" + addr + "/health/alive")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Since(begin) > 5*time.Second {
			t.Fatalf("Hera not alive after 5s while Kratos hangs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	alive := time.Since(begin)
	t.Logf("alive %v after start while Kratos and Hydra hang", alive.Round(time.Millisecond))
	for deadline := time.Now().Add(5 * time.Second); asked.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the checks asked Kratos and Hydra %d times, want both asked", asked.Load())
		}
	}
	if strings.Contains(logs.String(), "configuration checked") {
		t.Error("the checks finished although Kratos never answered")
	}

	cancel()
	stopping := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Hera did not stop within 10s while the checks waited on Kratos")
	}
	t.Logf("stopped %v after the signal", time.Since(stopping).Round(time.Millisecond))
	if d := time.Since(stopping); d > 3*time.Second {
		t.Errorf("shutdown took %v: the checks held it up", d)
	}
	if strings.Contains(logs.String(), "configuration problem") {
		t.Errorf("the canceled checks were logged as problems:\n%s", logs.String())
	}
}

// waitLogLine waits for a log line with msg and returns every line so far.
func waitLogLine(t *testing.T, logs *syncBuffer, msg string, limit time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var lines []map[string]any
		found := false
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				continue
			}
			lines = append(lines, m)
			found = found || m["msg"] == msg
		}
		if found {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q log line within %v:\n%s", msg, limit, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// identities is how many identities Kratos holds.
func identities(t *testing.T, e *stacktest.Env) int {
	t.Helper()
	res, err := http.Get(e.Kratos.AdminURL + "/admin/identities")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return len(list)
}
