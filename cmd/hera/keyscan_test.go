package main

// Differential tests of Hera's keys against Kratos's own reading of
// identifiers and addresses (issue 23): for every value, Hera's key of it
// must be a function of Kratos's form of it, so that two spellings Kratos
// resolves to one account or address share one counter and one quota.
// Kratos's forms come from Kratos's own code (bin/kratosform, built from
// tools/kratos/kratosform) here, and from a running Kratos in
// keys_kratos_test.go.

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/lockout"
	"github.com/heraproject/hera/internal/lockout/memory"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// scanContexts are where each code point is put: alone (white space and
// edges), and inside an e-mail address (the identifier of most accounts).
var scanContexts = []func(c string) string{
	func(c string) string { return c },
	func(c string) string { return "x" + c + "y@example.com" },
}

// special reports whether lower-casing, case folding or NFKC change c, or
// tell it apart from each other: where a re-implementation of Kratos's
// reading would most likely part from it.
func special(r rune) bool {
	c := string(r)
	low := strings.ToLower(c)
	return low != c || cases.Fold().String(c) != low || norm.NFKC.String(c) != c || unicode.IsSpace(r) ||
		unicode.Is(unicode.Cf, r)
}

// scanCorpus returns the code points to scan: all of Unicode but the
// surrogates, or, with bounded, every 61st one and every special one.
func scanCorpus(bounded bool) []rune {
	var out []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		if !bounded || r%61 == 0 || special(r) {
			out = append(out, r)
		}
	}
	return out
}

// keyFunc is one of Hera's key functions of a typed value: what a counter
// or quota is keyed on.
type keyFunc struct {
	name string
	key  func(l *lockout.Limiter, v string) lockout.Key
	// kratos picks Kratos's form of the value for the same purpose.
	kratos func(f stacktest.KratosForms) string
	// mirror is Hera's own transcription of that form.
	mirror func(v string) string
}

var heraKeys = []keyFunc{
	{"password sign-in (account)",
		func(l *lockout.Limiter, v string) lockout.Key { return l.IdentifierKey(kratos.PasswordIdentifier(v)) },
		func(f stacktest.KratosForms) string { return f.Password }, kratos.PasswordIdentifier},
	{"code sign-in (account)",
		func(l *lockout.Limiter, v string) lockout.Key { return l.IdentifierKey(kratos.Address(v)) },
		func(f stacktest.KratosForms) string { return f.Code }, kratos.Address},
	{"code sent (address quota)",
		func(l *lockout.Limiter, v string) lockout.Key {
			return l.RecipientKey(lockout.PurposeLogin, kratos.Address(v))
		},
		func(f stacktest.KratosForms) string { return f.Code }, kratos.Address},
	{"recovery and verification (address quota)",
		func(l *lockout.Limiter, v string) lockout.Key {
			return l.RecipientKey(lockout.PurposeRecovery, kratos.Address(v))
		},
		func(f stacktest.KratosForms) string { return f.Address }, nil},
}

// oldIdentifierKey is the rule of Hera before this test: full case folding
// of the value as typed. The scan must find it wrong on its own.
var oldIdentifierKey = keyFunc{"identifier key before issue 23 (case folding of the typed value)",
	func(l *lockout.Limiter, v string) lockout.Key { return l.IdentifierKey(v) },
	func(f stacktest.KratosForms) string { return f.Password }, nil}

// scanResult is what a scan found for one key function.
type scanResult struct {
	checked   int
	disagree  []rune // key of x differs from the key of Kratos's form of x
	unmirrors []rune // Hera's transcription differs from Kratos's form
}

