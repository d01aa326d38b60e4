// Package e2e_test drives real headless Chromium (chromedp) through Hera's
// pages in front of real Kratos and Hydra: the journeys users take, an
// axe-core audit of every page and state, keyboard-only use, and screenshots
// of every page at desktop and mobile widths (test-artifacts/screenshots/).
//
// It needs the Debian chromium package and e2e/node_modules/axe-core, both
// installed by scripts/test.sh; without them the suite fails, never skips.
package e2e_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

const (
	chromiumPath = "/usr/bin/chromium"
	// actionTimeout bounds every browser action (a navigation, a click and
	// the page load it causes, an axe run).
	actionTimeout = 30 * time.Second
	password      = "correct horse battery 42"
)

// suite is one running stack (Kratos, Hydra, Hera in process) and one
// headless Chromium.
type suite struct {
	*stacktest.Env
	browser   context.Context // chromedp context owning the browser
	axeSource string
	shots     string // screenshot folder
	logs      *lockedBuffer
	hera      *apptest.Hera // the Hera under test (its stores)

	mu      sync.Mutex
	audited map[string]bool // states checked by axe and photographed
}

// start checks the tools, starts the stack (Kratos, Hydra with the token
// hook, Hera) and the browser. Everything stops when the test ends.
func start(t *testing.T) *suite {
	t.Helper()
	return startWith(t, stacktest.Options{Hydra: true, TokenHook: true})
}

// startWith is start with the stack o describes.
func startWith(t *testing.T, o stacktest.Options) *suite {
	t.Helper()
	return startWithEnv(t, o, nil)
}

// startWithEnv is startWith with Hera configured by env on top of the
// suite's own settings (startStack).
func startWithEnv(t *testing.T, o stacktest.Options, env map[string]string) *suite {
	t.Helper()
	root := stacktest.RepoRoot(t)
	axePath := filepath.Join(root, "e2e", "node_modules", "axe-core", "axe.min.js")
	axeSrc, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("axe-core is missing (%v): run scripts/test.sh, which runs `npm ci --prefix e2e`", err)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is missing (%v): run scripts/test.sh, which installs the Debian chromium package", err)
	}
	s := &suite{axeSource: string(axeSrc), audited: map[string]bool{},
		shots: filepath.Join(root, "test-artifacts", "screenshots")}
	if err := os.MkdirAll(s.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	s.startStack(t, o, env)
	s.startBrowser(t)
	return s
}

// startStack starts real Kratos and Hydra and Hera in front of them,
// assembled as production assembles it (apptest: its guard, lockout store,
// device cookies and session links). The journeys sign in and send codes
// from one address (127.0.0.1) far more often than one person would, so
// the per-IP limits are raised here: 1000 failures and 1000 code sends per
// IP. Everything else is production's policy. env adds to it.
func (s *suite) startStack(t *testing.T, o stacktest.Options, env map[string]string) {
	e := stacktest.Start(t, o)
	cfg := map[string]string{
		"HERA_LOCKOUT_IP_MAX_FAILURES": "1000",
		"HERA_SEND_LIMIT_IP":           "1000/1h",
	}
	maps.Copy(cfg, env)
	h := apptest.Start(t, e, cfg)
	s.logs = h.Logs // apptest shows its tail when the test fails
	s.hera = h
	s.Env = e
}

// startBrowser launches one headless Chromium for the test.
func (s *suite) startBrowser(t *testing.T) {
	var out lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(&out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := startContext(browser, cancelBrowser); err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, out.Tail(4<<10))
	}
	s.browser = browser
}

// startContext runs the first action on a chromedp context, which starts
// its browser or tab and ties its life to the context passed: so that
// context has no deadline, and a watchdog bounds the start instead.
func startContext(ctx context.Context, cancel context.CancelFunc) error {
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		return err
	case <-time.After(actionTimeout):
		cancel()
		return fmt.Errorf("not started within %s", actionTimeout)
	}
}

// tab is one journey: a fresh browser context (cookies, storage, like an
// incognito window) with one tab.
type tab struct {
	t    *testing.T
	s    *suite
	ctx  context.Context
	noJS bool // script execution disabled
	dark bool // the pages see prefers-color-scheme: dark

	mu       sync.Mutex
	problems []string // CSP violations and uncaught exceptions
}

// newTab opens a fresh browser context for t's journey.
func (s *suite) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := startContext(ctx, cancel); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	b := &tab{t: t, s: s, ctx: ctx}
	watching := b.watchConsole()
	t.Cleanup(func() {
		cancel() // closes the tab and ends the watch
		<-watching
		if p := b.consoleProblems(); len(p) > 0 {
			t.Errorf("the pages reported %d problem(s):\n  %s", len(p), strings.Join(p, "\n  "))
		}
	})
	b.do("desktop viewport", desktopViewport())
	return b
}

