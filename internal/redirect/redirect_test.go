package redirect

import (
	"net/url"
	"strings"
	"testing"
)

func newList(t testing.TB) *Allowlist {
	base, _ := url.Parse("https://login.example.com")
	a, err := New(base, []string{"https://app.example.com/dashboard", "http://localhost:3000/"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAllowed(t *testing.T) {
	a := newList(t)
	for _, target := range []string{
		"https://login.example.com/",
		"https://login.example.com/settings?flow=1",
		"https://login.example.com/login?login_challenge=abc&hera_return=1",
		"/settings",
		"/",
		"https://app.example.com/dashboard",
		"https://app.example.com/dashboard/",
		"https://app.example.com/dashboard/reports?x=1#top",
		"https://APP.example.com:443/dashboard",
		"http://localhost:3000/anything",
	} {
		if _, ok := a.Allowed(target); !ok {
			t.Errorf("refused %q", target)
		}
	}
}

// TestAttackTable: each of these must be refused.
func TestAttackTable(t *testing.T) {
	a := newList(t)
	attacks := []string{
		"https://app.example.com/dashboard-evil",
		"https://app.example.com/dashboardevil/x",
		"https://app.example.com/",
		"https://app.example.com/other",
		"https://evil.com/",
		"//evil.com/",
		"///evil.com/",
		"/\\evil.com",
		"\\\\evil.com",
		"https://login.example.com@evil.com/",
		"https://user:pw@login.example.com/",
		"https://login.example.com.evil.com/",
		"https://evil.com/https://login.example.com/",
		"javascript:alert(1)",
		"JavaScript:alert(document.cookie)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox",
		"http://login.example.com/", // scheme downgrade
		"https://login.example.com:8443/",
		"https://app.example.com/dashboard/../admin",
		"https://app.example.com/dashboard/%2e%2e/admin",
		"https://app.example.com/dashboard%2f..%2fadmin",
		"https://app.example.com/dashboard/%252e%252e/admin",
		"https://app.example.com/dashboard//evil",
		"/ /evil.com",
		"/\t/evil.com",
		"https://login.example.com\n.evil.com/",
		"evil.com",
		"user@evil.com",
		"ftp://login.example.com/",
		"https:evil.com",
		"https://[::1]/",
		"",
		"/" + strings.Repeat("a", 5000),
	}
	refused := 0
	for _, target := range attacks {
		if got, ok := a.Allowed(target); ok {
			t.Errorf("allowed %q (as %q)", target, got)
			continue
		}
		refused++
	}
	t.Logf("redirect attack table: %d tried, %d refused", len(attacks), refused)
	if len(attacks) < 20 {
		t.Fatal("attack table too small")
	}
}

func TestBadEntries(t *testing.T) {
	base, _ := url.Parse("https://login.example.com")
	if _, err := New(base, []string{"ftp://x", "https://u@x/", "https://x/a/../b", "https://x/?q=1"}); err == nil {
		t.Fatal("bad entries accepted")
	}
}

// FuzzAllowed: whatever the input, an allowed target parses back to an
// allowlisted scheme and host, with no user info and a clean path.
func FuzzAllowed(f *testing.F) {
	for _, s := range []string{"/settings", "https://app.example.com/dashboard/x", "//evil.com", "/\\evil", "https://app.example.com/dashboard-evil", "https://login.example.com@evil.com", "%2e%2e"} {
		f.Add(s)
	}
	a := newList(f)
	f.Fuzz(func(t *testing.T, target string) {
		got, ok := a.Allowed(target)
		if !ok {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("allowed %q became unparseable %q", target, got)
		}
		if u.User != nil {
			t.Fatalf("allowed user info: %q", target)
		}
		switch hostPort(u) {
		case "login.example.com:443":
		case "app.example.com:443":
			if p := u.EscapedPath(); p != "/dashboard" && !strings.HasPrefix(p, "/dashboard/") {
				t.Fatalf("allowed %q outside /dashboard", target)
			}
		case "localhost:3000":
			if u.Scheme != "http" {
				t.Fatalf("scheme %q", u.Scheme)
			}
		default:
			t.Fatalf("allowed %q to host %q", target, u.Host)
		}
		if strings.Contains(u.EscapedPath(), "/../") || strings.HasSuffix(u.EscapedPath(), "/..") {
			t.Fatalf("dot segments allowed: %q", target)
		}
	})
}

// TestAllowedUnderPathPrefix: with Hera served under a path, relative
// targets are written from Hera's root and land below the prefix; nothing
// else on the host is Hera's.
func TestAllowedUnderPathPrefix(t *testing.T) {
	base, _ := url.Parse("https://example.com/auth")
	a, err := New(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		"/settings":                         "https://example.com/auth/settings",
		"/":                                 "https://example.com/auth/",
		"/login?flow=1":                     "https://example.com/auth/login?flow=1",
		"https://example.com/auth/sessions": "https://example.com/auth/sessions",
	} {
		if got, ok := a.Allowed(target); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", target, got, ok, want)
		}
	}
	for _, target := range []string{
		"https://example.com/", "https://example.com/other", "https://example.com/authority",
		"/../admin", "//evil.example/",
	} {
		if got, ok := a.Allowed(target); ok {
			t.Errorf("%q allowed as %q", target, got)
		}
	}
}
