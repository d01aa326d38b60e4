package config

import (
	"errors"
	"strconv"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// Lockout: the store, the failure policy, send quotas and device cookies.
func lockoutVars() []Var {
	return []Var{
		{Name: "HERA_LOCKOUT_STORE", Default: "memory", Help: "where failure counters live: memory (one instance), postgres or redis (shared by replicas)",
			set: func(c *Config, v string) error {
				switch v {
				case "memory", "postgres", "redis":
					c.Lockout.Store = v
					return nil
				}
				return errors.New("want memory, postgres or redis")
			}},
		{Name: "HERA_LOCKOUT_POSTGRES_DSN", Secret: true, Help: "PostgreSQL URL for HERA_LOCKOUT_STORE=postgres, e.g. postgres://hera:…@db/hera",
			set: func(c *Config, v string) error { c.Lockout.PostgresDSN = v; return nil }},
		{Name: "HERA_LOCKOUT_REDIS_URL", Secret: true, Help: "Redis URL for HERA_LOCKOUT_STORE=redis, e.g. redis://:…@redis:6379/0",
			set: func(c *Config, v string) error { c.Lockout.RedisURL = v; return nil }},
		{Name: "HERA_LOCKOUT_TIMEOUT", Default: "2s", Help: "timeout of each lockout store operation",
			set: func(c *Config, v string) (err error) { c.Lockout.Timeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_LOCKOUT_FAIL_OPEN", Default: "false", Help: "when the store is down: false refuses sign-ins (fail closed), true lets them through with a warning",
			set: func(c *Config, v string) (err error) { c.Lockout.FailOpen, err = strconv.ParseBool(v); return err }},
		{Name: "HERA_LOCKOUT_REALM", Default: "ciam", Help: "namespace of the counters, so deployments can share a store",
			set: func(c *Config, v string) error { c.Lockout.Policy.Realm = v; return nil }},
		{Name: "HERA_LOCKOUT_KEY_SECRET", Secret: true, Help: "optional HMAC key for the stored identifier digests (same on every replica)",
			set: func(c *Config, v string) error { c.Lockout.KeySecret = v; return nil }},
		{Name: "HERA_LOCKOUT_MAX_FAILURES", Default: "5", Help: "failures of one account (identifier) within the window that lock it",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.Identifier.MaxFailures, err = parsePositiveInt(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_WINDOW", Default: "15m", Help: "the window failures of one account are counted in",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.Identifier.Window, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_DURATION", Default: "5m", Help: "the first lock of an account; each further lock in the window doubles it",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.Identifier.LockDuration, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_MAX_DURATION", Default: "1h", Help: "the longest lock of an account",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.Identifier.MaxLockDuration, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_IP_MAX_FAILURES", Default: "50", Help: "failures from one client IP (IPv6: its /64) within the IP window that lock it",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.IP.MaxFailures, err = parsePositiveInt(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_IP_WINDOW", Default: "15m", Help: "the window failures of one IP are counted in",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.IP.Window, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_LOCKOUT_IP_DURATION", Default: "15m", Help: "how long a locked IP stays locked",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.IP.LockDuration, err = parsePositiveDuration(v)
				c.Lockout.Policy.IP.MaxLockDuration = c.Lockout.Policy.IP.LockDuration
				return err
			}},
		{Name: "HERA_LOCKOUT_HOLD", Help: "how long a sign-in attempt may stay in flight: one not settled by then (its replica died) counts as a failed attempt; 1s to 1h, more than the longest submission; empty: 1m, or the longest submission + 30s if longer",
			set: func(c *Config, v string) (err error) {
				if c.Lockout.Policy.Hold, err = parsePositiveDuration(v); err != nil {
					return err
				}
				return lockout.ValidateHold(c.Lockout.Policy.Hold)
			}},
		{Name: "HERA_LOCKOUT_CAPTCHA_AFTER", Default: "3", Help: "with a captcha provider: account failures after which every flow asks for the captcha; -1: never",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.CaptchaAfter, err = strconv.Atoi(v)
				return err
			}},
		{Name: "HERA_SEND_LIMIT_RECIPIENT", Default: "3/15m,10/1h", Help: "codes and links Kratos may send to one address for one purpose (recovery, verification, sign-in, registration, settings): comma-separated count/period limits",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.Sends.Recipient, err = parseLimits(v)
				return err
			}},
		{Name: "HERA_SEND_LIMIT_RECIPIENT_TOTAL", Default: "6/15m,20/1h", Help: "codes and links Kratos may send to one address for every purpose but recovery together (recovery keeps its own quota): count/period limits",
			set: func(c *Config, v string) (err error) {
				c.Lockout.Policy.Sends.RecipientTotal, err = parseLimits(v)
				return err
			}},
		{Name: "HERA_SEND_LIMIT_IP", Default: "30/1h", Help: "codes and links one client IP (IPv6: its /64) may have sent: count/period limits",
			set: func(c *Config, v string) (err error) { c.Lockout.Policy.Sends.IP, err = parseLimits(v); return err }},
		{Name: "HERA_DEVICE_COOKIE_SECRET", Secret: true, Help: "HMAC key of device cookies, at least 32 bytes, the same on every replica; empty: a random key per start",
			set: func(c *Config, v string) error {
				if len(v) < 32 {
					return errors.New("at least 32 bytes")
				}
				c.Lockout.DeviceCookieSecret = v
				return nil
			}},
		{Name: "HERA_DEVICE_COOKIE_LIFETIME", Default: "2160h", Help: "how long a device cookie lets its browser past a locked account; 0 switches device cookies off",
			set: func(c *Config, v string) (err error) {
				c.Lockout.DeviceCookieLifetime, err = parseDuration(v)
				if err == nil && c.Lockout.DeviceCookieLifetime != 0 && c.Lockout.DeviceCookieLifetime < time.Hour {
					err = errors.New("0, or at least 1h")
				}
				return err
			}},
	}
}
