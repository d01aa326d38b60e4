package kratos_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
)

// Micro-benchmarks of the /api/kratos/ proxy against an in-process Kratos
// over loopback HTTP, next to the same call made straight to it: the
// difference is what the proxy adds per call.
//
//	go test ./internal/kratos -run '^$' -bench . -benchmem

// whoamiAnswer is a session as Kratos's /sessions/whoami returns it (the
// shape of Kratos v1.3.1, a password sign-in).
const whoamiAnswer = `{"id":"2c4f8e4b-6f1c-4d0e-9d42-8f3a3d3f1b11","active":true,"expires_at":"2026-11-28T01:54:49.107353Z","authenticated_at":"2026-11-27T01:54:49.107353Z","authenticator_assurance_level":"aal1","authentication_methods":[{"method":"password","aal":"aal1","completed_at":"2026-11-27T01:54:49.107348Z"}],"issued_at":"2026-11-27T01:54:49.107353Z","identity":{"id":"9a1c7a2e-3d5b-4c1e-8f0e-2b7d6c5a4e31","schema_id":"default","schema_url":"http://localhost:4455/api/kratos/schemas/ZGVmYXVsdA","state":"active","state_changed_at":"2026-11-27T01:54:48.9Z","traits":{"email":"bench@example.org","name":{"first":"Bench","last":"Mark"}},"verifiable_addresses":[{"id":"5f0c1e2d-7b3a-4c9d-8e1f-6a2b3c4d5e6f","value":"bench@example.org","verified":false,"via":"email","status":"pending","created_at":"2026-11-27T01:54:48.9Z","updated_at":"2026-11-27T01:54:48.9Z"}],"recovery_addresses":[{"id":"0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d","value":"bench@example.org","via":"email","created_at":"2026-11-27T01:54:48.9Z","updated_at":"2026-11-27T01:54:48.9Z"}],"metadata_public":null,"created_at":"2026-11-27T01:54:48.9Z","updated_at":"2026-11-27T01:54:48.9Z","organization_id":null},"devices":[{"id":"7e6d5c4b-3a2f-1e0d-9c8b-7a6f5e4d3c2b","ip_address":"127.0.0.1","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0","location":""}]}`

const benchCookie = "ory_kratos_session=MTc2NDIwODQ4OXxEWDhFQVFMX2dBQUJFQUVRQUFCX19fLUFBQUVHYzNSeWFXNW5EQkVBRDNObGMzTnBiMjVmZEc5clpXNEdjM1J5YVc1bkRDSUFJRTlYVjFWMlFXWkpNVUp4VEVsaVkzbGFiVXhVU0RacE5VWkVXbk4xTVVGbHwxbJ0Y2x1c2VyZXJlcg=="

// flowAnswer is a login flow of Kratos's size (about 5 KiB). Like Kratos,
// the upstream sends it chunked: net/http does so for answers over 2 KiB
// written without a length.
var flowAnswer = func() string {
	var nodes []string
	for i := range 12 {
		nodes = append(nodes, fmt.Sprintf(`{"type":"input","group":"password","attributes":{"name":"field_%d","type":"text","value":"","required":true,"autocomplete":"username","disabled":false,"node_type":"input"},"messages":[],"meta":{"label":{"id":1070004,"text":"Field number %d","type":"info"}}}`, i, i))
	}
	return `{"id":"0b6f1c1e-6b0c-4f55-a6a4-1f0a3f8b4c2d","type":"browser","expires_at":"2026-11-27T02:24:49Z","issued_at":"2026-11-27T01:54:49Z","request_url":"http://localhost:4455/api/kratos/self-service/login/browser","ui":{"action":"http://localhost:4455/api/kratos/self-service/login?flow=0b6f1c1e-6b0c-4f55-a6a4-1f0a3f8b4c2d","method":"POST","nodes":[` +
		strings.Join(nodes, ",") + `]},"created_at":"2026-11-27T01:54:49Z","updated_at":"2026-11-27T01:54:49Z","refresh":false,"requested_aal":"aal1","state":"choose_method"}`
}()

