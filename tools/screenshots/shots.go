package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

const (
	// actionTimeout bounds every browser action (a navigation, a click and
	// the page load it causes, a screenshot).
	actionTimeout = 30 * time.Second
	email         = "ada.lovelace@example.com"
	clientID      = "screenshots-example-app"
	// firefoxLinux is the second session's browser: what the sessions page
	// names in words.
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// The widths and colour schemes every page is photographed in.
var (
	widths  = []int{1280, 375}
	schemes = []string{"light", "dark"}
)

// photograph creates each page's state and saves its screenshots, returning
// the files written.
func photograph(ctx context.Context, c config, log io.Writer) ([]string, error) {
	if _, err := os.Stat(c.chromium); err != nil {
		return nil, fmt.Errorf("chromium: %w (Debian: apt-get install chromium)", err)
	}
	udd, err := os.MkdirTemp("", "hera-screenshots-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(udd)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(c.chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // often run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Screenshots in English whatever the machine's locale.
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(udd),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		return nil, fmt.Errorf("start Chromium: %w", err)
	}

	pw := "screenshots " + randomHex(8)
	fmt.Fprintf(log, "creating the user %s ...\n", email)
	if err := createUser(ctx, c.kratosAdmin, email, pw); err != nil {
		return nil, err
	}
	s := &shooter{c: c, log: log}

	// The user, signed in from this browser and from another one.
	user, err := s.newTab(browser, "")
	if err != nil {
		return nil, err
	}
	if err := user.login(pw); err != nil {
		return nil, err
	}
	other, err := s.newTab(browser, firefoxLinux)
	if err != nil {
		return nil, err
	}
	if err := other.login(pw); err != nil {
		return nil, err
	}

	visitor, err := s.newTab(browser, "")
	if err != nil {
		return nil, err
	}
	if err := visitor.open(c.hera + "/login"); err != nil {
		return nil, err
	}
	if err := s.shoot(visitor, "login"); err != nil {
		return nil, err
	}
	for _, p := range []struct{ name, path string }{{"settings", "/settings"}, {"sessions", "/sessions"}} {
		if err := user.open(c.hera + p.path); err != nil {
			return nil, err
		}
		if err := s.shoot(user, p.name); err != nil {
			return nil, err
		}
	}

	// An app asks for access: its consent page, then allowed.
	callback, stopCallback, err := serveCallback()
	if err != nil {
		return nil, err
	}
	defer stopCallback()
	if err := createClient(ctx, c.hydraAdmin, clientID, callback); err != nil {
		return nil, err
	}
	q := url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {callback},
		"scope": {"openid offline_access email profile"}, "state": {"state-" + randomHex(8)},
	}
	if err := user.open(c.hydraPublic + "/oauth2/auth?" + q.Encode()); err != nil {
		return nil, err
	}
	if err := user.mustBeAt(c.hera + "/consent"); err != nil {
		return nil, err
	}
	if err := s.shoot(user, "consent"); err != nil {
		return nil, err
	}
	if err := user.eval(`(() => { const r = document.querySelector("#remember"); if (r) r.checked = true })()`); err != nil {
		return nil, err
	}
	if err := user.click(`button[name=decision][value=allow]`); err != nil {
		return nil, err
	}
	if err := user.mustBeAt(callback); err != nil {
		return nil, err
	}

	for _, p := range []struct{ name, path string }{{"apps", "/apps"}, {"delete", "/settings/delete"}} {
		if err := user.open(c.hera + p.path); err != nil {
			return nil, err
		}
		if err := s.shoot(user, p.name); err != nil {
			return nil, err
		}
	}
	if !c.more {
		return s.files, nil
	}
	for _, p := range []struct {
		name string
		tab  *tab
		path string
	}{
		{"registration", visitor, "/registration"},
		{"not-found", visitor, "/no-such-page"},
		// The switcher's choice, then back to English for later runs.
		{"settings-de", user, "/language?lang=de&next=" + url.QueryEscape("/settings")},
	} {
		if err := p.tab.open(c.hera + p.path); err != nil {
			return nil, err
		}
		if err := s.shootOne(p.tab, p.name, widths[0], schemes[0]); err != nil {
			return nil, err
		}
	}
	if err := user.open(c.hera + "/language?lang=en&next=/"); err != nil {
		return nil, err
	}
	return s.files, nil
}

// shooter saves screenshots.
type shooter struct {
	c     config
	log   io.Writer
	files []string
}

// tab is one browser context (its own cookies) with one tab.
type tab struct {
	s   *shooter
	ctx context.Context
}

