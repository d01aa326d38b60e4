package web_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/kratos/proxytest"
	"github.com/heraproject/hera/internal/web"
)

// newHeraTarget serves a whole Hera (web.NewServer) in front of up; admin
// is where its Kratos admin API is (which nothing here may reach).
func newHeraTarget(t *testing.T, name string, up, admin *proxytest.Upstream, extra map[string]string) *proxytest.Target {
	env := map[string]string{
		"HERA_PUBLIC_URL":   "http://localhost:4455",
		"KRATOS_PUBLIC_URL": up.Srv.URL,
		"KRATOS_ADMIN_URL":  admin.Srv.URL,
		"KRATOS_TIMEOUT":    "5s",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kratos.NewClient(cfg.Kratos.PublicURL, cfg.Kratos.AdminURL, cfg.Kratos.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.NewServer(web.Deps{Logger: slog.New(slog.DiscardHandler), Options: web.OptionsFrom(cfg), Kratos: kc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.MaxHeaderBytes = cfg.HTTP.MaxHeaderBytes
	srv.Start()
	t.Cleanup(srv.Close)
	return &proxytest.Target{Name: name, Addr: srv.Listener.Addr().String(), Hera: true}
}

// TestProxyAttackTable sends the proxy's attack table (package proxytest:
// hostile paths, methods, headers, bodies and upstream redirects) through a
// whole Hera, where Go's ServeMux cleans paths first, in front of an
// upstream that records what reaches it; and, behind a trusted proxy, the
// rows about client addresses.
func TestProxyAttackTable(t *testing.T) {
	up := proxytest.NewUpstream(t)
	admin := proxytest.NewUpstream(t) // Kratos's admin API: nothing may ever reach it
	tg := newHeraTarget(t, "hera", up, admin, nil)
	trusted := newHeraTarget(t, "hera-trusted-proxy", up, admin, map[string]string{"HERA_TRUSTED_PROXIES": "127.0.0.0/8"})
	tried, refused, blocked := 0, 0, 0
	for _, a := range proxytest.Attacks(func() string { return up.URL(t).Host }) {
		if a.OnlyBare {
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
	// Behind a trusted proxy, X-Forwarded-For is believed (its right-most
	// untrusted hop) and every other client-address header still goes.
	for _, a := range []proxytest.Attack{
		{Name: "trusted proxy: X-Forwarded-For believed", Forwarded: true,
			Raw:   proxytest.RawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: 198.51.100.1, "+proxytest.SpoofIP),
			Check: proxytest.SpoofCheck(proxytest.SpoofIP)},
		{Name: "trusted proxy: other address headers still stripped", Forwarded: true,
			Raw: proxytest.RawReq("GET", "/api/kratos/sessions/whoami", "X-Forwarded-For: "+proxytest.SpoofIP, "Forwarded: for=198.51.100.9", "X-Real-IP: 198.51.100.9",
				"CF-Connecting-IP: 198.51.100.9", "True-Client-IP: 198.51.100.9", "X-Forwarded-Host: evil.example"),
			Check: proxytest.SpoofCheck(proxytest.SpoofIP, proxytest.SpoofableHeaders()...)},
	} {
		tried++
		if err := proxytest.Run(t, trusted, up, admin, a); err != nil {
			t.Errorf("%s via %s: %v", a.Name, trusted.Name, err)
			continue
		}
		refused++
	}
	t.Logf("proxy attack table, whole Hera: %d tried, %d refused (%d never reached Kratos, %d reached it once with the hostile part stripped)",
		tried, refused, blocked, refused-blocked)
	if tried < 25 {
		t.Errorf("attack table too small: %d rows", tried)
	}
	if refused != tried {
		t.Errorf("%d of %d attacks got through", tried-refused, tried)
	}
}
