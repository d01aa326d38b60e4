package webtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// CredentialSecrets returns what no page, download or mail of Hera may
// hold of an identity: the strings in its credentials' configurations
// (hashes, TOTP secrets, backup codes, public keys, user handles) and in its
// admin metadata, from the identity's JSON as Kratos's admin API shows it
// when asked (GET /admin/identities/{id}?include_credential=…). Words
// shorter than 8 characters, times (dates of use) and the credentials'
// identifiers (the code method's configuration repeats its addresses) are
// not secrets and are left out.
func CredentialSecrets(identityJSON []byte) ([]string, error) {
	var i struct {
		Credentials map[string]struct {
			Identifiers []string        `json:"identifiers"`
			Config      json.RawMessage `json:"config"`
		} `json:"credentials"`
		MetadataAdmin json.RawMessage `json:"metadata_admin"`
	}
	if err := json.Unmarshal(identityJSON, &i); err != nil {
		return nil, fmt.Errorf("webtest: identity JSON: %w", err)
	}
	var identifiers, out []string
	for _, c := range i.Credentials {
		identifiers = append(identifiers, c.Identifiers...)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if _, err := time.Parse(time.RFC3339, v); len(v) >= 8 && err != nil && !slices.Contains(identifiers, v) {
				out = append(out, v)
			}
		}
	}
	for _, raw := range [][]byte{i.MetadataAdmin} {
		var v any
		_ = json.Unmarshal(raw, &v)
		walk(v)
	}
	for _, c := range i.Credentials {
		var v any
		_ = json.Unmarshal(c.Config, &v)
		walk(v)
	}
	return out, nil
}
