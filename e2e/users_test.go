package e2e_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// createUser makes an identity with a password and a verified address
// through Kratos's admin API, for journeys that start from an existing
// account.
func (s *suite) createUser(t *testing.T, email, pw string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"schema_id": "default",
		"traits": map[string]any{
			"email": email,
			"name":  map[string]string{"first": "Ada", "last": "Lovelace"},
		},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]string{"password": pw}}},
		// Verified, as after a sign-up: Kratos otherwise asks to verify the
		// address on the first profile change.
		"verifiable_addresses": []map[string]any{{"value": email, "via": "email", "verified": true, "status": "completed"}},
	})
	res, err := http.Post(s.Kratos.AdminURL+"/admin/identities", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("create identity: %d %s", res.StatusCode, b)
	}
}

// client is an OAuth2 client registered in Hydra, with its callback served
// locally.
type client struct {
	cfg      oauth2.Config
	callback string // URL prefix of the redirect URIs
	mu       sync.Mutex
	hits     []string // paths the browser reached
}

// newClient registers an authorization-code client through Hydra's admin
// API, as internal/web's OAuth2 integration test does.
func (s *suite) newClient(t *testing.T, id string) *client {
	t.Helper()
	c := &client{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits = append(c.hits, r.URL.Path)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>App</title><main><h1>App callback</h1></main></html>`)
	}))
	t.Cleanup(srv.Close)
	c.callback = srv.URL
	s.CreateClient(t, id, srv.URL+"/callback", map[string]any{"client_name": "Example App"})
	c.cfg = oauth2.Config{
		ClientID: id, ClientSecret: "secret-" + id,
		Endpoint: oauth2.Endpoint{AuthURL: s.Hydra.PublicURL + "/oauth2/auth", TokenURL: s.Hydra.PublicURL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: srv.URL + "/callback",
		Scopes:      []string{"openid", "offline_access", "email", "profile"},
	}
	return c
}

// idTokenClaims decodes the payload of an ID token (the token came
// straight from Hydra's token endpoint: no signature check needed here).
func idTokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// query returns the query of rawURL, or fails.
func query(t *testing.T, rawURL string) url.Values {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
