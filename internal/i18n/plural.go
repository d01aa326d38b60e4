package i18n

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Plural forms are chosen by CLDR's cardinal rules as golang.org/x/text
// knows them (plural.Cardinal), for every language, shipped or added: no
// rule is written here.

// pluralCategories are CLDR's plural categories, the keys a plural entry
// may have (each language uses some of them, always "other").
func pluralCategories() []string {
	return []string{"zero", "one", "two", "few", "many", "other"}
}

// formName is the category name of a plural form.
func formName(f plural.Form) string {
	switch f {
	case plural.Zero:
		return "zero"
	case plural.One:
		return "one"
	case plural.Two:
		return "two"
	case plural.Few:
		return "few"
	case plural.Many:
		return "many"
	}
	return "other"
}

// pluralCategory picks the CLDR plural category of count in the language
// of tag. count is a number of any Go numeric type, a json.Number or a
// decimal string ("1.50": its visible fraction digits count, so it is
// "other" in English where 1 is "one"). A float without a fraction is an
// integer. It reports false for anything else (the caller uses "other").
func pluralCategory(tag language.Tag, count any) (string, bool) {
	s, ok := decimalString(count)
	if !ok {
		return "", false
	}
	i, v, w, f, t := operands(s)
	return formName(plural.Cardinal.MatchPlural(tag, i, v, w, f, t)), true
}

// maxDecimalLen bounds the decimal strings pluralCategory reads.
const maxDecimalLen = 64

// decimalString writes count as an unsigned decimal: digits, optionally a
// point and more digits (CLDR's operands are of the absolute value).
func decimalString(count any) (string, bool) {
	var s string
	switch n := count.(type) {
	case string:
		s = strings.TrimSpace(n)
	case json.Number:
		s = string(n)
	case int:
		s = strconv.Itoa(n)
	case int64:
		s = strconv.FormatInt(n, 10)
	case uint64:
		s = strconv.FormatUint(n, 10)
	case uint:
		s = strconv.FormatUint(uint64(n), 10)
	case float32:
		return floatString(float64(n), 32)
	default:
		x, ok := toFloat(count)
		if !ok {
			return "", false
		}
		return floatString(x, 64)
	}
	s = strings.TrimPrefix(s, "-")
	if s == "" || len(s) > maxDecimalLen {
		return "", false
	}
	ip, frac, dot := strings.Cut(s, ".")
	if ip == "" || !allDigits(ip) || dot && (frac == "" || !allDigits(frac)) {
		return "", false
	}
	return s, true
}

// floatString writes a float's absolute value in the fewest digits that
// read back as it: an integer without a fraction.
func floatString(x float64, bits int) (string, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "", false
	}
	x = math.Abs(x)
	if x == math.Trunc(x) && x < 1e15 {
		return strconv.FormatInt(int64(x), 10), true
	}
	return strconv.FormatFloat(x, 'f', -1, bits), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// operands returns CLDR's plural operands of an unsigned decimal (TR35,
// Language Plural Rules): i its integer digits, v the number of visible
// fraction digits, w the same without trailing zeros, f the visible
// fraction digits and t the same without trailing zeros.
func operands(s string) (i, v, w, f, t int) {
	ip, frac, _ := strings.Cut(s, ".")
	trimmed := strings.TrimRight(frac, "0")
	return operandValue(ip), len(frac), len(trimmed), operandValue(frac), operandValue(trimmed)
}

// operandValue reads a run of digits. One beyond seven significant digits
// keeps its last seven (every rule looks at most at the value mod 10^6) and
// gains 10^7, so that it still compares as large ("i = 1" is false for
// 100000001).
func operandValue(digits string) int {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0
	}
	if len(digits) <= 7 {
		n, _ := strconv.Atoi(digits)
		return n
	}
	n, _ := strconv.Atoi(digits[len(digits)-7:])
	return n + 1e7
}

// operandSet is one number's plural operands.
type operandSet struct{ i, v, w, f, t int }

// pluralSamples are numbers that between them show every plural category
// of every language CLDR describes: the integers up to 199 (rules test i,
// i % 10 and i % 100), a thousand and millions (Breton, and "many" of large
// round numbers), and fractions with one and two visible digits.
// (Checking a language takes about 0.2 ms.)
var pluralSamples = func() []operandSet {
	var out []operandSet
	add := func(s string) {
		i, v, w, f, t := operands(s)
		out = append(out, operandSet{i, v, w, f, t})
	}
	for i := range 200 {
		ip := strconv.Itoa(i)
		add(ip)
		for f := range 10 {
			add(ip + "." + strconv.Itoa(f))
		}
		if i < 20 { // rules on two fraction digits test f alone
			for f := range 100 {
				add(ip + "." + strconv.Itoa(f/10) + strconv.Itoa(f%10))
			}
		}
	}
	for _, s := range []string{"1000", "1000000", "2000000", "1000000.0"} {
		add(s)
	}
	return out
}()

// usedCache remembers usedCategories per language.
var usedCache sync.Map // language.Tag → []string

// usedCategories lists the plural categories the language of tag uses, in
// pluralCategories' order: the categories CLDR's rules pick for some
// number. The caller must not change the slice.
func usedCategories(tag language.Tag) []string {
	if v, ok := usedCache.Load(tag); ok {
		return v.([]string)
	}
	seen := map[plural.Form]bool{plural.Other: true}
	for _, o := range pluralSamples {
		seen[plural.Cardinal.MatchPlural(tag, o.i, o.v, o.w, o.f, o.t)] = true
	}
	var out []string
	for _, c := range pluralCategories() {
		for f := range seen {
			if formName(f) == c {
				out = append(out, c)
			}
		}
	}
	usedCache.Store(tag, out)
	return out
}
