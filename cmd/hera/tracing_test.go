package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/tracing/tracingtest"
)

// TestTracingThroughRun runs Hera through run() with tracing switched on by
// the environment run is given, against a fake Kratos that records the
// traceparent it gets, and a fake OTLP/HTTP collector: the spans of a
// readiness check and of a guarded submission (lockout store included)
// reach the collector when Hera shuts down, and Kratos saw Hera's trace.
func TestTracingThroughRun(t *testing.T) {
	col := tracingtest.NewHTTP(t)
	var mu sync.Mutex
	var seen []string // "path traceparent"
	kratos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Traceparent"))
		mu.Unlock()
		switch r.URL.Path {
		case "/health/ready", "/admin/health/ready":
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		default:
			http.Error(w, `{"error":{"code":503}}`, http.StatusServiceUnavailable)
		}
	}))
	defer kratos.Close()

	addr := closedAddr(t)
	env := map[string]string{
		"HERA_LISTEN":                 addr,
		"KRATOS_PUBLIC_URL":           kratos.URL,
		"KRATOS_ADMIN_URL":            kratos.URL,
		"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		"OTEL_SERVICE_NAME":           "hera-test",
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"hera"}, mapEnv(env), &out, &out) }()
	base := "http://" + addr
	waitAlive(t, base, done, &out)

	res, err := http.Get(base + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	readyID := res.Header.Get("X-Request-Id")
	form := url.Values{"method": {"password"}, "identifier": {"ada@example.com"}, "password": {"not the password"}}
	res, err = http.PostForm(base+"/api/kratos/login/submit?flow=5f9c3f4e-6a4b-4c5d-8e9f-0a1b2c3d4e5f", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hera did not shut down")
	}
	// No waiting: Shutdown flushed the batch before run returned.
	var ready tracingtest.Span
	for _, s := range col.Spans() {
		if s.Name == "GET /health/ready" && s.Kind == "SPAN_KIND_SERVER" {
			ready = s
		}
	}
	if ready.TraceID == "" {
		t.Fatalf("the readiness check's span was not flushed on shutdown; got %v\n%s", col.Spans(), out.String())
	}
	if ready.Attributes["hera.request_id"] != readyID || ready.Resource["service.name"] != "hera-test" || ready.Resource["service.version"] != "dev" {
		t.Errorf("server span attributes %v, resource %v", ready.Attributes, ready.Resource)
	}
	mu.Lock()
	for _, s := range seen {
		path, tp, _ := strings.Cut(s, " ")
		if strings.HasSuffix(path, "/health/ready") && !strings.Contains(tp, "-"+ready.TraceID+"-") {
			t.Errorf("Kratos got %s with traceparent %q, want trace %s", path, tp, ready.TraceID)
		}
	}
	mu.Unlock()

	submit := col.Wait(t, "POST /api/kratos/{flow}/submit")
	var store, kratosCall bool
	for _, s := range col.Spans() {
		if s.TraceID != submit.TraceID {
			continue
		}
		store = store || strings.HasPrefix(s.Name, "lockout ")
		kratosCall = kratosCall || (s.Name == "POST /self-service/login" && s.Kind == "SPAN_KIND_CLIENT" && s.Status == "STATUS_CODE_ERROR")
	}
	if !store || !kratosCall {
		var names []string
		for _, s := range col.Spans() {
			names = append(names, s.Name)
		}
		t.Errorf("submission's trace: lockout store spans %v, failed Kratos call %v; spans %v", store, kratosCall, names)
	}
	if !strings.Contains(out.String(), `"msg":"tracing","protocol":"http/protobuf"`) {
		t.Errorf("no start line about tracing:\n%s", out.String())
	}
}

func waitAlive(t *testing.T, base string, done chan error, out *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(base + "/health/alive")
		if err == nil {
			res.Body.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("hera exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hera not alive: %v", err)
		}
	}
}

// TestBadTracingSetting: a bad OTEL_* value stops Hera at start with the
// other configuration problems, the variable named.
func TestBadTracingSetting(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"hera"}, mapEnv(map[string]string{
		"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
	}), &out, &out)
	if err == nil {
		t.Fatal("run accepted OTEL_EXPORTER_OTLP_PROTOCOL=http/json")
	}
	for _, want := range []string{"KRATOS_PUBLIC_URL: required", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}
