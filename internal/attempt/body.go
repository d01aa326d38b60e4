package attempt

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The content types Kratos decodes and Hera forwards. Kratos also reads
// multipart/form-data; Hera refuses it (its forms never send it), so no
// third encoding needs mirroring.
const (
	FormType = "application/x-www-form-urlencoded"
	JSONType = "application/json"
)

// Body is a submission as Kratos will read it: every field once, by its
// exact name. Parse builds it; Encode writes the canonical body Hera
// forwards, holding only the fields the method accepts.
type Body struct {
	json bool
	// form: every key received, values in order. JSON: top-level string
	// values only (the captcha token lives there); the rest is in doc.
	form url.Values
	doc  map[string]jsontext.Value
}

// Parse reads a submission body. Anything Kratos's decoders could read in
// two ways is refused: a scalar field given twice (Kratos takes the first
// form value but the last JSON member), JSON members that differ only in
// case (Go's encoding/json matches struct fields case-insensitively),
// dotted JSON names (Kratos may unflatten them), trailing data, invalid
// UTF-8.
func Parse(contentType string, body []byte) (*Body, error) {
	switch contentType {
	case FormType:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("unparseable form body", "")
		}
		for k, vs := range vals {
			if repeatable(k) {
				continue
			}
			// A form may carry one field twice (a hidden input and a
			// button of the same name); only differing values are
			// ambiguous.
			for _, v := range vs[1:] {
				if v != vs[0] {
					return nil, badRequest("field "+quote(k)+" given twice with different values", "")
				}
			}
			vals[k] = vs[:1]
		}
		return &Body{form: vals}, nil
	case JSONType:
		var doc map[string]jsontext.Value
		// The defaults refuse duplicate names, invalid UTF-8 and trailing data.
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, badRequest("unparseable JSON body", "")
		}
		if doc == nil {
			return nil, badRequest("JSON body is not an object", "")
		}
		b := &Body{json: true, doc: doc, form: url.Values{}}
		names := make([]string, 0, len(doc))
		for k, v := range doc {
			names = append(names, k)
			if strings.Contains(k, ".") {
				return nil, badRequest("dotted JSON member "+quote(k), "")
			}
			if v.Kind() == '"' {
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return nil, badRequest("bad JSON string", "")
				}
				b.form.Set(k, s)
			}
		}
		sort.Strings(names)
		for i := 1; i < len(names); i++ {
			for j := 0; j < i; j++ {
				if strings.EqualFold(names[i], names[j]) {
					return nil, badRequest("JSON members "+quote(names[j])+" and "+quote(names[i])+" differ only in case", "")
				}
			}
		}
		return b, nil
	}
	return nil, &Error{Status: 415, Reason: "unsupported content type"}
}

// contentType is the content type encode writes: the one received.
func (b *Body) contentType() string {
	if b.json {
		return JSONType
	}
	return FormType
}

// str returns field name as a string: "" when absent or empty (Kratos's
// form decoder skips empty strings, and every field Hera reads treats ""
// as absent). A JSON value of another type is refused.
func (b *Body) str(name string) (string, error) {
	if !b.json {
		return b.form.Get(name), nil
	}
	v, ok := b.doc[name]
	if !ok || v.Kind() == 'n' {
		return "", nil
	}
	if v.Kind() != '"' {
		return "", badRequest("field "+quote(name)+" must be a string", "")
	}
	return b.form.Get(name), nil
}

// has reports whether name was sent with a non-empty value.
func (b *Body) has(name string) bool {
	if !b.json {
		return b.form.Get(name) != ""
	}
	v, ok := b.doc[name]
	return ok && v.Kind() != 'n' && !(v.Kind() == '"' && b.form.Get(name) == "")
}

// isTrue reports whether name was sent as true (a button Kratos decodes
// as a boolean: "true" in a form, true or "true" in JSON).
func (b *Body) isTrue(name string) bool {
	if b.json {
		if v, ok := b.doc[name]; ok && v.Kind() == 't' {
			return true
		}
	}
	t, err := strconv.ParseBool(b.form.Get(name))
	return err == nil && t
}

