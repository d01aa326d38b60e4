package main

// Ory's JavaScript SDK as shipped (@ory/client-fetch, pinned in
// e2e/package.json) against Kratos directly and through Hera's
// /api/kratos/ proxy: the same calls (e2e/sdk/compat.mjs), with and
// without "Accept: application/json", and the outcomes compared.
//
// The test lives here, not in e2e/, because Hera must be the one
// production assembles: run() (startHeraOut), with its guard, lockout
// store and session hooks. e2e's harness builds Hera's handler by hand.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// sdkLine is one call's outcome as compat.mjs prints it.
type sdkLine struct {
	Call   string `json:"call"`
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// sdkRun is one run of compat.mjs.
type sdkRun struct {
	name       string
	viaHera    bool
	jsonAccept bool
	lines      map[string]sdkLine
	order      []string
}

// sdkGuardRefusals are the calls Hera's guard refuses on purpose, with the
// answer it must give instead of Kratos's: after five wrong passwords for
// one address (HERA_LOCKOUT_MAX_FAILURES=5), the sixth attempt is refused
// before Kratos, as JSON in Kratos's error shape.
var sdkGuardRefusals = map[string]sdkLine{
	"updateLoginFlow (6th wrong password)": {OK: true, Status: http.StatusTooManyRequests, Detail: "error hera_locked 429 {code,id,message,status}"},
}

// sdkStack is Kratos, Hera (through run()) in front of it, and the
// mailbox endpoint compat.mjs reads codes from.
type sdkStack struct {
	*stacktest.Env
	mailbox string
}

// startSDKStack starts the stack o describes and Hera with its defaults
// but the lockout threshold pinned.
func startSDKStack(t *testing.T, o stacktest.Options) sdkStack {
	t.Helper()
	e := stacktest.Start(t, o)
	addr := e.HeraListener.Addr().String()
	e.HeraListener.Close()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			stacktest.LogLines(t, "hera log (last 16 KiB)", logs.Tail(16<<10))
		}
	})
	env := map[string]string{
		"HERA_LISTEN":       addr,
		"HERA_PUBLIC_URL":   e.HeraURL,
		"KRATOS_PUBLIC_URL": e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":  e.Kratos.AdminURL,

		"HERA_LOCKOUT_MAX_FAILURES": "5",
		"HERA_LOCKOUT_REALM":        "sdk-" + strconv.FormatInt(time.Now().UnixNano(), 36),
	}
	if e.Hydra != nil {
		// Sessions ended through the proxy end the apps' single sign-on:
		// the hooks run before and after those calls.
		env["HYDRA_ADMIN_URL"] = e.Hydra.AdminURL
	}
	startHeraOut(t, env, logs)
	mb := httptest.NewServer(sdkMailbox(e))
	t.Cleanup(mb.Close)
	return sdkStack{Env: e, mailbox: mb.URL}
}

func TestOrySDKCompat(t *testing.T) {
	began := time.Now()
	root := stacktest.RepoRoot(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing (%v): scripts/test.sh installs Debian's nodejs", err)
	}
	if _, err := os.Stat(filepath.Join(root, "e2e", "node_modules", "@ory", "client-fetch", "package.json")); err != nil {
		t.Fatalf("@ory/client-fetch is missing (%v): run `npm ci --prefix e2e` (scripts/test.sh does)", err)
	}
	script := filepath.Join(root, "e2e", "sdk", "compat.mjs")

	// Kratos as Hera's docs configure it, with the upstream OpenID Connect
	// provider for the native social sign-in, and Hydra.
	s := startSDKStack(t, stacktest.Options{Hydra: true, SocialProvider: true})
	t.Logf("stack up in %s", time.Since(began).Round(time.Millisecond))
	runs := []*sdkRun{
		{name: "Kratos direct"},
		{name: "through Hera", viaHera: true},
		{name: "direct, JSON Accept", jsonAccept: true},
		{name: "through Hera, JSON Accept", viaHera: true, jsonAccept: true},
	}
	for i, r := range runs {
		args := []string{"--tag", "r" + strconv.Itoa(i), "--social"}
		if r.jsonAccept {
			// An SPA must ask for JSON (fetch sends Accept: */*, which
			// Kratos answers with redirects): the browser flows run only
			// here.
			args = append(args, "--json-accept", "--browser")
		}
		runCompat(t, node, script, s, r, args...)
	}
	compareSDKRuns(t, runs[0], runs[1])
	compareSDKRuns(t, runs[2], runs[3])
	t.Logf("Ory SDK (@ory/client-fetch) through Hera, Kratos configured as docs/kratos-setup.md:\n%s", sdkTable(runs))

	// Native recovery as Kratos v1.3.1 completes it only with
	// feature_flags.use_continue_with_transitions on: 200 and the
	// recovered session's token instead of 422 to the settings page.
	start := time.Now()
	s2 := startSDKStack(t, stacktest.Options{KratosEnv: []string{"FEATURE_FLAGS_USE_CONTINUE_WITH_TRANSITIONS=true"}})
	recovery := []*sdkRun{
		{name: "Kratos direct"},
		{name: "through Hera", viaHera: true},
	}
	for i, r := range recovery {
		runCompat(t, node, script, s2, r, "--tag", "t"+strconv.Itoa(i), "--recovery-only")
	}
	compareSDKRuns(t, recovery[0], recovery[1])
	t.Logf("native recovery with feature_flags.use_continue_with_transitions (%s):\n%s",
		time.Since(start).Round(time.Millisecond), sdkTable(recovery))
	t.Logf("%s in all", time.Since(began).Round(time.Millisecond))
}

