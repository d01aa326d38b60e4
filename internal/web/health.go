package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

type check struct {
	name string
	r    readier
}

func readinessChecks(d Deps) []check {
	cs := []check{{"kratos", d.Kratos}}
	if d.Hydra != nil {
		cs = append(cs, check{"hydra", d.Hydra})
	}
	if d.Lockout != nil {
		cs = append(cs, check{"lockout_store", d.Lockout})
	}
	return cs
}

// handleAlive says the process is up; it checks nothing else.
func handleAlive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReady answers 200 only when every dependency answers; otherwise 503
// naming the ones that do not. The causes go to the log.
func handleReady(log *slog.Logger, checks []check) http.Handler {
	type result struct {
		Status string            `json:"status"`
		Down   map[string]string `json:"down,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		errs := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() { errs[i] = c.r.Ready(ctx) })
		}
		wg.Wait()
		res := result{Status: "ready"}
		for i, err := range errs {
			if err == nil {
				continue
			}
			if res.Down == nil {
				res.Down = map[string]string{}
			}
			res.Down[checks[i].name] = "not ready"
			log.WarnContext(r.Context(), "dependency not ready", "dependency", checks[i].name, "err", err)
		}
		status := http.StatusOK
		if res.Down != nil {
			res.Status = "unavailable"
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, res)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
