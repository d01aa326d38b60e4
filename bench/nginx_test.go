package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestNginxKeepsUpstreamConnections: the nginx arm forwards requests with
// their cookies and answers, and reuses its connections to the upstream,
// as the cheapest hop an operator would configure does.
func TestNginxKeepsUpstreamConnections(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`","cookie":"`+r.Header.Get("Cookie")+`"}`)
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)

	ng, err := startNginx(t.Context(), t.TempDir(), strings.TrimPrefix(up.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ng.stop)
	c := &http.Client{}
	for range 50 {
		req, _ := http.NewRequest(http.MethodGet, ng.url+"/sessions/whoami", nil)
		req.Header.Set("Cookie", "ory_kratos_session=abc")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(b) != `{"path":"/sessions/whoami","cookie":"ory_kratos_session=abc"}` {
			t.Fatalf("through nginx: %d %s", res.StatusCode, b)
		}
	}
	// One client connection, so nginx needs few upstream connections (one
	// per worker at most) when it keeps them alive; without keepalive it
	// would open one per request.
	if n := conns.Load(); n > 8 {
		t.Errorf("nginx opened %d upstream connections for 50 sequential requests", n)
	}
}
