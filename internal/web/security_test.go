package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	activitymem "github.com/heraproject/hera/internal/activity/memory"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/device"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web"
	"github.com/heraproject/hera/internal/webtest"
)

// goldenNow is the security centre's clock in these tests: the events are
// dated from it, so relative times ("2 hours ago") are fixed.
var goldenNow = time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)

// The session accountKratos's Whoami answers with.
const goldenSession = "5f1d0c9e-7a0b-4e0e-8f3a-0c9e7a0b4e0e"

// securityKratos is accountKratos with the admin API's view of the
// identity (testdata/export/identity_admin.json: its credentials as Kratos
// shows them when asked for their configuration, secrets included) and of
// its sessions, and the settings flow the passkey offer starts.
type securityKratos struct {
	accountKratos
	identity []byte
	// settings answers CreateBrowserFlow(settings); nil: Kratos refuses
	// (no session).
	settings []byte
	// settingsQuery is what the last settings flow was started with.
	settingsQuery url.Values
}

func (k *securityKratos) GetIdentity(_ context.Context, id string) (*kratos.Identity, error) {
	var i kratos.Identity
	if err := kratos.Decode(k.identity, &i); err != nil {
		return nil, err
	}
	if i.ID != id {
		return nil, &kratos.APIError{Status: http.StatusNotFound}
	}
	return &i, nil
}

func (k *securityKratos) IdentitySessions(context.Context, string) ([]kratos.Session, bool, error) {
	var ss []kratos.Session
	err := kratos.Decode([]byte(`[
	 {"id":"`+goldenSession+`","active":true,"authenticated_at":"2026-06-10T10:00:00Z","issued_at":"2026-06-10T10:00:00Z","expires_at":"2026-06-11T10:00:00Z",
	  "authenticator_assurance_level":"aal1","authentication_methods":[{"method":"password","aal":"aal1","completed_at":"2026-06-10T10:00:00Z"}],
	  "devices":[{"id":"d1","ip_address":"203.0.113.7","user_agent":"`+chromeMac+`","location":""}]},
	 {"id":"0c9e7a0b-4e0e-4e0e-8f3a-5f1d0c9e7a0b","active":false,"authenticated_at":"2026-05-02T08:00:00Z","issued_at":"2026-05-02T08:00:00Z","expires_at":"2026-05-03T08:00:00Z",
	  "authenticator_assurance_level":"aal2","authentication_methods":[{"method":"password","aal":"aal1"},{"method":"totp","aal":"aal2"}],
	  "devices":[{"id":"d2","ip_address":"192.0.2.44","user_agent":"`+firefoxLinux+`","location":"Berlin, DE"}]}]`), &ss)
	return ss, false, err
}

func (k *securityKratos) CreateBrowserFlow(_ context.Context, kind kratos.Kind, q url.Values, _ kratos.Browser) (*kratos.Flow, []string, error) {
	if kind != kratos.Settings || k.settings == nil {
		return nil, nil, &kratos.APIError{Status: http.StatusUnauthorized, ID: "session_inactive"}
	}
	k.settingsQuery = q
	var f kratos.Flow
	if err := kratos.Decode(k.settings, &f); err != nil {
		return nil, nil, err
	}
	f.ReturnTo = q.Get("return_to")
	return &f, []string{"csrf_token_test=fresh; Path=/api/kratos/; HttpOnly; SameSite=Lax"}, nil
}

// securityRig is a Hera with the security centre: a signed-in Ada
// (securityKratos), her events in a memory store, device cookies, Hydra
// with her two apps, and the browser's device cookie for her account.
type securityRig struct {
	h      http.Handler
	k      *securityKratos
	store  *activitymem.Store
	events *events.Recorder // records the export, in the background
	cookie *http.Cookie     // this browser's device cookie for ada@example.com
	device string           // its ID
}

