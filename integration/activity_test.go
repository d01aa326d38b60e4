package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/dbtest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// activityEnv is Hera's environment for the account's activity: a
// device-cookie secret (new-sign-in mails need one) and metrics (what was
// not mailed is read there).
func activityEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"HERA_DEVICE_COOKIE_SECRET": "a device cookie secret of at least 32 bytes",
		"HERA_METRICS_LISTEN":       "127.0.0.1:0",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// identityOf is the ID of the identity that signs in with email.
func identityOf(t *testing.T, e *stacktest.Env, email string) string {
	t.Helper()
	res, err := http.Get(e.Kratos.AdminURL + "/admin/identities?credentials_identifier=" + url.QueryEscape(email))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ids []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ids); err != nil || len(ids) != 1 {
		t.Fatalf("identity of %s: %v %+v", email, err, ids)
	}
	return ids[0].ID
}

// waitFor waits until the identity's events (newest first) satisfy ok,
// within 30 s (Kratos's hooks and Hera's background work are
// asynchronous), and then until the work they started (their alerts) is
// done.
func waitFor(t *testing.T, h *apptest.Hera, identity, what string, ok func([]activity.Event) bool) []activity.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := h.App.Activity.List(t.Context(), identity, time.Now(), h.App.ActivityPolicy, 0)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if ok(evs) {
			h.App.Events.Wait()
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, no %s among the events:\n%s", what, describe(evs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count is how many events of kind there are.
func count(evs []activity.Event, kind activity.Kind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// has reports whether n events satisfy f.
func has(n int, f func(activity.Event) bool) func([]activity.Event) bool {
	return func(evs []activity.Event) bool {
		m := 0
		for _, e := range evs {
			if f(e) {
				m++
			}
		}
		return m >= n
	}
}

func kind(k activity.Kind) func(activity.Event) bool {
	return func(e activity.Event) bool { return e.Kind == k }
}

func describe(evs []activity.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s method=%s new_device=%v device=%q ip=%s lang=%s detail=%s session=%s\n",
			e.At.Format(time.RFC3339Nano), e.Kind, e.Method, e.NewDevice, e.Device, e.IP, e.Lang, e.Detail, e.Session)
	}
	return b.String()
}

// alertsQueued is hera_alerts_total{kind, outcome="queued"}, read from
// Hera's metrics.
func alertsQueued(t *testing.T, h *apptest.Hera, kind string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.App.Metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	want := `hera_alerts_total{kind="` + kind + `",outcome="queued"} `
	sc := bufio.NewScanner(bytes.NewReader(rec.Body.Bytes()))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	return 0
}

// signUpVerified registers email through Hera's pages and verifies its
// address with the code Kratos mails; the browser stays signed in.
func signUpVerified(t *testing.T, e *stacktest.Env, b *webtest.Browser, email string) {
	t.Helper()
	mails := e.Mail.Len()
	p := register(t, b, email, password)
	mustPath(t, p, "/verification")
	code := e.WaitCode(t, mails, email, "verification")
	p = b.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code})
	if !p.Contains("You successfully verified your email address") {
		t.Fatalf("verification not confirmed: %s", p.Text())
	}
}

// deviceCookie is the device cookie b holds, as a Cookie header value.
func deviceCookie(t *testing.T, b *webtest.Browser) string {
	t.Helper()
	u, _ := url.Parse(b.Base + "/api/kratos/")
	for _, c := range b.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "hera_device_") {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatal("the browser holds no device cookie")
	return ""
}

// apiSignIn signs in through the proxy's API flow (a native app's), with
// the given Cookie header (a device cookie the app kept, or none).
func apiSignIn(t *testing.T, base, email, pw, cookie string) (status int, body string) {
	t.Helper()
	native := webtest.New(t, base)
	st, body, _ := apiCall(t, native, http.MethodGet, "/api/kratos/self-service/login/api", nil, nil)
	var flow struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &flow); st != http.StatusOK || err != nil || flow.ID == "" {
		t.Fatalf("login/api: %d %s", st, body)
	}
	sub, _ := json.Marshal(map[string]string{"method": "password", "identifier": email, "password": pw})
	h := map[string]string{"User-Agent": "hera-test-app/1.0"}
	if cookie != "" {
		h["Cookie"] = cookie
	}
	st, body, _ = apiCall(t, native, http.MethodPost, "/api/kratos/self-service/login?flow="+flow.ID, strings.NewReader(string(sub)), h)
	return st, body
}

