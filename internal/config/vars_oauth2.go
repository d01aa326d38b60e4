package config

import (
	"errors"
	"strconv"
)

// OAuth2: how Hera answers Hydra's login, consent and logout requests.
func oauth2Vars() []Var {
	return []Var{
		{Name: "HERA_OAUTH2_LOGIN_REMEMBER", Default: "true", Help: "let Hydra remember a login (its session cookie), so later OAuth2 logins skip Hera",
			set: func(c *Config, v string) (err error) { c.OAuth2.LoginRemember, err = strconv.ParseBool(v); return err }},
		{Name: "HERA_OAUTH2_LOGIN_REMEMBER_FOR", Default: "24h", Help: "how long Hydra remembers a login; 0s: until the browser closes",
			set: func(c *Config, v string) (err error) { c.OAuth2.LoginRememberFor, err = parseDuration(v); return err }},
		{Name: "HERA_OAUTH2_CONSENT_REMEMBER_FOR", Default: "720h", Help: "how long a remembered consent lasts; 0s: forever",
			set: func(c *Config, v string) (err error) { c.OAuth2.ConsentRememberFor, err = parseDuration(v); return err }},
		{Name: "HERA_OAUTH2_TRUSTED_CLIENTS", Help: "comma-separated OAuth2 client IDs that never see the consent screen (first-party apps)",
			set: func(c *Config, v string) error { c.OAuth2.TrustedClients = splitList(v); return nil }},
		{Name: "HERA_OAUTH2_CLAIMS", Help: "JSON: for each scope, the ID-token claims and the identity traits they come from; empty: from the identity's schema (e-mail, phone and username traits; see docs/oauth2.md)",
			set: func(c *Config, v string) (err error) { c.OAuth2.Claims, err = parseClaims(v); return err }},
		{Name: "HERA_OAUTH2_SKIP_LOGOUT_CONFIRM", Default: "false", Help: "end OAuth2 (RP-initiated) logouts without asking the user",
			set: func(c *Config, v string) (err error) {
				c.OAuth2.SkipLogoutConfirm, err = strconv.ParseBool(v)
				return err
			}},
		{Name: "HERA_OAUTH2_REAUTH_WINDOW", Default: "2m", Help: "after prompt=login or max_age sent the user to sign in again, how recent that sign-in must be",
			set: func(c *Config, v string) (err error) {
				c.OAuth2.ReauthWindow, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_OAUTH2_TOKEN_HOOK_SECRET", Secret: true, Help: "bearer token Hydra's oauth2.token_hook sends to Hera's /oauth2/token-hook (at least 32 bytes), which refuses tokens to deleted or deactivated identities; empty: no hook endpoint",
			set: func(c *Config, v string) error {
				if len(v) < 32 {
					return errors.New("at least 32 bytes")
				}
				c.OAuth2.TokenHookSecret = v
				return nil
			}},
	}
}