// watchConsole collects what the pages must never report: a Content
// Security Policy violation (Hera's CSP blocking something it needs, such as
// Kratos's WebAuthn script) or an uncaught exception. Other messages are
// logged. The returned channel closes when the watch ends with the tab.
func (b *tab) watchConsole() <-chan struct{} {
	msgs := chromedp.Console(b.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			line := fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line+1)
			if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				b.mu.Lock()
				b.problems = append(b.problems, line)
				b.mu.Unlock()
			} else {
				b.t.Logf("console: %s", line)
			}
		}
	}()
	return done
}

// consoleProblems returns the problems the pages reported so far.
func (b *tab) consoleProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

func desktopViewport() chromedp.Action[chromedp.Void] { return chromedp.EmulateViewport(1280, 800) }

func mobileViewport() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile)
}

// timeout is a context for one action.
func (b *tab) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, actionTimeout)
}

// do runs actions or fails the journey, saying where the browser is.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value, or fails the journey.
func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatalf("%s: %v", what, err)
	}
	return v
}

// fatalf fails the journey with the page the browser is on.
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	b.t.Fatalf(format+"\nat %s:\n%s", append(args, where, text)...)
}

// open navigates to path (relative to Hera, or absolute) and waits for the load.
func (b *tab) open(path string) {
	b.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = b.s.HeraURL + path
	}
	b.do("open "+path, chromedp.Navigate(path))
}

// url is the tab's current location.
func (b *tab) url() string {
	b.t.Helper()
	return run(b, "location", chromedp.Location())
}

// path is the path of the tab's current location (Hera's pages).
func (b *tab) path() string {
	b.t.Helper()
	p := run(b, "location", chromedp.Evaluate[string](`location.pathname`))
	// Paths are Hera's, from its root: under a path prefix (stacktest's
	// PathPrefix), "/login" is /auth/login in the address bar.
	if u, err := url.Parse(b.s.HeraURL); err == nil && u.Path != "" {
		if rest, ok := strings.CutPrefix(p, u.Path); ok && strings.HasPrefix(rest, "/") {
			return rest
		}
	}
	return p
}

// mustBeAt fails unless the tab shows Hera's page at path.
func (b *tab) mustBeAt(path string) {
	b.t.Helper()
	if got := b.path(); got != path {
		b.fatalf("at %s, want %s", got, path)
	}
}

// text is the visible text of the page's main content.
func (b *tab) text() string {
	b.t.Helper()
	return run(b, "read the page", chromedp.Evaluate[string](
		`(document.querySelector("main") || document.body).innerText.replace(/\s+/g, " ")`))
}

// mustSee fails unless the main content shows each of texts.
func (b *tab) mustSee(texts ...string) {
	b.t.Helper()
	got := b.text()
	for _, s := range texts {
		if !strings.Contains(got, s) {
			b.fatalf("page lacks %q", s)
		}
	}
}

// fill replaces the value of the field sel by typing text into it.
func (b *tab) fill(sel, text string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// click clicks sel and waits for the page it leads to.
func (b *tab) click(sel string) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.fatalf("click %s: %v", sel, err)
	}
}

// value reads the value of the form field sel.
func (b *tab) value(sel string) string {
	b.t.Helper()
	return run(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// evaluate runs a script in the page and decodes its result.
func evaluate[T any](b *tab, expr string) T {
	b.t.Helper()
	return run(b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// virtualAuthenticator gives the tab a platform authenticator that holds
// passkeys and verifies the user without asking (CDP WebAuthn domain).
func (b *tab) virtualAuthenticator() {
	b.t.Helper()
	b.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Transport:                   webauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			},
		})
		return err
	}))
}

// withoutPasskeyAutofill makes the tab's pages see a browser without
// conditional mediation (passkey autofill), so that Kratos's script does not
// start a passkey sign-in on its own.
func (b *tab) withoutPasskeyAutofill() {
	b.t.Helper()
	b.do("turn passkey autofill off", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`,
		})
		return err
	}))
}

// waitPath waits until the tab shows Hera's page at path, for navigations
// the page starts by itself.
func (b *tab) waitPath(path string) {
	b.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.pathname : ""`))
		cancel()
		if err == nil && got == path {
			return
		}
		if time.Now().After(deadline) {
			b.fatalf("still not at %s after %s (last: %q, %v)", path, actionTimeout, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// preferDark makes the tab's pages see prefers-color-scheme: dark.
func (b *tab) preferDark() {
	b.t.Helper()
	b.do("prefer a dark colour scheme", colorScheme(true))
	b.dark = true
}

// colorScheme emulates prefers-color-scheme: dark, or light.
func colorScheme(dark bool) chromedp.Action[chromedp.Void] {
	v := "light"
	if dark {
		v = "dark"
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
		})
		return err
	})
}

