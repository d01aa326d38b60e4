// Package guard is what stands between a client and Kratos on every
// self-service submission: before Kratos sees it, the captcha, a reserved
// slot on every failure counter the attempt could add to, and a use of the
// send quota of every address Kratos could mail because of it; after
// Kratos answered, the slot is settled as a failure, a success or nothing.
//
// What an attempt names is decided by package attempt, which mirrors
// Kratos's decoders; the guard keys on that:
//
//   - a first-factor sign-in (password, sign-in code) counts against the
//     account it names, in the form Kratos's method looks it up by, or,
//     when the browser holds a valid device cookie for that account,
//     against that cookie's own counter;
//   - a second factor (TOTP, backup code, second-factor code) counts
//     against the identity of the session it arrives on, whichever session
//     that is: sessions Hera saw Kratos create are linked to their identity;
//   - every guess also counts against the client IP (not when a device
//     cookie vouches for the browser: a shared IP cannot lock an owner out);
//   - recovery, verification and registration codes count against the IP
//     but are not refused by its lock (recovery stays open); per address
//     they are bounded by the send quota (each code Kratos sends is counted
//     against its address, per purpose) and Kratos's five attempts per code.
//
// Where a flow always asks for a captcha, the captcha is checked before any
// slot is reserved, so a bot's invalid tokens never hold an account's slots
// while the captcha provider answers; a failed captcha counts against the
// client IP, and an IP locked that way is refused before the provider is
// asked again. Where the captcha is an escalation (the account's count
// asks for it), the slot is reserved first, since the count decides.
package guard

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/device"
	"github.com/heraproject/hera/internal/events"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
)

// Attempt is one submission on its way to Kratos.
type Attempt struct {
	*attempt.Attempt
	// API: the flow is an API flow (a native app's), which cannot show a
	// captcha widget.
	API      bool
	ClientIP string // after trusted-proxy handling
	// Session is the session handle Kratos will read (kratos.SessionHandle);
	// "" if none. Never log it.
	Session string
	// Cookies are the client's cookies as net/http parses them.
	Cookies []*http.Cookie
	// UserAgent and Lang (the page's language) go with the account's
	// events: a failed sign-in, a lock.
	UserAgent string
	Lang      string
}

// Refusal is a "no": the submission does not reach Kratos.
type Refusal struct {
	// Notice is the code of the message shown: captcha, unavailable, busy,
	// locked-<minutes> or codes-<minutes>.
	Notice string
	// Status is the HTTP status API clients get.
	Status int
	// RetryAfter, when set, is sent as Retry-After.
	RetryAfter time.Duration
	// Reason is for the log.
	Reason string
}

// Answer is what Kratos answered, as Settle reads it.
type Answer struct {
	Outcome    *kratos.Outcome
	SetCookies []string
}

// Ticket is an admitted attempt; Settle it exactly once.
type Ticket struct {
	a    *Attempt
	res  *lockout.Reservation
	keys []lockout.Key
	// countIP: a failure counts on this IP key, which was not reserved
	// (device-cookie attempts; recovery, verification and registration
	// codes, which an IP's lock must not block).
	countIP lockout.Key
	// device is the ID of the browser's valid device cookie for the
	// account ("" if none).
	device      string
	subject     string // second factor: the identity (or session) counted
	captchaDone bool
	settled     bool
}

// identities is what the guard needs of Kratos's admin API to learn whose
// session a second factor arrives on.
type identities interface {
	SessionIdentity(ctx context.Context, sessionID string) (string, error)
	IdentityByIdentifier(ctx context.Context, identifier string) (string, error)
}

// recorder is what the guard tells the account's events (package events):
// failed sign-ins and locks, which Kratos sends no hook for. Both return at
// once; the work is done in the background.
type recorder interface {
	SignInFailed(f events.Failure)
	Locked(l events.Lock)
}

