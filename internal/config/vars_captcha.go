package config

import (
	"errors"
	"fmt"
)

// Captcha: the provider and where it is asked for.
func captchaVars() []Var {
	return []Var{
		{Name: "HERA_CAPTCHA_PROVIDER", Help: "turnstile, hcaptcha or recaptcha; empty: no captcha",
			set: func(c *Config, v string) error {
				switch v {
				case "turnstile", "hcaptcha", "recaptcha":
					c.Captcha.Provider = v
					return nil
				}
				return errors.New("want turnstile, hcaptcha or recaptcha")
			}},
		{Name: "HERA_CAPTCHA_SITE_KEY", Help: "the widget's site key (required with a provider)",
			set: func(c *Config, v string) error { c.Captcha.SiteKey = v; return nil }},
		{Name: "HERA_CAPTCHA_SECRET", Secret: true, Help: "the siteverify secret (required with a provider); prefer HERA_CAPTCHA_SECRET_FILE",
			set: func(c *Config, v string) error { c.Captcha.Secret = v; return nil }},
		{Name: "HERA_CAPTCHA_VERIFY_URL", Help: "siteverify URL; empty: the provider's",
			set: func(c *Config, v string) error { c.Captcha.VerifyURL = v; return nil }},
		{Name: "HERA_CAPTCHA_TIMEOUT", Default: "5s", Help: "timeout of a captcha verification, its one retry included",
			set: func(c *Config, v string) (err error) { c.Captcha.Timeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_CAPTCHA_FLOWS", Default: "login,registration,recovery,verification", Help: "flows whose every submission needs the captcha (login, registration, recovery, verification); the others ask for it once an account's failures escalate",
			set: func(c *Config, v string) error {
				c.Captcha.Flows = splitList(v)
				for _, f := range c.Captcha.Flows {
					switch f {
					case "login", "registration", "recovery", "verification":
					default:
						return fmt.Errorf("unknown flow %q", f)
					}
				}
				return nil
			}},
		{Name: "HERA_CAPTCHA_API_FLOWS", Default: "require", Help: "API flows (native apps): require, a token the app obtains itself in the same field as the widget's; exempt, no captcha, held by the account, identity and IP limits alone (bots can then use the API flows)",
			set: func(c *Config, v string) error {
				switch v {
				case "require", "exempt":
					c.Captcha.ExemptAPI = v == "exempt"
					return nil
				}
				return errors.New("want require or exempt")
			}},
		{Name: "HERA_CAPTCHA_HOSTNAMES", Help: "hostnames the provider must report; empty: HERA_PUBLIC_URL's host",
			set: func(c *Config, v string) error { c.Captcha.Hostnames = splitList(v); return nil }},
		{Name: "HERA_CAPTCHA_ACTION", Help: "Turnstile action the widget sets and siteverify must report; empty: not checked",
			set: func(c *Config, v string) error { c.Captcha.Action = v; return nil }},
	}
}
