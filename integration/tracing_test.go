package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraproject/hera/internal/app"
	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/tracing/tracingtest"
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
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr, err := tracing.New(tp)
	if err != nil {
		t.Fatal(err)
	}
	apptest.Start(t, e, map[string]string{"HERA_STARTUP_CHECKS": "false"}, app.WithTracing(tr))

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
