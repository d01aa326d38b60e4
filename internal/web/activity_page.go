package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// handleActivity lists the signed-in account's events, newest first.
func handleActivity(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sess, err := s.Kratos.Whoami(ctx, s.browser(r))
		if s.needSignIn(w, r, err, "/activity") {
			return
		}
		now := s.now()
		events, err := s.Activity.List(ctx, sess.Identity.ID, now, s.ActivityPolicy, 0)
		t := s.translator(r)
		if err != nil {
			s.activityUnavailable(w, r, err, "/activity")
			return
		}
		entries, masked := s.activityEntries(events, s.reader(r, sess), t, now)
		v := view.ActivityView{Days: retentionDays(s.ActivityPolicy), Entries: entries, Masked: masked, Export: true}
		p := &view.Page{Title: t.T("hera.activity.title"), Lang: t.lang}
		s.render.page(w, r, http.StatusOK, p, view.Activity(p, &v))
	})
}

// activityUnavailable answers when the activity store cannot: the error is
// logged, the page says so in the reader's language.
func (s *server) activityUnavailable(w http.ResponseWriter, r *http.Request, err error, again string) {
	s.Logger.ErrorContext(r.Context(), "activity store", "op", "list", "err", err)
	t := s.translator(r)
	s.errorView(w, r, http.StatusServiceUnavailable, view.ErrorView{
		Title:   t.T("hera.activity.unavailable.title"),
		Message: t.T("hera.activity.unavailable.message"),
		Links:   []view.Link{{Text: t.T("hera.link.try_again"), Href: again}, {Text: t.T("hera.link.start_page"), Href: "/"}},
	})
}

// retentionDays is how many days of events are kept, for the page's intro.
func retentionDays(p activity.Policy) int {
	return max(1, int((p.Retention+12*time.Hour)/(24*time.Hour)))
}

// reader is who reads an account's activity: the session they read it
// with, and the IDs of the account's device cookies their browser holds.
type reader struct {
	session string
	devices []string
}

// reader names the browser reading sess's account: its session, and the
// device cookies it holds for any name the account signs in with (a
// device cookie is named after the identifier typed at the sign-in that
// issued it).
func (s *server) reader(r *http.Request, sess *kratos.Session) reader {
	rd := reader{session: sess.ID}
	if s.Devices == nil || sess.Identity == nil {
		return rd
	}
	st, _ := s.schemaOf(r.Context(), sess.Identity.SchemaID)
	cookies := r.Cookies()
	for _, name := range signInNames(st, sess.Identity.Traits) {
		// Both forms Kratos looks an identifier up by (a password's, a
		// code's): the cookie was issued for the one typed.
		for _, account := range []string{kratos.PasswordIdentifier(name), kratos.Address(name)} {
			if id, ok := s.Devices.Verify(account, cookies); ok && !slices.Contains(rd.devices, id) {
				rd.devices = append(rd.devices, id)
			}
		}
	}
	return rd
}

