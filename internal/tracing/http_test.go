package tracing_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraproject/hera/internal/requestid"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/tracing/tracingtest"
)

// newTracing traces into an in-memory exporter, synchronously.
func newTracing(t *testing.T) (*tracing.Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr, err := tracing.New(tp)
	if err != nil {
		t.Fatal(err)
	}
	return tr, exp
}

func attr(s tracetest.SpanStub, key attribute.Key) (attribute.Value, bool) {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

func spanNamed(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	var names []string
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			return s
		}
		names = append(names, s.Name)
	}
	t.Fatalf("no span %q among %v", name, names)
	return tracetest.SpanStub{}
}

// pointerHandler is comparable, so a test can see a handler come back
// unwrapped.
type pointerHandler struct{}

func (*pointerHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

func TestOffWrapsNothing(t *testing.T) {
	off := tracing.Off()
	if off.Enabled() {
		t.Fatal("Off is enabled")
	}
	next := &pointerHandler{}
	if h := off.Middleware(next, nil); h != http.Handler(next) {
		t.Error("Off().Middleware wrapped the handler")
	}
	rt := &http.Transport{}
	if got := off.Transport("kratos", rt); got != http.RoundTripper(rt) {
		t.Error("Off().Transport wrapped the transport")
	}
	if got := off.ExternalTransport("captcha", rt); got != http.RoundTripper(rt) {
		t.Error("Off().ExternalTransport wrapped the transport")
	}
	ctx := context.Background()
	if c, end := off.Call(ctx, "lockout", "Get"); c != ctx {
		t.Error("Off().Call changed the context")
	} else {
		end(nil)
	}
	if err := off.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if _, err := tracing.New(nil); err == nil {
		t.Error("New(nil) accepted")
	}
	c, err := tracing.Setup(ctx, tracing.Config{}, tracing.Options{})
	if err != nil || c.Enabled() {
		t.Errorf("Setup of the zero Config: %v, enabled %v", err, c.Enabled())
	}
}

// serve runs h behind a ServeMux the way web.NewServer does: the request ID
// outside, tracing around the mux.
func serve(tr *tracing.Tracing, trust bool, pattern string, h http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(pattern, h)
	traced := tr.Middleware(mux, func(*http.Request) bool { return trust })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traced.ServeHTTP(w, r.WithContext(requestid.With(r.Context(), "0123456789abcdef")))
	})
}

func TestServerSpan(t *testing.T) {
	tr, exp := newTracing(t)
	h := serve(tr, false, "GET /sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanContextFromContext(r.Context()).IsValid() {
			t.Error("handler's context carries no span")
		}
		w.WriteHeader(http.StatusTeapot)
	})
	r := httptest.NewRequest(http.MethodGet, "/sessions/abc?secret=1", nil)
	h.ServeHTTP(httptest.NewRecorder(), r)

	s := spanNamed(t, exp, "GET /sessions/{id}")
	if s.SpanKind != trace.SpanKindServer || s.Parent.IsValid() {
		t.Errorf("kind %v, parent %v", s.SpanKind, s.Parent)
	}
	for key, want := range map[attribute.Key]string{
		"http.route": "/sessions/{id}", "hera.request_id": "0123456789abcdef", "url.path": "/sessions/abc",
		"http.request.method": "GET", "http.response.status_code": "418",
	} {
		if v, ok := attr(s, key); !ok || v.String() != want {
			t.Errorf("%s = %q, want %q", key, v.String(), want)
		}
	}
	for _, a := range s.Attributes {
		if strings.Contains(a.Value.String(), "secret") {
			t.Errorf("the query reached the span: %s", a.Key)
		}
	}
	if s.Status.Code != codes.Unset {
		t.Errorf("status %v for a 4xx", s.Status)
	}
}