// disableScripts turns JavaScript off for the tab's pages.
func (b *tab) disableScripts() {
	b.t.Helper()
	b.do("disable JavaScript", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	b.noJS = true
}

// scripts switches script execution for the page on or off.
func scripts(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	})
}

// check audits the page with axe-core, as it is and in the other colour
// scheme on the narrowest phone (320 px), and photographs it at desktop and
// mobile widths, under the state's name. Serious and critical violations
// fail the journey; lesser ones are logged.
func (b *tab) check(state string) {
	b.t.Helper()
	b.audit(state)
	b.do("other colour scheme, 320 px", colorScheme(!b.dark), chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile))
	scheme := "dark"
	if b.dark {
		scheme = "light"
	}
	b.audit(state + " (" + scheme + ", 320 px)")
	b.do("back to the tab's colour scheme, desktop", colorScheme(b.dark), desktopViewport())
	b.screenshot(state)
	b.s.mu.Lock()
	b.s.audited[state] = true
	b.s.mu.Unlock()
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// axeRun runs every axe-core rule (WCAG 2.0–2.2 A/AA and best practices)
// on the document and returns the violations.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.map(n => ({target: n.target.flat(Infinity).join(" "), summary: n.failureSummary}))
}))))`

// audit runs axe-core on the page. Hera's CSP forbids inline scripts, so
// axe is evaluated through the DevTools protocol, which CSP does not govern.
func (b *tab) audit(state string) {
	b.t.Helper()
	vs := b.axe()
	var bad []string
	for _, v := range vs {
		line := fmt.Sprintf("%s [%s] %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			line += fmt.Sprintf("\n    %s: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, line)
		} else {
			b.t.Logf("axe (%s, not failing): %s", state, line)
		}
	}
	if len(bad) > 0 {
		b.t.Errorf("axe: %d serious or critical violation(s) on %s (%s):\n  %s", len(bad), state, b.url(), strings.Join(bad, "\n  "))
	}
}

// axe runs axe-core on the page and returns its violations.
func (b *tab) axe() []axeViolation {
	b.t.Helper()
	if b.noJS {
		// axe needs timers. The page was parsed without scripts (noscript
		// shown, Hera's script not run); switching them on now changes
		// nothing on it.
		b.do("enable scripts for axe", scripts(true))
		defer b.do("disable scripts again", scripts(false))
	}
	if !evaluate[bool](b, `typeof window.axe === "object"`) {
		b.do("inject axe-core", chromedp.Evaluate[chromedp.Void](b.s.axeSource))
	}
	raw := run(b, "run axe-core", chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatalf("axe result: %v: %s", err, raw)
	}
	return vs
}

// screenshot saves full-page PNGs of the page at 1280×800 and 375 px wide.
func (b *tab) screenshot(state string) {
	b.t.Helper()
	for _, v := range []struct {
		name     string
		viewport chromedp.Action[chromedp.Void]
	}{{"desktop", desktopViewport()}, {"mobile", mobileViewport()}} {
		b.do("viewport "+v.name, v.viewport)
		png := run(b, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(b.s.shots, state+"-"+v.name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do("viewport desktop", desktopViewport())
}

// mustHaveAudited fails unless every state was checked.
func (s *suite) mustHaveAudited(t *testing.T, states ...string) {
	t.Helper()
	if f := flag.Lookup("test.run"); f != nil && strings.Contains(f.Value.String(), "/") {
		t.Logf("only some journeys ran (-run %s): audit coverage not checked", f.Value)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing []string
	for _, st := range states {
		if !s.audited[st] {
			missing = append(missing, st)
		}
	}
	if len(missing) > 0 {
		var got []string
		for st := range s.audited {
			got = append(got, st)
		}
		slices.Sort(got)
		t.Errorf("states never audited: %v (audited: %v)", missing, got)
	}
}

var emailSeq atomic.Int64

func newEmail(prefix string) string {
	return fmt.Sprintf("%s-%d-%d@example.com", prefix, time.Now().UnixNano()%1e9, emailSeq.Add(1))
}

// lockedBuffer is the stack test kit's goroutine-safe buffer.
type lockedBuffer = stacktest.Buffer
