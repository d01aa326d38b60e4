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
	"github.com/heraproject/hera/internal/app"
	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/dbtest"
	"github.com/heraproject/hera/internal/doctor"
	"github.com/heraproject/hera/internal/stack"
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
func alertsQueued(t testing.TB, h *apptest.Hera, kind string) int {
	t.Helper()
	return metricValue(t, h, `hera_alerts_total{kind="`+kind+`",outcome="queued"}`)
}

// metricValue is the value of one of Hera's metrics, by its name and
// labels as Prometheus's text format writes them (0 when not there).
func metricValue(t testing.TB, h *apptest.Hera, series string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.App.Metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	want := series + " "
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
	evs := h.WaitEvents(t, id, "sign-up", has(1, kind(activity.Registered)))
	if reg := evs[len(evs)-1]; reg.Kind != activity.Registered || reg.Method != "password" || reg.IP == "" || reg.UserAgent == "" || reg.Lang != "en" {
		t.Fatalf("sign-up event:\n%s", describe(evs))
	}

	// The first sign-in since sign-up, from the browser that signed up:
	// not new, though it has no device cookie yet.
	logout(t, owner)
	mustPath(t, login(t, owner, email, password), "/")
	evs = h.WaitEvents(t, id, "first sign-in", has(1, kind(activity.SignIn)))
	first := evs[0]
	if first.Kind != activity.SignIn || first.NewDevice || first.Method != "password" || first.AAL != "aal1" || first.Session == "" ||
		first.IP == "" || !strings.Contains(first.UserAgent, "Go-http-client") {
		t.Fatalf("first sign-in:\n%s", describe(evs))
	}

	// Again from the same browser: it carries the device cookie now.
	logout(t, owner)
	mustPath(t, login(t, owner, email, password), "/")
	evs = h.WaitEvents(t, id, "second sign-in", has(2, kind(activity.SignIn)))
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
	evs = h.WaitEvents(t, id, "a new browser's sign-in", has(1, func(e activity.Event) bool { return e.Kind == activity.SignIn && e.NewDevice }))
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
	h.WaitEvents(t, id, "the API sign-in", has(1, func(e activity.Event) bool {
		return e.Kind == activity.SignIn && e.UserAgent == "hera-test-app/1.0" && e.NewDevice
	}))
	if n := alertsQueued(t, h, "new_sign_in"); n != before+1 {
		t.Errorf("new-sign-in mails %d → %d, want one more", before, n)
	}
	if st, body := apiSignIn(t, e.HeraURL, email, password, deviceCookie(t, owner)); st != http.StatusOK {
		t.Fatalf("API sign-in with the device cookie: %d %s", st, body)
	}
	h.WaitEvents(t, id, "the API sign-in with the device cookie", has(1, func(e activity.Event) bool {
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
	evs = h.WaitEvents(t, id, "the lock", has(1, kind(activity.Locked)))
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

// totpSecret is the TOTP secret the settings page shows.
func totpSecret(t *testing.T, p *webtest.Page) string {
	t.Helper()
	for _, c := range p.Find(func(n *htmlNode) bool {
		return n.Data == "code" && webtest.Attr(n.Parent, "id") == "form-totp-totp_secret_key"
	}) {
		return strings.TrimSpace(webtest.TextOf(c))
	}
	t.Fatalf("no TOTP secret shown: %s", p.Text())
	return ""
}

func totpCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := webtest.TOTP(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// saved checks that a settings submission was saved.
func saved(t *testing.T, p *webtest.Page, what string) {
	t.Helper()
	mustPath(t, p, "/settings")
	if !p.Contains("Your changes have been saved") {
		t.Fatalf("%s not saved: %v %s", what, p.Alerts(), p.Text())
	}
}

// TestActivitySettings: each settings method's change reaches the
// account's activity through its own web hook, with the browser Hera saw
// and what was added or removed; password, second-factor and address
// changes are mailed (an address change to the old address as well); a
// recovery is recorded; a second factor's sign-in is no new browser.
func TestActivitySettings(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})
	h := apptest.Start(t, e, activityEnv(nil))
	email := newEmail("settings-activity")
	b := webtest.New(t, e.HeraURL)
	signUpVerified(t, e, b, email)
	id := identityOf(t, e, email)

	mails := e.Mail.Len()
	p := b.Get("/settings")
	saved(t, b.Submit(p.FormByID("form-password"), "method", "password", map[string]string{"password": "a new passphrase for events 1"}), "password")
	evs := h.WaitEvents(t, id, "the password change", has(1, kind(activity.PasswordChanged)))
	if ev := evs[0]; ev.Kind != activity.PasswordChanged || ev.IP == "" || ev.UserAgent == "" || ev.Lang != "en" {
		t.Fatalf("password change:\n%s", describe(evs))
	}
	m := e.WaitHeraMail(t, mails, email, "password_changed")
	if !strings.Contains(m.Body, "/recovery") || !strings.Contains(m.HTML, "/activity") {
		t.Errorf("password mail:\n%s", m.Body)
	}

	// Recovery from another browser.
	other := webtest.New(t, e.HeraURL)
	p = other.Get("/login")
	mails = e.Mail.Len()
	p = other.SubmitAt(p.Form("method", "password"), "/recovery/start", map[string]string{"identifier": email})
	mustPath(t, p, "/recovery")
	code := e.WaitCode(t, mails, email, "recovery")
	mustPath(t, other.Submit(p.Form("method", "code"), "method", "code", map[string]string{"code": code}), "/settings")
	evs = h.WaitEvents(t, id, "the recovery", has(1, kind(activity.Recovered)))
	if ev := evs[0]; ev.Kind != activity.Recovered || ev.Method != "code" || ev.IP == "" {
		t.Fatalf("recovery:\n%s", describe(evs))
	}

	// TOTP added.
	mails = e.Mail.Len()
	p = b.Get("/settings")
	secret := totpSecret(t, p)
	saved(t, b.Submit(p.FormByID("form-totp"), "method", "totp", map[string]string{"totp_code": totpCode(t, secret)}), "TOTP")
	h.WaitEvents(t, id, "TOTP added", has(1, func(e activity.Event) bool { return e.Kind == activity.TOTPChanged && e.Detail == "added" }))
	e.WaitHeraMail(t, mails, email, "totp_changed")

	// A sign-in with the second factor: one sign-in with two methods, no
	// new browser.
	logout(t, b)
	p = login(t, b, email, "a new passphrase for events 1")
	p = b.Submit(p.Form("method", "totp"), "method", "totp", map[string]string{"totp_code": totpCode(t, secret)})
	mustPath(t, p, "/")
	evs = h.WaitEvents(t, id, "the second factor's sign-in", has(1, func(e activity.Event) bool { return e.Kind == activity.SignIn && e.AAL == "aal2" }))
	if ev := evs[0]; ev.Method != "totp" || ev.NewDevice {
		t.Fatalf("second factor sign-in:\n%s", describe(evs))
	}

	// Backup codes made, then TOTP removed.
	mails = e.Mail.Len()
	p = b.Get("/settings")
	p = b.Submit(p.FormByID("form-lookup_secret"), "lookup_secret_regenerate", "true", nil)
	saved(t, b.Submit(p.FormByID("form-lookup_secret"), "lookup_secret_confirm", "true", nil), "backup codes")
	h.WaitEvents(t, id, "backup codes made", has(1, func(e activity.Event) bool { return e.Kind == activity.BackupCodesChanged && e.Detail == "created" }))
	e.WaitHeraMail(t, mails, email, "backup_codes_changed")
	mails = e.Mail.Len()
	p = b.Get("/settings")
	saved(t, b.Submit(p.FormByID("form-totp"), "totp_unlink", "true", nil), "TOTP removal")
	h.WaitEvents(t, id, "TOTP removed", has(1, func(e activity.Event) bool { return e.Kind == activity.TOTPChanged && e.Detail == "removed" }))
	e.WaitHeraMail(t, mails, email, "totp_changed")

	// The profile: a name is a profile change, not mailed; a new e-mail
	// address is an address change, mailed to the old (verified) address
	// too, not to the new one (anyone's, until verified).
	p = b.Get("/settings")
	saved(t, b.Submit(p.FormByID("form-profile"), "method", "profile", map[string]string{"traits.name.first": "Grace"}), "name")
	h.WaitEvents(t, id, "the profile change", has(1, kind(activity.ProfileChanged)))
	mails = e.Mail.Len()
	newAddr := newEmail("moved")
	p = b.Get("/settings")
	// (Kratos goes on to verify the new address.)
	mustPath(t, b.Submit(p.FormByID("form-profile"), "method", "profile", map[string]string{"traits.email": newAddr}), "/verification")
	evs = h.WaitEvents(t, id, "the address change", has(1, kind(activity.AddressChanged)))
	if ev := evs[0]; ev.Kind != activity.AddressChanged || !slices.Equal(ev.Old, []string{email}) || !slices.Equal(ev.New, []string{newAddr}) {
		t.Fatalf("address change:\n%s\nold %q new %q", describe(evs), ev.Old, ev.New)
	}
	e.WaitHeraMail(t, mails, email, "address_changed")
	if n := len(e.HeraMails(mails, newAddr)); n != 0 {
		t.Errorf("%d mails to the new, unverified address", n)
	}
	if n := alertsQueued(t, h, "address_changed"); n != 1 {
		t.Errorf("%d address-change mails queued, want 1", n)
	}
	evs = h.WaitEvents(t, id, "everything", func([]activity.Event) bool { return true })
	if n := count(evs, activity.ProfileChanged); n != 1 {
		t.Errorf("%d profile changes, want 1:\n%s", n, describe(evs))
	}
}

// socialSignIn signs in (or up) through the upstream provider from page p
// (Hera's login or registration page) as user u.
func socialSignIn(t *testing.T, b *webtest.Browser, p *webtest.Page, u stack.ProviderUser) *webtest.Page {
	t.Helper()
	f := p.Form("provider", stack.UpstreamProviderID)
	if f == nil {
		t.Fatalf("no social sign-in button on %s: %s", p.URL, p.Text())
	}
	p = b.Submit(f, "provider", stack.UpstreamProviderID, nil)
	pf := p.Form("user", u.Subject)
	if pf == nil {
		t.Fatalf("not at the provider's sign-in (%s): %s", p.URL, p.Text())
	}
	return b.Submit(pf, "user", u.Subject, nil)
}

// TestActivitySocial: a social sign-in reaches the account's activity
// through the login hook, joined with what the proxy saw at the callback:
// the browser that signed up got a device cookie there, another browser
// is new.
func TestActivitySocial(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{SocialProvider: true})
	h := apptest.Start(t, e, activityEnv(nil))
	ada := e.ProviderApp.Users()[0]

	b := webtest.New(t, e.HeraURL)
	mustPath(t, socialSignIn(t, b, b.Get("/registration"), ada), "/")
	id := identityOf(t, e, ada.Email)
	evs := h.WaitEvents(t, id, "the social sign-up", has(1, kind(activity.Registered)))
	if ev := evs[0]; ev.Method != "oidc" || ev.IP == "" {
		t.Fatalf("sign-up:\n%s", describe(evs))
	}

	logout(t, b)
	mustPath(t, socialSignIn(t, b, b.Get("/login"), ada), "/")
	evs = h.WaitEvents(t, id, "the social sign-in", has(1, kind(activity.SignIn)))
	if ev := evs[0]; ev.Method != "oidc" || ev.Provider != stack.UpstreamProviderID || ev.NewDevice || ev.Device == "" || ev.Session == "" {
		t.Fatalf("social sign-in from the browser that signed up:\n%s", describe(evs))
	}

	mails := e.Mail.Len()
	other := webtest.New(t, e.HeraURL)
	mustPath(t, socialSignIn(t, other, other.Get("/login"), ada), "/")
	evs = h.WaitEvents(t, id, "the other browser's social sign-in", has(2, kind(activity.SignIn)))
	if ev := evs[0]; !ev.NewDevice || ev.Device != "" || ev.Provider != stack.UpstreamProviderID {
		t.Fatalf("social sign-in from another browser:\n%s", describe(evs))
	}
	e.WaitHeraMail(t, mails, ada.Email, "new_sign_in")
}

// TestActivityAccount: Hera's own account actions are the account's events:
// sessions revoked through Hera's pages and through the proxy's session
// API, an app allowed and removed; deleting the account mails its address
// and forgets its events.
func TestActivityAccount(t *testing.T) {
	e := startHera(t, stacktest.Options{Hydra: true}, "HERA_DEVICE_COOKIE_SECRET=a device cookie secret of at least 32 bytes")
	h := e.hera
	email := newEmail("account-activity")
	b := webtest.New(t, e.HeraURL)
	signUpVerified(t, e.Env, b, email)
	id := identityOf(t, e.Env, email)
	h.WaitEvents(t, id, "the sign-up", has(1, kind(activity.Registered)))

	// Through Hera's sessions page.
	mustPath(t, login(t, webtest.New(t, e.HeraURL), email, password), "/")
	p := b.Get("/sessions")
	mustPath(t, b.Submit(p.FormByAction("/sessions/revoke-others"), "", "", nil), "/sessions")
	evs := h.WaitEvents(t, id, "the sessions revoked on /sessions", has(1, kind(activity.SessionsRevoked)))
	if ev := evs[0]; ev.Count != 1 || ev.Session == "" || ev.IP == "" {
		t.Fatalf("sessions revoked:\n%s", describe(evs))
	}

	// Through the proxy: one session by its ID, then all others.
	other := webtest.New(t, e.HeraURL)
	mustPath(t, login(t, other, email, password), "/")
	otherID := kratosSessionID(t, other, e)
	if st, body, _ := apiCall(t, b, http.MethodDelete, "/api/kratos/sessions/"+otherID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE /sessions/{id}: %d %s", st, body)
	}
	h.WaitEvents(t, id, "the session revoked through the proxy", has(2, kind(activity.SessionsRevoked)))
	for range 2 {
		mustPath(t, login(t, webtest.New(t, e.HeraURL), email, password), "/")
	}
	if st, body, _ := apiCall(t, b, http.MethodDelete, "/api/kratos/sessions", nil, nil); st != http.StatusOK {
		t.Fatalf("DELETE /sessions: %d %s", st, body)
	}
	evs = h.WaitEvents(t, id, "the sessions revoked through the proxy", has(3, kind(activity.SessionsRevoked)))
	if evs[0].Kind != activity.SessionsRevoked || evs[0].Count != 2 {
		t.Fatalf("sessions revoked through the proxy:\n%s", describe(evs))
	}

	// An app allowed (the consent), then removed on /apps.
	app := newRP(t, e, "activity-app", nil)
	app.signIn(b)
	evs = h.WaitEvents(t, id, "the app allowed", has(1, kind(activity.AppAllowed)))
	if ev := evs[0]; ev.ClientID != "activity-app" || ev.Client != "App activity-app" || !slices.Contains(ev.Scopes, "openid") {
		t.Fatalf("app allowed: %+v", ev)
	}
	app.signIn(b) // remembered: no new consent, no event
	p = b.Get("/apps")
	var remove *webtest.Form
	for _, f := range p.Forms() {
		if f.Action == "/apps/remove" && f.Fields.Get("client_id") == "activity-app" {
			remove = f
		}
	}
	if remove == nil {
		t.Fatalf("no remove form: %s", p.Text())
	}
	mustPath(t, b.SubmitAt(remove, remove.Action, nil), "/apps")
	evs = h.WaitEvents(t, id, "the app removed", has(1, kind(activity.AppRemoved)))
	if ev := evs[0]; ev.ClientID != "activity-app" || ev.Client != "App activity-app" {
		t.Fatalf("app removed: %+v", ev)
	}
	if n := count(evs, activity.AppAllowed); n != 1 {
		t.Errorf("%d apps allowed, want 1 (the second sign-in's consent was remembered)", n)
	}

	// The account deleted: mailed to its address, its events gone.
	mails := e.Mail.Len()
	p = b.Get("/settings/delete")
	mustPath(t, b.SubmitAt(p.FormByAction("/settings/delete"), "/settings/delete", map[string]string{"confirm": "delete"}), "/goodbye")
	m := e.WaitHeraMail(t, mails, email, "account_deleted")
	if strings.Contains(m.Body, "/activity") {
		t.Errorf("the deletion mail links the activity of an account that is gone:\n%s", m.Body)
	}
	h.WaitEvents(t, id, "no events", func(evs []activity.Event) bool { return len(evs) == 0 })
}

// loginAt signs in with the password form of Hera's page, posted to
// another replica of Hera at base.
func loginAt(t *testing.T, b *webtest.Browser, base, email, pw string) *webtest.Page {
	t.Helper()
	p := b.Get("/login")
	mustPath(t, p, "/login")
	f := p.Form("method", "password")
	f.Action = base + f.Action
	return b.Submit(f, "method", "password", map[string]string{"identifier": email, "password": pw})
}

// TestActivityReplicas: two Hera replicas on one PostgreSQL or Redis
// store: what the replica a sign-in is posted to saw of the browser is
// joined by the other, which Kratos's hook reaches; the new browser's
// mail goes out once.
func TestActivityReplicas(t *testing.T) {
	for _, store := range []string{"postgres", "redis"} {
		t.Run(store, func(t *testing.T) {
			env := activityEnv(map[string]string{"HERA_LOCKOUT_STORE": store,
				// Behaviour, not latency: a busy machine must not turn
				// slow store calls into failures.
				"HERA_LOCKOUT_TIMEOUT": "30s"})
			switch store {
			case "postgres":
				env["HERA_LOCKOUT_POSTGRES_DSN"] = dbtest.Postgres(t)
			case "redis":
				addr, _ := dbtest.Redis(t)
				env["HERA_LOCKOUT_REDIS_URL"] = "redis://" + addr + "/0"
			}
			e := stacktest.Start(t, stacktest.Options{})
			first := apptest.Start(t, e, env)
			second := apptest.StartReplica(t, first)

			email := newEmail("replicas-" + store)
			owner := webtest.New(t, e.HeraURL)
			signUpVerified(t, e, owner, email)
			id := identityOf(t, e, email)
			first.WaitEvents(t, id, "the sign-up", has(1, kind(activity.Registered)))

			// Signed in through the second replica, twice: the first
			// since sign-up, then with the device cookie it issued.
			logout(t, owner)
			mustPath(t, loginAt(t, owner, second.URL, email, password), "/")
			first.WaitEvents(t, id, "the first sign-in", has(1, kind(activity.SignIn)))
			logout(t, owner)
			mustPath(t, loginAt(t, owner, second.URL, email, password), "/")
			evs := first.WaitEvents(t, id, "the sign-in with the device cookie", has(2, kind(activity.SignIn)))
			if ev := evs[0]; ev.NewDevice || ev.Device == "" || ev.Session == "" {
				t.Fatalf("the second replica's sign-in, joined by the first:\n%s", describe(evs))
			}

			// A new browser, through the second replica: mailed once.
			mails := e.Mail.Len()
			mustPath(t, loginAt(t, webtest.New(t, e.HeraURL), second.URL, email, password), "/")
			evs = first.WaitEvents(t, id, "the new browser's sign-in", has(1, func(e activity.Event) bool { return e.Kind == activity.SignIn && e.NewDevice }))
			e.WaitHeraMail(t, mails, email, "new_sign_in")
			second.App.Events.Wait()
			if n := len(e.HeraMails(mails, email)); n != 1 {
				t.Errorf("%d mails, want the one new-sign-in mail", n)
			}
			if got, err := second.App.Activity.List(t.Context(), id, time.Now(), second.App.ActivityPolicy, 0); err != nil || len(got) != len(evs) {
				t.Errorf("the second replica lists %d events (%v), the first %d", len(got), err, len(evs))
			}
		})
	}
}

// TestActivityDoctor: hera doctor's temporary identity (verified made-up
// addresses) signs in once through Kratos, whose login hook reaches Hera:
// a sign-in from a browser Hera never saw, but the identity is marked
// temporary and deleted at once, so no new-sign-in mail is queued for it.
func TestActivityDoctor(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})
	h := apptest.Start(t, e, activityEnv(nil))
	cfg, err := config.Load(func(k string) string { return h.Env[k] })
	if err != nil {
		t.Fatal(err)
	}
	rep := doctor.Run(t.Context(), app.DoctorOptions(cfg, nil))
	for _, r := range rep.Results {
		if r.Check == "kratos.session" || r.Check == "activity.kratos_webhooks" && r.Status != doctor.Pass {
			t.Fatalf("the doctor did not sign in, or sees no web hook key: %+v", r)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(t, h, `hera_activity_events_total{kind="sign_in"}`) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("after 30 s, the doctor's sign-in is not recorded: did Kratos call the hook?")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.App.Events.Wait()
	if n := alertsQueued(t, h, "new_sign_in"); n != 0 {
		t.Errorf("%d new-sign-in mails queued for hera doctor's temporary identity", n)
	}
}
