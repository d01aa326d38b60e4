package web

import (
	"context"
	"net/http"

	"github.com/heraproject/hera/internal/captcha"

	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
)

// Captcha is the widget Hera's pages render, and the origins the page's
// CSP must then allow. Nil in Deps: no captcha.
type Captcha struct {
	Widget captcha.Widget
	// CSP is what pages showing the widget must allow.
	CSP captcha.CSP
	// Flows show the widget from the start; the others only after a
	// submission was refused for want of a captcha (lockout escalation).
	Flows []kratos.Kind
}

// Guard runs before every self-service submission reaches Kratos (Admit)
// and after Kratos answered (Settle: a Refusal then means Kratos's answer
// must not be handed out), or instead, when Kratos gave no answer
// (Release; judged: the request reached Kratos). Every admitted Ticket is
// settled or released exactly once.
type Guard interface {
	Admit(ctx context.Context, a *guard.Attempt) (*guard.Ticket, *guard.Refusal)
	Settle(ctx context.Context, t *guard.Ticket, ans guard.Answer) ([]*http.Cookie, *guard.Refusal)
	Release(ctx context.Context, t *guard.Ticket, judged bool)
}

// noGuard is the default: no checks.
type noGuard struct{}

func (noGuard) Admit(context.Context, *guard.Attempt) (*guard.Ticket, *guard.Refusal) {
	return nil, nil
}
func (noGuard) Settle(context.Context, *guard.Ticket, guard.Answer) ([]*http.Cookie, *guard.Refusal) {
	return nil, nil
}
func (noGuard) Release(context.Context, *guard.Ticket, bool) {}
