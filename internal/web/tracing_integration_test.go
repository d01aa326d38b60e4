package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/tracing/tracingtest"
	"github.com/heraproject/hera/internal/web"
	"github.com/heraproject/hera/internal/webtest"
)

// TestTracingWithKratos: a login page view against a real Kratos, which
// exports its own spans over OTLP to a fake collector. Hera's spans are
// there, and Kratos's spans are in Hera's trace: the traceparent Hera sent
// was honoured.
func TestTracingWithKratos(t *testing.T) {
	col := tracingtest.NewHTTP(t)
	e := stacktest.Start(t, stacktest.Options{KratosEnv: []string{
		"TRACING_PROVIDER=otel",
		"TRACING_SERVICE_NAME=kratos",
		"TRACING_PROVIDERS_OTLP_SERVER_URL=" + strings.TrimPrefix(col.URL, "http://"),
		"TRACING_PROVIDERS_OTLP_INSECURE=true",
		"TRACING_PROVIDERS_OTLP_SAMPLING_SAMPLING_RATIO=1",
	}})
	env := map[string]string{"HERA_PUBLIC_URL": e.HeraURL, "KRATOS_PUBLIC_URL": e.Kratos.PublicURL, "KRATOS_ADMIN_URL": e.Kratos.AdminURL}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kratos.NewClient(cfg.Kratos.PublicURL, cfg.Kratos.AdminURL, cfg.Kratos.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr, err := tracing.New(tp)
	if err != nil {
		t.Fatal(err)
	}
	kc.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return tr.Transport("kratos", rt) })
	logs := &lockedBuffer{}
	h, err := web.NewServer(web.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Options: web.OptionsFrom(cfg), Kratos: kc, Tracing: tr})
	if err != nil {
		t.Fatal(err)
	}
	e.ServeHera(t, h)

	b := webtest.New(t, e.HeraURL)
	mustPath(t, b.Get("/login"), "/login")

	// Hera's side: a server span per request (the login page, the flow
	// started through the proxy, the page again with its flow), each Kratos
	// call a child client span.
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans.GetSpans() {
		byID[s.SpanContext.SpanID()] = s
	}
	var page tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		if s.SpanKind != trace.SpanKindClient {
			continue
		}
		parent, ok := byID[s.Parent.SpanID()]
		if !ok || parent.SpanKind != trace.SpanKindServer {
			t.Errorf("client span %q: parent %v is no server span of Hera's", s.Name, s.Parent.SpanID())
			continue
		}
		if parent.Name == "GET /login" && s.Name == "GET /self-service/login/flows" {
			page = parent
		}
	}
	if !page.SpanContext.IsValid() {
		t.Fatalf("no login page span with its flow fetched; spans: %v", spanNames(spans))
	}
	for _, name := range []string{"GET /api/kratos/", "GET /self-service/login/browser"} {
		if !slices.Contains(spanNames(spans), name) {
			t.Errorf("no span %q; spans: %v", name, spanNames(spans))
		}
	}

	// Kratos's side: its spans for the flow arrive (it batches, every few
	// seconds) in the page's trace.
	want := page.SpanContext.TraceID().String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		joined := 0
		for _, s := range col.Spans() {
			if s.TraceID == want && s.Resource["service.name"] == "kratos" {
				joined++
			}
		}
		if joined > 0 {
			break
		}
		if time.Now().After(deadline) {
			var got []string
			for _, s := range col.Spans() {
				got = append(got, s.Name+" "+s.TraceID)
			}
			t.Fatalf("no Kratos span in Hera's trace %s; Kratos sent %d spans: %v", want, len(got), got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func spanNames(exp *tracetest.InMemoryExporter) []string {
	var out []string
	for _, s := range exp.GetSpans() {
		out = append(out, s.Name)
	}
	return out
}
