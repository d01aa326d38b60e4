package app

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/doctor"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/mail"
)

// DoctorTimeout bounds hera doctor by default, and the checks at start.
const DoctorTimeout = time.Minute

// DoctorOptions is what hera doctor checks Kratos and Hydra against: this
// Hera's configuration. hydraPublic is where the doctor reaches Hydra's
// public API (nil: Hydra's URLs are not checked).
func DoctorOptions(cfg *config.Config, hydraPublic *url.URL) doctor.Options {
	return doctor.Options{
		PublicURL:         cfg.HTTP.PublicURL,
		AllowedReturnURLs: cfg.HTTP.AllowedReturnURLs,
		KratosPublicURL:   cfg.Kratos.PublicURL,
		KratosAdminURL:    cfg.Kratos.AdminURL,
		SessionCookie:     cfg.Kratos.SessionCookie,
		KratosVersion:     kratos.MirroredVersion,
		HydraAdminURL:     cfg.Hydra.AdminURL,
		HydraPublicURL:    hydraPublic,
		Mail:              mailOptions(cfg),
		Activity:          &doctor.ActivityOptions{KratosWebhooks: cfg.Kratos.WebhookSecret != ""},
		Timeout:           max(cfg.Kratos.Timeout, cfg.Hydra.Timeout),
	}
}

// mailOptions is what the doctor checks of alert mails: the SMTP server,
// reached exactly as the mail worker reaches it, and the device cookies
// "new sign-in" mails need.
func mailOptions(cfg *config.Config) *doctor.MailOptions {
	o := &doctor.MailOptions{DeviceCookies: doctor.DeviceCookieRandom}
	switch {
	case cfg.Lockout.DeviceCookieLifetime == 0:
		o.DeviceCookies = doctor.DeviceCookiesOff
	case cfg.Lockout.DeviceCookieSecret != "":
		o.DeviceCookies = doctor.DeviceCookieSecret
	}
	if mail.Enabled(cfg) {
		snd, err := mail.NewSender(mail.SMTPConfigFrom(cfg))
		if err != nil {
			o.SMTP = unusableSMTP{cfg.Mail.SMTPURL.String(), err}
		} else {
			o.SMTP = snd
		}
	}
	return o
}

// unusableSMTP is a configured SMTP server the mail package refuses (the
// configuration's checks should have refused it first).
type unusableSMTP struct {
	url string
	err error
}

func (u unusableSMTP) Check(context.Context) error { return u.err }
func (u unusableSMTP) String() string              { return u.url }

// startupChecks runs hera doctor's checks in the background and logs a
// warning per problem found. It never delays start-up, and Kratos or Hydra
// being slow or down only makes it log so. The func it returns cancels the
// checks and waits until they have removed what they created (a few
// seconds at most).
func startupChecks(ctx context.Context, cfg *config.Config, log *slog.Logger) (stop func(context.Context)) {
	if !cfg.Log.StartupChecks {
		return func(context.Context) {}
	}
	o := DoctorOptions(cfg, cfg.Hydra.PublicURL)
	// No temporary identity at every start (Kratos's login hooks would
	// fire): hera doctor makes that check.
	o.NoSignIn = true
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, DoctorTimeout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep := doctor.Run(ctx, o)
		if parent.Err() != nil {
			return // shutting down: the failures are ours
		}
		for _, r := range rep.Results {
			switch r.Status {
			case doctor.Fail:
				log.Warn("configuration problem", "check", r.Check, "problem", r.Message, "setting", r.Setting, "fix", r.Fix)
			case doctor.Warn:
				log.Warn("configuration warning", "check", r.Check, "warning", r.Message, "setting", r.Setting, "fix", r.Fix)
			case doctor.Skip:
				log.Info("configuration not checked", "check", r.Check, "reason", r.Message)
			}
		}
		log.Info("configuration checked", "problems", rep.Failed(), "passed", rep.Passed(), "not_checked", rep.Skipped(),
			"hint", "hera doctor prints the report")
	}()
	return func(context.Context) {
		cancel()
		<-done
	}
}
