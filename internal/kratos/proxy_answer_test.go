package kratos_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
)

// TestProxyAnswers: Kratos sends its JSON chunked; the proxy passes small
// answers on whole, with a Content-Length, and large ones as a stream —
// every byte intact either way, also with many answers in flight.
func TestProxyAnswers(t *testing.T) {
	body := func(n, seed int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + (i*7+seed)%26)
		}
		return b
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		seed, _ := strconv.Atoi(r.URL.Query().Get("seed"))
		w.Header().Set("Content-Type", "application/json")
		b := body(n, seed)
		for len(b) > 0 { // in pieces, flushed: chunked, as Kratos answers
			k := min(len(b), 3000)
			_, _ = w.Write(b[:k])
			w.(http.Flusher).Flush()
			b = b[k:]
		}
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	p, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream: u, Prefix: "/api/kratos", Timeout: 5 * time.Second, MaxBody: 64 << 10,
		Logger:   slog.New(slog.DiscardHandler),
		ClientIP: func(*http.Request) string { return "127.0.0.1" },
		Submit:   func(w http.ResponseWriter, _ *http.Request, _ kratos.Kind) { w.WriteHeader(http.StatusTeapot) },
		Refuse:   func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		Fail:     func(w http.ResponseWriter, _ *http.Request, status int) { w.WriteHeader(status) },
	})
	if err != nil {
		t.Fatal(err)
	}
	hera := httptest.NewServer(p)
	t.Cleanup(hera.Close)

	get := func(n, seed int) error {
		res, err := http.Get(fmt.Sprintf("%s/api/kratos/sessions/whoami?n=%d&seed=%d", hera.URL, n, seed))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		got, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, body(n, seed)) {
			return fmt.Errorf("n=%d seed=%d: body differs (%d bytes)", n, seed, len(got))
		}
		// At 64 KiB + 1 the end of the answer may or may not come with
		// its last byte: either way is right.
		small := n <= 64<<10
		if sized := res.ContentLength == int64(n); sized != small && n != 64<<10+1 {
			return fmt.Errorf("n=%d: Content-Length %d (want it set only for small answers)", n, res.ContentLength)
		}
		return nil
	}
	for _, n := range []int{0, 1, 5000, 8 << 10, 8<<10 + 1, 64 << 10, 64<<10 + 2, 300 << 10} {
		if err := get(n, n); err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			n := 1000 + i*97
			if i%10 == 0 {
				n = 100<<10 + i
			}
			if err := get(n, i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFlowLinksCarryOnlyLinkParameters: a GET on a flow's submit endpoint
// is a submission to Kratos; only what Kratos's own links carry passes.
func TestFlowLinksCarryOnlyLinkParameters(t *testing.T) {
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.RequestURI())
		w.WriteHeader(http.StatusSeeOther)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	var failed []int
	p, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream: u, Prefix: "/api/kratos", Timeout: time.Second, MaxBody: 1 << 16,
		Logger:   slog.New(slog.DiscardHandler),
		ClientIP: func(*http.Request) string { return "192.0.2.1" },
		Submit:   func(http.ResponseWriter, *http.Request, kratos.Kind) { t.Error("GET handed to submit") },
		Refuse:   func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) },
		Fail: func(w http.ResponseWriter, _ *http.Request, status int) {
			failed = append(failed, status)
			w.WriteHeader(status)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	const id = "9f425a8d-7efc-4768-8f23-7647a74fdf13"
	for _, tc := range []struct {
		target string
		pass   bool
	}{
		{"/self-service/verification?flow=" + id + "&code=123456", true},
		{"/self-service/recovery?flow=" + id + "&token=abc", true},
		{"/self-service/settings?flow=" + id, true},
		{"/self-service/verification?flow=" + id + "&email=victim%40example.com", false},
		{"/self-service/verification?flow=" + id + "&code=1&code=2", false},
		{"/self-service/verification?flow=" + id + "&method=code&email=v%40x.io&csrf_token=t", false},
		{"/self-service/recovery?flow=" + id + "&email=victim%40example.com", false},
		{"/self-service/recovery?flow=" + id + "&code=123456", false},
		{"/self-service/login?flow=" + id + "&identifier=v&password=p&method=password", false},
		{"/self-service/login?flow=" + id + "&code=1", false},
		{"/self-service/registration?flow=" + id + "&traits.email=v", false},
		{"/self-service/verification?code=123456", false},
		{"/self-service/verification?flow=" + id + ";email=x", false},
	} {
		got, failed = nil, nil
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/kratos"+tc.target, nil))
		if passed := len(got) == 1; passed != tc.pass {
			t.Errorf("%s: reached Kratos %v, want %v (status %d)", tc.target, passed, tc.pass, rec.Code)
		}
		if !tc.pass && (len(failed) != 1 || failed[0] != http.StatusBadRequest) {
			t.Errorf("%s: refused with %v, want 400", tc.target, failed)
		}
	}
}
