package config

// Hydra: its admin API (unset: no OAuth2).
func hydraVars() []Var {
	return []Var{
		{Name: "HYDRA_ADMIN_URL", Help: "Hydra admin API, e.g. http://127.0.0.1:4445; empty runs Hera without OAuth2",
			set: func(c *Config, v string) (err error) { c.Hydra.AdminURL, err = parseBaseURL(v); return err }},
		{Name: "HYDRA_PUBLIC_URL", Help: "Hydra's public API as Hera's host reaches it, e.g. http://127.0.0.1:4444; only hera doctor and the start-up checks use it (Hydra's login, consent and logout URLs)",
			set: func(c *Config, v string) (err error) { c.Hydra.PublicURL, err = parseBaseURL(v); return err }},
		{Name: "HYDRA_TIMEOUT", Default: "10s", Help: "timeout of each call Hera makes to Hydra",
			set: func(c *Config, v string) (err error) { c.Hydra.Timeout, err = parsePositiveDuration(v); return err }},
	}
}
