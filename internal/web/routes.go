package web

import "net/http"

// addRoutes is Hera's whole URL surface.
func addRoutes(mux *http.ServeMux, d *Deps) {
	mux.Handle("GET /health/alive", handleAlive())
	mux.Handle("GET /health/ready", handleReady(d.Logger, readinessChecks(d)))
	mux.Handle("/", http.NotFoundHandler())
}
