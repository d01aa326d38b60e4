package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
	activitymem "github.com/heraproject/hera/internal/activity/memory"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/mail"
	"github.com/heraproject/hera/internal/outbox"
	outboxmem "github.com/heraproject/hera/internal/outbox/memory"
)

// kratosStub is the admin API: identities by identifier and by ID.
type kratosStub struct {
	mu          sync.Mutex
	byIDer      map[string]string
	identities  map[string]*kratos.Identity
	lookups     int
	unavailable bool
}

func (k *kratosStub) IdentityByIdentifier(_ context.Context, identifier string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lookups++
	if k.unavailable {
		return "", kratos.ErrUnavailable
	}
	return k.byIDer[identifier], nil
}

func (k *kratosStub) GetIdentity(_ context.Context, id string) (*kratos.Identity, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i, ok := k.identities[id]; ok {
		return i, nil
	}
	return nil, &kratos.APIError{Status: 404}
}

// renderer writes what it is asked into the message, so tests read it.
type renderer struct{}

func (renderer) Render(a mail.Alert) (outbox.Message, error) {
	b, _ := json.Marshal(a)
	return outbox.Message{Kind: string(a.Kind), Lang: a.Lang, Subject: string(a.Kind), Text: string(b), HTML: "<p>" + string(a.Kind)}, nil
}

// counter is the Observer.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) inc(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[k]++
}
func (c *counter) EventRecorded(kind string)  { c.inc("event " + kind) }
func (c *counter) EventDropped(reason string) { c.inc("dropped " + reason) }
func (c *counter) Alert(kind, outcome string) { c.inc("alert " + kind + " " + outcome) }
func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[k]
}

type fixture struct {
	r      *events.Recorder
	store  *activitymem.Store
	queue  *outboxmem.Queue
	kratos *kratosStub
	obs    *counter
}

var policy = activity.Policy{Retention: 24 * time.Hour, MaxPerIdentity: 100}

func newFixture(t *testing.T, mod func(*events.Config)) *fixture {
	t.Helper()
	store, err := activitymem.New(activitymem.Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	q, err := outboxmem.New(outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.Load("")
	if err != nil {
		t.Fatal(err)
	}
	// id1 exists in Kratos: a new sign-in to an account that is gone is
	// not mailed.
	f := &fixture{store: store, queue: q, obs: &counter{}, kratos: &kratosStub{byIDer: map[string]string{},
		identities: map[string]*kratos.Identity{"id1": {ID: "id1"}}}}
	cfg := events.Config{Logger: slog.New(slog.DiscardHandler), Store: store, Policy: policy, Kratos: f.kratos,
		Queue: q, Alerts: renderer{}, NewSignInAlerts: true, Catalog: cat, DefaultLanguage: "en",
		Grace: 300 * time.Millisecond, Observer: f.obs}
	if mod != nil {
		mod(&cfg)
	}
	f.r, err = events.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.r.Close(context.Background()) })
	return f
}

