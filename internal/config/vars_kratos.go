package config

import (
	"errors"
	"net/http"
	"strconv"
)

// Kratos: its APIs, its session cookie, how hard Hera leans on it, and the account's self-service.
func kratosVars() []Var {
	return []Var{
		{Name: "KRATOS_PUBLIC_URL", Required: true, Help: "Kratos public API as Hera reaches it, e.g. http://127.0.0.1:4433",
			set: func(c *Config, v string) (err error) { c.Kratos.PublicURL, err = parseBaseURL(v); return err }},
		{Name: "KRATOS_ADMIN_URL", Required: true, Help: "Kratos admin API, e.g. http://127.0.0.1:4434 (keep it off the internet)",
			set: func(c *Config, v string) (err error) { c.Kratos.AdminURL, err = parseBaseURL(v); return err }},
		{Name: "KRATOS_TIMEOUT", Default: "10s", Help: "timeout of each call Hera makes to Kratos",
			set: func(c *Config, v string) (err error) { c.Kratos.Timeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_KRATOS_SESSION_COOKIE", Default: "ory_kratos_session", Help: "name of Kratos's session cookie (Kratos's session.cookie.name)",
			set: func(c *Config, v string) error {
				if (&http.Cookie{Name: v, Value: "x"}).Valid() != nil {
					return errors.New("not a valid cookie name")
				}
				c.Kratos.SessionCookie = v
				return nil
			}},
		{Name: "HERA_KRATOS_MAX_SUBMISSIONS", Default: "4", Help: "submissions Hera sends to Kratos at once (about Kratos's CPU cores; SQLite wants 4 at most); more wait HERA_KRATOS_SUBMISSION_WAIT, then get 503 with Retry-After",
			set: func(c *Config, v string) (err error) { c.Kratos.MaxSubmissions, err = parsePositiveInt(v); return err }},
		{Name: "HERA_KRATOS_SUBMISSION_WAIT", Default: "5s", Help: "how long a submission waits for one of HERA_KRATOS_MAX_SUBMISSIONS",
			set: func(c *Config, v string) (err error) {
				c.Kratos.SubmissionWait, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_KRATOS_WEBHOOK_SECRET", Secret: true, Help: "the key Kratos's web hooks send to Hera's /hooks/kratos/… (Authorization: Bearer …; at least 32 bytes), so that each account's activity records every sign-in and settings change (docs/kratos-setup.md); empty: no hook endpoints, and only what Hera itself sees is recorded",
			set: func(c *Config, v string) error {
				if len(v) < 32 {
					return errors.New("at least 32 bytes")
				}
				c.Kratos.WebhookSecret = v
				return nil
			}},
		{Name: "HERA_ACCOUNT_DELETION", Default: "true", Help: "let users delete their own account from the settings page (after a recent sign-in and a typed confirmation)",
			set: func(c *Config, v string) (err error) {
				c.Kratos.AccountDeletion, err = strconv.ParseBool(v)
				return err
			}},
		{Name: "HERA_PRIVILEGED_SESSION_MAX_AGE", Default: "1h", Help: "how recent a sign-in must be to delete the account; set it to Kratos's selfservice.flows.settings.privileged_session_max_age",
			set: func(c *Config, v string) (err error) {
				c.Kratos.PrivilegedSessionMaxAge, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_PASSKEY_OFFER", Default: "true", Help: "after a password sign-in on an account without a passkey, offer to add one (only when Kratos has passkeys enabled)",
			set: func(c *Config, v string) (err error) {
				c.Kratos.PasskeyOffer, err = strconv.ParseBool(v)
				return err
			}},
		{Name: "HERA_PASSKEY_OFFER_SNOOZE", Default: "720h", Help: "how long \"not now\" on the passkey offer keeps it away on that browser",
			set: func(c *Config, v string) (err error) {
				c.Kratos.PasskeyOfferSnooze, err = parsePositiveDuration(v)
				return err
			}},
	}
}