// scan compares, for each value, Hera's key of it with Hera's key of
// Kratos's form of it: equal for every value means that Hera's key is a
// function of Kratos's form (two values with one Kratos form have one key).
func scan(l *lockout.Limiter, kf keyFunc, runes []rune, values []string, forms []stacktest.KratosForms) scanResult {
	var mu sync.Mutex
	res := scanResult{checked: len(values)}
	bad := map[rune]bool{}
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(values); i += workers {
				v, f := values[i], kf.kratos(forms[i])
				differs := kf.key(l, v) != kf.key(l, f)
				unmirrored := kf.mirror != nil && kf.mirror(v) != f
				if differs || unmirrored {
					r := runes[i/len(scanContexts)]
					mu.Lock()
					if differs && !bad[r] {
						bad[r] = true
						res.disagree = append(res.disagree, r)
					}
					if unmirrored {
						res.unmirrors = append(res.unmirrors, r)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return res
}

// TestKeysFollowKratosOverUnicode scans every code point of Unicode (a
// bounded slice under the race detector; scripts/test.sh scans all of it
// without) through Kratos's own code and Hera's key functions: 0 may
// disagree. The same scan finds Hera's old rule wrong on its own, İ
// (U+0130) first among the code points it reports.
func TestKeysFollowKratosOverUnicode(t *testing.T) {
	runes := scanCorpus(raceEnabled)
	values := make([]string, 0, len(runes)*len(scanContexts))
	for _, r := range runes {
		for _, c := range scanContexts {
			values = append(values, c(string(r)))
		}
	}
	forms := stacktest.ReadAsKratos(t, values)
	store, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := lockout.New(store, lockout.Config{})
	if err != nil {
		t.Fatal(err)
	}
	scope := "all of Unicode"
	if raceEnabled {
		scope = "a bounded slice of Unicode (race detector on)"
	}
	for _, kf := range heraKeys {
		res := scan(l, kf, runes, values, forms)
		t.Logf("keyscan: %s: %d code points in %d values checked (%s), %d disagree, %d differ from Kratos's form",
			kf.name, len(runes), res.checked, scope, len(res.disagree), len(res.unmirrors))
		if len(res.disagree) > 0 || len(res.unmirrors) > 0 {
			t.Errorf("%s: Hera's key is not a function of Kratos's form for %s; the transcription differs for %s",
				kf.name, describe(res.disagree), describe(res.unmirrors))
		}
	}
	old := scan(l, oldIdentifierKey, runes, values, forms)
	t.Logf("keyscan: %s: %d code points disagree, e.g. %s", oldIdentifierKey.name, len(old.disagree), describe(old.disagree))
	found := false
	for _, r := range old.disagree {
		found = found || r == 'İ'
	}
	if !found {
		t.Errorf("the scan did not find İ (U+0130) wrong under the old rule: it would not have found defect 2")
	}
}

func describe(rs []rune) string {
	if len(rs) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, r := range rs {
		if i == 8 {
			fmt.Fprintf(&b, " … (%d in all)", len(rs))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "U+%04X %q", r, r)
	}
	return b.String()
}

// phoneVariants returns spellings of the example number of each region in
// every format libphonenumber writes and with the separators, brackets,
// white space and full-width digits people and keyboards produce.
func phoneVariants(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, region := range []string{"DE", "US", "GB", "FR", "IN", "JP", "BR", "CH", "AU", "TR"} {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE} {
			n := phonenumbers.GetExampleNumberForType(region, typ)
			if n == nil {
				t.Fatalf("no example %v number for %s", typ, region)
			}
			e164 := phonenumbers.Format(n, phonenumbers.E164)
			intl := phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
			national := strings.TrimLeft(phonenumbers.Format(n, phonenumbers.NATIONAL), "0")
			cc := fmt.Sprintf("+%d", n.GetCountryCode())
			digits := strings.TrimPrefix(e164, cc)
			spellings := []string{
				e164, intl, phonenumbers.Format(n, phonenumbers.RFC3966),
				cc + " " + national, cc + " (" + digits[:2] + ") " + digits[2:],
				cc + "-" + digits[:2] + "-" + digits[2:], cc + "." + digits[:2] + "." + digits[2:],
				strings.ReplaceAll(intl, " ", "\u00a0"), " " + e164 + " ", "\t" + intl,
				"00" + strings.TrimPrefix(e164, "+"),
				strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return r - '0' + '０'
					}
					if r == '+' {
						return '＋'
					}
					return r
				}, e164),
			}
			out = append(out, spellings...)
		}
	}
	return out
}

// TestPhoneFormatsFollowKratos: every spelling of a phone number that
// Kratos's code method reads as that number (to E.164) gets the number's
// key at Hera, for the account and for its send quota (defect 3: five
// formats of one number sent five texts past a quota of three).
func TestPhoneFormatsFollowKratos(t *testing.T) {
	values := phoneVariants(t)
	forms := stacktest.ReadAsKratos(t, values)
	store, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := lockout.New(store, lockout.Config{})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]string{} // Kratos's form → spellings
	for i, v := range values {
		groups[forms[i].Code] = append(groups[forms[i].Code], v)
		if got := kratos.Address(v); got != forms[i].Code {
			t.Errorf("%q: Hera reads %q, Kratos %q", v, got, forms[i].Code)
		}
	}
	merged := 0
	for form, vs := range groups {
		for _, kf := range heraKeys[1:3] {
			want := kf.key(l, vs[0])
			for _, v := range vs[1:] {
				if kf.key(l, v) != want {
					t.Errorf("%s: %q and %q are %s to Kratos but have two keys", kf.name, vs[0], v, form)
				}
			}
		}
		if len(vs) > 1 {
			merged += len(vs)
		}
	}
	t.Logf("phone spellings: %d spellings of %d numbers; %d share their number's key with another spelling, as in Kratos",
		len(values), len(groups), merged)
}