// Config configures New.
type Config struct {
	Logger *slog.Logger
	// Captcha is nil when no provider is configured.
	Captcha *captcha.Verifier
	// CaptchaFlows need a captcha on every submission; other flows need one
	// only once the lockout escalates (Decision.CaptchaRequired).
	CaptchaFlows []kratos.Kind
	// CaptchaExemptAPI spares API flows (native apps) the captcha: they are
	// then held by the account, identity and IP limits alone. By default
	// they need a token too, obtained by the app itself: otherwise a bot
	// would simply use the API flows.
	CaptchaExemptAPI bool
	// Limiter holds the counters, quotas and session links.
	Limiter *lockout.Limiter
	// Devices issues and checks device cookies; nil switches them off.
	Devices *device.Cookies
	// Identities resolves whose session Kratos created; nil falls back to
	// counting second factors on the account the first factor named.
	Identities identities
	// SessionCookie is Kratos's session cookie name.
	SessionCookie string
	// Observer, if set, counts decisions (metrics).
	Observer interface{ Decision(flow, outcome string) }
	// Events, if set, records failed sign-ins and locks on accounts.
	Events recorder
}

// Guard runs the checks.
type Guard struct {
	log        *slog.Logger
	captcha    *captcha.Verifier
	flows      []kratos.Kind
	exemptAPI  bool
	limiter    *lockout.Limiter
	devices    *device.Cookies
	identities identities
	sessionCk  string
	observer   interface{ Decision(flow, outcome string) }
	events     recorder
}

// New returns a guard.
func New(c Config) (*Guard, error) {
	if c.Logger == nil || c.Limiter == nil {
		return nil, errors.New("guard: logger and limiter are required")
	}
	g := &Guard{log: c.Logger, captcha: c.Captcha, flows: c.CaptchaFlows, exemptAPI: c.CaptchaExemptAPI, limiter: c.Limiter,
		devices: c.Devices, identities: c.Identities, sessionCk: c.SessionCookie, observer: c.Observer,
		events: c.Events}
	if g.sessionCk == "" {
		g.sessionCk = kratos.DefaultSessionCookie
	}
	return g, nil
}

// CaptchaOn reports whether flow's pages show the captcha widget from the
// start.
func (g *Guard) CaptchaOn(flow kratos.Kind) bool {
	return g.captcha != nil && slices.Contains(g.flows, flow)
}

// Admit runs every check that comes before Kratos. A nil Refusal comes with
// a Ticket to Settle.
func (g *Guard) Admit(ctx context.Context, a *Attempt) (*Ticket, *Refusal) {
	t := &Ticket{a: a}
	ip := g.limiter.IPKey(a.ClientIP)
	if a.Account != "" && !a.SecondFactor && g.devices != nil {
		t.device, _ = g.devices.Verify(a.Account, a.Cookies)
	}
	if g.captchaApplies(a) && slices.Contains(g.flows, a.Kind) {
		// Every submission of the flow, a sign-up's steps included. Captcha
		// first: nothing is reserved while the provider answers.
		if ref := g.gateIP(ctx, t, ip); ref != nil {
			return nil, ref
		}
		if ref := g.checkCaptcha(ctx, t, ip); ref != nil {
			return nil, ref
		}
	}
	if a.Secret == attempt.NoSecret && len(a.Sends) == 0 && !a.SendsToSession {
		return t, nil
	}
	if a.Secret != attempt.NoSecret {
		t.keys = g.keys(ctx, t, ip)
		if len(t.keys) > 0 {
			res, d, err := g.limiter.Reserve(ctx, t.keys...)
			if err != nil {
				g.failed(ctx, "lockout store", err, "op", "reserve", "fail_open", !d.Locked)
			}
			if ref := g.refusal(ctx, t, d); ref != nil {
				return nil, ref
			}
			t.res = res
			if d.CaptchaRequired && !t.captchaDone && g.captchaApplies(a) {
				// The escalation: the count asked for the captcha.
				if ref := g.checkCaptcha(ctx, t, ip); ref != nil {
					g.release(ctx, t)
					return nil, ref
				}
			}
		}
	}
	if ref := g.takeSends(ctx, t); ref != nil {
		g.release(ctx, t)
		return nil, ref
	}
	g.decision(ctx, t, "allowed")
	return t, nil
}

