package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/requestid"
	"github.com/heraproject/hera/internal/web"
)

// Micro-benchmarks of Hera's page-view path: a recorded Kratos flow (JSON)
// becomes the HTML page, through the real handler (middleware, request
// log line, flow decode, view model, template). The load benchmark
// (go run ./bench) measures the same against a real Kratos.
//
//	go test ./internal/web -run '^$' -bench . -benchmem

// benchLogger is Hera's logger as cmd/hera builds it (JSON, request IDs),
// writing nowhere.
func benchLogger(level slog.Level) *slog.Logger {
	return slog.New(requestid.Handler{Handler: slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level})})
}

func benchServer(b *testing.B, log *slog.Logger, k any, kratosURL string) http.Handler {
	b.Helper()
	env := map[string]string{
		"HERA_PUBLIC_URL":   "http://localhost:4455",
		"KRATOS_PUBLIC_URL": kratosURL,
		"KRATOS_ADMIN_URL":  kratosURL,
	}
	cfg, err := config.Load(func(name string) string { return env[name] })
	if err != nil {
		b.Fatal(err)
	}
	d := web.Deps{Logger: log, Options: web.OptionsFrom(cfg)}
	switch k := k.(type) {
	case *fixtureKratos:
		d.Kratos = k
	case *kratos.Client:
		d.Kratos = k
	default:
		b.Fatalf("unknown Kratos %T", k)
	}
	h, err := web.NewServer(d)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// pageRequest is a browser's request for the flow page; the handler never
// changes it, so one serves every iteration.
func pageRequest(f fixture) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://localhost:4455/"+string(f.kind)+"?flow="+url.QueryEscape(f.id), nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	r.Header.Set("Cookie", "csrf_token_806060ca5bf70dff3caa0e5c860002aade9d470a5a4dce73bcfa7ba10778f481=QqPMvbXgMgMNOfpzbHpEPdZGNLdGZm4ZGdAHdsdBlFI=")
	r.RemoteAddr = "127.0.0.1:40000"
	return r
}

// discardWriter is the cheapest ResponseWriter: the benchmark measures
// Hera's handler, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
func (w *discardWriter) reset() { clear(w.h); w.status, w.n = 0, 0 }

// servePage serves r once and fails unless the page rendered.
func servePage(b *testing.B, h http.Handler, r *http.Request, w *discardWriter) {
	w.reset()
	h.ServeHTTP(w, r)
	if w.status != http.StatusOK || w.n == 0 || !strings.HasPrefix(w.h.Get("Content-Type"), "text/html") {
		b.Fatalf("status %d, %d bytes, %q", w.status, w.n, w.h.Get("Content-Type"))
	}
}

// benchPage serves r again and again, reporting the page's size.
func benchPage(b *testing.B, h http.Handler, r *http.Request) {
	w := &discardWriter{h: http.Header{}}
	servePage(b, h, r, w)
	b.ReportMetric(float64(w.n), "page-bytes")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		servePage(b, h, r, w)
	}
}

// BenchmarkRender is Hera's own work per page view for every recorded flow:
// decode Kratos's JSON, build the view, execute the templates, through the
// middleware and the info-level request log line, as shipped.
func BenchmarkRender(b *testing.B) {
	for _, f := range loadFixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			benchPage(b, benchServer(b, benchLogger(slog.LevelInfo), &fixtureKratos{f: f}, "http://127.0.0.1:9"), pageRequest(f))
		})
	}
}

// BenchmarkRenderLogLevel is the login page with the request log line
// written (info, as shipped) and skipped (warn).
func BenchmarkRenderLogLevel(b *testing.B) {
	login := fixtureNamed(b, "login")
	for _, lv := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
		b.Run(strings.ToLower(lv.String()), func(b *testing.B) {
			benchPage(b, benchServer(b, benchLogger(lv), &fixtureKratos{f: login}, "http://127.0.0.1:9"), pageRequest(login))
		})
	}
}

// BenchmarkPageView is a whole login page view against an in-process
// Kratos over loopback HTTP, with the real Kratos client (request, answer,
// decode, render), next to the bare fetch of the same flow with a plain
// client ("direct"): the difference is what Hera adds per page view. Both
// include the fake Kratos's own work, in the same process.
func BenchmarkPageView(b *testing.B) {
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

	b.Run("direct", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
		b.Cleanup(c.CloseIdleConnections)
		u := upstream.URL + "/self-service/login/flows?id=" + url.QueryEscape(login.id)
		cookie := pageRequest(login).Header.Get("Cookie")
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Cookie", cookie)
			fetchOK(b, c, req)
		}
	})
	b.Run("hera", func(b *testing.B) {
		ku, _ := url.Parse(upstream.URL)
		kc, err := kratos.NewClient(ku, ku, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		benchPage(b, benchServer(b, benchLogger(slog.LevelInfo), kc, upstream.URL), pageRequest(login))
	})
}

// fetchOK sends req, reads the whole answer and fails b unless it is a 200:
// the plain Kratos side of the page view and submit benchmarks.
func fetchOK(b *testing.B, c *http.Client, req *http.Request) {
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("status %d", res.StatusCode)
	}
}
