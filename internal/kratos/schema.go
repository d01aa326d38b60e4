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

// schemaCacheTTL is how long what Hera read from the identity schemas is
// reused: schemas change with a Kratos deployment, not per request.
const schemaCacheTTL = time.Minute

// schemaCache holds the last answer of Schemas.
type schemaCache struct {
	mu      sync.Mutex
	schemas map[string]SchemaTraits
	until   time.Time
}

// SchemaTraits is what an identity schema says about its traits, as dotted
// paths below traits ("email", "contact.phone"), each list in schema order
// of appearance sorted by path.
type SchemaTraits struct {
	// Identifiers are the traits a user signs in with by password or
	// security key: what Kratos looks an account up by.
	Identifiers []string
	// Addresses hold an address Kratos sends codes to: code identifiers and
	// verification or recovery addresses.
	Addresses []string
	// Emails and Phones are the traits of format email and tel.
	Emails, Phones []string
	// Recovery holds the recovery addresses (Kratos v1.3.1 recovers by
	// e-mail only).
	Recovery []string
}

// Schemas returns what every identity schema Kratos serves says about its
// traits, by schema ID. The answer is cached for a minute.
func (c *Client) Schemas(ctx context.Context) (map[string]SchemaTraits, error) {
	c.schemas.mu.Lock()
	if time.Now().Before(c.schemas.until) {
		m := c.schemas.schemas
		c.schemas.mu.Unlock()
		return m, nil
	}
	c.schemas.mu.Unlock()

	u := c.public.JoinPath("/schemas")
	u.RawQuery = url.Values{"page_size": {"100"}}.Encode()
	var list []struct {
		ID     string          `json:"id"`
		Schema json.RawMessage `json:"schema"`
	}
	if _, err := c.getJSON(ctx, u, Browser{}, &list); err != nil {
		return nil, err
	}
	m := make(map[string]SchemaTraits, len(list))
	for _, s := range list {
		var doc schemaNode
		if json.Unmarshal(s.Schema, &doc) != nil {
			continue
		}
		var st SchemaTraits
		if traits, ok := doc.Properties["traits"]; ok {
			traits.walk("", &st)
		}
		for _, l := range []*[]string{&st.Identifiers, &st.Addresses, &st.Emails, &st.Phones, &st.Recovery} {
			sort.Strings(*l)
			*l = slices.Compact(*l)
		}
		m[s.ID] = st
	}
	c.schemas.mu.Lock()
	c.schemas.schemas, c.schemas.until = m, time.Now().Add(schemaCacheTTL)
	c.schemas.mu.Unlock()
	return m, nil
}

// AddressTraits returns the traits, across every identity schema Kratos
// serves, that hold an address Kratos sends codes to.
func (c *Client) AddressTraits(ctx context.Context) ([]string, error) {
	m, err := c.Schemas(ctx)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, st := range m {
		paths = append(paths, st.Addresses...)
	}
	sort.Strings(paths)
	return slices.Compact(paths), nil
}

// schemaNode is the part of a JSON schema Hera reads.
type schemaNode struct {
	Format     string                `json:"format"`
	Properties map[string]schemaNode `json:"properties"`
	Items      *schemaNode           `json:"items"`
	Kratos     *struct {
		Credentials struct {
			Password struct {
				Identifier bool `json:"identifier"`
			} `json:"password"`
			WebAuthn struct {
				Identifier bool `json:"identifier"`
			} `json:"webauthn"`
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

// walk records what n and the properties below it say. An array of
// addresses is recorded at the array's own path. Depth is bounded by the
// schema Kratos accepted; "$ref" is not followed, so nothing recurs.
func (n schemaNode) walk(path string, st *SchemaTraits) {
	if path != "" {
		for _, node := range []*schemaNode{&n, n.Items} {
			if node != nil {
				node.record(path, st)
			}
		}
	}
	for name, p := range n.Properties {
		child := name
		if path != "" {
			child = path + "." + name
		}
		p.walk(child, st)
	}
}

func (n *schemaNode) record(path string, st *SchemaTraits) {
	switch n.Format {
	case "email":
		st.Emails = append(st.Emails, path)
	case "tel":
		st.Phones = append(st.Phones, path)
	}
	k := n.Kratos
	if k == nil {
		return
	}
	if k.Credentials.Password.Identifier || k.Credentials.WebAuthn.Identifier {
		st.Identifiers = append(st.Identifiers, path)
	}
	if k.Credentials.Code.Identifier || k.Verification.Via != "" || k.Recovery.Via != "" {
		st.Addresses = append(st.Addresses, path)
	}
	if k.Recovery.Via != "" {
		st.Recovery = append(st.Recovery, path)
	}
}