// newTab opens a fresh browser context; ua, if set, is the User-Agent its
// requests send. Without one it is Chromium's own, minus "Headless", as a
// person's Chromium on this system would send.
func (s *shooter) newTab(browser context.Context, ua string) (*tab, error) {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext()) // ends with the browser
	t := &tab{s: s, ctx: ctx}
	// The first run starts the tab and ties its life to the context it
	// gets: the tab's own, without a deadline. A watchdog bounds it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			return nil, fmt.Errorf("open a tab: %w", err)
		}
	case <-time.After(actionTimeout):
		cancel()
		return nil, fmt.Errorf("open a tab: not open within %s", actionTimeout)
	}
	if ua == "" {
		own, err := value(t, chromedp.Evaluate[string](`navigator.userAgent`))
		if err != nil {
			return nil, fmt.Errorf("open a tab: %w", err)
		}
		ua = strings.Replace(own, "HeadlessChrome/", "Chrome/", 1)
	}
	err := t.do(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua})
		return err
	}))
	if err != nil {
		return nil, fmt.Errorf("set the User-Agent: %w", err)
	}
	return t, nil
}

// do runs actions within actionTimeout.
func (t *tab) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(t.ctx, actionTimeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// value runs an action that returns a value, within actionTimeout.
func value[T any](t *tab, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(t.ctx, actionTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

func (t *tab) open(u string) error {
	if err := t.do(chromedp.Navigate(u)); err != nil {
		return fmt.Errorf("open %s: %w", u, err)
	}
	return nil
}

func (t *tab) eval(js string) error {
	if err := t.do(chromedp.Evaluate[chromedp.Void](js)); err != nil {
		return fmt.Errorf("%s: %w", js, err)
	}
	return nil
}

// click clicks sel and waits for the page it leads to.
func (t *tab) click(sel string) error {
	ctx, cancel := context.WithTimeout(t.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		return fmt.Errorf("click %s: %w", sel, err)
	}
	return nil
}

// mustBeAt fails unless the tab is at the URL prefix, saying where it is.
func (t *tab) mustBeAt(prefix string) error {
	at, err := value(t, chromedp.Location())
	if err != nil {
		return err
	}
	if !strings.HasPrefix(at, prefix) {
		text, _ := value(t, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		return fmt.Errorf("at %s, want %s:\n%s", at, prefix, text)
	}
	return nil
}

// login signs in with the password on Hera's sign-in page.
func (t *tab) login(pw string) error {
	hera := t.s.c.hera
	if err := t.open(hera + "/login"); err != nil {
		return err
	}
	if err := t.do(
		chromedp.SendKeys(chromedp.CSS("#form-login-identifier"), email),
		chromedp.SendKeys(chromedp.CSS("#form-login-password"), pw),
	); err != nil {
		return fmt.Errorf("fill in the sign-in form: %w", err)
	}
	if err := t.click(`#form-login button[name=method][value=password]`); err != nil {
		return err
	}
	return t.mustBeAt(hera + "/")
}

// shoot saves full-page screenshots of the tab's page at every width, in
// light and dark mode, as <name>-<width>-<scheme>.png, and leaves the tab
// light at 1280 px.
func (s *shooter) shoot(t *tab, name string) error {
	defer func() {
		_ = t.do(scheme("light"), viewport(widths[0]))
	}()
	for _, sc := range schemes {
		for _, w := range widths {
			if err := s.shootOne(t, name, w, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

// shootOne saves one full-page screenshot, as <name>-<width>-<scheme>.png.
func (s *shooter) shootOne(t *tab, name string, w int, sc string) error {
	// The page lays itself out anew; a moment for it to settle.
	if err := t.do(scheme(sc), viewport(w), chromedp.Sleep(300*time.Millisecond)); err != nil {
		return fmt.Errorf("%s at %d px, %s: %w", name, w, sc, err)
	}
	png, err := value(t, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot of %s: %w", name, err)
	}
	f := filepath.Join(s.c.out, fmt.Sprintf("%s-%d-%s.png", name, w, sc))
	if err := os.WriteFile(f, png, 0o644); err != nil {
		return err
	}
	s.files = append(s.files, f)
	fmt.Fprintf(s.log, "  %s (%d KB)\n", f, len(png)/1024)
	return nil
}

// scheme emulates the preferred colour scheme.
func scheme(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: name}},
		})
		return err
	})
}

// viewport is a desktop window 1280×800, or a phone screen 375 px wide.
func viewport(width int) chromedp.Action[chromedp.Void] {
	if width >= 1024 {
		return chromedp.EmulateViewport(int64(width), 800)
	}
	return chromedp.EmulateViewport(int64(width), 812, chromedp.EmulateMobile)
}

// serveCallback serves the app's redirect URI on loopback, so that the
// browser lands somewhere after allowing it.
func serveCallback() (callback string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Example App</title><h1>Example App</h1></html>`)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/callback", func() { _ = srv.Close() }, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