// captchaApplies reports whether a captcha can be asked of this attempt at
// all. Second factors and security keys never need one: their pages have
// no widget and the lockout bounds them. API flows need one unless the
// operator exempted them.
func (g *Guard) captchaApplies(a *Attempt) bool {
	switch {
	case g.captcha == nil, a.SecondFactor, a.Kind == kratos.Login && a.Method == "webauthn":
		return false
	case a.API && g.exemptAPI:
		return false
	}
	return true
}

// gateIP refuses, before the captcha provider is asked, a client IP that is
// locked: failed captchas count on it, so a bot's calls to the provider are
// bounded by the IP rule. A browser with the account's device cookie is
// not held by its IP.
func (g *Guard) gateIP(ctx context.Context, t *Ticket, ip lockout.Key) *Refusal {
	if t.device != "" {
		return nil
	}
	d, err := g.limiter.Check(ctx, ip)
	if err != nil {
		g.failed(ctx, "lockout store", err, "op", "check", "fail_open", !d.Locked)
	}
	return g.refusal(ctx, t, d)
}

// keys returns the counters an attempt with a secret is reserved on.
func (g *Guard) keys(ctx context.Context, t *Ticket, ip lockout.Key) []lockout.Key {
	a := t.a
	switch {
	case a.SecondFactor:
		t.subject = g.subject(ctx, a.Session)
		keys := []lockout.Key{ip}
		if t.subject != "" {
			keys = append(keys, g.limiter.IdentityKey(t.subject))
		}
		return keys
	case a.Account != "":
		if t.device != "" {
			// The owner's browser: its own counter, and no IP gate.
			t.countIP = ip
			return []lockout.Key{g.limiter.DeviceKey(t.device)}
		}
		return []lockout.Key{ip, g.limiter.IdentifierKey(a.Account)}
	}
	// Codes of recovery, verification and registration: Kratos allows five
	// attempts per code (checked atomically in its database) and every code
	// was counted against its address when it was sent. Their failures
	// count on the IP, but a locked IP does not block them: recovery must
	// stay open to an owner behind an attacked address.
	t.countIP = ip
	return nil
}

// subject returns whom a second factor on session handle is counted
// against: the identity Hera linked the session to when Kratos created it,
// or, for a session Hera never saw created, the session itself.
func (g *Guard) subject(ctx context.Context, handle string) string {
	if handle == "" {
		return "" // Kratos finds no session and judges nothing
	}
	s, err := g.limiter.Resolve(ctx, handle)
	if err != nil {
		g.failed(ctx, "lockout store", err, "op", "resolve")
	}
	if s != "" {
		return s
	}
	return SessionSubject(handle)
}

// IdentitySubject is whom second factors on a session of identity id count
// against.
func IdentitySubject(id string) string { return "identity:" + id }

