package stacktest

import (
	"errors"
	"fmt"
	"testing"
)

func TestRetryOnPortTaken(t *testing.T) {
	exited := errors.New("exited before it was ready")
	for _, tc := range []struct {
		name   string
		output []string // what each attempt writes before failing; "" succeeds
		calls  int
		err    bool
	}{
		{"first attempt", []string{""}, 1, false},
		{"port taken once", []string{"bind: address already in use", ""}, 2, false},
		{"port taken every time", []string{"address already in use", "address already in use", "address already in use"}, 3, true},
		{"another failure is not retried", []string{"bad config"}, 1, true},
		// An earlier attempt's line does not make a later failure a port's.
		{"only this attempt's output counts", []string{"address already in use", "bad config"}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Env{logs: &Buffer{}}
			calls := 0
			err := e.retryOnPortTaken(func(attempt int) error {
				if attempt != calls {
					t.Fatalf("attempt %d on call %d", attempt, calls)
				}
				out := tc.output[calls]
				calls++
				if out == "" {
					return nil
				}
				fmt.Fprintln(e.logs, out)
				return exited
			})
			if calls != tc.calls || (err != nil) != tc.err {
				t.Errorf("%d calls, err %v; want %d calls, error %v", calls, err, tc.calls, tc.err)
			}
		})
	}
}