// signInNames are every value an identity may sign in with, as its schema
// says (identifiers, e-mail addresses, phone numbers), or its common
// traits when the schema is unknown.
func signInNames(st kratos.SchemaTraits, traits json.RawMessage) []string {
	var t map[string]any
	if json.Unmarshal(traits, &t) != nil {
		return nil
	}
	paths := slices.Concat(st.Identifiers, st.Emails, st.Phones)
	if len(paths) == 0 {
		paths = []string{"email", "username", "phone"}
	}
	var out []string
	for _, p := range paths {
		if v, ok := tracePath(t, p).(string); ok && v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// thisDevice reports whether e happened in the reader's browser: it
// carried a device cookie the browser still holds, or it belongs to the
// session the page is read with.
func (rd reader) thisDevice(e *activity.Event) bool {
	return e.Device != "" && slices.Contains(rd.devices, e.Device) || e.Session != "" && e.Session == rd.session
}

// fromStranger reports whether e was done by a stranger: a failed sign-in,
// or the lock failures led to, from a browser that held no device cookie
// of the account (cookies are issued only by a successful sign-in to it,
// and are verified against it) and is not the reader's. Everything else
// took the account's credentials or a session of it. Strangers' addresses
// are shortened and their failures grouped: they are other people's data,
// and a flood of them must not bury the account's own events.
func (rd reader) fromStranger(e *activity.Event) bool {
	switch e.Kind {
	case activity.SignInFailed, activity.Locked:
		return e.Device == "" && !rd.thisDevice(e)
	}
	return false
}

// maskIP shortens a stranger's address to its network: an IPv4 address to
// its /24 (the last octet masked), an IPv6 address to its /48 (the site,
// not the household's /64 or the device). "" for what is not an address.
func maskIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// showIP is an address as the page shows it: in its canonical form, or
// nothing for what is not an address.
func showIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.Unmap().WithZone("").String()
}

// maxGroupAddresses bounds the networks a group of failures lists.
const maxGroupAddresses = 5

// activityEntries turns events (newest first) into the page's lines. A run
// of strangers' failed sign-ins between two other events becomes one line
// ("12 failed sign-in attempts from 3 addresses"); the reader's own
// failures are listed one by one. masked reports whether any address was
// shortened.
func (s *server) activityEntries(events []activity.Event, rd reader, t translator, now time.Time) (entries []view.ActivityEntry, masked bool) {
	entries = make([]view.ActivityEntry, 0, len(events))
	for i := 0; i < len(events); i++ {
		e := &events[i]
		if e.Kind == activity.SignInFailed && rd.fromStranger(e) {
			j := i + 1
			for j < len(events) && events[j].Kind == activity.SignInFailed && rd.fromStranger(&events[j]) {
				j++
			}
			entries = append(entries, s.failureGroup(events[i:j], t, now))
			masked = true
			i = j - 1
			continue
		}
		en := s.activityEntry(e, t, now)
		switch {
		case rd.fromStranger(e):
			en.IP = maskIP(e.IP)
			masked = masked || en.IP != ""
		default:
			en.IP = showIP(e.IP)
			en.ThisDevice = rd.thisDevice(e)
		}
		entries = append(entries, en)
	}
	return entries, masked
}

// failureGroup is one line for strangers' failed sign-ins (newest first):
// how many, from how many addresses, which networks, between when.
func (s *server) failureGroup(run []activity.Event, t translator, now time.Time) view.ActivityEntry {
	var addrs, nets []string
	for _, e := range run {
		if a := showIP(e.IP); a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
			if n := maskIP(a); !slices.Contains(nets, n) {
				nets = append(nets, n)
			}
		}
	}
	text := t.T("hera.activity.event.failed_attempts", "count", len(run))
	if len(addrs) > 0 {
		text = t.T("hera.activity.event.failed_group", "attempts", text,
			"addresses", t.T("hera.activity.event.failed_addresses", "count", len(addrs)))
	}
	en := view.ActivityEntry{Text: text, Warning: true}
	s.setTimes(&en, run[0].At, t, now)
	if oldest := run[len(run)-1].At; !oldest.Equal(run[0].At) {
		en.From, en.FromText = oldest.UTC().Format(time.RFC3339), s.catalog.FormatTime(t.lang, oldest, "datetime")
	}
	if len(nets) > 0 {
		shown := nets[:min(len(nets), maxGroupAddresses)]
		list := strings.Join(shown, ", ")
		if len(nets) > len(shown) {
			list += ", …"
		}
		en.Details = []string{t.T("hera.activity.from_networks", "networks", list)}
	}
	return en
}

// setTimes fills in when an entry happened: absolute (UTC, in the page's
// language; Hera's script shows it in the browser's zone) and relative.
func (s *server) setTimes(en *view.ActivityEntry, at time.Time, t translator, now time.Time) {
	en.At = at.UTC().Format(time.RFC3339)
	en.AtText = s.catalog.FormatTime(t.lang, at, "datetime")
	en.Ago = ago(at, now, t)
}

