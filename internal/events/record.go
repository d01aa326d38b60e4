package events

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/mail"
)

// Hook records what a Kratos web hook tells, in the background: Kratos
// does not wait for Hera (response.ignore), and neither does the handler.
func (r *Recorder) Hook(h *Hook) {
	r.spawn("hook "+h.Kind, func(ctx context.Context) { r.hook(ctx, h) })
}

func (r *Recorder) hook(ctx context.Context, h *Hook) {
	switch h.Kind {
	case HookLogin:
		r.signIn(ctx, h)
	case HookRegistration, HookRecovery:
		seen, ok := r.join(ctx, h)
		kind := activity.Registered
		if h.Kind == HookRecovery {
			kind = activity.Recovered
		}
		e := r.hookEvent(h, kind, seen, ok)
		e.Method = cmp.Or(h.Flow.Active, seen.Method)
		r.addresses(ctx, h)
		r.add(ctx, e)
	case HookVerification:
		// An address was verified: only the record of addresses changes
		// (which of them an address-change alert may go to).
		r.addresses(ctx, h)
	default:
		r.settings(ctx, h)
	}
}

// hookEvent is the event of kind a hook writes, with the client Hera saw
// (or, without it, the one Kratos served).
func (r *Recorder) hookEvent(h *Hook, kind activity.Kind, seen activity.Seen, ok bool) activity.Event {
	e := activity.Event{ID: h.eventID(string(kind)), Identity: h.Identity.ID, Kind: kind, At: r.now()}
	if ok {
		e.IP, e.UserAgent, e.Lang, e.Device = seen.IP, seen.UserAgent, seen.Lang, seen.Device
	}
	if e.IP == "" {
		e.IP = h.Client.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = h.Client.UserAgent
	}
	return e
}

// signIn records a successful sign-in. A browser is new when it carried no
// valid device cookie for the account — unless the sign-in only upgraded
// or refreshed a session the browser already had (a second factor,
// re-authentication), or it is the account's first sign-in since it was
// made (from the browser that made it, as a rule).
func (r *Recorder) signIn(ctx context.Context, h *Hook) {
	seen, ok := r.join(ctx, h)
	e := r.hookEvent(h, activity.SignIn, seen, ok)
	ms := h.Session.Methods
	last := ms[len(ms)-1]
	e.Method, e.Provider, e.AAL, e.Session = last.Method, last.Provider, h.Session.AAL, cmp.Or(h.sessionID(), seen.Session)
	if !last.CompletedAt.IsZero() {
		e.At = last.CompletedAt
	}
	e.NewDevice = len(ms) == 1 && e.Device == ""
	if e.NewDevice && r.firstSinceSignUp(ctx, e) {
		e.NewDevice = false
	}
	r.addresses(ctx, h)
	if r.add(ctx, e) && e.NewDevice && r.cfg.NewSignInAlerts && r.alertable(ctx, e.Identity) {
		r.alert(ctx, e, mail.NewSignIn, verifiedEmails(h.Identity.Addresses), nil)
	}
}

// alertable reports whether a new sign-in to identity is worth a mail: not
// when the account is gone by now, nor when it is marked temporary
// (metadata_admin.temporary) — hera doctor's identity, made with verified
// made-up addresses, signs in once from a browser Hera never saw and is
// deleted. A Kratos that does not answer does not stop the mail.
func (r *Recorder) alertable(ctx context.Context, identity string) bool {
	if r.cfg.Kratos == nil || r.cfg.Queue == nil || r.cfg.Alerts == nil {
		return true
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	id, err := r.cfg.Kratos.GetIdentity(octx, identity)
	var ae *kratos.APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return false
	case err != nil:
		r.log.Warn("activity: cannot read a signed-in identity; mailing the new sign-in anyway", "err", err)
		return true
	}
	return !id.Admin.Temporary
}

// firstSinceSignUp reports whether e is the account's first sign-in since
// it was made: its events hold a sign-up and no other sign-in.
func (r *Recorder) firstSinceSignUp(ctx context.Context, e activity.Event) bool {
	evs, ok := r.list(ctx, e.Identity)
	if !ok {
		return false
	}
	registered := false
	for _, o := range evs {
		switch {
		case o.Kind == activity.SignIn && o.ID != e.ID:
			return false
		case o.Kind == activity.Registered:
			registered = true
		}
	}
	return registered
}

func (r *Recorder) list(ctx context.Context, identity string) ([]activity.Event, bool) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	evs, err := r.store.List(octx, identity, r.now(), r.cfg.Policy, 0)
	if err != nil {
		r.log.Error("activity: cannot read an account's events", "err", err)
		return nil, false
	}
	return evs, true
}

