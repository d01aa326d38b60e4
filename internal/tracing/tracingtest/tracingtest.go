// Package tracingtest is a fake OpenTelemetry collector for tests: it
// accepts OTLP over HTTP (protobuf) or gRPC and keeps the spans it receives.
package tracingtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Span is a received span, flattened.
type Span struct {
	Name                          string
	TraceID, SpanID, ParentSpanID string // hex
	Kind                          string // SPAN_KIND_SERVER, …
	Status                        string // STATUS_CODE_UNSET, …
	Attributes                    map[string]string
	Resource                      map[string]string
}

// Collector keeps what it receives.
type Collector struct {
	// URL is the collector's base URL (http://127.0.0.1:port).
	URL string

	mu      sync.Mutex
	spans   []Span
	headers http.Header // of the last export
}

// NewHTTP starts a collector for OTLP/HTTP (POST /v1/traces, protobuf).
func NewHTTP(t testing.TB) *Collector {
	c := &Collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/traces with protobuf", http.StatusNotFound)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.add(&req, r.Header)
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// NewGRPC starts a collector for OTLP/gRPC, without TLS.
func NewGRPC(t testing.TB) *Collector {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &Collector{URL: "http://" + ln.Addr().String()}
	s := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(s, grpcService{c: c})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return c
}

type grpcService struct {
	coltrace.UnimplementedTraceServiceServer
	c *Collector
}

func (g grpcService) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	h := http.Header{}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	g.c.add(req, h)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (c *Collector) add(req *coltrace.ExportTraceServiceRequest, h http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headers = h
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, Span{
					Name:         s.GetName(),
					TraceID:      hex.EncodeToString(s.GetTraceId()),
					SpanID:       hex.EncodeToString(s.GetSpanId()),
					ParentSpanID: hex.EncodeToString(s.GetParentSpanId()),
					Kind:         s.GetKind().String(),
					Status:       s.GetStatus().GetCode().String(),
					Attributes:   attrs(s.GetAttributes()),
					Resource:     res,
				})
			}
		}
	}
}

func attrs(kvs []*common.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *common.AnyValue_StringValue:
			m[kv.GetKey()] = x.StringValue
		case *common.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(x.IntValue)
		case *common.AnyValue_BoolValue:
			m[kv.GetKey()] = fmt.Sprint(x.BoolValue)
		case *common.AnyValue_DoubleValue:
			m[kv.GetKey()] = fmt.Sprint(x.DoubleValue)
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// Spans returns the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Header returns a header (gRPC: metadata) of the last export.
func (c *Collector) Header(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headers.Get(name)
}

// Wait returns the first span named name, waiting up to 10 seconds for it.
func (c *Collector) Wait(t testing.TB, name string) Span {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range c.Spans() {
			if s.Name == name {
				return s
			}
		}
	}
	var names []string
	for _, s := range c.Spans() {
		names = append(names, s.Name)
	}
	t.Fatalf("collector: no span %q; got [%s]", name, strings.Join(names, ", "))
	return Span{}
}