// ago says how long before now at was: just now, minutes, hours or days.
func ago(at, now time.Time, t translator) string {
	d := now.Sub(at)
	switch {
	case d < time.Minute:
		return t.T("hera.time.just_now")
	case d < time.Hour:
		return t.T("hera.time.minutes_ago", "count", int(d/time.Minute))
	case d < 24*time.Hour:
		return t.T("hera.time.hours_ago", "count", int(d/time.Hour))
	}
	return t.T("hera.time.days_ago", "count", int(d/(24*time.Hour)))
}

// secondFactors are the methods that complete a sign-in as its second
// step.
var secondFactors = []string{"totp", "lookup_secret", "webauthn"}

// activityEntry is one event's line: what happened in a sentence, with its
// details, time and browser (the address is the caller's: it depends on
// who did it).
func (s *server) activityEntry(e *activity.Event, t translator, now time.Time) view.ActivityEntry {
	en := view.ActivityEntry{Device: deviceWords(e.UserAgent, t)}
	s.setTimes(&en, e.At, t, now)
	method := func() string { return methodText(e.Method, t) }
	key := "hera.activity.event."
	switch e.Kind {
	case activity.SignIn:
		switch {
		case e.Provider != "":
			en.Text = t.T(key+"sign_in_provider", "provider", e.Provider)
		case e.Method == "":
			en.Text = t.T(key + "sign_in_any")
		case e.AAL == "aal2" && slices.Contains(secondFactors, e.Method):
			en.Text = t.T(key+"second_factor", "method", method())
		default:
			en.Text = t.T(key+"sign_in", "method", method())
		}
		en.NewDevice = e.NewDevice
	case activity.SignInFailed:
		en.Warning = true
		if e.Method != "" {
			en.Text = t.T(key+"sign_in_failed", "method", method())
		} else {
			en.Text = t.T(key + "sign_in_failed_any")
		}
	case activity.Locked:
		en.Warning = true
		if e.Until.IsZero() {
			en.Text = t.T(key + "locked_any")
		} else {
			en.Text = t.T(key+"locked", "until", s.catalog.FormatTime(t.lang, e.Until, "datetime"))
		}
	case activity.TOTPChanged:
		en.Text = t.T(key + "totp." + detailOr(e.Detail, "added", "removed"))
	case activity.PasskeyChanged:
		what := "passkey"
		if e.Method == "webauthn" {
			what = "security_key"
		}
		en.Text = t.T(key + what + "." + detailOr(e.Detail, "changed", "added", "removed"))
	case activity.BackupCodesChanged:
		en.Text = t.T(key + "backup_codes." + detailOr(e.Detail, "created", "removed"))
	case activity.AddressChanged:
		en.Text = t.T(key + "address_changed")
		if len(e.Old) > 0 {
			en.Details = append(en.Details, t.T("hera.activity.before", "addresses", strings.Join(e.Old, ", ")))
		}
		if len(e.New) > 0 {
			en.Details = append(en.Details, t.T("hera.activity.after", "addresses", strings.Join(e.New, ", ")))
		}
	case activity.SessionsRevoked:
		en.Text = t.T(key+"sessions_revoked", "count", max(e.Count, 1))
	case activity.AppAllowed:
		en.Text = t.T(key+"app_allowed", "client", cmp.Or(e.Client, e.ClientID))
		if len(e.Scopes) > 0 {
			words := make([]string, 0, len(e.Scopes))
			for _, sc := range e.Scopes {
				words = append(words, scopeText(sc, t))
			}
			en.Details = []string{t.T("hera.activity.scopes", "scopes", strings.Join(words, ", "))}
		}
	case activity.AppRemoved:
		en.Text = t.T(key+"app_removed", "client", cmp.Or(e.Client, e.ClientID))
	case activity.Registered, activity.PasswordChanged, activity.ProfileChanged, activity.Recovered, activity.Exported:
		en.Text = t.T(key + string(e.Kind))
	default:
		// A kind this Hera does not know (a newer replica wrote it).
		en.Text = t.T(key + "other")
	}
	return en
}

// detailOr is d if it is one of the known details, else the first.
func detailOr(d string, known ...string) string {
	if slices.Contains(known, d) {
		return d
	}
	return known[0]
}
