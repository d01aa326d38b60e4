package tracing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type failingExporter struct{ sdktrace.SpanExporter }

func (failingExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	return errors.New("collector down")
}

// TestReportingExporter: failed exports are logged at most once a minute,
// with the spans lost, and never handed back to the SDK (which would pass
// them to OpenTelemetry's global error handler, on standard error).
func TestReportingExporter(t *testing.T) {
	var logs bytes.Buffer
	e := &reportingExporter{SpanExporter: failingExporter{tracetest.NewNoopExporter()}, log: slog.New(slog.NewJSONHandler(&logs, nil))}
	spans := make([]sdktrace.ReadOnlySpan, 3)
	for range 5 {
		if err := e.ExportSpans(context.Background(), spans); err != nil {
			t.Fatalf("error handed to the SDK: %v", err)
		}
	}
	if n := strings.Count(logs.String(), `"msg":"tracing: spans not exported"`); n != 1 {
		t.Fatalf("%d lines, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"lost":3`) {
		t.Errorf("first line: %s", logs.String())
	}
	// A minute later the next failure reports what was lost meanwhile.
	e.lastAt.Add(-int64(2 * 60 * 1e9))
	_ = e.ExportSpans(context.Background(), spans)
	if !strings.Contains(logs.String(), `"lost":15`) {
		t.Errorf("second line: %s", logs.String())
	}
}
