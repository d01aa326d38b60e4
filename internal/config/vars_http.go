package config

import (
	"fmt"
	"net"
)

// HTTP: where Hera listens, how it is reached, and its limits.
func httpVars() []Var {
	return []Var{
		{Name: "HERA_LISTEN", Default: "127.0.0.1:4455", Help: "host:port Hera listens on",
			set: func(c *Config, v string) error {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("want host:port: %w", err)
				}
				c.HTTP.Listen = v
				return nil
			}},
		{Name: "HERA_PUBLIC_URL", Default: "http://localhost:4455", Help: "browser-facing base URL of Hera (Kratos's serve.public.base_url is this plus /api/kratos/)",
			set: func(c *Config, v string) (err error) { c.HTTP.PublicURL, err = parseBaseURL(v); return err }},
		{Name: "HERA_ALLOWED_RETURN_URLS", Help: "comma-separated URLs (scheme, host, path prefix at a segment boundary) browsers may return to besides Hera",
			set: func(c *Config, v string) error {
				c.HTTP.AllowedReturnURLs = splitList(v)
				for _, u := range c.HTTP.AllowedReturnURLs {
					if _, err := parseBaseURL(u); err != nil {
						return fmt.Errorf("%s: %w", u, err)
					}
				}
				return nil
			}},
		{Name: "HERA_TRUSTED_PROXIES", Help: "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed; empty trusts none",
			set: func(c *Config, v string) (err error) { c.HTTP.TrustedProxies, err = parsePrefixes(v); return err }},
		{Name: "HERA_READ_HEADER_TIMEOUT", Default: "5s", Help: "time a client has to send request headers",
			set: func(c *Config, v string) (err error) {
				c.HTTP.ReadHeaderTimeout, err = parsePositiveDuration(v)
				return err
			}},
		{Name: "HERA_READ_TIMEOUT", Default: "30s", Help: "time a client has to send a whole request",
			set: func(c *Config, v string) (err error) { c.HTTP.ReadTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_WRITE_TIMEOUT", Default: "60s", Help: "time Hera has to write a response",
			set: func(c *Config, v string) (err error) { c.HTTP.WriteTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_IDLE_TIMEOUT", Default: "120s", Help: "how long an idle keep-alive connection stays open",
			set: func(c *Config, v string) (err error) { c.HTTP.IdleTimeout, err = parsePositiveDuration(v); return err }},
		{Name: "HERA_MAX_BODY_BYTES", Default: "65536", Help: "largest request body Hera accepts (forms and proxied requests); larger ones get 413",
			set: func(c *Config, v string) error {
				n, err := parsePositiveInt(v)
				c.HTTP.MaxBodyBytes = int64(n)
				return err
			}},
		{Name: "HERA_MAX_HEADER_BYTES", Default: "65536", Help: "largest request header block Hera reads",
			set: func(c *Config, v string) (err error) { c.HTTP.MaxHeaderBytes, err = parsePositiveInt(v); return err }},
		{Name: "HERA_SHUTDOWN_TIMEOUT", Default: "15s", Help: "grace period for in-flight requests on SIGINT/SIGTERM",
			set: func(c *Config, v string) (err error) {
				c.HTTP.ShutdownTimeout, err = parsePositiveDuration(v)
				return err
			}},
	}
}