// TestActivitySignIns: every sign-in Kratos completes reaches the account's
// activity through its web hook, joined with what Hera saw of the browser:
// Hera's own form and the proxy's API flow, with and without the device
// cookie; the first sign-in since sign-up is not new; a new browser gets
// the owner a mail; failed sign-ins and the lock they cause are recorded,
// the lock mailed once.
func TestActivitySignIns(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})
	h := apptest.Start(t, e, activityEnv(nil))

	email := newEmail("activity")
	owner := webtest.New(t, e.HeraURL)
	signUpVerified(t, e, owner, email)
	id := identityOf(t, e, email)
	evs := waitFor(t, h, id, "sign-up", has(1, kind(activity.Registered)))
	if reg := evs[len(evs)-1]; reg.Kind != activity.Registered || reg.Method != "password" || reg.IP == "" || reg.UserAgent == "" || reg.Lang != "en" {
		t.Fatalf("sign-up event:\n%s", describe(evs))
	}

	// The first sign-in since sign-up, from the browser that signed up:
	// not new, though it has no device cookie yet.
	logout(t, owner)
	mustPath(t, login(t, owner, email, password), "/")
	evs = waitFor(t, h, id, "first sign-in", has(1, kind(activity.SignIn)))
	first := evs[0]
	if first.Kind != activity.SignIn || first.NewDevice || first.Method != "password" || first.AAL != "aal1" || first.Session == "" ||
		first.IP == "" || !strings.Contains(first.UserAgent, "Go-http-client") {
		t.Fatalf("first sign-in:\n%s", describe(evs))
	}

	// Again from the same browser: it carries the device cookie now.
	logout(t, owner)
	mustPath(t, login(t, owner, email, password), "/")
	evs = waitFor(t, h, id, "second sign-in", has(2, kind(activity.SignIn)))
	if evs[0].NewDevice || evs[0].Device == "" {
		t.Fatalf("sign-in with the device cookie:\n%s", describe(evs))
	}
	if n := alertsQueued(t, h, "new_sign_in"); n != 0 {
		t.Fatalf("%d new-sign-in mails for the owner's browser", n)
	}

	// A stranger's browser: new, and the owner hears of it.
	mails := e.Mail.Len()
	stranger := webtest.New(t, e.HeraURL)
	mustPath(t, login(t, stranger, email, password), "/")
	evs = waitFor(t, h, id, "a new browser's sign-in", has(1, func(e activity.Event) bool { return e.Kind == activity.SignIn && e.NewDevice }))
	m := e.WaitHeraMail(t, mails, email, "new_sign_in")
	if !strings.Contains(m.Body, "/recovery") || !strings.Contains(m.Body, evs[0].IP) {
		t.Errorf("new sign-in mail:\n%s", m.Body)
	}

	// The proxy's API flow (a native app): without the device cookie new,
	// with the one the owner's browser holds known.
	before := alertsQueued(t, h, "new_sign_in")
	if st, body := apiSignIn(t, e.HeraURL, email, password, ""); st != http.StatusOK {
		t.Fatalf("API sign-in: %d %s", st, body)
	}
	evs = waitFor(t, h, id, "the API sign-in", has(1, func(e activity.Event) bool {
		return e.Kind == activity.SignIn && e.UserAgent == "hera-test-app/1.0" && e.NewDevice
	}))
	if n := alertsQueued(t, h, "new_sign_in"); n != before+1 {
		t.Errorf("new-sign-in mails %d → %d, want one more", before, n)
	}
	if st, body := apiSignIn(t, e.HeraURL, email, password, deviceCookie(t, owner)); st != http.StatusOK {
		t.Fatalf("API sign-in with the device cookie: %d %s", st, body)
	}
	evs = waitFor(t, h, id, "the API sign-in with the device cookie", has(1, func(e activity.Event) bool {
		return e.Kind == activity.SignIn && e.UserAgent == "hera-test-app/1.0" && !e.NewDevice && e.Device != ""
	}))
	if n := alertsQueued(t, h, "new_sign_in"); n != before+1 {
		t.Errorf("a known device's API sign-in was mailed")
	}

	// Failed sign-ins from a browser that never signed in (no device
	// cookie): the account's are recorded, a typo naming no account is
	// not; the fifth locks the account, mailed once.
	stranger = webtest.New(t, e.HeraURL)
	if p := login(t, stranger, "nobody-"+email, "wrong"); p.URL.Path == "/" {
		t.Fatal("signed in as nobody")
	}
	mails = e.Mail.Len()
	for range 5 {
		if p := login(t, stranger, email, "wrong password"); p.URL.Path == "/" {
			t.Fatal("signed in with a wrong password")
		}
	}
	evs = waitFor(t, h, id, "the lock", has(1, kind(activity.Locked)))
	if n := count(evs, activity.SignInFailed); n != 5 {
		t.Errorf("%d failed sign-ins recorded, want 5:\n%s", n, describe(evs))
	}
	for _, ev := range evs {
		if ev.Kind == activity.SignInFailed && (ev.IP == "" || ev.Device != "" || ev.Method != "password") {
			t.Errorf("failed sign-in %+v", ev)
		}
		if ev.Kind == activity.Locked && time.Until(ev.Until) < time.Minute {
			t.Errorf("lock until %v", ev.Until)
		}
	}
	e.WaitHeraMail(t, mails, email, "locked")
	// Another attempt during the lock engages nothing new.
	login(t, stranger, email, "wrong password")
	h.App.Events.Wait()
	if n := alertsQueued(t, h, "locked"); n != 1 {
		t.Errorf("%d lock mails, want 1", n)
	}
}

