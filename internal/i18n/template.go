package i18n

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// tmpl is a parsed template: literal text and placeholders.
type tmpl []segment

// segment is literal text (name == "") or a placeholder.
type segment struct {
	lit   string
	name  string
	style string // "", "time", "date" or "datetime"
}

// parseTemplate splits s into literal text and {name} / {name:style}
// placeholders. Braces are never literal: a stray one is an error.
func parseTemplate(s string) (tmpl, error) {
	var t tmpl
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed { at byte %d", i)
			}
			inner := s[i+1 : i+1+end]
			name, style, _ := strings.Cut(inner, ":")
			if !validName(name) {
				return nil, fmt.Errorf("bad placeholder {%s}: want {name} or {name:style} with a name of letters, digits and _", inner)
			}
			switch style {
			case "", "time", "date", "datetime":
			default:
				return nil, fmt.Errorf("placeholder {%s}: unknown style %q (want time, date or datetime)", inner, style)
			}
			flush()
			t = append(t, segment{name: name, style: style})
			i += end + 2
		case '}':
			return nil, fmt.Errorf("unmatched } at byte %d", i)
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	return t, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// literal returns the template's text without its placeholders.
func (t tmpl) literal() string {
	var b strings.Builder
	for _, s := range t {
		b.WriteString(s.lit)
	}
	return b.String()
}

// missingMode says what render does with a placeholder it has no value for.
type missingMode int

const (
	missingFail  missingMode = iota // give up: render reports false
	missingEmpty                    // leave it out
	missingKeep                     // write "{name}"
)

// getter looks up a placeholder's value.
type getter func(name string) (any, bool)

// render fills in t's placeholders, formatted for lang; html escapes
// everything but template.HTML values. It reports false if a value was
// missing and mode is missingFail.
func (c *Catalog) render(lang string, t tmpl, get getter, mode missingMode, html bool) (string, bool) {
	if len(t) == 1 && t[0].name == "" && !html {
		return t[0].lit, true // plain text, the most common case
	}
	f := c.formats[lang]
	var b strings.Builder
	esc := func(s string) string {
		if html {
			return template.HTMLEscapeString(s)
		}
		return s
	}
	for _, s := range t {
		if s.name == "" {
			b.WriteString(esc(s.lit))
			continue
		}
		v, ok := get(s.name)
		if ok {
			if h, isHTML := v.(template.HTML); isHTML && html {
				b.WriteString(string(h))
				continue
			}
			var str string
			if str, ok = f.format(s.name, s.style, v); ok {
				b.WriteString(esc(str))
				continue
			}
		}
		switch mode {
		case missingFail:
			return "", false
		case missingKeep:
			ph := "{" + s.name
			if s.style != "" {
				ph += ":" + s.style
			}
			b.WriteString(esc(ph + "}"))
		}
	}
	return b.String(), true
}

// contextGetter reads a Kratos message context. A time key "x_at" missing
// from it is read from "x_at_unix".
func contextGetter(ctx map[string]any) getter {
	return func(name string) (any, bool) {
		if v, ok := ctx[name]; ok {
			return v, true
		}
		if strings.HasSuffix(name, "_at") {
			v, ok := ctx[name+"_unix"]
			return v, ok
		}
		return nil, false
	}
}

// isTimeKey reports whether a context key holds a time by Kratos's naming.
func isTimeKey(key string) bool {
	return strings.HasSuffix(key, "_at") || strings.HasSuffix(key, "_at_unix")
}

// format writes one value. It reports false for values it cannot write:
// nil, objects, lists of anything but strings, numbers and booleans, and
// non-times where a time is wanted.
func (f formats) format(key, style string, v any) (string, bool) {
	if t, ok := v.(time.Time); ok {
		return f.formatTime(t, style), true
	}
	if style != "" || isTimeKey(key) {
		if t, ok := asTime(v); ok {
			return f.formatTime(t, style), true
		}
		if style != "" {
			return "", false
		}
	}
	switch v := v.(type) {
	case string:
		return v, true
	case template.HTML:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case []any:
		return f.list(len(v), func(i int) any { return v[i] })
	case []string:
		return f.list(len(v), func(i int) any { return v[i] })
	}
	if n, ok := toFloat(v); ok {
		return f.number(n), true
	}
	if n, ok := v.(int64); ok { // beyond float64's exact range
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// list joins a list of scalars with the language's "or".
func (f formats) list(n int, at func(int) any) (string, bool) {
	if n == 0 {
		return "", false
	}
	parts := make([]string, 0, n)
	for i := range n {
		v := at(i)
		switch v.(type) {
		case []any, []string, map[string]any, nil:
			return "", false
		}
		s, ok := f.format("", "", v)
		if !ok {
			return "", false
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, f.listOr), true
}

// number writes n: integers without a fraction, others with the language's
// decimal separator.
func (f formats) number(n float64) string {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return strconv.FormatFloat(n, 'g', -1, 64)
	}
	if n == math.Trunc(n) && math.Abs(n) < 1e15 {
		return strconv.FormatInt(int64(n), 10)
	}
	return strings.Replace(strconv.FormatFloat(n, 'f', -1, 64), ".", f.decimal, 1)
}

// formatTime writes t in UTC in the given style (default datetime).
func (f formats) formatTime(t time.Time, style string) string {
	layout := f.datetime
	switch style {
	case "time":
		layout = f.time
	case "date":
		layout = f.date
	}
	return t.UTC().Format(layout)
}

// asTime reads a time from an RFC 3339 string or Unix seconds.
func asTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case string:
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		return t, err == nil
	}
	n, ok := toFloat(v)
	// Unix seconds within ±10^11 (about year 5138) only: beyond that a
	// number is not a time, and float → int64 would overflow.
	if !ok || math.IsNaN(n) || math.Abs(n) > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(n)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// toFloat reads a number of any Go numeric type or json.Number.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		if n > 1<<53 || n < -(1<<53) {
			return 0, false
		}
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// kratosContextKeys lists the context keys Kratos v1.3.1 sets on message id
// (text/message_*.go): the placeholders its translations may use.
func kratosContextKeys(id int64) []string {
	expired := []string{"expired_at", "expired_at_unix"}
	switch id {
	case 1010002, 1040002: // sign in/up with {provider}
		return []string{"provider", "provider_id"}
	case 1010016:
		return []string{"duplicateIdentifier", "provider", "newLoginUrl", "duplicate_identifier", "new_login_url", "available_credential_types", "available_providers"}
	case 1010018, 1050002, 1050003:
		return []string{"provider"}
	case 1010023:
		return []string{"address", "channel"}
	case 1050006, 1050009:
		return []string{"secret"}
	case 1050014:
		return []string{"used_at", "used_at_unix"}
	case 1050015:
		return []string{"secrets"}
	case 1050018, 1050020:
		return []string{"display_name", "added_at", "added_at_unix"}
	case 1060001:
		return []string{"privilegedSessionExpiresAt", "privileged_session_expires_at", "privileged_session_expires_at_unix"}
	case 1070002:
		return []string{"title"}
	case 4000001, 4000005, 5000001:
		return []string{"reason"}
	case 4000002:
		return []string{"property"}
	case 4000003, 4000032:
		return []string{"min_length", "actual_length"}
	case 4000004:
		return []string{"pattern"}
	case 4000017, 4000033:
		return []string{"max_length", "actual_length"}
	case 4000018, 4000019:
		return []string{"minimum", "actual"}
	case 4000020, 4000021:
		return []string{"maximum", "actual"}
	case 4000022:
		return []string{"base", "actual"}
	case 4000023:
		return []string{"max_items", "actual_items"}
	case 4000024:
		return []string{"min_items", "actual_items"}
	case 4000025:
		return []string{"index_a", "index_b"}
	case 4000026:
		return []string{"allowed_types", "actual_type"}
	case 4000028:
		return []string{"available_credential_types", "available_oidc_providers", "credential_identifier_hint"}
	case 4000029:
		return []string{"expected"}
	case 4000034:
		return []string{"breaches"}
	case 4010001, 4040001, 4050001, 4060005, 4070005:
		return expired
	}
	return nil
}
