package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestGate(t *testing.T) {
	const osv = `{"osv":{"id":"GO-1","summary":"bad"}}`
	stdlib := `{"finding":{"osv":"GO-1","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"Serve"}]}}`
	module := `{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"example.com/m","version":"v1.1.0","package":"example.com/m","function":"F"}]}}`
	imported := `{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"example.com/m","version":"v1.1.0","package":"example.com/m"}]}}`
	for _, tc := range []struct {
		name, in string
		fail     bool
		out      string
	}{
		{"nothing", `{"config":{}}`, false, "no called vulnerability"},
		{"the standard library is a warning", osv + stdlib, false, "warning: Go itself: GO-1 stdlib@v1.26.8 (fixed in v1.26.9): bad"},
		{"a called module fails", osv + module, true, ""},
		{"an imported, uncalled module passes", osv + imported, false, "no called vulnerability"},
		{"garbage fails", `{"finding":`, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(strings.NewReader(tc.in), &out)
			if (err != nil) != tc.fail {
				t.Fatalf("err %v, want failure %v", err, tc.fail)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output %q lacks %q", out.String(), tc.out)
			}
		})
	}
}
