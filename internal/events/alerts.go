package events

import (
	"context"
	"errors"
	"slices"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/mail"
	"github.com/heraproject/hera/internal/outbox"
	"github.com/heraproject/hera/internal/useragent"
)

// alert mails e's alert to the account's verified addresses and extra ones
// (an address change's old addresses), deduplicated as "<kind>:<event ID>"
// — the new sign-in's is "new_sign_in:<event ID>".
func (r *Recorder) alert(ctx context.Context, e activity.Event, kind mail.Kind, to, extra []string) {
	for _, a := range extra {
		if !slices.Contains(to, a) {
			to = append(to, a)
		}
	}
	r.alertTo(ctx, e, kind, string(kind)+":"+e.ID, to)
}

// alertTo renders and queues one alert. Failures are logged and counted;
// nothing waits for the mail.
func (r *Recorder) alertTo(ctx context.Context, e activity.Event, kind mail.Kind, id string, to []string) {
	if r.cfg.Queue == nil || r.cfg.Alerts == nil {
		return
	}
	if len(to) == 0 {
		// Accounts without a verified e-mail address see their events on
		// /activity only.
		r.obs.Alert(string(kind), "no_recipient")
		return
	}
	lang := r.ownerLang(ctx, e)
	a := mail.Alert{Kind: kind, Lang: lang, At: e.At, Browser: r.browser(lang, e.UserAgent), IP: e.IP, Detail: e.Detail, Until: e.Until}
	if kind == mail.PasskeyChanged {
		a.Method = e.Method
	}
	m, err := r.cfg.Alerts.Render(a)
	if err != nil {
		r.obs.Alert(string(kind), "render")
		r.log.Error("alert: cannot render", "kind", kind, "err", err)
		return
	}
	m.ID, m.To, m.Created = id, to, r.now()
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	queued, err := r.cfg.Queue.Enqueue(octx, m, r.now())
	switch {
	case errors.Is(err, outbox.ErrFull):
		r.obs.Alert(string(kind), "full")
		r.log.Error("alert: mail queue full (HERA_MAIL_QUEUE_MAX)", "kind", kind, "id", id)
	case err != nil:
		r.obs.Alert(string(kind), "unavailable")
		r.log.Error("alert: not queued", "kind", kind, "id", id, "err", err)
	case !queued:
		r.obs.Alert(string(kind), "duplicate")
	default:
		r.obs.Alert(string(kind), "queued")
		r.log.Info("alert queued", "kind", kind, "id", id)
		if r.cfg.Wake != nil {
			r.cfg.Wake()
		}
	}
}

// ownerLang is the language an account's mails are written in: that of
// its owner's latest sign-in from a browser Hera knew (a stranger's
// attempts and new browsers may be someone else's), else the event's own,
// else the default.
func (r *Recorder) ownerLang(ctx context.Context, e activity.Event) string {
	if evs, ok := r.list(ctx, e.Identity); ok {
		for _, o := range evs {
			if o.Kind == activity.SignIn && !o.NewDevice && o.Lang != "" && o.ID != e.ID {
				return o.Lang
			}
		}
	}
	if e.Lang != "" {
		return e.Lang
	}
	return r.cfg.DefaultLanguage
}

// browser names a User-Agent's browser and system in lang, as the
// sessions page does.
func (r *Recorder) browser(lang, ua string) string {
	if r.cfg.Catalog == nil {
		return ""
	}
	b, sys := useragent.Describe(ua)
	switch {
	case b != "" && sys != "":
		return r.cfg.Catalog.T(lang, "hera.sessions.device", map[string]any{"browser": b, "system": sys})
	case sys != "":
		return r.cfg.Catalog.T(lang, "hera.sessions.device_system", map[string]any{"system": sys})
	}
	return b
}
