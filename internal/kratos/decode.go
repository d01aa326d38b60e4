package kratos

import (
	"bytes"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Decode decodes an answer from Kratos into v.
//
// It uses encoding/json/v2 (github.com/go-json-experiment/json mirrors it
// for Go 1.26; from Go 1.27 it is the standard library's encoding/json/v2):
// with encoding/json, decoding the flow was the largest part of Hera's work
// per page view, and v2 decodes a login flow about 2.5 times faster with a
// quarter of the allocations (docs/benchmarks.md). Duplicate names and
// invalid UTF-8 are accepted as encoding/json accepts them, so an odd answer
// renders instead of failing.
func Decode(data []byte, v any) error {
	if f, ok := v.(*Flow); ok && f.UI.Nodes == nil {
		// A Node is large (about 500 bytes): grown by doubling, the slice
		// allocated twice what it kept, half the bytes of a page view.
		// Each node has one "node_type" key (texts cannot fake one: their
		// quotes are escaped). Only a size hint, so a wrong count costs an
		// allocation, and it is capped: a 1 MiB answer of nothing but keys
		// must not reserve 50 MB.
		if n := bytes.Count(data, nodeTypeKey); n > 0 {
			f.UI.Nodes = make([]Node, 0, min(n, maxNodeHint))
		}
	}
	return json.Unmarshal(data, v, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}

var nodeTypeKey = []byte(`"node_type"`)

// maxNodeHint is the most nodes room is made for ahead; the largest flow
// recorded from Kratos (settings, every method) has 19.
const maxNodeHint = 256
