package web

import (
	"context"
	"net/url"

	"github.com/heraproject/hera/internal/kratos"
)

// Attempt is one submission on its way to Kratos, as the pre/post checks
// see it.
type Attempt struct {
	Flow       kratos.Kind
	FlowID     string
	Method     string     // password, code, totp, lookup_secret, …
	Identifier string     // as typed: login identifier, or the e-mail of recovery/verification
	ClientIP   string     // after trusted-proxy handling
	Cookie     string     // the browser's Cookie header (never log it)
	Form       url.Values // the submitted fields; checks may remove their own (captcha)
}

// Captcha is the widget Hera's pages render, and the origins the page's
// CSP must then allow. Nil in Deps: no captcha.
type Captcha struct {
	Widget CaptchaView
	// Flows show the widget from the start; the others only after a
	// submission was refused for want of a captcha (lockout escalation).
	Flows      []kratos.Kind
	ScriptSrc  []string
	FrameSrc   []string
	StyleSrc   []string
	ConnectSrc []string
}

// Refusal is a check's "no": the submission does not reach Kratos and the
// user sees the notice on the flow page.
type Refusal struct {
	// Notice is the code of the message shown (see noticeAlerts):
	// "captcha", "unavailable" or "locked-<minutes>".
	Notice string
	// Status is the HTTP status API clients get.
	Status int
	// Reason is for the log.
	Reason string
}

// Guard runs before every credential submission reaches Kratos and after
// Kratos answered. Check may refuse; Record learns the outcome, whether
// Kratos succeeded or not. Both are called exactly once per submission that
// passed the earlier steps.
type Guard interface {
	Check(ctx context.Context, a *Attempt) *Refusal
	Record(ctx context.Context, a *Attempt, o *kratos.Outcome)
}

// noGuard is the default: no checks.
type noGuard struct{}

func (noGuard) Check(context.Context, *Attempt) *Refusal          { return nil }
func (noGuard) Record(context.Context, *Attempt, *kratos.Outcome) {}
