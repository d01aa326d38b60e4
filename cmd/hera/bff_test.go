package main

// A server-side app (a backend for a frontend) calls Hera's /api/kratos/
// for all its users from its one address. Trusted as a proxy
// (HERA_TRUSTED_PROXIES), the X-Forwarded-For it sends names the end user,
// and Hera's per-IP limits fall on that user; untrusted, every user shares
// the BFF's address and one user's guesses lock them all
// (docs/native-apps.md#server-side-apps-a-backend-for-your-frontend).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

func TestBFFForwardedForKeysTheEndUser(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		t.Run(map[bool]string{true: "BFF trusted", false: "BFF not trusted"}[trusted], func(t *testing.T) {
			env := map[string]string{
				// A low IP policy, and an account policy it stays below:
				// each guess names another account.
				"HERA_LOCKOUT_IP_MAX_FAILURES": "3",
				"HERA_LOCKOUT_MAX_FAILURES":    "5",
			}
			if trusted {
				env["HERA_TRUSTED_PROXIES"] = "127.0.0.1" // the BFF's address: the test itself
			}
			e, base := guardedStack(t, env)
			hera := "http://" + base["HERA_LISTEN"]
			userA, userB := "bff-a@example.com", "bff-b@example.com"
			createIdentity(t, e.Kratos.AdminURL, userA)
			createIdentity(t, e.Kratos.AdminURL, userB)

			// bff is the backend's client for one end user: the user's
			// address in X-Forwarded-For, one hop.
			bff := func(endUser string) *client {
				c := newClient(t, hera)
				c.c.Jar = nil
				c.header = http.Header{"X-Forwarded-For": {endUser}}
				return c
			}
			a, b := bff("198.51.100.1"), bff("198.51.100.2")

			// End user A guesses passwords of three accounts, once each:
			// no account reaches its limit, A's address does.
			for i := range 3 {
				account := fmt.Sprintf("bff-guess-%d@example.com", i)
				if ans := passwordPost(a, a.apiFlow("login"), "json", "identifier", account, "wrong password"); !ans.judged() {
					t.Fatalf("A's guess %d not judged by Kratos: %d %s", i+1, ans.status, ans.body)
				}
			}
			// A is locked out, even with A's right password.
			if ans := passwordPost(a, a.apiFlow("login"), "json", "identifier", userA, rightPassword); ans.status != http.StatusTooManyRequests || ans.heraError() != "hera_locked" {
				t.Fatalf("A after 3 failures: %d %s, want 429 hera_locked", ans.status, ans.body)
			}

			// End user B, through the same BFF: signed in when Hera keys on
			// the end user, locked with A when it keys on the BFF.
			ans := passwordPost(b, b.apiFlow("login"), "json", "identifier", userB, rightPassword)
			if trusted {
				var out struct {
					Token string `json:"session_token"`
				}
				if ans.status != http.StatusOK || json.Unmarshal(ans.body, &out) != nil || out.Token == "" {
					t.Fatalf("B, another end user, through the trusted BFF: %d %s, want a session", ans.status, ans.body)
				}
			} else if ans.status != http.StatusTooManyRequests || ans.heraError() != "hera_locked" {
				t.Fatalf("B through the untrusted BFF (sharing its address with A): %d %s, want 429 hera_locked", ans.status, ans.body)
			}
		})
	}
}
