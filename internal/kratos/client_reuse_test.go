package kratos_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
)

// flowJSON is a flow whose every text carries mark, all flows the same size.
func flowJSON(mark string) string {
	node := func(name string) string {
		return fmt.Sprintf(`{"type":"input","group":"default","attributes":{"node_type":"input","name":"%s-%s","type":"text","value":"%s-value"},"messages":[{"id":1,"text":"%s-message","type":"info"}],"meta":{"label":{"id":2,"text":"%s-label","type":"info"}}}`, name, mark, mark, mark, mark)
	}
	return fmt.Sprintf(`{"id":"%s","ui":{"action":"http://kratos/self-service/login?flow=%s","method":"POST","nodes":[%s,%s,%s]}}`,
		mark, mark, node("a"), node("b"), node("c"))
}

// TestAnswerBuffersAreReused: the buffer an answer was read into serves the
// next answer, so nothing decoded may still point into it. Flows fetched in
// parallel, each answer overwriting buffers others used, must keep every
// text they were given.
func TestAnswerBuffersAreReused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(flowJSON(r.URL.Query().Get("id"))))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	kc, err := kratos.NewClient(u, u, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var flows []*kratos.Flow
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				f, err := kc.GetFlow(context.Background(), kratos.Login, fmt.Sprintf("g%d-%03d", g, i), kratos.Browser{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				flows = append(flows, f)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(flows) != 400 {
		t.Fatalf("%d flows", len(flows))
	}
	for _, f := range flows {
		if len(f.UI.Nodes) != 3 || cap(f.UI.Nodes) != 3 {
			t.Fatalf("flow %s: %d nodes in a slice of %d, want 3 in 3 (sized from the answer)", f.ID, len(f.UI.Nodes), cap(f.UI.Nodes))
		}
		for _, n := range f.UI.Nodes {
			for _, s := range []string{n.Attributes.Name, string(n.Attributes.Value), n.Messages[0].Text, n.Meta.Label.Text} {
				if !strings.Contains(s, f.ID) {
					t.Fatalf("flow %s holds %q: a text from another answer", f.ID, s)
				}
			}
		}
	}
}