// settings records a settings change, by the method whose hook it is.
func (r *Recorder) settings(ctx context.Context, h *Hook) {
	seen, ok := r.join(ctx, h)
	method := h.Method()
	var e activity.Event
	var alert mail.Kind
	var extra []string
	switch method {
	case "password":
		e, alert = r.hookEvent(h, activity.PasswordChanged, seen, ok), mail.PasswordChanged
		r.addresses(ctx, h)
	case "totp":
		e, alert = r.hookEvent(h, activity.TOTPChanged, seen, ok), mail.TOTPChanged
		e.Detail = r.detail(ctx, h, seen.Detail, "totp", "added", "removed")
		r.addresses(ctx, h)
	case "lookup_secret":
		e, alert = r.hookEvent(h, activity.BackupCodesChanged, seen, ok), mail.BackupCodesChanged
		e.Detail = r.detail(ctx, h, seen.Detail, "lookup_secret", "created", "removed")
		r.addresses(ctx, h)
	case "webauthn", "passkey":
		e, alert = r.hookEvent(h, activity.PasskeyChanged, seen, ok), mail.PasskeyChanged
		e.Method, e.Detail = method, seen.Detail
		if e.Detail != "added" && e.Detail != "removed" {
			e.Detail = "changed"
		}
		r.addresses(ctx, h)
	default: // profile
		prev, known := r.addresses(ctx, h)
		now := fromHook(h.Identity.Addresses)
		if known && prev != nil && !sameAddresses(prev, now) {
			e, alert = r.hookEvent(h, activity.AddressChanged, seen, ok), mail.AddressChanged
			e.Old, e.New = values(prev), values(now)
			// The old addresses hear of it too: they may be the owner's
			// last way to learn that someone else took the account.
			extra = verifiedEmails(prev)
		} else {
			e = r.hookEvent(h, activity.ProfileChanged, seen, ok)
		}
	}
	if r.add(ctx, e) && alert != "" {
		r.alert(ctx, e, alert, verifiedEmails(h.Identity.Addresses), extra)
	}
}

// detail is what a second-factor change did: what the submission asked
// (Hera saw it), or else what the identity holds now, which Kratos's admin
// API tells: present means made, absent removed.
func (r *Recorder) detail(ctx context.Context, h *Hook, asked, credential, made, removed string) string {
	switch asked {
	case made, removed:
		return asked
	case "added", "created":
		return made
	}
	if r.cfg.Kratos == nil {
		return made
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	id, err := r.cfg.Kratos.GetIdentity(octx, h.Identity.ID)
	if err != nil {
		r.log.Warn("activity: cannot read the identity's credentials", "err", err)
		return made
	}
	if c, ok := id.Credentials[credential]; ok && len(c.Identifiers) > 0 {
		return made
	}
	return removed
}

// addresses records the hook identity's addresses as last seen and
// returns the previous record (nil: none); known is false when the store
// failed.
func (r *Recorder) addresses(ctx context.Context, h *Hook) (prev []address, known bool) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	old, err := r.store.SetAddresses(octx, h.Identity.ID, encodeAddresses(fromHook(h.Identity.Addresses)), r.now(), r.cfg.Policy)
	if err != nil {
		r.obs.EventDropped("store")
		r.log.Error("activity: addresses not recorded", "err", err)
		return nil, false
	}
	if old == nil {
		return nil, true
	}
	return decodeAddresses(old), true
}

// Failure is a sign-in Kratos refused, as the guard settled it.
type Failure struct {
	// Identifier is the account a first factor named, in the form Kratos
	// looks it up by; "" for a second factor.
	Identifier string
	// Identity is the identity a second factor was judged against; "" for
	// a first factor (then resolved from Identifier in the background).
	Identity string
	Method   string
	Client   Client
}

// SignInFailed records a failed sign-in in the background. A first
// factor's identifier is resolved to its identity through Kratos's admin
// API; one that names no account is dropped, never stored.
func (r *Recorder) SignInFailed(f Failure) {
	at := r.now()
	r.spawn("sign-in failure", func(ctx context.Context) {
		id := r.identity(ctx, f.Identity, f.Identifier)
		if id == "" {
			return
		}
		e := clientEvent(newID("failed"), id, activity.SignInFailed, at, f.Client)
		e.Method = f.Method
		r.add(ctx, e)
	})
}

// Lock is a lock the guard saw engage on an account.
type Lock struct {
	Identifier string // as in Failure
	Identity   string
	Until      time.Time
	Client     Client // the attempt that engaged it
}