func (f *fixture) events(t *testing.T, identity string) []activity.Event {
	t.Helper()
	f.r.Wait()
	evs, err := f.store.List(t.Context(), identity, time.Now(), policy, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// mails returns the queued mails (claimed, so each once).
func (f *fixture) mails(t *testing.T) []outbox.Message {
	t.Helper()
	f.r.Wait()
	ms, err := f.queue.Claim(t.Context(), "test", time.Now(), time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func alertOf(t *testing.T, m outbox.Message) mail.Alert {
	t.Helper()
	var a mail.Alert
	if err := json.Unmarshal([]byte(m.Text), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"

// hookBody is a hook body as deploy/dev/kratos-hook.jsonnet builds it.
func hookBody(flow, identity, session string, methods ...string) []byte {
	h := map[string]any{
		"flow": map[string]any{"id": flow, "type": "browser", "active": "password"},
		"identity": map[string]any{"id": identity, "addresses": []map[string]any{
			{"value": "ada@example.com", "via": "email", "verified": true},
			{"value": "ada@unverified.example", "via": "email", "verified": false},
			{"value": "+15550100", "via": "sms", "verified": true},
		}},
		"session": nil,
		"client":  map[string]any{"ip": "198.51.100.7", "user_agent": "kratos-saw-this"},
	}
	if session != "" {
		var ms []map[string]any
		for _, m := range methods {
			ms = append(ms, map[string]any{"method": m, "aal": "aal1", "provider": "", "completed_at": time.Now().Add(-time.Second).Format(time.RFC3339Nano)})
		}
		h["session"] = map[string]any{"id": session, "aal": "aal1", "methods": ms}
	}
	b, _ := json.Marshal(h)
	return b
}

func parse(t *testing.T, kind string, body []byte) *events.Hook {
	t.Helper()
	h, err := events.ParseHook(kind, body)
	if err != nil {
		t.Fatalf("ParseHook(%s): %v", kind, err)
	}
	return h
}

func TestParseHook(t *testing.T) {
	good := hookBody("f1", "id1", "s1", "password")
	parse(t, events.HookLogin, good)
	parse(t, "settings/totp", hookBody("f1", "id1", ""))
	for name, c := range map[string]struct {
		kind string
		body string
	}{
		"unknown kind":            {"logout", string(good)},
		"settings without method": {"settings", string(good)},
		"unknown settings method": {"settings/oidc", string(good)},
		"unknown field":           {events.HookLogin, strings.Replace(string(good), `"flow":{`, `"flow":{"x":1,`, 1)},
		"trailing value":          {events.HookLogin, string(good) + "{}"},
		"no identity":             {events.HookRecovery, `{"flow":{"id":"f"},"client":{}}`},
		"login without session":   {events.HookLogin, string(hookBody("f1", "id1", ""))},
		"login without methods":   {events.HookLogin, string(hookBody("f1", "id1", "s1"))},
		"malformed flow id":       {events.HookLogin, string(hookBody("f 1", "id1", "s1", "password"))},
		"not JSON":                {events.HookLogin, "flow=1"},
	} {
		if _, err := events.ParseHook(c.kind, []byte(c.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := events.ParseHook("logout", good); !errors.Is(err, events.ErrUnknownHook) {
		t.Errorf("unknown kind: %v, want ErrUnknownHook", err)
	}
}

// TestSignInJoined: a sign-in joined with what Hera saw of a browser that
// carried the account's device cookie: not new, no mail.
func TestSignInJoined(t *testing.T) {
	f := newFixture(t, nil)
	f.r.See(t.Context(), events.FlowKey("f1"), activity.Seen{IP: "192.0.2.1", UserAgent: firefox, Lang: "de", Device: "dev-1", Checked: true})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password")))
	evs := f.events(t, "id1")
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if e.Kind != activity.SignIn || e.IP != "192.0.2.1" || e.UserAgent != firefox || e.Lang != "de" || e.Device != "dev-1" ||
		e.NewDevice || e.Method != "password" || e.Session != "s1" || e.AAL != "aal1" || time.Since(e.At) < time.Second || time.Since(e.At) > time.Minute {
		t.Fatalf("event %+v", e)
	}
	if ms := f.mails(t); len(ms) != 0 {
		t.Fatalf("mails for a known browser: %+v", ms)
	}
}

// TestNewSignIn: no device cookie: a new browser, mailed once to the
// verified e-mail addresses, however often Kratos delivers the hook.
func TestNewSignIn(t *testing.T) {
	f := newFixture(t, nil)
	f.r.See(t.Context(), events.FlowKey("f1"), activity.Seen{IP: "192.0.2.1", UserAgent: firefox, Lang: "fr", Checked: true})
	body := hookBody("f1", "id1", "s1", "password")
	f.r.Hook(parse(t, events.HookLogin, body))
	f.r.Wait()
	f.r.Hook(parse(t, events.HookLogin, body)) // Kratos retried
	evs := f.events(t, "id1")
	if len(evs) != 1 || !evs[0].NewDevice {
		t.Fatalf("events %+v", evs)
	}
	ms := f.mails(t)
	if len(ms) != 1 {
		t.Fatalf("%d mails", len(ms))
	}
	m := ms[0]
	if m.ID != "new_sign_in:"+evs[0].ID || !slices.Equal(m.To, []string{"ada@example.com"}) || m.Kind != "new_sign_in" {
		t.Fatalf("mail %+v", m)
	}
	a := alertOf(t, m)
	if a.Lang != "fr" || a.IP != "192.0.2.1" || a.Browser != "Firefox sur Linux" && !strings.Contains(a.Browser, "Firefox") {
		t.Fatalf("alert %+v", a)
	}
	if n := f.obs.get("alert new_sign_in duplicate"); n != 1 {
		t.Errorf("duplicate alerts counted %d, want 1", n)
	}
}

// TestNewSignInTemporaryOrGone: no new-sign-in mail for an identity
// marked temporary (hera doctor's, read from Kratos's admin API as it
// answers), nor for one deleted by the time the hook is recorded; the
// sign-ins are still recorded.
func TestNewSignInTemporaryOrGone(t *testing.T) {
	f := newFixture(t, nil)
	var doctor kratos.Identity
	if err := json.Unmarshal([]byte(`{"id":"doc","metadata_admin":{"created_by":"hera doctor","temporary":true}}`), &doctor); err != nil {
		t.Fatal(err)
	}
	f.kratos.identities["doc"] = &doctor
	var odd kratos.Identity // free-form metadata of another shape: no marks, readable
	if err := json.Unmarshal([]byte(`{"id":"odd","metadata_admin":["temporary"]}`), &odd); err != nil || odd.Admin.Temporary {
		t.Fatalf("metadata_admin of another shape: %v, %+v", err, odd.Admin)
	}
	f.kratos.identities["odd"] = &odd
	for _, id := range []string{"doc", "gone", "odd"} {
		f.r.See(t.Context(), events.FlowKey("f-"+id), activity.Seen{Checked: true})
		f.r.Hook(parse(t, events.HookLogin, hookBody("f-"+id, id, "s-"+id, "password")))
		if evs := f.events(t, id); len(evs) != 1 || !evs[0].NewDevice {
			t.Fatalf("%s: events %+v", id, evs)
		}
	}
	ms := f.mails(t)
	if len(ms) != 1 || !strings.Contains(ms[0].ID, "f-odd") {
		t.Fatalf("mails %+v, want only the one to the account without marks", ms)
	}
}

// TestNewSignInOff: without a device-cookie secret, no new-sign-in mails.
func TestNewSignInOff(t *testing.T) {
	f := newFixture(t, func(c *events.Config) { c.NewSignInAlerts = false })
	f.r.See(t.Context(), events.FlowKey("f1"), activity.Seen{Checked: true})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password")))
	if evs := f.events(t, "id1"); len(evs) != 1 || !evs[0].NewDevice {
		t.Fatalf("events %+v", evs)
	}
	if ms := f.mails(t); len(ms) != 0 {
		t.Fatalf("mails %+v", ms)
	}
}

// TestFirstSignInSinceSignUp: the first sign-in of a new account is not
// new; the next one from a browser without the cookie is.
func TestFirstSignInSinceSignUp(t *testing.T) {
	f := newFixture(t, nil)
	f.r.See(t.Context(), events.FlowKey("reg"), activity.Seen{IP: "192.0.2.1", Lang: "es", Checked: true})
	f.r.Hook(parse(t, events.HookRegistration, hookBody("reg", "id1", "")))
	f.r.Wait()
	f.r.See(t.Context(), events.FlowKey("f1"), activity.Seen{Checked: true})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password")))
	f.r.Wait()
	f.r.See(t.Context(), events.FlowKey("f2"), activity.Seen{Checked: true})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f2", "id1", "s2", "password")))
	got := map[string]string{}
	for _, e := range f.events(t, "id1") {
		got[string(e.Kind)+" "+e.Session] = fmt.Sprint(e.NewDevice)
	}
	if want := map[string]string{"registered ": "false", "sign_in s1": "false", "sign_in s2": "true"}; !maps.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if ms := f.mails(t); len(ms) != 1 {
		t.Fatalf("%d mails, want the second sign-in's", len(ms))
	}
}

// TestUpgradeIsNotNew: a second factor completing a session the browser
// already holds is no new browser.
func TestUpgradeIsNotNew(t *testing.T) {
	f := newFixture(t, nil)
	f.r.See(t.Context(), events.FlowKey("f2"), activity.Seen{Checked: true})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f2", "id1", "s1", "password", "totp")))
	if evs := f.events(t, "id1"); len(evs) != 1 || evs[0].NewDevice || evs[0].Method != "totp" {
		t.Fatalf("events %+v", evs)
	}
}

// TestSessionSeenJoined: a sign-in that named no account (social, a
// passkey) waits for what the callback saw under the session's key.
func TestSessionSeenJoined(t *testing.T) {
	f := newFixture(t, func(c *events.Config) { c.Grace = 10 * time.Second })
	f.r.See(t.Context(), events.FlowKey("f1"), activity.Seen{IP: "192.0.2.1", Lang: "de"}) // the social start: unchecked
	start := time.Now()
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "oidc")))
	time.Sleep(100 * time.Millisecond) // the callback's answer comes after the hook
	f.r.See(t.Context(), events.SignInKey("id1"), activity.Seen{IP: "192.0.2.2", Device: "dev-9", Checked: true, Session: "s1", At: time.Now()})
	evs := f.events(t, "id1")
	if time.Since(start) > 5*time.Second {
		t.Errorf("the join waited %v: the local record should wake it", time.Since(start))
	}
	if len(evs) != 1 || evs[0].Device != "dev-9" || evs[0].NewDevice || evs[0].IP != "192.0.2.2" || evs[0].Lang != "de" {
		t.Fatalf("events %+v", evs)
	}
}

// TestGrace: with nothing seen, the event is written after the grace
// period, with what Kratos served, as a new browser.
func TestGrace(t *testing.T) {
	f := newFixture(t, nil)
	start := time.Now()
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password")))
	evs := f.events(t, "id1")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("written after %v, before the grace period", d)
	}
	if len(evs) != 1 || !evs[0].NewDevice || evs[0].IP != "198.51.100.7" || evs[0].UserAgent != "kratos-saw-this" {
		t.Fatalf("events %+v", evs)
	}
}

// TestCloseEndsWaits: shutting down writes a waiting sign-in at once.
func TestCloseEndsWaits(t *testing.T) {
	f := newFixture(t, func(c *events.Config) { c.Grace = time.Minute })
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password")))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f.r.Close(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if evs := f.events(t, "id1"); len(evs) != 1 {
		t.Fatalf("events %+v", evs)
	}
	f.r.Hook(parse(t, events.HookLogin, hookBody("f2", "id1", "s2", "password")))
	if n := f.obs.get("dropped closed"); n != 1 {
		t.Errorf("work after Close: dropped %d, want 1", n)
	}
}

// TestSettings: each settings method's event and alert.
func TestSettings(t *testing.T) {
	f := newFixture(t, nil)
	f.kratos.identities["id1"] = &kratos.Identity{ID: "id1", Credentials: map[string]kratos.Credential{"totp": {Identifiers: []string{"id1"}}}}
	see := func(flow, detail string) {
		f.r.See(t.Context(), events.FlowKey(flow), activity.Seen{IP: "192.0.2.1", UserAgent: firefox, Lang: "de", Checked: true, Detail: detail})
	}
	see("p", "")
	f.r.Hook(parse(t, "settings/password", hookBody("p", "id1", "")))
	see("t1", "removed")
	f.r.Hook(parse(t, "settings/totp", hookBody("t1", "id1", "")))
	f.r.Hook(parse(t, "settings/totp", hookBody("t2", "id1", ""))) // nothing seen: Kratos says TOTP is there
	see("w", "added")
	f.r.Hook(parse(t, "settings/webauthn", hookBody("w", "id1", "")))
	see("k", "")
	f.r.Hook(parse(t, "settings/passkey", hookBody("k", "id1", "")))
	see("l", "removed")
	f.r.Hook(parse(t, "settings/lookup_secret", hookBody("l", "id1", "")))
	got := map[string]string{}
	for _, e := range f.events(t, "id1") {
		got[string(e.Kind)+" "+e.Method] += e.Detail + ";"
	}
	want := map[string]string{"password_changed ": ";", "totp_changed ": "added;removed;", "passkey_changed webauthn": "added;",
		"passkey_changed passkey": "changed;", "backup_codes_changed ": "removed;"}
	for k, v := range want {
		d := strings.Split(got[k], ";")
		slices.Sort(d)
		if strings.Join(d, ";")+";" != ";"+v && got[k] != v {
			t.Errorf("%s: details %q, want %q", k, got[k], v)
		}
	}
	ms := f.mails(t)
	if len(ms) != 6 {
		t.Fatalf("%d mails, want 6", len(ms))
	}
	for _, m := range ms {
		// The change Hera did not see is in the default language.
		wantLang := "de"
		if strings.Contains(m.ID, ":hook:t2:") {
			wantLang = "en"
		}
		if !slices.Equal(m.To, []string{"ada@example.com"}) || m.Lang != wantLang || !strings.HasPrefix(m.ID, m.Kind+":hook:") {
			t.Errorf("mail %+v", m)
		}
	}
}

// TestAddressChange: a profile change that changes an address tells the
// old verified address too; one that does not is a profile change.
func TestAddressChange(t *testing.T) {
	f := newFixture(t, nil)
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password"))) // records the addresses
	f.r.Wait()
	f.mails(t)
	body := func(flow string, addrs ...map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"flow": map[string]any{"id": flow}, "identity": map[string]any{"id": "id1", "addresses": addrs}})
		return b
	}
	f.r.See(t.Context(), events.FlowKey("p1"), activity.Seen{Checked: true})
	f.r.Hook(parse(t, "settings/profile", body("p1",
		map[string]any{"value": "lovelace@example.com", "via": "email", "verified": false},
		map[string]any{"value": "+15550100", "via": "sms", "verified": true})))
	f.r.Wait()
	f.r.See(t.Context(), events.FlowKey("p2"), activity.Seen{Checked: true})
	f.r.Hook(parse(t, "settings/profile", body("p2",
		map[string]any{"value": "Lovelace@example.com", "via": "email", "verified": true},
		map[string]any{"value": "+15550100", "via": "sms", "verified": true})))
	byKind := map[activity.Kind]activity.Event{}
	for _, e := range f.events(t, "id1") {
		byKind[e.Kind] = e
	}
	ch, ok := byKind[activity.AddressChanged]
	if _, prof := byKind[activity.ProfileChanged]; !ok || !prof || len(byKind) != 3 {
		t.Fatalf("events %+v", byKind)
	}
	if !slices.Equal(ch.Old, []string{"ada@example.com", "ada@unverified.example", "+15550100"}) ||
		!slices.Equal(ch.New, []string{"lovelace@example.com", "+15550100"}) {
		t.Fatalf("old %q, new %q", ch.Old, ch.New)
	}
	ms := f.mails(t)
	if len(ms) != 1 || ms[0].Kind != "address_changed" || !slices.Equal(ms[0].To, []string{"ada@example.com"}) {
		t.Fatalf("mails %+v", ms)
	}
}

// TestFailures: a failed sign-in of an account is recorded with the
// client; one of an unknown identifier is not, and nothing of it is kept.
func TestFailures(t *testing.T) {
	f := newFixture(t, nil)
	f.kratos.byIDer["ada@example.com"] = "id1"
	c := events.Client{IP: "203.0.113.5", UserAgent: firefox, Lang: "en"}
	f.r.SignInFailed(events.Failure{Identifier: "ada@example.com", Method: "password", Client: c})
	f.r.SignInFailed(events.Failure{Identifier: "nobody@example.com", Method: "password", Client: c})
	f.r.SignInFailed(events.Failure{Identity: "id1", Method: "totp", Client: c})
	evs := f.events(t, "id1")
	if len(evs) != 2 || evs[0].Kind != activity.SignInFailed || evs[0].IP != c.IP {
		t.Fatalf("events %+v", evs)
	}
	if f.kratos.lookups != 2 {
		t.Errorf("%d lookups, want 2 (the second factor names its identity)", f.kratos.lookups)
	}
	if f.store.Len() != 2 {
		t.Errorf("%d events stored in all, want 2", f.store.Len())
	}
	f.kratos.unavailable = true
	f.r.SignInFailed(events.Failure{Identifier: "ada@example.com", Method: "password", Client: c})
	f.r.Wait()
	if n := f.obs.get("dropped kratos"); n != 1 {
		t.Errorf("dropped kratos %d, want 1", n)
	}
}

// TestLocked: a lock is recorded and mailed once per window, in the
// owner's language (not the stranger's), however many replicas saw it.
func TestLocked(t *testing.T) {
	f := newFixture(t, nil)
	f.kratos.byIDer["ada@example.com"] = "id1"
	f.kratos.identities["id1"] = &kratos.Identity{ID: "id1", VerifiableAddresses: []kratos.VerifiableAddress{{Value: "ada@example.com", Verified: true, Via: "email"}}}
	f.r.See(t.Context(), events.FlowKey("f1"), activity.Seen{Lang: "de", Device: "d", Checked: true})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password")))
	f.r.Wait()
	until := time.Now().Add(15 * time.Minute)
	for range 2 {
		f.r.Locked(events.Lock{Identifier: "ada@example.com", Until: until, Client: events.Client{IP: "203.0.113.5", Lang: "fr"}})
		f.r.Wait()
	}
	evs := f.events(t, "id1")
	if len(evs) != 2 || evs[0].Kind != activity.Locked || !evs[0].Until.Equal(until.Truncate(time.Second)) {
		t.Fatalf("events %+v", evs)
	}
	ms := f.mails(t)
	if len(ms) != 1 || ms[0].ID != fmt.Sprintf("locked:id1:%d", until.Unix()) || ms[0].Lang != "de" {
		t.Fatalf("mails %+v", ms)
	}
}

// TestAccountDeleted: the deletion is mailed to the addresses it had, and
// its events are forgotten.
func TestAccountDeleted(t *testing.T) {
	f := newFixture(t, nil)
	f.r.SessionsRevoked("id1", 2, events.Client{IP: "192.0.2.1"})
	f.r.AppAllowed("id1", "App", "app-1", []string{"openid"}, events.Client{})
	f.r.AppRemoved("id1", "App", "app-1", events.Client{})
	f.r.Exported("id1", events.Client{})
	if evs := f.events(t, "id1"); len(evs) != 4 {
		t.Fatalf("events %+v", evs)
	}
	f.r.AccountDeleted("id1", []events.HookAddress{{Value: "Ada@Example.com", Via: "email", Verified: true}, {Value: "x@example.com", Via: "email"}}, events.Client{})
	if evs := f.events(t, "id1"); len(evs) != 0 {
		t.Fatalf("events after deletion %+v", evs)
	}
	ms := f.mails(t)
	if len(ms) != 1 || ms[0].ID != "deleted:id1" || !slices.Equal(ms[0].To, []string{"ada@example.com"}) {
		t.Fatalf("mails %+v", ms)
	}
}

// TestBusy: beyond MaxPending, work is dropped and counted, never waited
// for.
func TestBusy(t *testing.T) {
	f := newFixture(t, func(c *events.Config) { c.MaxPending = 1; c.Grace = time.Minute })
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "password"))) // waits
	start := time.Now()
	f.r.SessionsRevoked("id1", 1, events.Client{})
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a full pool made the caller wait %v", d)
	}
	if n := f.obs.get("dropped busy"); n != 1 {
		t.Fatalf("dropped busy %d, want 1", n)
	}
}

