package kratos_test

import (
	"net/http"
	"testing"

	"github.com/heraproject/hera/internal/kratos"
)

// cookies parses a header's cookies as net/http does.
func cookies(h http.Header) []*http.Cookie { return (&http.Request{Header: h}).Cookies() }

func TestSessionHandleFollowsKratos(t *testing.T) {
	const name = kratos.DefaultSessionCookie
	for _, tc := range []struct {
		what      string
		header    http.Header
		handle    string
		fromToken bool
	}{
		{"plain cookie", http.Header{"Cookie": {"ory_kratos_session=T1"}}, "T1", false},
		{"space before =", http.Header{"Cookie": {"ory_kratos_session =T1"}}, "T1", false},
		{"two headers", http.Header{"Cookie": {"a=b", "ory_kratos_session=T1"}}, "T1", false},
		{"junk duplicate first", http.Header{"Cookie": {"ory_kratos_session=junk; ory_kratos_session=T1"}}, "junk", false},
		{"unparseable duplicate first", http.Header{"Cookie": {`ory_kratos_session=bad"value; ory_kratos_session=T1`}}, "T1", false},
		{"quoted", http.Header{"Cookie": {`ory_kratos_session="T1"`}}, "T1", false},
		{"token wins over cookie", http.Header{"Cookie": {"ory_kratos_session=T1"}, "X-Session-Token": {"T2"}}, "T2", true},
		{"cookie wins over bearer", http.Header{"Cookie": {"ory_kratos_session=T1"}, "Authorization": {"Bearer T3"}}, "T1", false},
		{"bearer alone", http.Header{"Authorization": {"bEaReR T3"}}, "T3", true},
		{"bearer with extra part", http.Header{"Authorization": {"Bearer T3 x"}}, "", false},
		{"other cookie name", http.Header{"Cookie": {"ory_kratos_session_x=T1"}}, "", false},
	} {
		h, tok := kratos.SessionHandle(tc.header, cookies(tc.header), name)
		if h != tc.handle || tok != tc.fromToken {
			t.Errorf("%s: got %q/%v, want %q/%v", tc.what, h, tok, tc.handle, tc.fromToken)
		}
		// Whatever Hera keys on is what net/http (and so Kratos) reads
		// from the canonical header Hera forwards.
		if !tc.fromToken && tc.handle != "" {
			r := http.Request{Header: http.Header{"Cookie": {kratos.CanonicalCookie(cookies(tc.header), nil)}}}
			c, err := r.Cookie(name)
			if err != nil || c.Value != tc.handle {
				t.Errorf("%s: forwarded header %q gives %v %v", tc.what, kratos.CanonicalCookie(cookies(tc.header), nil), c, err)
			}
		}
	}
}

func TestCanonicalCookie(t *testing.T) {
	h := http.Header{"Cookie": {`a=1; b=2; a=3; bad"=x; c="q q"; d=`, "e=5"}}
	if got, want := kratos.CanonicalCookie(cookies(h), nil), `a=1; b=2; c="q q"; d=; e=5`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	noB := func(name string) bool { return name != "b" }
	if got, want := kratos.CanonicalCookie(cookies(h), noB), `a=1; c="q q"; d=; e=5`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestIssuedSession(t *testing.T) {
	const name = kratos.DefaultSessionCookie
	set := []string{"csrf_token_x=abc; Path=/", "ory_kratos_session=NEW; Path=/; HttpOnly; Max-Age=86400"}
	if got := kratos.IssuedSession(set, name, nil); got != "NEW" {
		t.Fatalf("got %q", got)
	}
	clear := []string{"ory_kratos_session=; Path=/; Max-Age=0"}
	if got := kratos.IssuedSession(clear, name, nil); got != "" {
		t.Fatalf("a cleared cookie counts as issued: %q", got)
	}
	if got := kratos.IssuedSession(nil, name, &kratos.Outcome{SessionToken: "TOK"}); got != "TOK" {
		t.Fatalf("token: %q", got)
	}
}
