package kratos_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/kratos/proxytest"
)

// attackSeeds returns the method and request-target of every row of the
// proxy attack table, and the routes the proxy does forward.
func attackSeeds() [][2]string {
	seeds := [][2]string{
		{"GET", "/api/kratos/self-service/login/browser"},
		{"GET", "/api/kratos/self-service/settings/flows?id=x"},
		{"POST", "/api/kratos/self-service/login?flow=9f425a8d-7efc-4768-8f23-7647a74fdf13"},
		{"GET", "/api/kratos/sessions/whoami"},
		{"HEAD", "/api/kratos/schemas/default"},
		{"GET", "/api/kratos/.well-known/ory/webauthn.js"},
		{"POST", "/api/kratos/self-service/methods/oidc/callback/google"},
		{"DELETE", "/api/kratos/self-service/logout/api"},
		{"GET", "/api/kratos/self-service/logout?token=x"},
		{"GET", "/api/kratos/self-service/errors?id=x"},
	}
	for _, a := range proxytest.Attacks(func() string { return "" }) {
		line, _, _ := strings.Cut(a.Raw, "\r\n")
		method, rest, _ := strings.Cut(line, " ")
		target := strings.TrimSuffix(rest, " HTTP/1.1")
		seeds = append(seeds, [2]string{method, target})
	}
	return seeds
}

// forwardableProblem says what is wrong with a path below the proxy prefix
// that the proxy forwards to Kratos, or "".
func forwardableProblem(method, p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "not absolute"
	case len(p) > 512:
		return "longer than 512 bytes"
	case strings.Contains(p, ".."):
		return "contains .."
	case strings.Contains(p, "//"):
		return "contains //"
	case strings.ContainsAny(p, "%\\;?#"):
		return "contains % \\ ; ? or #"
	case path.Clean(p) != p:
		return "not clean: " + path.Clean(p)
	case strings.HasPrefix(strings.ToLower(p), "/admin"):
		return "admin API"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f {
			return "control, space or non-ASCII byte"
		}
	}
	first, _, _ := strings.Cut(p[1:], "/")
	switch first {
	case "self-service", "schemas", ".well-known":
	case "sessions":
		// The session's own API: whoami, the token exchange, listing and
		// revoking (DELETE of the list, or of one session by its UUID).
		rest := strings.TrimPrefix(p, "/sessions")
		switch {
		case rest == "/whoami", rest == "/token-exchange":
		case rest == "" && method != http.MethodPost:
		case method == http.MethodDelete && len(rest) == 37 && strings.Count(rest, "-") == 4:
		default:
			return "session API route that Kratos's FrontendApi does not have: " + p
		}
	default:
		return "not a public route: " + first
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete:
	default:
		return "method " + method
	}
	return ""
}

// FuzzRouteOf: whatever RouteOf lets through (forwarded, or handed to the
// submit pipeline) is a clean public path: no "..", "%", "\", "//", never
// /admin.
func FuzzRouteOf(f *testing.F) {
	for _, s := range attackSeeds() {
		f.Add(s[0], strings.TrimPrefix(s[1], "/api/kratos"))
	}
	f.Fuzz(func(t *testing.T, method, p string) {
		route, kind := kratos.RouteOf(method, p)
		switch route {
		case kratos.RouteRefuse:
			return
		case kratos.RouteSubmit:
			if method != http.MethodPost {
				t.Fatalf("submit route for %s %q", method, p)
			}
			if _, ok := kratos.ParseKind(string(kind)); !ok {
				t.Fatalf("submit route without a flow kind: %q", p)
			}
		case kratos.RouteContinue:
			if method != http.MethodGet && method != http.MethodHead {
				t.Fatalf("continue route for %s %q", method, p)
			}
		case kratos.RouteForward:
		default:
			t.Fatalf("unknown route %d", route)
		}
		if problem := forwardableProblem(method, p); problem != "" {
			t.Fatalf("RouteOf(%q, %q) = %d: %s", method, p, route, problem)
		}
	})
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzProxyForward sends a fuzzed request-target through the real proxy,
// with the upstream transport replaced by a recorder: whatever leaves the
// proxy goes to Kratos's public host, on a clean public path, with Hera's
// client address and none of the client's spoofable headers.
func FuzzProxyForward(f *testing.F) {
	for _, s := range attackSeeds() {
		f.Add(s[0], s[1])
	}
	upstreamURL, _ := url.Parse("http://kratos-public.test:4433")
	var mu sync.Mutex
	var out []*http.Request
	p, err := kratos.NewProxy(kratos.ProxyConfig{
		Upstream: upstreamURL,
		Prefix:   "/api/kratos",
		Timeout:  time.Second,
		MaxBody:  64 << 10,
		Logger:   slog.New(slog.DiscardHandler),
		ClientIP: func(*http.Request) string { return "192.0.2.10" },
		Submit:   func(w http.ResponseWriter, r *http.Request, kind kratos.Kind) { w.WriteHeader(http.StatusAccepted) },
		Refuse:   func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) },
		Fail:     func(w http.ResponseWriter, r *http.Request, status int) { w.WriteHeader(status) },
		WrapTransport: func(http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
				return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
			})
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		if method == "" || strings.ContainsFunc(method, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) }) {
			return // net/http refuses such methods before any handler runs
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http answers 400 before any handler runs
		}
		req := &http.Request{
			Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{
				"X-Forwarded-For":  {"203.0.113.66"},
				"Forwarded":        {"for=203.0.113.66"},
				"X-Real-Ip":        {"203.0.113.66"},
				"Cf-Connecting-Ip": {"203.0.113.66"},
				"X-Forwarded-Host": {"evil.example"},
				"X-Original-Url":   {"/admin/identities"},
			},
			Host: "hera.test", RemoteAddr: "192.0.2.10:5555", Body: http.NoBody,
		}
		mu.Lock()
		out = nil
		mu.Unlock()
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		_, _ = io.Copy(io.Discard, rec.Result().Body)
		mu.Lock()
		sent := out
		mu.Unlock()
		switch {
		case len(sent) == 0:
			return
		case len(sent) > 1:
			t.Fatalf("%s %q: %d upstream requests", method, target, len(sent))
		}
		o := sent[0]
		if o.URL.Host != upstreamURL.Host || o.Host != upstreamURL.Host || o.URL.Scheme != "http" {
			t.Fatalf("%s %q went to %s://%s (Host %q)", method, target, o.URL.Scheme, o.URL.Host, o.Host)
		}
		if o.URL.User != nil {
			t.Fatalf("%s %q: user info on the upstream URL", method, target)
		}
		if ep := o.URL.EscapedPath(); ep != o.URL.Path {
			t.Fatalf("%s %q: upstream path %q is escaped as %q", method, target, o.URL.Path, ep)
		}
		if problem := forwardableProblem(o.Method, o.URL.Path); problem != "" {
			t.Fatalf("%s %q forwarded as %s %q: %s", method, target, o.Method, o.URL.Path, problem)
		}
		if v := o.Header.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "192.0.2.10" {
			t.Fatalf("X-Forwarded-For %q", v)
		}
		for _, h := range proxytest.SpoofableHeaders() {
			if v := o.Header.Values(h); len(v) > 0 {
				t.Fatalf("client's %s forwarded: %q", h, v)
			}
		}
	})
}