func newSecurityRig(t *testing.T, env map[string]string) *securityRig {
	t.Helper()
	identity, err := os.ReadFile(filepath.Join("testdata", "export", "identity_admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := activitymem.New(activitymem.Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	devs, err := device.New(device.Config{Secret: []byte(strings.Repeat("d", 32)), Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := devs.Issue("ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := devs.Verify("ada@example.com", []*http.Cookie{ck})
	all := map[string]string{
		"HERA_PUBLIC_URL":   goldenPublicURL,
		"KRATOS_PUBLIC_URL": goldenKratosURL,
		"KRATOS_ADMIN_URL":  goldenAdminURL,
		"HYDRA_ADMIN_URL":   "http://127.0.0.1:4445",
	}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	k := &securityKratos{identity: identity}
	rec, err := events.New(events.Config{Logger: slog.New(slog.DiscardHandler), Store: store, Policy: cfg.Activity.Policy,
		Now: func() time.Time { return goldenNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	h, err := web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: web.OptionsFrom(cfg), Kratos: k,
		Hydra: &accountHydra{grants: goldenGrants()}, Activity: store, ActivityPolicy: cfg.Activity.Policy, Devices: devs,
		Events: rec, Now: func() time.Time { return goldenNow }})
	if err != nil {
		t.Fatal(err)
	}
	return &securityRig{h: h, k: k, store: store, events: rec, cookie: ck, device: id}
}

// addEvents stores events for Ada.
func (rig *securityRig) addEvents(t *testing.T, events []activity.Event) {
	t.Helper()
	for _, e := range events {
		if e.Identity == "" {
			e.Identity = goldenSubject
		}
		if err := rig.store.Add(t.Context(), e, goldenNow, activity.DefaultPolicy()); err != nil {
			t.Fatal(err)
		}
	}
}

// get requests path in lang with the browser's device cookie.
func (rig *securityRig) get(t *testing.T, path, lang string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept-Language", lang)
	req.AddCookie(rig.cookie)
	return serve(t, rig.h, req)
}

func serve(t *testing.T, h http.Handler, req *http.Request) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// placeholders replaces the response's nonce and request ID, as the other
// golden pages do.
func placeholders(res *http.Response, body string) string {
	nonce := cspNonce(res.Header.Get("Content-Security-Policy"))
	r := []string{res.Header.Get("X-Request-Id"), requestIDPlaceholder}
	if nonce != "" {
		r = append(r, nonce, noncePlaceholder, strings.ReplaceAll(nonce, "+", "&#43;"), noncePlaceholder)
	}
	return strings.NewReplacer(r...).Replace(body)
}

// Strangers' addresses in goldenEvents: never shown in full.
var strangerIPs = []string{"198.51.100.23", "198.51.100.99", "2001:db8:abcd:12::5", "203.0.113.200"}

// goldenEvents covers every kind of event: this browser's sign-in and
// export, strangers' failed sign-ins (a run of five from three addresses,
// broken by a lock, then another run of one), the owner's own failure, a
// sign-in from a new browser, a second factor, a social sign-in, every
// change, and a kind this Hera does not know.
func goldenEvents(deviceID string) []activity.Event {
	ago := func(d time.Duration) time.Time { return goldenNow.Add(-d) }
	const h, day = time.Hour, 24 * time.Hour
	return []activity.Event{
		{ID: "e01", Kind: activity.Exported, At: ago(30 * time.Second), Session: goldenSession, IP: "203.0.113.7", UserAgent: chromeMac, Detail: "json"},
		{ID: "e02", Kind: activity.SignIn, At: ago(2 * h), Method: "password", AAL: "aal1", Device: deviceID, IP: "203.0.113.7", UserAgent: chromeMac, Session: "s-earlier"},
		{ID: "e03", Kind: activity.SignInFailed, At: ago(2*h + 5*time.Minute), Method: "password", IP: "198.51.100.23", UserAgent: firefoxLinux},
		{ID: "e04", Kind: activity.Locked, At: ago(2*h + 10*time.Minute), Until: ago(2*h - 5*time.Minute), IP: "198.51.100.23", UserAgent: firefoxLinux},
		{ID: "e05", Kind: activity.SignInFailed, At: ago(2*h + 11*time.Minute), Method: "password", IP: "198.51.100.23", UserAgent: firefoxLinux},
		{ID: "e06", Kind: activity.SignInFailed, At: ago(2*h + 12*time.Minute), Method: "password", IP: "198.51.100.99"},
		{ID: "e07", Kind: activity.SignInFailed, At: ago(2*h + 13*time.Minute), Method: "code", IP: "2001:db8:abcd:12::5"},
		{ID: "e08", Kind: activity.SignInFailed, At: ago(2*h + 14*time.Minute), Method: "password", IP: "198.51.100.23"},
		{ID: "e09", Kind: activity.SignInFailed, At: ago(2*h + 20*time.Minute), Method: "password", IP: "::ffff:198.51.100.99"},
		{ID: "e10", Kind: activity.SignInFailed, At: ago(day), Method: "password", Device: deviceID, IP: "203.0.113.7", UserAgent: chromeMac},
		{ID: "e11", Kind: activity.SignIn, At: ago(2 * day), Method: "password", AAL: "aal1", NewDevice: true, IP: "192.0.2.44", UserAgent: firefoxLinux},
		{ID: "e12", Kind: activity.SignIn, At: ago(2*day - time.Minute), Method: "totp", AAL: "aal2", IP: "192.0.2.44", UserAgent: firefoxLinux},
		{ID: "e13", Kind: activity.SignIn, At: ago(3 * day), Method: "oidc", Provider: "github", AAL: "aal1", IP: "192.0.2.45"},
		{ID: "e14", Kind: activity.SignIn, At: ago(3*day + h), Method: "passkey", AAL: "aal1", IP: "192.0.2.46", UserAgent: "hera-app/2.1"},
		{ID: "e15", Kind: activity.TOTPChanged, At: ago(4 * day), Detail: "added", IP: "192.0.2.44", UserAgent: firefoxLinux},
		{ID: "e16", Kind: activity.TOTPChanged, At: ago(4*day + h), Detail: "removed"},
		{ID: "e17", Kind: activity.PasskeyChanged, At: ago(5 * day), Method: "passkey", Detail: "added"},
		{ID: "e18", Kind: activity.PasskeyChanged, At: ago(5*day + h), Method: "webauthn", Detail: "removed"},
		{ID: "e19", Kind: activity.BackupCodesChanged, At: ago(6 * day), Detail: "created"},
		{ID: "e20", Kind: activity.AddressChanged, At: ago(7 * day), Old: []string{"ada@old.example"}, New: []string{"ada@example.com"}},
		{ID: "e21", Kind: activity.ProfileChanged, At: ago(8 * day)},
		{ID: "e22", Kind: activity.SessionsRevoked, At: ago(9 * day), Count: 2},
		{ID: "e23", Kind: activity.AppAllowed, At: ago(10 * day), Client: "Notes", ClientID: "notes", Scopes: []string{"openid", "email"}},
		{ID: "e24", Kind: activity.AppRemoved, At: ago(11 * day), ClientID: "calendar"},
		{ID: "e25", Kind: activity.SignInFailed, At: ago(12 * day), Method: "password", IP: "203.0.113.200"},
		{ID: "e26", Kind: activity.Recovered, At: ago(13 * day)},
		{ID: "e27", Kind: activity.PasswordChanged, At: ago(13*day + time.Minute)},
		{ID: "e28", Kind: "future_kind", At: ago(14 * day)},
		{ID: "e29", Kind: activity.Registered, At: ago(80 * day), IP: "203.0.113.7"},
	}
}

// TestGoldenActivity renders /activity with goldenEvents in every
// language (testdata/golden/security/<lang>/activity.html) and checks what
// the page must never do: show a stranger's address in full, or list a
// stranger's failures one by one.
func TestGoldenActivity(t *testing.T) {
	rig := newSecurityRig(t, nil)
	rig.addEvents(t, goldenEvents(rig.device))
	want := map[string][]string{
		"en": {"5 failed sign-in attempts from 3 addresses", "1 failed sign-in attempt from 1 address", "From 198.51.100.0/24, 2001:db8:abcd::/48",
			"Signed in with password", "Failed sign-in with password", "Sign-in confirmed with authenticator app", "Signed in with github",
			"Sign-in locked until Jun 10, 2026, 10:05 AM UTC after too many failed attempts", ">New browser<", "2 other sessions signed out",
			"Allowed Notes to use your account", "It can: Sign you in with your account, See your email address", "Removed the access of calendar", "Before: ada@old.example",
			"Other account activity", "2 hours ago", "just now", "80 days ago", "in the last 90 days"},
		"de": {"5 fehlgeschlagene Anmeldeversuche von 3 Adressen", "Angemeldet mit Passwort", "vor 2 Stunden", "Dieses Gerät"},
		"es": {"5 intentos fallidos de inicio de sesión desde 3 direcciones", "hace 2 horas", "Este dispositivo"},
		"fr": {"5 tentatives de connexion échouées depuis 3 adresses", "il y a 2 heures", "Cet appareil"},
	}
	for _, lang := range []string{"en", "de", "es", "fr"} {
		t.Run(lang, func(t *testing.T) {
			res, body := rig.get(t, "/activity", lang)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			got := placeholders(res, body)
			for _, p := range checkPage(got, "", "") {
				if p != "no form" {
					t.Error(p)
				}
			}
			for _, w := range want[lang] {
				if !strings.Contains(got, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, ip := range strangerIPs {
				if strings.Contains(got, ip) {
					t.Errorf("a stranger's address is shown in full: %s", ip)
				}
			}
			// The owner's browser's events: its sign-in (its device
			// cookie), the export (this session) and its own failure.
			if n := strings.Count(got, `<span class="badge">`+map[string]string{"en": "This device", "de": "Dieses Gerät", "es": "Este dispositivo", "fr": "Cet appareil"}[lang]+`</span>`); n != 3 {
				t.Errorf("%d entries marked this device, want 3", n)
			}
			list := got[strings.Index(got, `<ol class="activity">`):]
			list = list[:strings.Index(list, "</ol>")]
			if n := strings.Count(list, "<li"); n != 29-7+3 {
				// 29 events; strangers' 7 failures are 3 lines (a run
				// of 5 between a lock and another run of 1, and 1).
				t.Errorf("%d lines, want 25", n)
			}
			matchGolden(t, filepath.Join("testdata", "golden", "security", lang, "activity.html"), got)
		})
	}
}

// TestActivityNeedsSessionAndStore: /activity sends a signed-out browser
// to sign in and back, shows an empty account as such, and a store that
// fails as a translated error (logged).
func TestActivityNeedsSessionAndStore(t *testing.T) {
	h := accountServer(t, slog.New(slog.DiscardHandler), &accountHydra{})
	if res, _ := serve(t, h, httptest.NewRequest(http.MethodGet, "/activity", nil)); res.StatusCode != http.StatusNotFound {
		t.Errorf("without an activity store: status %d, want 404", res.StatusCode)
	}

	signedOut, err := web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: goldenOptions(t), Kratos: stubSignedOut{},
		Activity: failingStore{}, ActivityPolicy: activity.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := serve(t, signedOut, httptest.NewRequest(http.MethodGet, "/activity", nil))
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "return_to=http%3A%2F%2Flocalhost%3A4455%2Factivity") {
		t.Errorf("signed out: status %d, Location %q", res.StatusCode, loc)
	}

	var logs lockedBuffer
	failing, err := web.NewServer(web.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Options: goldenOptions(t), Kratos: &accountKratos{},
		Activity: failingStore{}, ActivityPolicy: activity.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/activity", nil)
	req.Header.Set("Accept-Language", "de")
	res, body := serve(t, failing, req)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Ihre Aktivitäten können gerade nicht angezeigt werden") {
		t.Errorf("store down: status %d\n%s", res.StatusCode, body)
	}
	if strings.Contains(body, "disk on fire") || !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the store's error must be logged, not shown: %s", logs.String())
	}

	rig := newSecurityRig(t, nil)
	_, body = rig.get(t, "/activity", "en")
	if !strings.Contains(body, "Nothing has happened to your account in this time.") {
		t.Error("an account without events does not say so")
	}
	for _, path := range []string{"/", "/sessions"} {
		if _, body := rig.get(t, path, "en"); !strings.Contains(body, `href="/activity"`) {
			t.Errorf("%s does not link /activity", path)
		}
	}
}

// stubSignedOut is a Kratos without a session.
type stubSignedOut struct{ stubKratos }

func (stubSignedOut) Whoami(context.Context, kratos.Browser) (*kratos.Session, error) {
	return nil, &kratos.APIError{Status: http.StatusUnauthorized}
}

// failingStore is an activity store whose backend is down.
type failingStore struct{}

var errStoreDown = fmt.Errorf("%w: disk on fire", activity.ErrUnavailable)

func (failingStore) Add(context.Context, activity.Event, time.Time, activity.Policy) error {
	return errStoreDown
}
func (failingStore) List(context.Context, string, time.Time, activity.Policy, int) ([]activity.Event, error) {
	return nil, errStoreDown
}
func (failingStore) Forget(context.Context, string) error { return errStoreDown }
func (failingStore) SetAddresses(context.Context, string, []string, time.Time, activity.Policy) ([]string, error) {
	return nil, errStoreDown
}
func (failingStore) PutSeen(context.Context, string, activity.Seen, time.Time, time.Duration) error {
	return errStoreDown
}
func (failingStore) GetSeen(context.Context, string, time.Time) (activity.Seen, bool, error) {
	return activity.Seen{}, false, errStoreDown
}

func goldenOptions(t *testing.T) web.Options {
	t.Helper()
	env := map[string]string{"HERA_PUBLIC_URL": goldenPublicURL, "KRATOS_PUBLIC_URL": goldenKratosURL, "KRATOS_ADMIN_URL": goldenAdminURL}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return web.OptionsFrom(cfg)
}

// credentialSecrets are the fixture identity's secrets (webtest.CredentialSecrets):
// none may be exported.
func credentialSecrets(t *testing.T, raw []byte) []string {
	t.Helper()
	out, err := webtest.CredentialSecrets(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 8 {
		t.Fatalf("the fixture's credentials hold only %d secrets: %q", len(out), out)
	}
	return out
}

// TestGoldenExport renders the export page in every language and the JSON
// download (testdata/golden/security/…), and checks that neither holds a
// secret of the identity's credentials, that strangers' addresses are
// shortened, that the download is an attachment never cached, and that it
// is recorded in the account's activity.
func TestGoldenExport(t *testing.T) {
	rig := newSecurityRig(t, nil)
	rig.addEvents(t, goldenEvents(rig.device))
	secrets := credentialSecrets(t, rig.k.identity)
	for _, lang := range []string{"en", "de", "es", "fr"} {
		t.Run(lang, func(t *testing.T) {
			res, body := rig.get(t, "/settings/export", lang)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			got := placeholders(res, body)
			for _, p := range checkPage(got, "", "") {
				if !strings.HasPrefix(p, "form action") {
					t.Error(p)
				}
			}
			for _, s := range append(secrets, strangerIPs...) {
				if strings.Contains(got, s) {
					t.Errorf("the page shows %q", s)
				}
			}
			matchGolden(t, filepath.Join("testdata", "golden", "security", lang, "export.html"), got)
		})
	}

	req := httptest.NewRequest(http.MethodPost, "/settings/export", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(rig.cookie)
	res, body := serve(t, rig.h, req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("download: status %d: %s", res.StatusCode, body)
	}
	for k, v := range map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
		"Content-Disposition": `attachment; filename=account-data-2026-06-10.json`} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	var data struct {
		Format        string            `json:"format"`
		Account       map[string]any    `json:"account"`
		Addresses     []map[string]any  `json:"addresses"`
		SignInMethods []map[string]any  `json:"sign_in_methods"`
		Sessions      []map[string]any  `json:"sessions"`
		Apps          []map[string]any  `json:"apps"`
		Activity      []json.RawMessage `json:"activity"`
	}
	if err := json.Unmarshal([]byte(body), &data); err != nil {
		t.Fatalf("download: %v\n%s", err, body)
	}
	if data.Format != "hera.account-export/1" || len(data.Addresses) != 1 || len(data.SignInMethods) != 4 || len(data.Sessions) != 2 ||
		len(data.Apps) != 2 || len(data.Activity) != len(goldenEvents("")) {
		t.Errorf("download: format %q, %d addresses, %d methods, %d sessions, %d apps, %d events", data.Format,
			len(data.Addresses), len(data.SignInMethods), len(data.Sessions), len(data.Apps), len(data.Activity))
	}
	for _, s := range append(secrets, append(strangerIPs, rig.device, `"identity"`, `"device"`, "metadata_admin")...) {
		if strings.Contains(body, s) {
			t.Errorf("the download holds %q", s)
		}
	}
	if !strings.Contains(body, `"ip": "198.51.100.0/24"`) || !strings.Contains(body, `"ip": "203.0.113.7"`) {
		t.Error("the download does not shorten strangers' addresses, or shortens the owner's")
	}
	matchGolden(t, filepath.Join("testdata", "golden", "security", "export.json"), body)

	rig.events.Wait() // the event is recorded in the background
	recorded, err := rig.store.List(t.Context(), goldenSubject, goldenNow, activity.DefaultPolicy(), 1)
	if err != nil || len(recorded) != 1 || recorded[0].Kind != activity.Exported || recorded[0].Session != goldenSession ||
		recorded[0].Device != rig.device || !recorded[0].At.Equal(goldenNow) {
		t.Errorf("the download was not recorded: %+v %v", recorded, err)
	}
}

// TestExportNeedsRecentSignIn: the export page and the download send a
// browser whose sign-in is not recent to sign in again, back to the
// export; the download refuses cross-site posts.
func TestExportNeedsRecentSignIn(t *testing.T) {
	rig := newSecurityRig(t, map[string]string{"HERA_PRIVILEGED_SESSION_MAX_AGE": "1ns"})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req := httptest.NewRequest(method, "/settings/export", nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, body := serve(t, rig.h, req)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "refresh=true") || !strings.Contains(loc, url.QueryEscape(goldenPublicURL+"/settings/export")) {
			t.Errorf("%s: status %d, Location %q\n%s", method, res.StatusCode, loc, body)
		}
	}
	rig = newSecurityRig(t, nil)
	req := httptest.NewRequest(http.MethodPost, "/settings/export", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := serve(t, rig.h, req); res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site download: status %d, want 403", res.StatusCode)
	}
}

// withPasskey adds a registered passkey (its removal button) to a
// settings flow.
func withPasskey(t *testing.T, raw []byte) []byte {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	ui := f["ui"].(map[string]any)
	ui["nodes"] = append(ui["nodes"].([]any), map[string]any{"type": "input", "group": "passkey",
		"attributes": map[string]any{"name": "passkey_remove", "type": "submit", "value": "6372656431", "node_type": "input"},
		"messages":   []any{}, "meta": map[string]any{"label": map[string]any{"id": 1050012, "text": "Remove passkey", "type": "info"}}})
	b, _ := json.Marshal(f)
	return b
}

// withoutPasskeys drops the passkey group from a settings flow (Kratos
// without passkeys).
func withoutPasskeys(t *testing.T, raw []byte) []byte {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	ui := f["ui"].(map[string]any)
	ui["nodes"] = slices.DeleteFunc(ui["nodes"].([]any), func(n any) bool { return n.(map[string]any)["group"] == "passkey" })
	b, _ := json.Marshal(f)
	return b
}

// challengeReturn is where a sign-in for an OAuth2 client goes on to.
const challengeReturn = goldenPublicURL + "/login?hera_return=1&login_challenge=abc123"

// TestGoldenPasskeyOffer renders the offer (the passkey part of a new
// settings flow that returns to the OAuth2 login challenge, and "not now")
// in every language, and checks when it steps aside.
func TestGoldenPasskeyOffer(t *testing.T) {
	rig := newSecurityRig(t, nil)
	settings := fixtureNamed(t, "settings").raw
	rig.k.settings = settings
	offer := "/passkey-offer?" + url.Values{"return_to": {challengeReturn}}.Encode()
	for _, lang := range []string{"en", "de", "es", "fr"} {
		t.Run(lang, func(t *testing.T) {
			res, body := rig.get(t, offer, lang)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if got := rig.k.settingsQuery.Get("return_to"); got != challengeReturn {
				t.Errorf("the settings flow returns to %q, want the challenge", got)
			}
			if c := res.Header.Get("Set-Cookie"); !strings.HasPrefix(c, "csrf_token_test=fresh") {
				t.Errorf("Kratos's CSRF cookie is not passed on: %q", c)
			}
			got := placeholders(res, body)
			for _, p := range checkPage(got, "", "") {
				if !strings.HasPrefix(p, "form action") {
					t.Error(p)
				}
			}
			for _, w := range []string{`data-hera-trigger="oryPasskeySettingsRegistration"`, `name="passkey_create_data"`,
				`<form action="/passkey-offer" method="post"><input type="hidden" name="return_to" value="` + strings.ReplaceAll(challengeReturn, "&", "&amp;") + `">`} {
				if !strings.Contains(got, w) {
					t.Errorf("the offer lacks %s", w)
				}
			}
			for _, not := range []string{`name="password"`, "totp_code", "webauthn_register", "traits.email"} {
				if strings.Contains(got, not) {
					t.Errorf("the offer shows another settings section: %s", not)
				}
			}
			matchGolden(t, filepath.Join("testdata", "golden", "security", lang, "passkey_offer.html"), got)
		})
	}

	goesOn := func(t *testing.T, why string, req *http.Request, want string) {
		t.Helper()
		res, body := serve(t, rig.h, req)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("%s: status %d, Location %q, want a redirect to %q\n%s", why, res.StatusCode, res.Header.Get("Location"), want, body)
		}
	}
	rig.k.settings = withPasskey(t, settings)
	goesOn(t, "an account with a passkey", httptest.NewRequest(http.MethodGet, offer, nil), challengeReturn)
	rig.k.settings = withoutPasskeys(t, settings)
	goesOn(t, "Kratos without passkeys", httptest.NewRequest(http.MethodGet, offer, nil), challengeReturn)
	rig.k.settings = nil
	goesOn(t, "signed out", httptest.NewRequest(http.MethodGet, offer, nil), challengeReturn)
	rig.k.settings = settings
	if res, body := serve(t, rig.h, httptest.NewRequest(http.MethodGet, "/passkey-offer", nil)); res.StatusCode != http.StatusOK ||
		rig.k.settingsQuery.Has("return_to") || !strings.Contains(body, `name="return_to" value=""`) {
		t.Errorf("no return_to: status %d, settings flow started with %v", res.StatusCode, rig.k.settingsQuery)
	}
	snoozed := httptest.NewRequest(http.MethodGet, offer, nil)
	snoozed.AddCookie(&http.Cookie{Name: "hera_passkey_offer", Value: "later"})
	goesOn(t, "snoozed", snoozed, challengeReturn)
	if res, _ := serve(t, rig.h, httptest.NewRequest(http.MethodGet, "/passkey-offer?return_to=https%3A%2F%2Fevil.example%2F", nil)); res.StatusCode == http.StatusSeeOther {
		t.Errorf("an offer going on to another site redirects there: %q", res.Header.Get("Location"))
	}

	// "Not now": remembered on this browser for HERA_PASSKEY_OFFER_SNOOZE.
	req := httptest.NewRequest(http.MethodPost, "/passkey-offer", strings.NewReader(url.Values{"return_to": {challengeReturn}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, _ := serve(t, rig.h, req)
	var snooze *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "hera_passkey_offer" {
			snooze = c
		}
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != challengeReturn || snooze == nil ||
		snooze.MaxAge != 30*24*3600 || !snooze.HttpOnly || snooze.Path != "/" {
		t.Errorf("not now: status %d, Location %q, cookie %+v", res.StatusCode, res.Header.Get("Location"), snooze)
	}
}

// loginKratos answers a password sign-in with a session whose methods are
// methods, going on to next.
type loginKratos struct {
	stubKratos
	methods []string
	next    string
}

func (k *loginKratos) Submit(context.Context, kratos.Kind, string, []byte, string, kratos.Browser) (*kratos.Response, error) {
	var ms []string
	for _, m := range k.methods {
		ms = append(ms, `{"method":"`+m+`","aal":"aal1"}`)
	}
	body := `{"session":{"id":"s1","active":true,"authenticator_assurance_level":"aal1","authentication_methods":[` + strings.Join(ms, ",") +
		`],"identity":{"id":"` + goldenSubject + `","traits":{}}},"continue_with":[{"action":"redirect_browser_to","redirect_browser_to":"` + k.next + `"}]}`
	return &kratos.Response{Status: http.StatusOK, Header: http.Header{"Set-Cookie": {"ory_kratos_session=x; Path=/; HttpOnly"}}, Body: []byte(body)}, nil
}

// TestPasswordSignInOffersPasskey: a browser's password sign-in goes on
// by the offer, to where it was going; a passkey sign-in, an API client, a
// snoozed browser and HERA_PASSKEY_OFFER=false go straight on.
func TestPasswordSignInOffersPasskey(t *testing.T) {
	const flowID = "0b6f1c1e-6b0c-4f55-a6a4-1f0a3f8b4c2d"
	form := url.Values{"csrf_token": {"t"}, "identifier": {"ada@example.com"}, "password": {"pw"}, "method": {"password"}}.Encode()
	signIn := func(t *testing.T, env map[string]string, k *loginKratos, cookie *http.Cookie) *http.Response {
		t.Helper()
		all := map[string]string{"HERA_PUBLIC_URL": goldenPublicURL, "KRATOS_PUBLIC_URL": goldenKratosURL, "KRATOS_ADMIN_URL": goldenAdminURL}
		for key, v := range env {
			all[key] = v
		}
		cfg, err := config.Load(func(key string) string { return all[key] })
		if err != nil {
			t.Fatal(err)
		}
		h, err := web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: web.OptionsFrom(cfg), Kratos: k})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/api/kratos/login/submit?flow="+flowID, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, _ := serve(t, h, req)
		return res
	}
	offerTo := func(next string) string { return "/passkey-offer?" + url.Values{"return_to": {next}}.Encode() }
	for _, c := range []struct {
		name    string
		env     map[string]string
		methods []string
		cookie  *http.Cookie
		want    string
	}{
		{"password", nil, []string{"password"}, nil, offerTo(challengeReturn)},
		{"password then second factor", nil, []string{"password", "totp"}, nil, offerTo(challengeReturn)},
		{"passkey", nil, []string{"passkey"}, nil, challengeReturn},
		{"password and security key", nil, []string{"password", "webauthn"}, nil, challengeReturn},
		{"code", nil, []string{"code"}, nil, challengeReturn},
		{"snoozed", nil, []string{"password"}, &http.Cookie{Name: "hera_passkey_offer", Value: "later"}, challengeReturn},
		{"offer off", map[string]string{"HERA_PASSKEY_OFFER": "false"}, []string{"password"}, nil, challengeReturn},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := signIn(t, c.env, &loginKratos{methods: c.methods, next: challengeReturn}, c.cookie)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != c.want {
				t.Errorf("status %d, Location %q, want %q", res.StatusCode, res.Header.Get("Location"), c.want)
			}
			if !slices.ContainsFunc(res.Cookies(), func(ck *http.Cookie) bool { return ck.Name == "ory_kratos_session" }) {
				t.Error("the session cookie is not set")
			}
		})
	}
	// A target the allowlist refuses is refused, not offered.
	res := signIn(t, nil, &loginKratos{methods: []string{"password"}, next: "https://evil.example/"}, nil)
	if loc := res.Header.Get("Location"); strings.Contains(loc, "passkey-offer") || strings.Contains(loc, "evil.example") {
		t.Errorf("a refused target: Location %q", loc)
	}
}

// TestIdentifierFirstPasskeyAutofill: identifier-first's first step marks
// the identifier for passkey autofill (Kratos starts it but leaves the
// field unmarked); the one-step page keeps Kratos's own marking, and a
// page without passkey autofill keeps "username".
func TestIdentifierFirstPasskeyAutofill(t *testing.T) {
	re := regexp.MustCompile(`<input id="form-login-identifier"[^>]*autocomplete="([^"]*)"`)
	first := fixtureNamed(t, "login_identifier_first")
	noAutofill := first
	noAutofill.raw = withoutPasskeys(t, first.raw)
	for _, c := range []struct {
		f    fixture
		want string
	}{{first, "username webauthn"}, {fixtureNamed(t, "login"), "username webauthn"}, {noAutofill, "username"}} {
		m := re.FindStringSubmatch(renderFixture(t, c.f))
		if m == nil || m[1] != c.want {
			t.Errorf("%s: identifier autocomplete %v, want %q", c.f.name, m, c.want)
		}
	}
}
