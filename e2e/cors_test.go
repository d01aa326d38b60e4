package e2e_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// app is a web app on another origin than Hera's: one page with a link to
// sign in through Hera and back, and a form that posts to Hera's logout.
type app struct {
	origin string
	hera   string // set once Hera's URL is known
}

// startApp serves an app on host (a loopback name) at a free port.
func startApp(t *testing.T, host string) *app {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &app{origin: "http://" + host + ":" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/back" {
			io.WriteString(w, `<!DOCTYPE html><html lang="en"><title>App</title><main><h1>Back in the app</h1></main></html>`)
			return
		}
		signIn := a.hera + "/login?return_to=" + url.QueryEscape(a.origin+"/back")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><title>App</title><main><h1>The app</h1>
<a id="signin" href="%s">Sign in</a>
<form id="out" method="post" action="%s/logout"><input type="hidden" name="confirm" value="yes"><button>Sign out</button></form>
</main></html>`, html.EscapeString(signIn), html.EscapeString(a.hera))
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return a
}

// crossOriginCalls is what an SPA on another origin would do with Kratos's
// API through Hera: read the session, start a flow as JSON, revoke the
// other sessions. Each entry is "ok <status>" or the error the browser
// raised.
const crossOriginCalls = `(async (hera) => {
  const out = {};
  const calls = {
    whoami: [hera + "/api/kratos/sessions/whoami", {credentials: "include"}],
    flow: [hera + "/api/kratos/self-service/login/browser", {credentials: "include", headers: {Accept: "application/json"}}],
    revoke: [hera + "/api/kratos/sessions", {method: "DELETE", credentials: "include"}],
  };
  for (const [name, [u, opts]] of Object.entries(calls)) {
    try { const r = await fetch(u, opts); out[name] = "ok " + r.status; }
    catch (e) { out[name] = e.name; }
  }
  return JSON.stringify(out);
})`

// TestCrossOriginApps: Hera does not answer cross-origin calls to Kratos's
// API (docs/native-apps.md, "Apps on other origins"). In Chromium, an app on
// a cross-site origin (127.0.0.1) and on a same-site one (localhost on
// another port, as app.example.com beside login.example.com) cannot read
// the session, start a flow or revoke sessions through Hera, and a form it
// posts to Hera's logout gets Hera's refusal page; the user stays signed in
// throughout. What such an app does instead works: it sends the user to
// Hera's sign-in with a return_to on the app, and the user comes back
// signed in.
func TestCrossOriginApps(t *testing.T) {
	apps := []*app{startApp(t, "127.0.0.1"), startApp(t, "localhost")}
	s := startWithEnv(t, stacktest.Options{ReturnURLs: []string{apps[0].origin + "/", apps[1].origin + "/"}},
		map[string]string{"HERA_ALLOWED_RETURN_URLS": apps[0].origin + "/," + apps[1].origin + "/"})
	for _, a := range apps {
		a.hera = s.HeraURL
	}
	email := newEmail("cors")
	s.createUser(t, email, password)
	other := s.newTab(t) // a second session, which a revocation would end
	other.login(email, password)
	other.mustBeAt("/")
	b := s.newTab(t)
	b.login(email, password)
	b.mustBeAt("/")

	// The preflight's answer, as the browser sees it: no CORS headers.
	req, _ := http.NewRequest(http.MethodOptions, s.HeraURL+"/api/kratos/sessions", nil)
	req.Header.Set("Origin", apps[0].origin)
	req.Header.Set("Access-Control-Request-Method", "DELETE")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" ||
		!strings.Contains(string(body), "hera_cross_origin_refused") {
		t.Errorf("preflight: %d, Access-Control-Allow-Origin %q, body %s", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), body)
	}

	for _, a := range apps {
		t.Run(a.origin, func(t *testing.T) {
			b.open(a.origin + "/")
			b.mustSee("The app")
			raw := run(b, "call Hera from "+a.origin, chromedp.Evaluate[string](
				crossOriginCalls+"("+strconv.Quote(s.HeraURL)+")", chromedp.EvalAwaitPromise))
			var got map[string]string
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			for _, call := range []string{"whoami", "flow", "revoke"} {
				if got[call] != "TypeError" {
					t.Errorf("%s from %s: %q, want the browser to block it (TypeError)", call, a.origin, got[call])
				}
			}

			// A form posted from the app to Hera's logout: Hera's page, not a sign-out.
			b.click("#out button")
			b.mustSee("Request refused", "sent from another website")
			b.check("cross-origin-refused")
			b.open("/")
			b.mustSee("signed in as " + email)

			// The way that works: Hera's sign-in, and back to the app.
			b.logout(false)
			b.open(a.origin + "/")
			b.click("#signin")
			b.mustBeAt("/login")
			b.fill("#form-login-identifier", email)
			b.fill("#form-login-password", password)
			b.click(`#form-login button[name=method][value=password]`)
			if at := b.url(); at != a.origin+"/back" {
				b.fatalf("after signing in from the app: at %s, want %s/back", at, a.origin)
			}
			b.mustSee("Back in the app")
		})
	}
	// The other session was never revoked.
	other.open("/")
	other.mustSee("signed in as " + email)
}
