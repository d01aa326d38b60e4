package kratos_test

import (
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/heraproject/hera/internal/kratos"
)

// spellings returns every padded URL-safe base64 spelling of b that
// encoding/base64's lenient decoder (gorilla/securecookie's, hence
// Kratos's) reads as b: the unused low bits of the last character before
// "=" padding may be anything.
func spellings(b []byte) []string {
	canonical := base64.URLEncoding.EncodeToString(b)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out []string
	i := len(canonical) - 1
	for i >= 0 && canonical[i] == '=' {
		i--
	}
	for _, c := range alphabet {
		v := canonical[:i] + string(c) + canonical[i+1:]
		if got, err := base64.URLEncoding.DecodeString(v); err == nil && string(got) == string(b) {
			out = append(out, v)
		}
	}
	return out
}

// TestCanonicalSessionCookie: every spelling Kratos's decoder reads as one
// cookie is one handle at Hera (issue 23 defect 1: 4 spellings with one
// "=", 16 with two).
func TestCanonicalSessionCookie(t *testing.T) {
	for _, n := range []int{30, 31, 32} { // no, two and one "=" of padding
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + 11)
		}
		canonical := base64.URLEncoding.EncodeToString(b)
		sp := spellings(b)
		want := map[int]int{30: 1, 31: 16, 32: 4}[n]
		if len(sp) != want {
			t.Fatalf("%d bytes: %d spellings, want %d", n, len(sp), want)
		}
		for _, v := range sp {
			if got := kratos.CanonicalSessionCookie(v); got != canonical {
				t.Errorf("%q → %q, want %q", v, got, canonical)
			}
			h, token := kratos.SessionHandle(http.Header{}, []*http.Cookie{{Name: "ory_kratos_session", Value: v}}, "ory_kratos_session")
			if h != canonical || token {
				t.Errorf("SessionHandle(%q) = %q, %v", v, h, token)
			}
		}
	}
	// Not base64 (Kratos cannot read it either): as it is.
	for _, v := range []string{"junk", "abc", "a b", ""} {
		if got := kratos.CanonicalSessionCookie(v); got != v {
			t.Errorf("%q → %q", v, got)
		}
	}
	// Tokens are looked up as they are.
	if h, token := kratos.SessionHandle(http.Header{"X-Session-Token": {"ory_st_AbC="}}, nil, "ory_kratos_session"); h != "ory_st_AbC=" || !token {
		t.Errorf("token: %q %v", h, token)
	}
}

// TestIsJSONRequest: Kratos's own rule for answering with JSON.
func TestIsJSONRequest(t *testing.T) {
	for _, tc := range []struct {
		accept, ctype string
		want          bool
	}{
		{"", "", false},
		{"application/json", "", true},
		{"application/json, text/html", "", false}, // equal weight: HTML is offered first
		{"text/html;q=0.9, application/json", "", true},
		{"*/*", "", false},
		{"application/*", "", true},
		{"text/*, application/json;q=0.5", "", false},
		{"", "application/json", true},
		{"text/html", "application/json", true},
		{"", "application/json; charset=utf-8", false}, // Kratos compares the header exactly
		{"", "application/x-www-form-urlencoded", false},
	} {
		h := http.Header{}
		if tc.accept != "" {
			h.Set("Accept", tc.accept)
		}
		if tc.ctype != "" {
			h.Set("Content-Type", tc.ctype)
		}
		if got := kratos.IsJSONRequest(h); got != tc.want {
			t.Errorf("Accept %q, Content-Type %q: %v, want %v", tc.accept, tc.ctype, got, tc.want)
		}
	}
}

// TestReached: a failure to connect never reached Kratos; anything else
// may have.
func TestReached(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	if kratos.Reached(dial) || kratos.Reached(&net.DNSError{Err: "no such host"}) {
		t.Error("a failure to connect counted as reaching Kratos")
	}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")}
	if !kratos.Reached(read) || !kratos.Reached(errors.New("status 502")) {
		t.Error("a failure after connecting counted as not reaching Kratos")
	}
}