func TestServerSpanNames(t *testing.T) {
	tr, exp := newTracing(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/api/kratos/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	h := tr.Middleware(mux, nil)
	for _, req := range []struct{ method, path string }{{"GET", "/"}, {"HEAD", "/"}, {"POST", "/api/kratos/x"}, {"BREW", "/api/kratos/x"}} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	var got []string
	for _, s := range exp.GetSpans() {
		got = append(got, s.Name)
	}
	want := []string{"GET /", "HEAD /", "POST /api/kratos/", "HTTP /api/kratos/"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("span names %v, want %v", got, want)
	}
	if s := spanNamed(t, exp, "POST /api/kratos/"); s.Status.Code != codes.Error {
		t.Errorf("502: status %v", s.Status)
	}
}

func TestServerSpanParent(t *testing.T) {
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, trust := range []bool{false, true} {
		tr, exp := newTracing(t)
		h := serve(tr, trust, "GET /login", func(http.ResponseWriter, *http.Request) {})
		r := httptest.NewRequest(http.MethodGet, "/login", nil)
		r.Header.Set("Traceparent", incoming)
		h.ServeHTTP(httptest.NewRecorder(), r)
		s := spanNamed(t, exp, "GET /login")
		joined := s.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736"
		if joined != trust {
			t.Errorf("trusted %v: joined the incoming trace %v", trust, joined)
		}
		if !trust && (len(s.Links) != 1 || s.Links[0].SpanContext.SpanID().String() != "00f067aa0ba902b7") {
			t.Errorf("untrusted parent not linked: %+v", s.Links)
		}
		if trust && s.Parent.SpanID().String() != "00f067aa0ba902b7" {
			t.Errorf("trusted parent %v", s.Parent)
		}
	}
}

// recordingUpstream answers 200 and remembers the traceparent of each call.
type recordingUpstream struct {
	mu      sync.Mutex
	parents []string
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.parents = append(u.parents, r.Header.Get("Traceparent"))
	u.mu.Unlock()
	if r.URL.Path == "/fail" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func TestTransport(t *testing.T) {
	tr, exp := newTracing(t)
	up := &recordingUpstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	client := &http.Client{Transport: tr.Transport("kratos", http.DefaultTransport)}
	external := &http.Client{Transport: tr.ExternalTransport("captcha", http.DefaultTransport)}

	h := serve(tr, false, "GET /login", func(w http.ResponseWriter, r *http.Request) {
		for _, c := range []*http.Client{client, external} {
			for _, p := range []string{"/self-service/login/flows?id=5f9c3f4e-6a4b-4c5d-8e9f-0a1b2c3d4e5f", "/admin/identities/5f9c3f4e-6a4b-4c5d-8e9f-0a1b2c3d4e5f", "/fail"} {
				req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, srv.URL+p, nil)
				req.Header.Set("Traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if req.Header.Get("Traceparent") != "00-11111111111111111111111111111111-2222222222222222-01" {
					t.Error("the transport changed the caller's request")
				}
			}
		}
	})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/login", nil))

	server := spanNamed(t, exp, "GET /login")
	flows := spanNamed(t, exp, "GET /self-service/login/flows")
	if flows.SpanKind != trace.SpanKindClient || flows.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("client span kind %v, parent %v (server %v)", flows.SpanKind, flows.Parent.SpanID(), server.SpanContext.SpanID())
	}
	if v, _ := attr(flows, "service.peer.name"); v.AsString() != "kratos" {
		t.Errorf("service.peer.name %q", v.String())
	}
	if v, _ := attr(flows, "url.path"); v.AsString() != "/self-service/login/flows" {
		t.Errorf("url.path %q", v.String())
	}
	spanNamed(t, exp, "GET /admin/identities/{id}")
	if s := spanNamed(t, exp, "GET /fail"); s.Status.Code != codes.Error {
		t.Errorf("503: status %v", s.Status)
	}

	up.mu.Lock()
	parents := append([]string(nil), up.parents...)
	up.mu.Unlock()
	if len(parents) != 6 {
		t.Fatalf("%d calls", len(parents))
	}
	for i, p := range parents[:3] {
		// Hera's own span replaces whatever the caller's header said.
		if !strings.HasPrefix(p, "00-"+server.SpanContext.TraceID().String()+"-") {
			t.Errorf("call %d to kratos: traceparent %q, want trace %s", i, p, server.SpanContext.TraceID())
		}
	}
	for i, p := range parents[3:] {
		if p != "00-11111111111111111111111111111111-2222222222222222-01" {
			t.Errorf("call %d to the third party: traceparent %q, want the caller's own, untouched", i, p)
		}
	}
}

