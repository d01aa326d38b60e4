package kratos_test

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/kratos/proxytest"
)

// newBareProxy serves kratos.NewProxy alone, as Hera configures it, with the
// TCP peer as client IP.
func newBareProxy(t *testing.T, up *proxytest.Upstream) *proxytest.Target {
	var mu sync.Mutex
	submits := 0
	p, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream: up.URL(t),
		Prefix:   "/api/kratos",
		Timeout:  5 * time.Second,
		MaxBody:  64 << 10,
		Logger:   slog.New(slog.DiscardHandler),
		ClientIP: func(r *http.Request) string {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			return host
		},
		Submit: func(w http.ResponseWriter, r *http.Request, kind kratos.Kind) {
			mu.Lock()
			submits++
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted) // "guarded pipeline", not Kratos
		},
		Refuse: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "refused", http.StatusNotFound) },
		Fail:   func(w http.ResponseWriter, r *http.Request, status int) { http.Error(w, "failed", status) },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &proxytest.Target{Name: "proxy", Addr: srv.Listener.Addr().String(), Submits: func() int {
		mu.Lock()
		defer mu.Unlock()
		return submits
	}}
}

// TestProxyAttackTable sends hostile paths, methods, headers, bodies and
// upstream redirects through the bare proxy in front of an upstream that
// records what reaches it (internal/web runs the same table against a
// whole Hera).
func TestProxyAttackTable(t *testing.T) {
	up := proxytest.NewUpstream(t)
	admin := proxytest.NewUpstream(t) // Kratos's admin API: nothing may ever reach it
	tg := newBareProxy(t, up)
	tried, refused, blocked := 0, 0, 0
	for _, a := range proxytest.Attacks(func() string { return up.URL(t).Host }) {
		if a.OnlyHera {
			continue
		}
		tried++
		if err := proxytest.Run(t, tg, up, admin, a); err != nil {
			t.Errorf("%s via %s: %v", a.Name, tg.Name, err)
			continue
		}
		refused++
		if !a.Forwarded {
			blocked++
		}
	}
	t.Logf("proxy attack table, bare proxy: %d tried, %d refused (%d never reached Kratos, %d reached it once with the hostile part stripped)",
		tried, refused, blocked, refused-blocked)
	if tried < 25 {
		t.Errorf("attack table too small: %d rows", tried)
	}
	if refused != tried {
		t.Errorf("%d of %d attacks got through", tried-refused, tried)
	}
}
