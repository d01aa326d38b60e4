package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Log and metrics.
func logVars() []Var {
	return []Var{
		{Name: "HERA_STARTUP_CHECKS", Default: "true", Help: "at start, check Kratos's and Hydra's configuration as hera doctor does (without its sign-in) and log a warning per problem",
			set: func(c *Config, v string) (err error) { c.Log.StartupChecks, err = strconv.ParseBool(v); return err }},
		{Name: "HERA_LOG_LEVEL", Default: "info", Help: "debug, info, warn or error",
			set: func(c *Config, v string) error { return c.Log.Level.UnmarshalText([]byte(v)) }},
		{Name: "HERA_LOG_FLUSH_INTERVAL", Default: "50ms", Help: "how long log lines may wait to be written together (at most 1s); 0 writes each line at once",
			set: func(c *Config, v string) (err error) {
				if c.Log.FlushInterval, err = parseDuration(v); err == nil && c.Log.FlushInterval > time.Second {
					err = errors.New("at most 1s: longer would hold the log back")
				}
				return err
			}},
		{Name: "HERA_METRICS_LISTEN", Help: "host:port of a separate listener serving Prometheus /metrics; empty: no metrics",
			set: func(c *Config, v string) error {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("want host:port: %w", err)
				}
				c.Log.MetricsListen = v
				return nil
			}},
	}
}
