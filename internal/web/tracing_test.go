package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/metrics"
	"github.com/heraproject/hera/internal/requestid"
	"github.com/heraproject/hera/internal/tracing"
	"github.com/heraproject/hera/internal/web"
)

// browserTraceparent is what a browser (or anyone) may send: it must reach
// neither Hera's trace nor Kratos.
const browserTraceparent = "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01"

// traceKratos is a fake Kratos public API serving the recorded login flow;
// it remembers the traceparent of every call. A flow ID of "slow" makes it
// wait until the caller gives up.
type traceKratos struct {
	*httptest.Server
	login    fixture
	arrived  chan struct{} // one value per call to the slow flow
	mu       sync.Mutex
	received []string // "path traceparent"
}

func newTraceKratos(t *testing.T) *traceKratos {
	k := &traceKratos{login: fixtureNamed(t, "login"), arrived: make(chan struct{}, 8)}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.received = append(k.received, r.URL.Path+" "+r.Header.Get("Traceparent"))
		k.mu.Unlock()
		if r.URL.Path != "/self-service/login/flows" {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Query().Get("id") {
		case k.login.id:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(k.login.raw)
		case slowFlow:
			k.arrived <- struct{}{}
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(k.Close)
	return k
}

// slowFlow is a well-formed flow ID the fake Kratos answers only when the
// caller has given up.
const slowFlow = "00000000-0000-4000-8000-000000000000"

// traceparents returns the traceparents received for path.
func (k *traceKratos) traceparents(path string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, r := range k.received {
		if p, tp, _ := strings.Cut(r, " "); p == path {
			out = append(out, tp)
		}
	}
	return out
}

// tracedHera is Hera in front of k, wired as run() wires it, with tracing
// into an in-memory exporter (tr nil: tracing off) and metrics.
type tracedHera struct {
	http.Handler
	spans   *tracetest.InMemoryExporter
	metrics *metrics.Metrics
	logs    *lockedBuffer
}

func newTracedHera(t *testing.T, k *traceKratos, traced bool) *tracedHera {
	t.Helper()
	env := map[string]string{"HERA_PUBLIC_URL": "http://localhost:4455", "KRATOS_PUBLIC_URL": k.URL, "KRATOS_ADMIN_URL": k.URL}
	cfg, err := config.Load(func(n string) string { return env[n] })
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kratos.NewClient(cfg.Kratos.PublicURL, cfg.Kratos.AdminURL, cfg.Kratos.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	h := &tracedHera{spans: tracetest.NewInMemoryExporter(), metrics: metrics.New(), logs: &lockedBuffer{}}
	log := slog.New(requestid.Handler{Handler: slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	d := web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: kc, Metrics: h.metrics}
	kc.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return h.metrics.Transport("kratos", rt) })
	if traced {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(h.spans))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		tr, err := tracing.New(tp)
		if err != nil {
			t.Fatal(err)
		}
		kc.WrapTransport(func(rt http.RoundTripper) http.RoundTripper { return tr.Transport("kratos", rt) })
		d.Tracing = tr
	}
	h.Handler, err = web.NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hera log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *tracedHera) span(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	var names []string
	for _, s := range h.spans.GetSpans() {
		if s.Name == name {
			return s
		}
		names = append(names, s.Name)
	}
	t.Fatalf("no span %q among %v", name, names)
	return tracetest.SpanStub{}
}

func spanAttr(s tracetest.SpanStub, key attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// checkJoined checks that the server span is a new trace (not the
// browser's), that a Kratos client span is its child, and that Kratos got
// that client span as its parent.
func checkJoined(t *testing.T, h *tracedHera, k *traceKratos, serverSpan, requestID string) {
	t.Helper()
	srv := h.span(t, serverSpan)
	if srv.SpanKind != trace.SpanKindServer {
		t.Errorf("%s: kind %v", serverSpan, srv.SpanKind)
	}
	if got := spanAttr(srv, "hera.request_id"); got != requestID || requestID == "" {
		t.Errorf("%s: hera.request_id %q, X-Request-Id %q", serverSpan, got, requestID)
	}
	if srv.SpanContext.TraceID().String() == "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" || srv.Parent.IsValid() {
		t.Errorf("%s: joined the browser's trace (parent %v)", serverSpan, srv.Parent)
	}
	client := h.span(t, "GET /self-service/login/flows")
	if client.SpanKind != trace.SpanKindClient || client.Parent.SpanID() != srv.SpanContext.SpanID() ||
		client.SpanContext.TraceID() != srv.SpanContext.TraceID() {
		t.Errorf("Kratos call: kind %v, parent %v, want a child of %v", client.SpanKind, client.Parent.SpanID(), srv.SpanContext.SpanID())
	}
	tps := k.traceparents("/self-service/login/flows")
	if len(tps) != 1 {
		t.Fatalf("Kratos got %d calls", len(tps))
	}
	want := "00-" + srv.SpanContext.TraceID().String() + "-" + client.SpanContext.SpanID().String() + "-01"
	if tps[0] != want {
		t.Errorf("Kratos got traceparent %q, want %q (Hera's trace, the client span)", tps[0], want)
	}
}

func TestTracingPageView(t *testing.T) {
	k := newTraceKratos(t)
	h := newTracedHera(t, k, true)
	r := httptest.NewRequest(http.MethodGet, "/login?flow="+url.QueryEscape(k.login.id), nil)
	r.Header.Set("Traceparent", browserTraceparent)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	checkJoined(t, h, k, "GET /login", w.Header().Get("X-Request-Id"))
	if got := spanAttr(h.span(t, "GET /login"), "http.route"); got != "/login" {
		t.Errorf("http.route %q", got)
	}
}

func TestTracingProxy(t *testing.T) {
	k := newTraceKratos(t)
	h := newTracedHera(t, k, true)
	r := httptest.NewRequest(http.MethodGet, "/api/kratos/self-service/login/flows?id="+url.QueryEscape(k.login.id), nil)
	r.Header.Set("Traceparent", browserTraceparent)
	r.Header.Set("Tracestate", "vendor=browser")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	checkJoined(t, h, k, "GET /api/kratos/", w.Header().Get("X-Request-Id"))
}

// TestProxyDropsBrowserTraceparent: with tracing off, Kratos gets no trace
// context at all, the browser's included.
func TestProxyDropsBrowserTraceparent(t *testing.T) {
	k := newTraceKratos(t)
	h := newTracedHera(t, k, false)
	r := httptest.NewRequest(http.MethodGet, "/api/kratos/self-service/login/flows?id="+url.QueryEscape(k.login.id), nil)
	r.Header.Set("Traceparent", browserTraceparent)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if tps := k.traceparents("/self-service/login/flows"); len(tps) != 1 || tps[0] != "" {
		t.Errorf("Kratos got traceparents %q, want one call without", tps)
	}
}

// TestClientCancellation: a browser that goes away while Hera waits on a
// slow Kratos leaves no error line (nothing failed), a 499 in the request
// line and the metrics, and spans that are not errors — on a page and
// through the proxy.
func TestClientCancellation(t *testing.T) {
	for _, tc := range []struct{ name, path, route, upstream, span string }{
		{"page", "/login?flow=" + slowFlow, "GET /login", "kratos", "GET /login"},
		{"proxy", "/api/kratos/self-service/login/flows?id=" + slowFlow, "/api/kratos/", "kratos_proxy", "GET /api/kratos/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newTraceKratos(t)
			h := newTracedHera(t, k, true)
			srv := httptest.NewServer(h)
			defer srv.Close()

			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+tc.path, nil)
			go func() {
				<-k.arrived
				cancel()
			}()
			if _, err := http.DefaultClient.Do(req); err == nil {
				t.Fatal("the cancelled request got an answer")
			}
			// The request line is the last thing Hera writes.
			line := waitForLine(t, h.logs, `"msg":"request"`)
			if line["status"] != float64(499) {
				t.Errorf("request line %v, want status 499", line)
			}
			logs := h.logs.String()
			if strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, "502") {
				t.Errorf("error logged for a client that went away:\n%s", logs)
			}
			if !strings.Contains(logs, `"msg":"client went away"`) {
				t.Errorf("no line says the client went away:\n%s", logs)
			}

			m := scrape(t, h.metrics)
			for _, want := range []string{
				`hera_http_requests_total{method="GET",route="` + tc.route + `",status="499"} 1`,
				`hera_upstream_request_duration_seconds_count{method="GET",status="canceled",upstream="` + tc.upstream + `"} 1`,
			} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			if strings.Contains(m, "hera_upstream_errors_total{") {
				t.Errorf("a client that went away counted as an upstream error:\n%s", grep(m, "hera_upstream_errors_total"))
			}

			for _, name := range []string{tc.span, "GET /self-service/login/flows"} {
				s := h.span(t, name)
				if s.Status.Code == codes.Error {
					t.Errorf("%s: error status %v", name, s.Status)
				}
				if spanAttr(s, tracing.AttrClientCanceled) != "true" {
					t.Errorf("%s: not marked %s: %v", name, tracing.AttrClientCanceled, s.Attributes)
				}
			}
			if got := spanAttr(h.span(t, tc.span), "http.response.status_code"); got != "499" {
				t.Errorf("server span status code %s", got)
			}
		})
	}
}

// waitForLine waits for the first log line containing substr and decodes it.
func waitForLine(t *testing.T, logs *lockedBuffer, substr string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, substr) {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
	}
	t.Fatalf("no log line with %s:\n%s", substr, logs.String())
	return nil
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return w.Body.String()
}

func grep(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRenderForGoneClient: Kratos answered, but the browser left before
// the page was rendered (templ stops on the cancelled context): no error
// line, no 500, a 499.
func TestRenderForGoneClient(t *testing.T) {
	login := fixtureNamed(t, "login")
	env := map[string]string{"HERA_PUBLIC_URL": "http://localhost:4455", "KRATOS_PUBLIC_URL": "http://127.0.0.1:9", "KRATOS_ADMIN_URL": "http://127.0.0.1:9"}
	cfg, err := config.Load(func(n string) string { return env[n] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	h, err := web.NewServer(web.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Options: web.OptionsFrom(cfg), Kratos: &fixtureKratos{f: login}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login?flow="+url.QueryEscape(login.id), nil).WithContext(ctx))
	if w.Code != 499 || strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("status %d, log:\n%s", w.Code, logs.String())
	}
}