// TestActivityHookAuth: Kratos's web hooks need Hera's secret; an unknown
// hook is refused; a hook Kratos retries is recorded once.
func TestActivityHookAuth(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})
	h := apptest.Start(t, e, activityEnv(nil))
	body := `{"flow":{"id":"0a1b2c3d-0000-4000-8000-000000000001","type":"browser","active":"password"},` +
		`"identity":{"id":"0a1b2c3d-0000-4000-8000-0000000000aa","addresses":[]},"session":null,"client":{"ip":"192.0.2.1","user_agent":"x"}}`
	post := func(path, auth, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.HeraURL+"/hooks/kratos/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	good := "Bearer " + e.WebhookSecret
	for _, c := range []struct {
		path, auth, body string
		want             int
	}{
		{"settings/password", "", body, http.StatusUnauthorized},
		{"settings/password", "Bearer wrong", body, http.StatusUnauthorized},
		{"settings/password", e.WebhookSecret, body, http.StatusUnauthorized},
		{"logout", good, body, http.StatusBadRequest},
		{"settings/oidc", good, body, http.StatusBadRequest},
		{"settings/password", good, `{"flow":{}}`, http.StatusBadRequest},
		{"settings/password", good, strings.Replace(body, `"client"`, `"cookies":{},"client"`, 1), http.StatusBadRequest},
	} {
		if st := post(c.path, c.auth, c.body); st != c.want {
			t.Errorf("%s with %q: %d, want %d", c.path, c.auth, st, c.want)
		}
	}
	h.App.Events.Wait()
	identity := "0a1b2c3d-0000-4000-8000-0000000000aa"
	if evs, _ := h.App.Activity.List(t.Context(), identity, time.Now(), h.App.ActivityPolicy, 0); len(evs) != 0 {
		t.Fatalf("refused hooks wrote:\n%s", describe(evs))
	}
	if !strings.Contains(h.Logs.String(), "kratos hook: bad or missing credentials") || strings.Contains(h.Logs.String(), e.WebhookSecret) {
		t.Error("a refused hook is not logged, or its key is")
	}
	for range 3 {
		if st := post("settings/password", good, body); st != http.StatusNoContent {
			t.Fatalf("hook: %d", st)
		}
	}
	// The three calls' work (each waits the grace period for what Hera
	// saw of a client it never saw) is done once Wait returns.
	h.App.Events.Wait()
	evs, _ := h.App.Activity.List(t.Context(), identity, time.Now(), h.App.ActivityPolicy, 0)
	if len(evs) != 1 {
		t.Fatalf("a hook delivered three times was recorded %d times:\n%s", len(evs), describe(evs))
	}
	if !slices.ContainsFunc(evs, kind(activity.PasswordChanged)) || evs[0].IP != "192.0.2.1" {
		t.Fatalf("events:\n%s", describe(evs))
	}
}
