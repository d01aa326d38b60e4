package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/web"
)

// Tracing's cost per page view, wired as run() wires it:
//
//	none  no tracing code at all (Hera before tracing)
//	off   tracing off, as shipped: what run() does without OTEL_* settings
//	noop  every wrapper in place around a no-op provider (what "off" avoids)
//	on    an SDK provider sampling every request, batching to a discarding
//	      exporter
//
//	go test ./internal/web -run '^$' -bench 'Tracing' -benchmem -count 6 | benchstat -col /tracing -

type tracingMode struct {
	name string
	new  func(b *testing.B) *tracing.Tracing // nil: none
}

func tracingModes() []tracingMode {
	return []tracingMode{
		{"none", nil},
		{"off", func(*testing.B) *tracing.Tracing { return tracing.Off() }},
		{"noop", func(b *testing.B) *tracing.Tracing {
			tr, err := tracing.New(noop.NewTracerProvider())
			if err != nil {
				b.Fatal(err)
			}
			return tr
		}},
		{"on", func(b *testing.B) *tracing.Tracing {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			tr, err := tracing.New(tp)
			if err != nil {
				b.Fatal(err)
			}
			return tr
		}},
	}
}

// tracedBenchServer is benchServer with tracing wired as run() wires it:
// the Kratos client's transport wrapped, Deps.Tracing set only when on.
func tracedBenchServer(b *testing.B, k any, kratosURL string, tr *tracing.Tracing) http.Handler {
	b.Helper()
	env := map[string]string{"HERA_PUBLIC_URL": "http://localhost:4455", "KRATOS_PUBLIC_URL": kratosURL, "KRATOS_ADMIN_URL": kratosURL}
	cfg, err := config.Load(func(name string) string { return env[name] })
	if err != nil {
		b.Fatal(err)
	}
	d := web.Deps{Logger: benchLogger(slog.LevelInfo), Options: web.OptionsFrom(cfg)}
	switch k := k.(type) {
	case *fixtureKratos:
		d.Kratos = k
	case *kratos.Client:
		if tr != nil {
			k.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return tr.Transport("kratos", rt) })
		}
		d.Kratos = k
	}
	if tr.Enabled() {
		d.Tracing = tr
	}
	h, err := web.NewServer(d)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkTracingRender is the login page rendered from a recorded flow
// (no network): the server span's cost.
func BenchmarkTracingRender(b *testing.B) {
	login := fixtureNamed(b, "login")
	for _, m := range tracingModes() {
		b.Run("tracing="+m.name, func(b *testing.B) {
			var tr *tracing.Tracing
			if m.new != nil {
				tr = m.new(b)
			}
			benchPage(b, tracedBenchServer(b, &fixtureKratos{f: login}, "http://127.0.0.1:9", tr), pageRequest(login))
		})
	}
}

// BenchmarkTracingPageView is a whole login page view against an
// in-process Kratos over loopback HTTP: server span, client span and
// traceparent.
func BenchmarkTracingPageView(b *testing.B) {
	login := fixtureNamed(b, "login")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/self-service/login/flows" || r.URL.Query().Get("id") != login.id {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(login.raw)
	}))
	b.Cleanup(upstream.Close)
	ku, _ := url.Parse(upstream.URL)
	for _, m := range tracingModes() {
		b.Run("tracing="+m.name, func(b *testing.B) {
			var tr *tracing.Tracing
			if m.new != nil {
				tr = m.new(b)
			}
			kc, err := kratos.NewClient(ku, ku, 5*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			benchPage(b, tracedBenchServer(b, kc, upstream.URL, tr), pageRequest(login))
		})
	}
}
