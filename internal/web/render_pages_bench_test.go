package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/web"
)

// BenchmarkRenderPages is Hera's own work for the pages that are not
// flows — the start page and the sessions list of a signed-in user, and
// the connected apps — with Kratos and Hydra stubbed, through the
// middleware and the request log line, as BenchmarkRender measures flows.
func BenchmarkRenderPages(b *testing.B) {
	env := map[string]string{
		"HERA_PUBLIC_URL":   goldenPublicURL,
		"KRATOS_PUBLIC_URL": goldenKratosURL,
		"KRATOS_ADMIN_URL":  goldenAdminURL,
		"HYDRA_ADMIN_URL":   "http://127.0.0.1:4445",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{Logger: benchLogger(slog.LevelInfo), Options: web.OptionsFrom(cfg),
		Kratos: &accountKratos{}, Hydra: &accountHydra{grants: goldenGrants()}})
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"/", "/sessions", "/apps"} {
		b.Run(path, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "http://localhost:4455"+path, nil)
			r.Header.Set("Accept", "text/html")
			w := &discardWriter{h: http.Header{}}
			servePage(b, h, r, w)
			b.ReportMetric(float64(w.n), "page-bytes")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				servePage(b, h, r, w)
			}
		})
	}
}
