package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRenderPages is Hera's own work for the pages that are not
// flows — the start page and the sessions list of a signed-in user, and
// the connected apps — with Kratos and Hydra stubbed, through the
// middleware and the request log line, as BenchmarkRender measures flows.
func BenchmarkRenderPages(b *testing.B) {
	h := accountServer(b, benchLogger(slog.LevelInfo), &accountHydra{grants: goldenGrants()})
	for _, path := range []string{"/", "/sessions", "/apps"} {
		b.Run(path, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "http://localhost:4455"+path, nil)
			r.Header.Set("Accept", "text/html")
			benchPage(b, h, r)
		})
	}
}