// Locked records that failed sign-ins locked an account, and mails its
// owner once per lock window (the event and the mail are keyed by the
// lock's end, so replicas that saw the same lock record it once).
func (r *Recorder) Locked(l Lock) {
	at := r.now()
	r.spawn("lock", func(ctx context.Context) {
		id := r.identity(ctx, l.Identity, l.Identifier)
		if id == "" {
			return
		}
		until := l.Until.Truncate(time.Second)
		e := clientEvent("locked:"+id+":"+unix(until), id, activity.Locked, at, l.Client)
		e.Until = until
		if !r.add(ctx, e) || r.cfg.Kratos == nil {
			return
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		ident, err := r.cfg.Kratos.GetIdentity(octx, id)
		if err != nil {
			r.obs.Alert(string(mail.Locked), "unavailable")
			r.log.Error("activity: cannot read the addresses of a locked account", "err", err)
			return
		}
		// The attempts were a stranger's, in a stranger's language: the
		// owner's is taken from their own sign-ins.
		e.Lang = ""
		r.alertTo(ctx, e, mail.Locked, "locked:"+id+":"+unix(until), verifiedEmails(identityAddresses(ident)))
	})
}

// identity returns the identity an action names: given, or resolved from
// a sign-in identifier ("" when no single account has it).
func (r *Recorder) identity(ctx context.Context, identity, identifier string) string {
	if identity != "" || identifier == "" || r.cfg.Kratos == nil {
		return identity
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	id, err := r.cfg.Kratos.IdentityByIdentifier(octx, identifier)
	if err != nil {
		// Never the identifier in the log: it may be a stranger's typo.
		r.obs.EventDropped("kratos")
		r.log.Error("activity: cannot resolve a sign-in identifier", "err", err)
		return ""
	}
	return id
}

// SessionsRevoked records that the owner signed out count sessions.
func (r *Recorder) SessionsRevoked(identity string, count int, c Client) {
	r.action(identity, activity.SessionsRevoked, c, func(e *activity.Event) { e.Count = count })
}

// AppAllowed records that the owner let an OAuth2 client in (a fresh
// consent, not a remembered one).
func (r *Recorder) AppAllowed(identity, client, clientID string, scopes []string, c Client) {
	r.action(identity, activity.AppAllowed, c, func(e *activity.Event) {
		e.Client, e.ClientID, e.Scopes = client, clientID, slices.Clone(scopes)
	})
}

// AppRemoved records that the owner removed a client's access.
func (r *Recorder) AppRemoved(identity, client, clientID string, c Client) {
	r.action(identity, activity.AppRemoved, c, func(e *activity.Event) { e.Client, e.ClientID = client, clientID })
}

// Exported records that the owner downloaded their data (the export page
// calls it once the download was served).
func (r *Recorder) Exported(identity string, c Client) {
	r.action(identity, activity.Exported, c, nil)
}

// action records one of Hera's own account actions in the background.
func (r *Recorder) action(identity string, kind activity.Kind, c Client, fill func(*activity.Event)) {
	if identity == "" {
		return
	}
	e := clientEvent(newID(string(kind)), identity, kind, r.now(), c)
	if fill != nil {
		fill(&e)
	}
	r.spawn(string(kind), func(ctx context.Context) { r.add(ctx, e) })
}

// AccountDeleted mails the deletion to the addresses the account had
// (read before it was deleted) and forgets its events, in the background.
func (r *Recorder) AccountDeleted(identity string, addresses []HookAddress, c Client) {
	if identity == "" {
		return
	}
	at := r.now()
	r.spawn("account deleted", func(ctx context.Context) {
		e := clientEvent("deleted:"+identity, identity, "", at, c)
		// The language comes from the events, so before they go.
		r.alertTo(ctx, e, mail.AccountDeleted, "deleted:"+identity, verifiedEmails(fromHook(addresses)))
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		if err := r.store.Forget(octx, identity); err != nil {
			r.obs.EventDropped("store")
			r.log.Error("activity: a deleted account's events were not forgotten", "err", err)
		}
	})
}

func clientEvent(id, identity string, kind activity.Kind, at time.Time, c Client) activity.Event {
	return activity.Event{ID: id, Identity: identity, Kind: kind, At: at, IP: c.IP, UserAgent: c.UserAgent,
		Lang: c.Lang, Device: c.Device, Session: c.Session}
}

// newID is a random event ID with a prefix.
func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + ":" + base64.RawURLEncoding.EncodeToString(b)
}

// unix is t's Unix seconds, as the lock's mail deduplication key names it.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