// checkNames refuses a JSON member whose name matches an accepted field
// only when compared without case: encoding/json would fill that field
// from it, Hera would not.
func (b *Body) checkNames(accepted []string) error {
	if !b.json {
		return nil
	}
	for k := range b.doc {
		for _, a := range accepted {
			if k != a && strings.EqualFold(k, a) {
				return badRequest("JSON member "+quote(k)+" is not "+quote(a), "")
			}
		}
	}
	return nil
}

// encode writes the canonical body: only the accepted fields, each once,
// empty ones left out, structured ones (traits, transient_payload,
// upstream_parameters) as received. set overrides or adds string fields
// (the canonical identifier, the method).
func (b *Body) encode(accepted []string, set map[string]string) ([]byte, error) {
	keep := func(name string) bool {
		for _, a := range accepted {
			if name == a || (structured(a) && strings.HasPrefix(name, a+".")) {
				return true
			}
		}
		return false
	}
	if !b.json {
		out := url.Values{}
		for k, vs := range b.form {
			if _, over := set[k]; over || !keep(k) {
				continue
			}
			for _, v := range vs {
				if v != "" {
					out.Add(k, v)
				}
			}
		}
		for k, v := range set {
			if v != "" {
				out.Set(k, v)
			}
		}
		return []byte(out.Encode()), nil
	}
	out := map[string]jsontext.Value{}
	for k, v := range b.doc {
		if _, over := set[k]; over || !keep(k) || v.Kind() == 'n' || (v.Kind() == '"' && b.form.Get(k) == "") {
			continue
		}
		out[k] = v
	}
	for k, v := range set {
		if v == "" {
			continue
		}
		enc, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[k] = enc
	}
	return json.Marshal(out, json.Deterministic(true))
}

// traitValues returns every string value at traits.<path> (a dotted path
// below traits), arrays included: the addresses a schema marks.
func (b *Body) traitValues(path string) ([]string, error) {
	if !b.json {
		var out []string
		for _, v := range b.form["traits."+path] {
			if v != "" {
				out = append(out, v)
			}
		}
		return out, nil
	}
	raw, ok := b.doc["traits"]
	if !ok || raw.Kind() == 'n' {
		return nil, nil
	}
	return valuesAt(raw, path)
}

// valuesAt returns the strings at a dotted path in a JSON value (a string,
// or an array of strings, at the end of the path).
func valuesAt(raw jsontext.Value, path string) ([]string, error) {
	v := raw
	for _, seg := range strings.Split(path, ".") {
		if v.Kind() != '{' {
			return nil, nil
		}
		var obj map[string]jsontext.Value
		if err := json.Unmarshal(v, &obj); err != nil {
			return nil, badRequest("unparseable traits", "")
		}
		var ok bool
		if v, ok = obj[seg]; !ok {
			return nil, nil
		}
	}
	switch v.Kind() {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, badRequest("unparseable traits", "")
		}
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	case '[':
		var arr []jsontext.Value
		if err := json.Unmarshal(v, &arr); err != nil {
			return nil, badRequest("unparseable traits", "")
		}
		var out []string
		for _, e := range arr {
			if e.Kind() != '"' {
				continue
			}
			var s string
			if err := json.Unmarshal(e, &s); err == nil && s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, nil
}

// structured fields are objects Kratos reads as a whole; in forms they come
// as dotted keys (traits.email) or, for transient_payload, as JSON text.
func structured(name string) bool {
	return name == "traits" || name == "upstream_parameters" || name == "transient_payload"
}

// repeatable form keys are the ones a schema may declare as arrays.
func repeatable(k string) bool {
	return strings.HasPrefix(k, "traits.") || strings.HasPrefix(k, "upstream_parameters.")
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}
