// Package guard is what stands between a browser and Kratos on every
// credential submission: the captcha first, then the brute-force lockout,
// then (after Kratos answered) the record of the outcome. It implements
// web.Guard.
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

	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/web"
)

// Config configures New.
type Config struct {
	Logger *slog.Logger
	// Captcha is nil when no provider is configured.
	Captcha *captcha.Verifier
	// CaptchaFlows need a captcha on every submission; other flows need one
	// only once the lockout escalates (Decision.CaptchaRequired).
	CaptchaFlows []kratos.Kind
	// Limiter is the brute-force lockout.
	Limiter *lockout.Limiter
	// SessionCookie is the name of Kratos's session cookie; second-factor
	// attempts are counted per session when Kratos does not tell whose it is.
	SessionCookie string
	// Observer, if set, counts decisions (metrics).
	Observer interface{ Decision(flow, outcome string) }
}

// Guard implements web.Guard.
type Guard struct {
	log       *slog.Logger
	captcha   *captcha.Verifier
	flows     []kratos.Kind
	limiter   *lockout.Limiter
	sessionCk string
	observer  interface{ Decision(flow, outcome string) }
}

// New returns a guard.
func New(c Config) (*Guard, error) {
	if c.Logger == nil || c.Limiter == nil {
		return nil, errors.New("guard: logger and limiter are required")
	}
	g := &Guard{log: c.Logger, captcha: c.Captcha, flows: c.CaptchaFlows, limiter: c.Limiter, sessionCk: c.SessionCookie, observer: c.Observer}
	if g.sessionCk == "" {
		g.sessionCk = "ory_kratos_session"
	}
	return g, nil
}

// CaptchaOn reports whether flow's pages show the captcha widget from the
// start.
func (g *Guard) CaptchaOn(flow kratos.Kind) bool {
	return g.captcha != nil && slices.Contains(g.flows, flow)
}

// secondFactor reports whether a login method is a second factor.
func secondFactor(method string) bool {
	switch method {
	case "totp", "lookup_secret", "webauthn":
		return true
	}
	return false
}

// keys returns the lockout keys of an attempt.
func (g *Guard) keys(a *web.Attempt) (keys []lockout.Key, account bool) {
	if a.ClientIP != "" {
		keys = append(keys, g.limiter.IPKey(a.ClientIP))
	}
	switch {
	case a.Flow == kratos.Login && secondFactor(a.Method):
		// Kratos does not say whose aal1 session this is, so the second
		// factor is counted per session (and per IP).
		if s := cookieValue(a.Cookie, g.sessionCk); s != "" {
			sum := sha256.Sum256([]byte(s))
			keys = append(keys, g.limiter.IdentityKey("session-"+base64.RawURLEncoding.EncodeToString(sum[:])))
			account = true
		}
	case a.Flow == kratos.Login || a.Flow == kratos.Registration:
		if strings.TrimSpace(a.Identifier) != "" {
			keys = append(keys, g.limiter.IdentifierKey(a.Identifier))
			account = true
		}
	}
	// Recovery and verification: per IP only, so a locked identifier can
	// always recover its account.
	return keys, account
}

// Check implements web.Guard: captcha first (when required), then the
// lockout. A refused captcha counts against nobody.
func (g *Guard) Check(ctx context.Context, a *web.Attempt) *web.Refusal {
	keys, _ := g.keys(a)
	d, lerr := g.limiter.Check(ctx, keys...)
	if lerr != nil {
		g.log.ErrorContext(ctx, "lockout store", "err", lerr, "fail_open", !d.Locked)
	}
	if g.captcha != nil {
		// Second factors are never asked for a captcha: their page has no
		// widget, and the lockout already bounds them.
		need := !(a.Flow == kratos.Login && secondFactor(a.Method)) && (slices.Contains(g.flows, a.Flow) || d.CaptchaRequired)
		if need {
			if _, err := g.captcha.Verify(ctx, a.Form, a.ClientIP); err != nil {
				captcha.Strip(a.Form)
				outcome := "captcha_failed"
				ref := &web.Refusal{Notice: "captcha", Status: http.StatusForbidden, Reason: "captcha: " + string(captcha.ReasonOf(err))}
				if errors.Is(err, captcha.ErrUnavailable) {
					outcome = "captcha_unavailable"
					ref = &web.Refusal{Notice: "unavailable", Status: http.StatusServiceUnavailable, Reason: "captcha provider: " + string(captcha.ReasonOf(err))}
					g.log.ErrorContext(ctx, "captcha provider unavailable", "err", err)
				}
				g.decision(ctx, a, keys, outcome)
				return ref
			}
		}
		captcha.Strip(a.Form)
	}
	switch {
	case d.Locked && d.Unavailable:
		g.decision(ctx, a, keys, "store_unavailable")
		return &web.Refusal{Notice: "unavailable", Status: http.StatusServiceUnavailable, Reason: "lockout store unavailable"}
	case d.Locked:
		mins := int((d.RetryAfter + time.Minute - 1) / time.Minute)
		g.decision(ctx, a, keys, "locked")
		return &web.Refusal{Notice: fmt.Sprintf("locked-%d", max(mins, 1)), Status: http.StatusTooManyRequests, Reason: "locked"}
	}
	g.decision(ctx, a, keys, "allowed")
	return nil
}

// Record implements web.Guard: a credential failure counts against every
// key of the attempt; a completed sign-in resets the account's counter.
func (g *Guard) Record(ctx context.Context, a *web.Attempt, o *kratos.Outcome) {
	keys, account := g.keys(a)
	switch {
	case o.CredentialFailure():
		for _, k := range keys {
			st, err := g.limiter.Fail(ctx, k)
			if err != nil {
				g.log.ErrorContext(ctx, "lockout store", "op", "fail", "err", err)
				continue
			}
			if st.LockedNow {
				g.log.WarnContext(ctx, "lockout engaged", "flow", a.Flow, "key", k.String(), "until", st.LockedUntil)
			}
		}
		g.decision(ctx, a, keys, "credential_failure")
	case o.Kind == kratos.OutcomeSuccess && a.Flow == kratos.Login && account:
		if err := g.limiter.Succeed(ctx, keys...); err != nil {
			g.log.ErrorContext(ctx, "lockout store", "op", "succeed", "err", err)
		}
		g.decision(ctx, a, keys, "success")
	}
}

// decision logs one authentication decision: never the identifier itself,
// only its key digest.
func (g *Guard) decision(ctx context.Context, a *web.Attempt, keys []lockout.Key, outcome string) {
	attrs := []any{"flow", a.Flow, "method", a.Method, "outcome", outcome, "client_ip", a.ClientIP}
	for _, k := range keys {
		if k.Kind != lockout.KindIP {
			attrs = append(attrs, "account_key", k.Digest[:min(16, len(k.Digest))])
		}
	}
	g.log.InfoContext(ctx, "auth decision", attrs...)
	if g.observer != nil {
		g.observer.Decision(string(a.Flow), outcome)
	}
}

// cookieValue returns the value of cookie name in a Cookie header.
func cookieValue(header, name string) string {
	for _, part := range strings.Split(header, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			return v
		}
	}
	return ""
}
