package lockout_test

import (
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/lockout"
)

func TestNormalizeIdentifier(t *testing.T) {
	same := map[string][]string{
		"alice@example.com": {
			"alice@example.com",
			"  Alice@Example.COM \t\n",
			"ALICE@EXAMPLE.COM",
			"al\u200bice@example.com",       // zero-width space
			"al\u200cice@exa\u200dmple.com", // zero-width non-joiner, joiner
			"\u2060alice@example.com",       // word joiner
			"\ufeffalice@example.com",       // BOM
			"ali\u00adce@example.com",       // soft hyphen
			"\u202ealice@example.com\u202c", // bidi override, pop
			"\u2066alice@example.com\u2069", // bidi isolates
			"\u200ealice@example.com",       // left-to-right mark
			"alice@example.com\U000E0041",   // tag character
			"alic\u034fe@example.com",       // combining grapheme joiner
			"alice\ufe0f@example.com",       // variation selector
			"ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",             // full-width
			"\u00a0alice@example.com\u3000", // no-break and ideographic space
			"alice@example.com\x00",         // control character
		},
		"ss":  {"ß", "SS", "ẞ", "ss"},
		"k":   {"\u212a", "K", "k"},             // Kelvin sign
		"ffi": {"\ufb03", "FFI", "ffi"},         // ligature
		"é":   {"e\u0301", "É", "E\u0301", "é"}, // composed and decomposed
	}
	for want, inputs := range same {
		for _, in := range inputs {
			if got := lockout.NormalizeIdentifier(in); got != want {
				t.Errorf("NormalizeIdentifier(%+q) = %+q, want %+q", in, got, want)
			}
		}
	}
	different := [][2]string{
		{"alice@example.com", "alice@example.org"},
		{"alice@example.com", "al ice@example.com"},
		{"alice", "\u0430lice"}, // Cyrillic а: confusables are not merged
	}
	for _, d := range different {
		if lockout.NormalizeIdentifier(d[0]) == lockout.NormalizeIdentifier(d[1]) {
			t.Errorf("%+q and %+q normalize alike", d[0], d[1])
		}
	}
	if got := lockout.NormalizeIdentifier("\xffa\xfe"); got != "\ufffda\ufffd" {
		t.Errorf("invalid UTF-8: %+q", got)
	}
	if got := lockout.NormalizeIdentifier(strings.Repeat("É", 10000)); got != strings.Repeat("é", 10000) {
		t.Errorf("long input: %d bytes", len(got))
	}
}

func FuzzNormalizeIdentifier(f *testing.F) {
	for _, s := range []string{"Alice@Example.com", "ß\u200b", "\ufb03", "\u3164x", "İ", "ﾞ", "\u0345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := lockout.NormalizeIdentifier(s)
		if n2 := lockout.NormalizeIdentifier(n); n2 != n {
			t.Fatalf("not idempotent: %+q -> %+q -> %+q", s, n, n2)
		}
	})
}

func TestNormalizeIP(t *testing.T) {
	for _, tc := range []struct {
		in     string
		prefix int
		want   string
	}{
		{"192.0.2.1", 64, "192.0.2.1"},
		{" 192.0.2.1 ", 64, "192.0.2.1"},
		{"::ffff:192.0.2.1", 64, "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:DB8:1:2:ffff::1", 64, "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::1]", 64, "2001:db8:1:2::/64"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"2001:db8:1:2:3:4:5:6", 0, "2001:db8:1:2::/64"},
		{"192.0.2.1:443", 64, "invalid"},
		{"", 64, "invalid"},
		{"example.com", 64, "invalid"},
	} {
		if got := lockout.NormalizeIP(tc.in, tc.prefix); got != tc.want {
			t.Errorf("NormalizeIP(%q, %d) = %q, want %q", tc.in, tc.prefix, got, tc.want)
		}
	}
}

func TestNormalizeIdentityID(t *testing.T) {
	if got := lockout.NormalizeIdentityID(" 5F0C2B3A-0000-4000-8000-00000000000A\n"); got != "5f0c2b3a-0000-4000-8000-00000000000a" {
		t.Errorf("got %q", got)
	}
}
