package app

import (
	"context"
	"testing"

	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/lockout/storetest"
	"github.com/heraproject/hera/internal/tracing"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracedStoreConformance: the span wrapper is a lockout store like the
// one it wraps (the conformance suite, memory underneath), and each call
// leaves a client span with the key's kind and no digest.
func TestTracedStoreConformance(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr, err := tracing.New(tp)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		st, err := memory.New(memory.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return storetest.NewBackend(tracedStore{Store: st, t: tr, system: "memory"}, nil, nil)
	})
	ops := map[string]bool{}
	for _, s := range exp.GetSpans() {
		ops[s.Name] = true
		if s.SpanKind != trace.SpanKindClient {
			t.Fatalf("%s: kind %v", s.Name, s.SpanKind)
		}
		// Only these: nothing of the key but its kind.
		for _, a := range s.Attributes {
			switch a.Key {
			case "hera.lockout.kind", "db.operation.name", "service.peer.name":
				if a.Value.AsString() == "" {
					t.Fatalf("%s: %s empty", s.Name, a.Key)
				}
			case tracing.AttrClientCanceled: // the suite's cancelled calls
			default:
				t.Fatalf("%s: attribute %s", s.Name, a.Key)
			}
		}
	}
	for _, op := range []string{"Fail", "Get", "Reset", "Reserve", "Settle", "Take", "Link", "Resolve"} {
		if !ops["lockout "+op] {
			t.Errorf("no span for %s", op)
		}
	}
}
