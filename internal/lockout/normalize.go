package lockout

import (
	"net/netip"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NormalizeIdentifier maps a login identifier to the form its failures are
// counted under, so that spellings a person cannot tell apart share one
// counter:
//
//   - invalid UTF-8 is replaced by U+FFFD;
//   - invisible characters are removed: Unicode category Cf (zero-width
//     space and joiners U+200B..U+200D, word joiner U+2060, BOM U+FEFF, soft
//     hyphen U+00AD, bidi controls U+202A..U+202E and U+2066..U+2069, tag
//     characters, ...), the other default-ignorable code points (variation
//     selectors, Hangul fillers, combining grapheme joiner, ...) and control
//     characters (category Cc);
//   - Unicode NFKC (full-width letters, ligatures, compatibility forms);
//   - lower-casing by Unicode full case folding (a superset of lower-casing
//     that also maps ß to ss and ς to σ);
//   - leading and trailing white space is trimmed.
//
// The steps are repeated until nothing changes, so the result is stable
// (NormalizeIdentifier(NormalizeIdentifier(s)) == NormalizeIdentifier(s)).
// Normalizing more aggressively than Kratos does is safe: it can only make an
// attacker's variants share the victim's counter.
//
// Confusable characters from different scripts (Cyrillic "а" and Latin "a")
// are not merged. The work is linear in len(s); the caller bounds the
// request size.
func NormalizeIdentifier(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for range 4 {
		next := strings.TrimSpace(strings.Map(dropInvisible, s))
		next = norm.NFKC.String(next)
		next = cases.Fold().String(next) // a Caser is not safe for concurrent use
		next = norm.NFKC.String(next)
		next = strings.TrimSpace(strings.Map(dropInvisible, next))
		if next == s {
			break
		}
		s = next
	}
	return s
}

func dropInvisible(r rune) rune {
	if isInvisible(r) {
		return -1
	}
	return r
}

func isInvisible(r rune) bool {
	switch {
	case r < 0x80:
		return r < 0x20 || r == 0x7f // the only invisible ASCII: controls
	case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Cc, r),
		unicode.Is(unicode.Variation_Selector, r),
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		return true
	}
	return false
}

// DefaultIPv6Prefix is the prefix length IPv6 clients are grouped by: one
// /64 is what a single subscriber usually gets.
const DefaultIPv6Prefix = 64

// NormalizeIP maps a client IP address to the form its failures are counted
// under: IPv4 (also IPv4-mapped IPv6) as dotted quad, IPv6 as its network
// prefix of ipv6Prefix bits ("2001:db8::/64"; 128 keeps the full address).
// Zones and surrounding brackets are dropped. Everything that is not an IP
// address maps to "invalid", so that garbage cannot spread failures over many
// counters.
func NormalizeIP(ip string, ipv6Prefix int) string {
	ip = strings.TrimSpace(ip)
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "invalid"
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		return addr.String()
	}
	if ipv6Prefix <= 0 || ipv6Prefix > 128 {
		ipv6Prefix = DefaultIPv6Prefix
	}
	p, _ := addr.Prefix(ipv6Prefix) // cannot fail: valid IPv6 and bits in range
	return p.String()
}

// NormalizeIdentityID maps an identity ID (a UUID from Kratos) to the form
// its failures are counted under: trimmed and lower-cased.
func NormalizeIdentityID(id string) string {
	return strings.ToLower(strings.TrimSpace(strings.ToValidUTF8(id, "\uFFFD")))
}
