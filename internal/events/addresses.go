package events

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/heraproject/hera/internal/kratos"
)

// address is one of an identity's verifiable addresses. The activity
// store's address record keeps each as a small JSON string: besides the
// value, whether it was verified — only verified addresses are mailed, the
// old ones of an address change included.
type address struct {
	Value    string `json:"a"`
	Via      string `json:"via,omitempty"`
	Verified bool   `json:"v,omitempty"`
}

func fromHook(as []HookAddress) []address {
	out := make([]address, 0, len(as))
	for _, a := range as {
		out = append(out, address(a))
	}
	return out
}

// identityAddresses are an identity's addresses as Kratos's API shows
// them.
func identityAddresses(id *kratos.Identity) []HookAddress {
	out := make([]HookAddress, 0, len(id.VerifiableAddresses))
	for _, a := range id.VerifiableAddresses {
		out = append(out, HookAddress{Value: a.Value, Via: a.Via, Verified: a.Verified})
	}
	return out
}

// IdentityAddresses are an identity's addresses, for AccountDeleted.
func IdentityAddresses(id *kratos.Identity) []HookAddress { return identityAddresses(id) }

func encodeAddresses(as []address) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		b, _ := json.Marshal(a) // strings and a bool: cannot fail
		out = append(out, string(b))
	}
	return out
}

// decodeAddresses reads a record; an entry it cannot read is left out.
func decodeAddresses(rec []string) []address {
	out := make([]address, 0, len(rec))
	for _, s := range rec {
		var a address
		if json.Unmarshal([]byte(s), &a) == nil && a.Value != "" {
			out = append(out, a)
		}
	}
	return out
}

// key is how two addresses compare: Kratos keeps e-mail addresses in
// lower case, but an older record may not.
func (a address) key() string { return a.Via + "\x00" + strings.ToLower(a.Value) }

// sameAddresses reports whether a and b hold the same addresses,
// verification aside.
func sameAddresses(a, b []address) bool {
	ka, kb := keys(a), keys(b)
	return slices.Equal(ka, kb)
}

func keys(as []address) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.key())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func values(as []address) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Value)
	}
	return out
}

// verifiedEmails are the verified e-mail addresses among as: where alerts
// go (a phone number gets none, an unverified address may be anyone's).
func verifiedEmails[A HookAddress | address](as []A) []string {
	var out []string
	for _, x := range as {
		a := address(x)
		if a.Verified && a.Via == "email" && a.Value != "" && !slices.Contains(out, strings.ToLower(a.Value)) {
			out = append(out, strings.ToLower(a.Value))
		}
	}
	return out
}