// kratosUpstream answers GET /sessions/whoami (1.3 KiB, sent with its
// length) and GET /self-service/login/flows (5 KiB, chunked), as Kratos
// does.
func kratosUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate")
		switch r.URL.Path {
		case "/sessions/whoami":
			_, _ = io.WriteString(w, whoamiAnswer)
		case "/self-service/login/flows":
			_, _ = io.WriteString(w, flowAnswer)
		default:
			http.NotFound(w, r)
		}
	}))
	b.Cleanup(up.Close)
	return up
}

func benchProxy(b *testing.B, upstream string, log *slog.Logger) *kratos.Proxy {
	b.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		b.Fatal(err)
	}
	fail := func(w http.ResponseWriter, _ *http.Request, status int) { http.Error(w, "upstream failed", status) }
	p, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream: u,
		Prefix:   "/api/kratos",
		Timeout:  5 * time.Second,
		MaxBody:  64 << 10,
		Logger:   log,
		ClientIP: func(r *http.Request) string { return "127.0.0.1" },
		Submit:   func(w http.ResponseWriter, _ *http.Request, _ kratos.Kind) { w.WriteHeader(http.StatusTeapot) },
		Refuse:   func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		Fail:     fail,
	})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// countingWriter is the cheapest ResponseWriter that still copies the body;
// it counts the flushes the proxy asks for (each a write to the socket in
// a real server).
type countingWriter struct {
	h       http.Header
	status  int
	n       int
	flushes int
}

func (w *countingWriter) Flush() { w.flushes++ }

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// BenchmarkProxy compares calls straight to the upstream ("direct": a
// plain client on a keep-alive connection) with the same calls through the
// proxy ("proxy": route check, header scrubbing, X-Forwarded-For,
// httputil.ReverseProxy), for whoami and for a login flow. Both include the
// upstream's own work; the difference is the proxy's.
func BenchmarkProxy(b *testing.B) {
	up := kratosUpstream(b)
	for _, c := range []struct{ name, path, answer string }{
		{"whoami", "/sessions/whoami", whoamiAnswer},
		{"flow", "/self-service/login/flows?id=0b6f1c1e-6b0c-4f55-a6a4-1f0a3f8b4c2d", flowAnswer},
	} {
		b.Run(c.name+"/direct", func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
			b.Cleanup(client.CloseIdleConnections)
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, up.URL+c.path, nil)
				req.Header.Set("Accept", "application/json")
				req.Header.Set("Cookie", benchCookie)
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || n != int64(len(c.answer)) {
					b.Fatalf("status %d, %d bytes", res.StatusCode, n)
				}
			}
		})
		b.Run(c.name+"/proxy", func(b *testing.B) {
			p := benchProxy(b, up.URL, slog.New(slog.DiscardHandler))
			req := httptest.NewRequest(http.MethodGet, "http://localhost:4455/api/kratos"+c.path, nil)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Cookie", benchCookie)
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
			req.RemoteAddr = "127.0.0.1:40000"
			w := &countingWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.status, w.n, w.flushes = 0, 0, 0
				p.ServeHTTP(w, req)
				if w.status != http.StatusOK || w.n != len(c.answer) {
					b.Fatalf("status %d, %d bytes", w.status, w.n)
				}
			}
			b.ReportMetric(float64(w.flushes), "flushes/op")
		})
	}
}

// BenchmarkRouteOf is the proxy's routing decision alone.
func BenchmarkRouteOf(b *testing.B) {
	paths := []struct{ method, path string }{
		{http.MethodGet, "/sessions/whoami"},
		{http.MethodGet, "/self-service/login/browser"},
		{http.MethodGet, "/self-service/settings/flows"},
		{http.MethodPost, "/self-service/login"},
		{http.MethodGet, "/admin/identities"},
		{http.MethodGet, "/self-service/methods/oidc/callback/google"},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range paths {
			kratos.RouteOf(p.method, p.path)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/path")
}
