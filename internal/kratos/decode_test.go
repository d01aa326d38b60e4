package kratos

import (
	"runtime"
	"strings"
	"testing"
)

// TestNodeHintIsCapped: the room made for nodes ahead of decoding is sized
// from the answer, but an answer full of "node_type" keys must not make
// Hera reserve memory in proportion.
func TestNodeHintIsCapped(t *testing.T) {
	keys := strings.Repeat(`"node_type":1,`, 70_000) // under 1 MiB
	data := []byte(`{"id":"f","ui":{"action":"http://k/self-service/login?flow=f","method":"POST","nodes":[` +
		`{"type":"input","group":"default","attributes":{"node_type":"input","name":"csrf_token","type":"hidden"}}]},` +
		`"x":{` + keys + `"end":1}}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var f Flow
	if err := Decode(data, &f); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if len(f.UI.Nodes) != 1 || f.UI.Nodes[0].Attributes.Name != "csrf_token" {
		t.Fatalf("nodes %+v", f.UI.Nodes)
	}
	// Uncapped, 70,000 nodes of about 500 bytes: 35 MB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Fatalf("decoding allocated %d bytes", got)
	}
}