// SessionSubject is whom second factors on a session Hera cannot attribute
// to an identity count against: the session itself (its handle's digest).
func SessionSubject(handle string) string {
	sum := sha256.Sum256([]byte(handle))
	return "session:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// storeRetry is the Retry-After of a refusal because the lockout store did
// not answer.
const storeRetry = 5 * time.Second

func (g *Guard) refusal(ctx context.Context, t *Ticket, d lockout.Decision) *Refusal {
	switch {
	case d.Locked && d.Unavailable:
		g.decision(ctx, t, "store_unavailable")
		return &Refusal{Notice: "unavailable", Status: http.StatusServiceUnavailable, RetryAfter: storeRetry, Reason: "lockout store unavailable"}
	case d.Locked:
		g.decision(ctx, t, "locked")
		return &Refusal{Notice: fmt.Sprintf("locked-%d", minutes(d.RetryAfter)), Status: http.StatusTooManyRequests,
			RetryAfter: d.RetryAfter, Reason: "locked"}
	case d.Busy:
		// As many attempts in flight as failures remain: the next one
		// waits for them to be judged.
		g.decision(ctx, t, "busy")
		return &Refusal{Notice: "busy", Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Reason: "attempts in flight"}
	}
	return nil
}

// checkCaptcha verifies the captcha. A token the provider refuses counts
// as a failure of the client IP; a provider that does not answer does not.
func (g *Guard) checkCaptcha(ctx context.Context, t *Ticket, ip lockout.Key) *Refusal {
	a := t.a
	if _, err := g.captcha.Verify(ctx, a.Fields, a.ClientIP); err != nil {
		if errors.Is(err, captcha.ErrUnavailable) {
			g.failed(ctx, "captcha provider unavailable", err)
			g.decision(ctx, t, "captcha_unavailable")
			return &Refusal{Notice: "unavailable", Status: http.StatusServiceUnavailable, RetryAfter: storeRetry,
				Reason: "captcha provider: " + string(captcha.ReasonOf(err))}
		}
		if _, err := g.limiter.Fail(context.WithoutCancel(ctx), ip); err != nil {
			g.log.ErrorContext(ctx, "lockout store", "op", "fail", "err", err)
		}
		g.decision(ctx, t, "captcha_failed")
		return &Refusal{Notice: "captcha", Status: http.StatusForbidden, Reason: "captcha: " + string(captcha.ReasonOf(err))}
	}
	t.captchaDone = true
	return nil
}

// purposes names the send quota of each flow's codes.
var purposes = map[kratos.Kind]lockout.Purpose{
	kratos.Login:        lockout.PurposeLogin,
	kratos.Registration: lockout.PurposeRegistration,
	kratos.Recovery:     lockout.PurposeRecovery,
	kratos.Verification: lockout.PurposeVerification,
	kratos.Settings:     lockout.PurposeSettings,
}

// takeSends uses the send quota of every address Kratos may send a code to
// because of this attempt, and of the client IP.
func (g *Guard) takeSends(ctx context.Context, t *Ticket) *Refusal {
	a := t.a
	if len(a.Sends) == 0 && !a.SendsToSession {
		return nil
	}
	recipients := a.Sends
	if a.SendsToSession {
		// A second-factor code to every address of the session's identity.
		if t.subject == "" {
			t.subject = g.subject(ctx, a.Session)
		}
		if t.subject != "" {
			recipients = append(slices.Clone(recipients), "identity-addresses:"+t.subject)
		}
	}
	q, err := g.limiter.TakeSend(ctx, purposes[a.Kind], a.ClientIP, recipients...)
	if err != nil {
		g.failed(ctx, "lockout store", err, "op", "take_send", "fail_open", q.OK)
	}
	if q.OK {
		return nil
	}
	if err != nil {
		g.decision(ctx, t, "store_unavailable")
		return &Refusal{Notice: "unavailable", Status: http.StatusServiceUnavailable, RetryAfter: storeRetry, Reason: "lockout store unavailable"}
	}
	wait := time.Until(q.RetryAt)
	g.decision(ctx, t, "send_limited")
	return &Refusal{Notice: fmt.Sprintf("codes-%d", minutes(wait)), Status: http.StatusTooManyRequests, RetryAfter: wait, Reason: "send quota"}
}

// release settles an admitted attempt that never reached Kratos.
func (g *Guard) release(ctx context.Context, t *Ticket) {
	if t == nil || t.res == nil || t.settled {
		return
	}
	t.settled = true
	if _, err := g.limiter.Settle(ctx, t.res, lockout.Neutral); err != nil {
		g.log.ErrorContext(ctx, "lockout store", "op", "release", "err", err)
	}
}

// Release settles an admitted attempt Kratos gave no verdict on. judged
// says whether Kratos may have judged it all the same (the request reached
// Kratos, which then timed out or failed): it then counts as a failed
// attempt, for an attacker must not be able to make guesses uncounted by
// slowing Kratos down. An attempt that never reached Kratos (it could not
// be connected to) counts nothing.
func (g *Guard) Release(ctx context.Context, t *Ticket, judged bool) {
	if !judged {
		g.release(ctx, t)
		return
	}
	g.Settle(ctx, t, Answer{})
}

// Settle records Kratos's answer: a credential failure counts on every key
// the attempt reserved; a sign-in that succeeded resets the account (or
// device) and identity counters, links the session Kratos created to its
// identity and hands the browser a device cookie. An empty Answer (no
// outcome) is an attempt Kratos may have judged without answering: it
// counts as a failure. It returns the cookies to set and, when the verdict
// could not be recorded because the lockout store failed (and the store
// fails closed), a Refusal to answer instead of Kratos's answer: a guess
// must not be answered unless it was counted.
func (g *Guard) Settle(ctx context.Context, t *Ticket, ans Answer) ([]*http.Cookie, *Refusal) {
	if t == nil || t.settled {
		return nil, nil
	}
	t.settled = true
	a, o := t.a, ans.Outcome
	outcome := lockout.Neutral
	issued := kratos.IssuedSession(ans.SetCookies, g.sessionCk, o)
	switch {
	case o == nil:
		if a.Secret != attempt.NoSecret {
			outcome = lockout.Failure
		}
	case o.CredentialFailure():
		outcome = lockout.Failure
	case a.Kind == kratos.Login && a.Secret != attempt.NoSecret && (o.Kind == kratos.OutcomeSuccess || issued != ""):
		// A first factor succeeded when Kratos issued a session, even one
		// that still needs a second factor (its answer is a redirect).
		outcome = lockout.Success
	}
	var unrecorded bool
	if t.res != nil {
		engaged, err := g.limiter.Settle(ctx, t.res, outcome)
		if err != nil {
			// The reservation's hold stays in the store and counts as a
			// failure when it ends, if the store kept it.
			unrecorded = true
			g.log.ErrorContext(ctx, "lockout store", "op", "settle", "err", err)
		}
		for _, k := range engaged {
			g.log.WarnContext(ctx, "lockout engaged", "flow", a.Kind, "kind", k.Kind, "key", k.Digest[:min(16, len(k.Digest))])
		}
		g.record(ctx, t, o, engaged)
	}
	if outcome == lockout.Failure && t.countIP.Digest != "" {
		// Skipping the IP gate is not skipping the IP count.
		if _, err := g.limiter.Fail(context.WithoutCancel(ctx), t.countIP); err != nil {
			unrecorded = true
			g.log.ErrorContext(ctx, "lockout store", "op", "fail", "err", err)
		}
	}
	if unrecorded && !g.limiter.Config().FailOpen {
		g.decision(ctx, t, "store_unavailable")
		return nil, &Refusal{Notice: "unavailable", Status: http.StatusServiceUnavailable, RetryAfter: storeRetry,
			Reason: "lockout store unavailable when settling"}
	}
	switch outcome {
	case lockout.Failure:
		g.decision(ctx, t, "credential_failure")
	case lockout.Success:
		g.decision(ctx, t, "success")
	}
	var cookies []*http.Cookie
	if outcome == lockout.Success && a.Kind == kratos.Login && !a.SecondFactor && a.Account != "" && g.devices != nil {
		// A browser that carried the account's cookie keeps its ID: it is
		// the same device to the account's activity.
		issue := g.devices.Issue
		if t.device != "" {
			issue = func(account string) (*http.Cookie, error) { return g.devices.Renew(account, t.device) }
		}
		if c, err := issue(a.Account); err == nil {
			cookies = append(cookies, c)
		} else {
			g.log.ErrorContext(ctx, "device cookie", "err", err)
		}
	}
	if issued != "" && o != nil {
		g.link(ctx, t, issued, o)
	}
	return cookies, nil
}

// record tells the account's events of a sign-in Kratos refused and of the
// locks it engaged: on the account a first factor named (resolved to its
// identity in the background; an identifier of no account is dropped
// there), or on the identity a second factor was judged against.
func (g *Guard) record(ctx context.Context, t *Ticket, o *kratos.Outcome, engaged []lockout.Key) {
	a := t.a
	if g.events == nil || a.Kind != kratos.Login {
		return
	}
	identity, _ := strings.CutPrefix(t.subject, "identity:")
	if identity == t.subject {
		identity = "" // a session Hera cannot attribute
	}
	c := events.Client{IP: a.ClientIP, UserAgent: a.UserAgent, Lang: a.Lang, Device: t.device}
	first := !a.SecondFactor && a.Account != ""
	if o != nil && o.CredentialFailure() && (first || identity != "") {
		f := events.Failure{Method: a.Method, Client: c}
		if first {
			f.Identifier = a.Account
		} else {
			f.Identity = identity
		}
		g.events.SignInFailed(f)
	}
	for _, k := range engaged {
		l := events.Lock{Client: c}
		switch {
		case k.Kind == lockout.KindIdentifier && first:
			l.Identifier = a.Account
		case k.Kind == lockout.KindIdentity && identity != "":
			l.Identity = identity
		default:
			continue // an IP or a device: no account is locked
		}
		// The lock's end, as the store has it (every replica reads the
		// same, so the lock is recorded and mailed once).
		d, err := g.limiter.Check(context.WithoutCancel(ctx), k)
		if err != nil || d.Until.IsZero() {
			g.log.ErrorContext(ctx, "lockout store", "op", "check", "err", err)
			continue
		}
		l.Until = d.Until
		g.events.Locked(l)
	}
}

// link remembers whose session Kratos just issued, so second factors on it
// are counted against that identity. Kratos leaves the identity out of an
// answer that still needs a second factor; the admin API names it.
func (g *Guard) link(ctx context.Context, t *Ticket, handle string, o *kratos.Outcome) {
	subject := ""
	switch {
	case t.subject != "" && t.a.SecondFactor:
		// A session re-issued after a second factor: same identity.
		subject = t.subject
	case o.Session != nil && o.Session.Identity != nil && o.Session.Identity.ID != "":
		subject = IdentitySubject(o.Session.Identity.ID)
	case g.identities != nil:
		var id string
		var err error
		if o.Session != nil && o.Session.ID != "" {
			id, err = g.identities.SessionIdentity(ctx, o.Session.ID)
		} else if t.a.Account != "" {
			id, err = g.identities.IdentityByIdentifier(ctx, t.a.Account)
		}
		if err != nil {
			g.log.WarnContext(ctx, "cannot name the identity of a new session", "err", err)
		}
		if id != "" {
			subject = IdentitySubject(id)
		}
	}
	if subject == "" && t.a.Account != "" {
		// Without the admin API's answer: the account the first factor
		// named stands for the identity.
		subject = "account:" + g.limiter.IdentifierKey(t.a.Account).Digest
	}
	if subject == "" {
		return
	}
	if err := g.limiter.Link(ctx, handle, subject); err != nil {
		g.log.ErrorContext(ctx, "lockout store", "op", "link", "err", err)
	}
}

// decision logs one authentication decision: never the identifier or a
// handle, only key digests.
func (g *Guard) decision(ctx context.Context, t *Ticket, outcome string) {
	a := t.a
	attrs := []any{"flow", a.Kind, "method", a.Method, "outcome", outcome, "client_ip", a.ClientIP}
	if a.Secret != attempt.NoSecret {
		attrs = append(attrs, "secret", a.Secret.String())
	}
	for _, k := range t.keys {
		if k.Kind != lockout.KindIP {
			attrs = append(attrs, "account_key", string(k.Kind)+":"+k.Digest[:min(16, len(k.Digest))])
		}
	}
	for _, addr := range a.Sends {
		k := g.limiter.RecipientKey(purposes[a.Kind], addr)
		attrs = append(attrs, "recipient_key", string(k.Kind)+":"+k.Digest[:min(16, len(k.Digest))])
	}
	if t.device != "" {
		attrs = append(attrs, "device_cookie", true)
	}
	if a.API {
		attrs = append(attrs, "api_flow", true)
	}
	g.log.InfoContext(ctx, "auth decision", attrs...)
	if g.observer != nil {
		g.observer.Decision(string(a.Kind), outcome)
	}
}

// minutes rounds a wait up to whole minutes, at least 1.
func minutes(d time.Duration) int {
	return max(int((d+time.Minute-1)/time.Minute), 1)
}

// failed logs a store or provider failure during admission, which runs on
// the request's context: when the client went away, the failure is its
// cancellation, not an outage, and is no ERROR line for an operator.
func (g *Guard) failed(ctx context.Context, msg string, err error, args ...any) {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		g.log.InfoContext(ctx, "client went away", append([]any{"during", msg, "err", err}, args...)...)
		return
	}
	g.log.ErrorContext(ctx, msg, append([]any{"err", err}, args...)...)
}