// TestCancellationIsNotAnError: a client that goes away while Hera waits
// on an upstream leaves spans that say so, without error status.
func TestCancellationIsNotAnError(t *testing.T) {
	tr, exp := newTracing(t)
	arrived := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer slow.Close()
	client := &http.Client{Transport: tr.Transport("kratos", &http.Transport{})}
	h := serve(tr, false, "GET /login", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, slow.URL+"/self-service/login/flows", nil)
		if _, err := client.Do(req); err == nil {
			t.Error("no error from a cancelled call")
		}
		w.WriteHeader(499)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/login", nil).WithContext(ctx))
	}()
	<-arrived
	cancel()
	<-done

	for _, name := range []string{"GET /login", "GET /self-service/login/flows"} {
		s := spanNamed(t, exp, name)
		if s.Status.Code == codes.Error {
			t.Errorf("%s: error status %v", name, s.Status)
		}
		if v, ok := attr(s, tracing.AttrClientCanceled); !ok || !v.AsBool() {
			t.Errorf("%s: not marked %s", name, tracing.AttrClientCanceled)
		}
	}
}

func TestCall(t *testing.T) {
	tr, exp := newTracing(t)
	ctx, end := tr.Call(context.Background(), "lockout", "Reserve", attribute.String("hera.lockout.kind", "ip"))
	if !trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("no span in the call's context")
	}
	end(io.ErrUnexpectedEOF)
	s := spanNamed(t, exp, "lockout Reserve")
	if s.SpanKind != trace.SpanKindClient || s.Status.Code != codes.Error {
		t.Errorf("kind %v, status %v", s.SpanKind, s.Status)
	}

	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, end = tr.Call(cctx, "lockout", "Get")
	end(context.Canceled)
	if s := spanNamed(t, exp, "lockout Get"); s.Status.Code == codes.Error {
		t.Errorf("a cancelled call is an error: %v", s.Status)
	}
}

// TestSetupExports sends spans through the real OTLP exporters, over HTTP
// and gRPC, to a fake collector: configuration from the environment,
// headers and resource included, flushed by Shutdown.
func TestSetupExports(t *testing.T) {
	for _, proto := range []string{tracing.ProtocolHTTP, tracing.ProtocolGRPC} {
		t.Run(proto, func(t *testing.T) {
			var col *tracingtest.Collector
			if proto == tracing.ProtocolGRPC {
				col = tracingtest.NewGRPC(t)
			} else {
				col = tracingtest.NewHTTP(t)
			}
			c, err := tracing.FromEnv(env(map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
				"OTEL_EXPORTER_OTLP_PROTOCOL": proto,
				"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=k3y",
				"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test",
			}))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := tracing.Setup(context.Background(), c, tracing.Options{Logger: slog.New(slog.DiscardHandler), Version: "1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			_, end := tr.Call(context.Background(), "lockout", "Get")
			end(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			s := col.Wait(t, "lockout Get")
			if s.Resource["service.name"] != "hera" || s.Resource["service.version"] != "1.2.3" || s.Resource["deployment.environment.name"] != "test" {
				t.Errorf("resource %v", s.Resource)
			}
			if got := col.Header("X-Api-Key"); got != "k3y" {
				t.Errorf("header x-api-key %q", got)
			}
		})
	}
}

// TestExportFailuresAreLogged: a collector that is down costs one warning
// line in Hera's log, not lines on standard error.
func TestExportFailuresAreLogged(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest) // not retried
	}))
	defer down.Close()
	c, err := tracing.FromEnv(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": down.URL}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	tr, err := tracing.Setup(context.Background(), c, tracing.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, end := tr.Call(context.Background(), "lockout", "Get")
	end(nil)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := strings.Count(logs.String(), "spans not exported"); n != 1 {
		t.Errorf("%d warnings:\n%s", n, logs.String())
	}
}
