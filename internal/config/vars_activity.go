package config

import (
	"errors"
	"time"
)

// Activity: what is kept of each account's events, and the bound of the
// mail queue. Both live in the lockout store's backend (HERA_LOCKOUT_STORE).
func activityVars() []Var {
	return []Var{
		{Name: "HERA_ACTIVITY_RETENTION", Default: "2160h", Help: "how long each account's events (sign-ins, locks, changes) are kept; at least 1h",
			set: func(c *Config, v string) (err error) {
				c.Activity.Policy.Retention, err = parsePositiveDuration(v)
				if err == nil && c.Activity.Policy.Retention < time.Hour {
					err = errors.New("at least 1h")
				}
				return err
			}},
		{Name: "HERA_ACTIVITY_MAX_EVENTS", Default: "500", Help: "the most events kept per account (the oldest go first); 1 to 100000",
			set: func(c *Config, v string) (err error) {
				c.Activity.Policy.MaxPerIdentity, err = parsePositiveInt(v)
				if err == nil && c.Activity.Policy.MaxPerIdentity > maxActivityEvents {
					err = errors.New("at most 100000")
				}
				return err
			}},
		{Name: "HERA_MAIL_QUEUE_MAX", Default: "10000", Help: "the most mails waiting to be sent, across replicas; alerts beyond it are not mailed (their events are still shown)",
			set: func(c *Config, v string) (err error) {
				c.Activity.Outbox.MaxQueued, err = parsePositiveInt(v)
				return err
			}},
	}
}

// maxActivityEvents bounds HERA_ACTIVITY_MAX_EVENTS: /activity and the
// export read an account's events at once.
const maxActivityEvents = 100_000
