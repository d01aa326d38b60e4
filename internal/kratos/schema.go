package kratos

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"
)

// addressCacheTTL is how long the address traits read from the identity
// schemas are reused: schemas change with a Kratos deployment, not per
// request.
const addressCacheTTL = time.Minute

// addressCache holds the last answer of AddressTraits.
type addressCache struct {
	mu    sync.Mutex
	paths []string
	until time.Time
}

// AddressTraits returns the traits, across every identity schema Kratos
// serves, that hold an address Kratos sends codes to: code identifiers and
// verification or recovery addresses. Paths are dotted below traits
// ("email", "contact.phone"). The answer is cached for a minute.
func (c *Client) AddressTraits(ctx context.Context) ([]string, error) {
	c.addresses.mu.Lock()
	if time.Now().Before(c.addresses.until) {
		p := c.addresses.paths
		c.addresses.mu.Unlock()
		return p, nil
	}
	c.addresses.mu.Unlock()

	u := c.public.JoinPath("/schemas")
	u.RawQuery = url.Values{"page_size": {"100"}}.Encode()
	var list []struct {
		ID     string          `json:"id"`
		Schema json.RawMessage `json:"schema"`
	}
	if _, err := c.getJSON(ctx, u, Browser{}, &list); err != nil {
		return nil, err
	}
	var paths []string
	for _, s := range list {
		var doc schemaNode
		if json.Unmarshal(s.Schema, &doc) != nil {
			continue
		}
		if traits, ok := doc.Properties["traits"]; ok {
			paths = append(paths, traits.addresses("")...)
		}
	}
	sort.Strings(paths)
	paths = slices.Compact(paths)
	c.addresses.mu.Lock()
	c.addresses.paths, c.addresses.until = paths, time.Now().Add(addressCacheTTL)
	c.addresses.mu.Unlock()
	return paths, nil
}

// schemaNode is the part of a JSON schema address discovery reads.
type schemaNode struct {
	Properties map[string]schemaNode `json:"properties"`
	Items      *schemaNode           `json:"items"`
	Kratos     *struct {
		Credentials struct {
			Code struct {
				Identifier bool `json:"identifier"`
			} `json:"code"`
		} `json:"credentials"`
		Verification struct {
			Via string `json:"via"`
		} `json:"verification"`
		Recovery struct {
			Via string `json:"via"`
		} `json:"recovery"`
	} `json:"ory.sh/kratos"`
}

// addresses returns the dotted paths below n that hold an address. An
// array of addresses is reported at the array's own path. Depth is bounded
// by the schema Kratos accepted; a self-referencing schema cannot recur
// here because "$ref" is not followed.
func (n schemaNode) addresses(prefix string) []string {
	var out []string
	if n.isAddress() || (n.Items != nil && n.Items.isAddress()) {
		out = append(out, prefix)
	}
	for name, p := range n.Properties {
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		out = append(out, p.addresses(path)...)
	}
	if prefix == "" {
		out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	}
	return out
}

func (n schemaNode) isAddress() bool {
	k := n.Kratos
	return k != nil && (k.Credentials.Code.Identifier || k.Verification.Via != "" || k.Recovery.Via != "")
}
