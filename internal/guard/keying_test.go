package guard_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/guard"
	"github.com/heraproject/hera/internal/kratos"
)

// wrongPassword is Kratos's answer to a wrong password (4000006).
var wrongPassword = &kratos.Outcome{Kind: kratos.OutcomeFlow, Status: 400, Flow: &kratos.Flow{UI: kratos.UI{Messages: []kratos.Message{{ID: 4000006, Type: "error"}}}}}

// TestKeyingAndEscalation: which key a guess is counted on, whatever the
// field or spelling that names the account, and when the account and the
// client address lock, on the memory store with the default policy.
func TestKeyingAndEscalation(t *testing.T) {
	pw := func(field, account string) string {
		return "method=password&" + field + "=" + strings.ReplaceAll(account, "@", "%40") + "&password=wrong"
	}
	type guess struct {
		body, ip string
	}
	repeat := func(n int, g func(i int) guess) []guess {
		out := make([]guess, n)
		for i := range out {
			out[i] = g(i)
		}
		return out
	}
	same := func(body, ip string) func(int) guess { return func(int) guess { return guess{body, ip} } }
	for _, tc := range []struct {
		name    string
		guesses []guess // each admitted and settled as a wrong password
		then    guess
		locked  bool // then is refused with a lock notice
	}{
		{"four failures do not lock", repeat(4, same(pw("identifier", "ada@example.com"), "192.0.2.1")),
			guess{pw("identifier", "ada@example.com"), "192.0.2.1"}, false},
		{"five failures lock the account, from any address", repeat(5, same(pw("identifier", "ada@example.com"), "192.0.2.1")),
			guess{pw("identifier", "ada@example.com"), "198.51.100.7"}, true},
		{"Kratos's legacy field names the same account", repeat(5, same(pw("password_identifier", "ada@example.com"), "192.0.2.1")),
			guess{pw("identifier", "ada@example.com"), "198.51.100.7"}, true},
		{"case and surrounding spaces name the same account", repeat(5, same(pw("identifier", " ADA@Example.com "), "192.0.2.1")),
			guess{pw("identifier", "ada@example.com"), "198.51.100.7"}, true},
		{"another account is not locked", repeat(5, same(pw("identifier", "ada@example.com"), "192.0.2.1")),
			guess{pw("identifier", "bob@example.com"), "198.51.100.7"}, false},
		{"failures spread over addresses still lock the account", repeat(5, func(i int) guess {
			return guess{pw("identifier", "ada@example.com"), fmt.Sprintf("203.0.113.%d", i+1)}
		}), guess{pw("identifier", "ada@example.com"), "192.0.2.200"}, true},
		{"fifty failures from one address lock the address", repeat(50, func(i int) guess {
			return guess{pw("identifier", fmt.Sprintf("user%d@example.com", i)), "192.0.2.9"}
		}), guess{pw("identifier", "fresh@example.com"), "192.0.2.9"}, true},
		{"an IPv6 /64 is one address", repeat(50, func(i int) guess {
			return guess{pw("identifier", fmt.Sprintf("user%d@example.com", i)), fmt.Sprintf("2001:db8::%x", i+1)}
		}), guess{pw("identifier", "fresh@example.com"), "2001:db8::ffff"}, true},
		{"the address lock is the address's own", repeat(50, func(i int) guess {
			return guess{pw("identifier", fmt.Sprintf("user%d@example.com", i)), "192.0.2.9"}
		}), guess{pw("identifier", "fresh@example.com"), "192.0.2.10"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newGuard(t, identities{})
			try := func(gs guess) (*guard.Ticket, *guard.Refusal) {
				a := &guard.Attempt{Attempt: classified(t, kratos.Login, gs.body, attempt.Flow{}), ClientIP: gs.ip}
				return g.Admit(t.Context(), a)
			}
			for i, gs := range tc.guesses {
				tk, ref := try(gs)
				if ref != nil {
					t.Fatalf("guess %d refused: %+v", i+1, ref)
				}
				g.Settle(t.Context(), tk, guard.Answer{Outcome: wrongPassword})
			}
			tk, ref := try(tc.then)
			if tk != nil {
				g.Release(t.Context(), tk, false)
			}
			if got := ref != nil && strings.HasPrefix(ref.Notice, "locked-"); got != tc.locked {
				t.Fatalf("locked %v (refusal %+v), want %v", got, ref, tc.locked)
			}
		})
	}
}
