package web

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// schemaOf returns what identity schema id says about its traits; ok is
// false when Kratos's schemas cannot be read or id is not among them.
func (s *server) schemaOf(ctx context.Context, id string) (kratos.SchemaTraits, bool) {
	m, err := s.Kratos.Schemas(ctx)
	if err != nil {
		s.Logger.WarnContext(ctx, "identity schemas unreadable", "err", err)
		return kratos.SchemaTraits{}, false
	}
	st, ok := m[id]
	return st, ok
}

// signInName is the value an identity signs in with, as its schema says:
// the first identifier trait, else its e-mail, else its phone number.
func signInName(st kratos.SchemaTraits, traits json.RawMessage) string {
	var t map[string]any
	if json.Unmarshal(traits, &t) != nil {
		return ""
	}
	for _, paths := range [][]string{st.Identifiers, st.Emails, st.Phones} {
		for _, p := range paths {
			if v, ok := tracePath(t, p).(string); ok && v != "" {
				return v
			}
		}
	}
	return ""
}

// accountName is how the pages name an identity: its sign-in name as its
// schema says, else a common trait (e-mail, username, phone), else its ID.
func (s *server) accountName(ctx context.Context, id *kratos.Identity) string {
	if st, ok := s.schemaOf(ctx, id.SchemaID); ok {
		if n := signInName(st, id.Traits); n != "" {
			return n
		}
	}
	if _, n := traitsNames(id.Traits); n != "" {
		return n
	}
	return id.ID
}

// typedSignInName is the sign-in name a registration form already carries
// (a hidden trait of the password step), by any schema's identifier,
// e-mail or phone trait, in that order.
func (s *server) typedSignInName(ctx context.Context, p *view.FlowPage) string {
	m, err := s.Kratos.Schemas(ctx)
	if err != nil {
		return ""
	}
	hidden := map[string]string{}
	for fi := range p.Forms {
		for _, it := range p.Forms[fi].Items {
			if it.Kind == "hidden" && it.Value != "" {
				hidden[it.Name] = it.Value
			}
		}
	}
	// Schemas in a fixed order: the same page names the same trait.
	ids := slices.Sorted(maps.Keys(m))
	for _, pick := range []func(kratos.SchemaTraits) []string{
		func(st kratos.SchemaTraits) []string { return st.Identifiers },
		func(st kratos.SchemaTraits) []string { return st.Emails },
		func(st kratos.SchemaTraits) []string { return st.Phones },
	} {
		for _, id := range ids {
			for _, path := range pick(m[id]) {
				if v := hidden["traits."+path]; v != "" {
					return v
				}
			}
		}
	}
	return ""
}

// schemaClaims is the default scope → claim → source mapping for an
// identity schema, when the operator configured none: the standard OpenID
// Connect claims from the traits the schema marks as e-mail, phone and
// username, and the name from name.first and name.last where they exist.
func schemaClaims(st kratos.SchemaTraits) map[string]map[string]string {
	m := map[string]map[string]string{
		"profile": {"name": "join:name.first name.last", "given_name": "name.first", "family_name": "name.last"},
	}
	if len(st.Emails) > 0 {
		m["email"] = map[string]string{"email": st.Emails[0], "email_verified": "verified:" + st.Emails[0]}
	}
	if len(st.Phones) > 0 {
		m["phone"] = map[string]string{"phone_number": st.Phones[0], "phone_number_verified": "verified:" + st.Phones[0]}
	}
	for _, p := range st.Identifiers {
		if !slices.Contains(st.Emails, p) && !slices.Contains(st.Phones, p) {
			m["profile"]["preferred_username"] = p
			break
		}
	}
	return m
}
