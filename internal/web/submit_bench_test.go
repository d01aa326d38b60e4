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
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/web"
)

// sessionAnswer is Kratos v1.3's answer to a successful password sign-in
// asked for JSON, as the load benchmark gets it.
const sessionAnswer = `{"session":{"id":"8f6a3b3e-2f59-4f8b-9a53-0c5d7a1f2e11","active":true,"expires_at":"2026-11-28T04:13:11.123456Z","authenticated_at":"2026-11-27T04:13:11.123456Z","authenticator_assurance_level":"aal1","authentication_methods":[{"method":"password","aal":"aal1","completed_at":"2026-11-27T04:13:11.120001Z"}],"issued_at":"2026-11-27T04:13:11.123456Z","identity":{"id":"3d1c6a2e-5a0b-4f9e-8b1d-2c7e9f0a1b2c","schema_id":"default","schema_url":"http://localhost:4455/api/kratos/schemas/ZGVmYXVsdA","state":"active","state_changed_at":"2026-11-27T04:10:00.000000Z","traits":{"email":"bench-0001@example.com","name":{"first":"Bench","last":"User"}},"verifiable_addresses":[{"id":"5e2b1c3d-7a8f-4e6d-9c0b-1a2b3c4d5e6f","value":"bench-0001@example.com","verified":false,"via":"email","status":"sent","created_at":"2026-11-27T04:10:00.000000Z","updated_at":"2026-11-27T04:10:00.000000Z"}],"recovery_addresses":[{"id":"6f3c2d4e-8b9a-4f7e-0d1c-2b3c4d5e6f70","value":"bench-0001@example.com","via":"email","created_at":"2026-11-27T04:10:00.000000Z","updated_at":"2026-11-27T04:10:00.000000Z"}],"metadata_public":null,"created_at":"2026-11-27T04:10:00.000000Z","updated_at":"2026-11-27T04:10:00.000000Z","organization_id":null},"devices":[{"id":"7a4d3e5f-9c0b-4a8f-1e2d-3c4d5e6f7081","ip_address":"127.0.0.1","user_agent":"hera-bench","location":""}]},"continue_with":[{"action":"redirect_browser_to","redirect_browser_to":"http://localhost:4455/"}]}`

// BenchmarkSubmit is a password sign-in through Hera's submit handler
// (form parse, lockout check and record with the memory store, the call to
// Kratos, decoding its answer, the redirect) against an in-process Kratos
// that answers with a session, next to the same POST straight to that
// Kratos ("direct"). Both include the fake Kratos's own work.
func BenchmarkSubmit(b *testing.B) {
	const flowID = "0b6f1c1e-6b0c-4f55-a6a4-1f0a3f8b4c2d"
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/self-service/login" || r.URL.Query().Get("flow") != flowID {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Add("Set-Cookie", "ory_kratos_session=MTc2NDIxNjc5MXxbench; Path=/; Expires=Sat, 28 Nov 2026 04:13:11 GMT; HttpOnly; SameSite=Lax")
		_, _ = io.WriteString(w, sessionAnswer)
	}))
	b.Cleanup(upstream.Close)
	form := url.Values{"csrf_token": {"QqPMvbXgMgMNOfpzbHpEPdZGNLdGZm4ZGdAHdsdBlFI="}, "identifier": {"bench-0001@example.com"},
		"password": {"correct horse battery staple"}, "method": {"password"}}.Encode()
	cookie := "csrf_token_806060ca5bf70dff3caa0e5c860002aade9d470a5a4dce73bcfa7ba10778f481=QqPMvbXgMgMNOfpzbHpEPdZGNLdGZm4ZGdAHdsdBlFI="

	b.Run("direct", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
		b.Cleanup(c.CloseIdleConnections)
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, upstream.URL+"/self-service/login?flow="+flowID, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Cookie", cookie)
			fetchOK(b, c, req)
		}
	})
	b.Run("hera", func(b *testing.B) {
		env := map[string]string{"HERA_PUBLIC_URL": "http://localhost:4455", "KRATOS_PUBLIC_URL": upstream.URL, "KRATOS_ADMIN_URL": upstream.URL}
		cfg, err := config.Load(func(name string) string { return env[name] })
		if err != nil {
			b.Fatal(err)
		}
		ku, _ := url.Parse(upstream.URL)
		kc, err := kratos.NewClient(ku, ku, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		store, err := memory.New(memory.Config{})
		if err != nil {
			b.Fatal(err)
		}
		limiter, err := lockout.New(store, cfg.Lockout.Policy)
		if err != nil {
			b.Fatal(err)
		}
		log := benchLogger(slog.LevelInfo)
		g, err := guard.New(guard.Config{Logger: log, Limiter: limiter})
		if err != nil {
			b.Fatal(err)
		}
		h, err := web.NewServer(web.Deps{Logger: log, Options: web.OptionsFrom(cfg), Kratos: kc, Guard: g})
		if err != nil {
			b.Fatal(err)
		}
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "http://localhost:4455/api/kratos/login/submit?flow="+flowID, strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Cookie", cookie)
			r.RemoteAddr = "127.0.0.1:40000"
			w.reset()
			h.ServeHTTP(w, r)
			// A password sign-in goes on by the passkey offer.
			if w.status != http.StatusSeeOther || w.h.Get("Location") != "/passkey-offer?return_to=http%3A%2F%2Flocalhost%3A4455%2F" {
				b.Fatalf("status %d, Location %q", w.status, w.h.Get("Location"))
			}
		}
	})
}