// runCompat runs compat.mjs once, against Kratos or through Hera as r
// says, and records its lines in r.
func runCompat(t *testing.T, node, script string, s sdkStack, r *sdkRun, extra ...string) {
	t.Helper()
	start := time.Now()
	base := s.Kratos.PublicURL
	if r.viaHera {
		base = s.HeraURL + "/api/kratos"
	}
	args := append([]string{script, "--base", base, "--hera", s.HeraURL, "--mailbox", s.mailbox}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.lines = map[string]sdkLine{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var l sdkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("%s: not a result line: %q", r.name, sc.Text())
			continue
		}
		if _, dup := r.lines[l.Call]; dup {
			t.Errorf("%s: %q reported twice", r.name, l.Call)
		}
		r.lines[l.Call] = l
		r.order = append(r.order, l.Call)
	}
	if err != nil {
		t.Errorf("%s: compat.mjs: %v\n%s", r.name, err, stderr.String())
	}
	t.Logf("%s: %d calls in %s", r.name, len(r.lines), time.Since(start).Round(time.Millisecond))
}

// compareSDKRuns fails unless every call succeeded against Kratos directly
// and gave the same outcome (status and shape) through Hera, but for the
// guard's documented refusals.
func compareSDKRuns(t *testing.T, direct, hera *sdkRun) {
	t.Helper()
	if len(direct.order) == 0 {
		t.Errorf("%s: no calls ran", direct.name)
	}
	for _, call := range direct.order {
		d := direct.lines[call]
		if !d.OK {
			t.Errorf("%s: %s failed against Kratos itself (a broken test): %d %s", direct.name, call, d.Status, d.Detail)
		}
		h, ok := hera.lines[call]
		switch want, guarded := sdkGuardRefusals[call]; {
		case !ok:
			t.Errorf("%s: %s not run", hera.name, call)
		case guarded:
			if h != (sdkLine{Call: call, OK: want.OK, Status: want.Status, Detail: want.Detail}) {
				t.Errorf("%s: %s: %d %q, want Hera's refusal %d %q", hera.name, call, h.Status, h.Detail, want.Status, want.Detail)
			}
		case h != d:
			t.Errorf("%s: %s: %v %d %q, directly %v %d %q", hera.name, call, h.OK, h.Status, h.Detail, d.OK, d.Status, d.Detail)
		}
	}
	for _, call := range hera.order {
		if _, ok := direct.lines[call]; !ok {
			t.Errorf("%s: %s ran only through Hera: %+v", hera.name, call, hera.lines[call])
		}
	}
}

// sdkMailbox serves the stack's mailbox to compat.mjs: GET /count is how
// many messages arrived so far, GET /code?to=&kind=&after= waits (up to
// 20 s) for the code of the first message of that kind to that address
// since then.
func sdkMailbox(e *stacktest.Env) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int{"count": e.Mail.Len()})
	})
	mux.HandleFunc("GET /code", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		after, _ := strconv.Atoi(q.Get("after"))
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		m, err := e.Mail.Wait(ctx, after, q.Get("to"), q.Get("kind"))
		if err != nil || m.Code() == "" {
			http.Error(w, "no such mail", http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"code": m.Code()})
	})
	return mux
}

// sdkTable is the runs as a Markdown table, a row per call in the order
// the calls ran, with totals.
func sdkTable(runs []*sdkRun) string {
	var calls []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, c := range r.order {
			if !seen[c] {
				seen[c] = true
				calls = append(calls, c)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| call |")
	for _, r := range runs {
		b.WriteString(" " + r.name + " |")
	}
	b.WriteString("\n|---|")
	for range runs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	ok, ran := make([]int, len(runs)), make([]int, len(runs))
	for _, c := range calls {
		b.WriteString("| " + c + " |")
		for i, r := range runs {
			l, has := r.lines[c]
			switch {
			case !has:
				b.WriteString(" — |")
				continue
			case l.OK:
				ok[i]++
				b.WriteString(fmt.Sprintf(" ✓ %d %s |", l.Status, l.Detail))
			default:
				b.WriteString(fmt.Sprintf(" ✗ %d %s |", l.Status, l.Detail))
			}
			ran[i]++
		}
		b.WriteString("\n")
	}
	b.WriteString("| **succeed** |")
	for i := range runs {
		b.WriteString(fmt.Sprintf(" %d/%d |", ok[i], ran[i]))
	}
	b.WriteString("\n")
	return b.String()
}