// TestNoMailWithoutVerifiedAddress: such accounts see events only.
func TestNoMailWithoutVerifiedAddress(t *testing.T) {
	f := newFixture(t, nil)
	b, _ := json.Marshal(map[string]any{"flow": map[string]any{"id": "p"}, "identity": map[string]any{"id": "id2",
		"addresses": []map[string]any{{"value": "x@example.com", "via": "email", "verified": false}}}})
	f.r.Hook(parse(t, "settings/password", b))
	if evs := f.events(t, "id2"); len(evs) != 1 {
		t.Fatalf("events %+v", evs)
	}
	if ms := f.mails(t); len(ms) != 0 {
		t.Fatalf("mails %+v", ms)
	}
	if n := f.obs.get("alert password_changed no_recipient"); n != 1 {
		t.Errorf("no_recipient %d", n)
	}
}

// TestSignInRecordMatched: a sign-in record is joined only with its own
// sign-in: not an earlier one's (older than Kratos's completion), not
// another session's; Kratos's not-yet-stored session ID (all zeros) takes
// the record's.
func TestSignInRecordMatched(t *testing.T) {
	f := newFixture(t, nil)
	f.r.See(t.Context(), events.SignInKey("id1"), activity.Seen{Device: "old", Checked: true, Session: "s0", At: time.Now().Add(-time.Minute)})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f1", "id1", "s1", "passkey")))
	f.r.See(t.Context(), events.SignInKey("id2"), activity.Seen{Device: "other", Checked: true, Session: "s-other", At: time.Now()})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f2", "id2", "s2", "passkey")))
	for _, id := range []string{"id1", "id2"} {
		if evs := f.events(t, id); len(evs) != 1 || evs[0].Device != "" || !evs[0].NewDevice {
			t.Fatalf("%s joined with another sign-in's record: %+v", id, evs)
		}
	}
	f.r.See(t.Context(), events.SignInKey("id3"), activity.Seen{Device: "d3", Checked: true, Session: "s3", At: time.Now()})
	f.r.Hook(parse(t, events.HookLogin, hookBody("f3", "id3", "00000000-0000-0000-0000-000000000000", "oidc")))
	if evs := f.events(t, "id3"); len(evs) != 1 || evs[0].Device != "d3" || evs[0].Session != "s3" || evs[0].NewDevice {
		t.Fatalf("events %+v", evs)
	}
}
