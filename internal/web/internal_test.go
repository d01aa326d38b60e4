package web

import (
	"encoding/json"
	"testing"

	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/kratos"
)

// FuzzRawString holds rawString's fast paths to encoding/json.
func FuzzRawString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"with \"quotes\" and \\ and \u00e9"`, `""`, `null`, `12`, `true`, `{"a":1}`, "\"\xff\"", `"é😀"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var v struct {
			V json.RawMessage `json:"v"`
		}
		doc := append(append([]byte(`{"v":`), raw...), '}')
		if kratos.Decode(doc, &v) != nil || len(v.V) == 0 {
			return
		}
		want := string(v.V)
		if string(v.V) == "null" {
			want = ""
		} else {
			var s string
			if json.Unmarshal(v.V, &s) == nil {
				want = s
			}
		}
		if got := rawString(v.V); got != want {
			t.Errorf("rawString(%s) = %q, want %q", v.V, got, want)
		}
	})
}

// TestCSPWithoutCaptcha: the policy of pages without a captcha, written
// out in one string for speed, is the one the general builder makes.
func TestCSPWithoutCaptcha(t *testing.T) {
	if got, want := csp("n0nce", nil), csp("n0nce", &captcha.CSP{}); got != want {
		t.Fatalf("csp without captcha:\n got %s\nwant %s", got, want)
	}
}
