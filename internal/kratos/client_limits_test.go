package kratos_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
)

// TestOversizedAnswer: Hera reads at most 1 MiB of any Kratos answer; a
// larger one, sized or chunked, is Kratos being unavailable, not a flow.
func TestOversizedAnswer(t *testing.T) {
	const flow = `{"id":"f","ui":{"action":"http://x/self-service/login?flow=f","method":"POST","nodes":[]},"pad":"`
	for _, c := range []struct {
		name    string
		pad     int
		chunked bool
		ok      bool
	}{
		{"small", 100, false, true},
		{"small chunked", 100, true, true},
		{"just under the limit, chunked", 1<<20 - len(flow) - 2, true, true},
		{"over the limit", 2 << 20, false, false},
		{"over the limit, chunked", 2 << 20, true, false},
		{"one byte over, chunked", 1<<20 - len(flow) - 1, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := flow + strings.Repeat("x", c.pad) + `"}`
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !c.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				for rest := body; rest != ""; {
					n := min(len(rest), 7000)
					_, _ = w.Write([]byte(rest[:n]))
					if c.chunked {
						w.(http.Flusher).Flush()
					}
					rest = rest[n:]
				}
			}))
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			kc, err := kratos.NewClient(u, u, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			f, err := kc.GetFlow(context.Background(), kratos.Login, "f", kratos.Browser{})
			if c.ok && (err != nil || f.ID != "f") {
				t.Fatalf("%d-byte answer: %v", len(body), err)
			}
			if !c.ok && !errors.Is(err, kratos.ErrUnavailable) {
				t.Fatalf("%d-byte answer: got %v, want ErrUnavailable", len(body), err)
			}
		})
	}
}
