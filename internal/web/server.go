// Package web is Hera's HTTP surface: the server, its routes, middleware and
// page handlers.
package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/heraproject/hera/internal/config"
)

// readier is anything whose readiness /health/ready reports.
type readier interface {
	Ready(ctx context.Context) error
}

// Deps is what the handlers need. Fields that are nil switch their feature off
// (Hydra nil: no OAuth2).
type Deps struct {
	Logger *slog.Logger
	Config *config.Config
	Kratos readier
	Hydra  readier
}

// NewServer returns Hera's root handler.
func NewServer(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, &d)
	var h http.Handler = mux
	h = recoverPanics(d.Logger, h)
	h = logRequests(d.Logger, h)
	h = withRequestID(h)
	return h
}
