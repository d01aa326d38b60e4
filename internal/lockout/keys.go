package lockout

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
)

// Every key is a function of the value as Kratos itself resolves it: the
// caller hands in Kratos's own form of an identifier or address (package
// kratos mirrors Kratos's transformations: PasswordIdentifier, Address,
// CanonicalSessionCookie), and the key functions below only ever merge
// further on top of it ([NormalizeIdentifier]). Merging instead of Kratos's
// form would be a bypass: full case folding maps "İ" to "i̇" where Kratos's
// strings.ToLower maps it to "i", so two spellings of one account would
// count apart.
//
// Digests are compatible with the keys of earlier Hera versions wherever the
// meaning did not change: an identifier, an address's recovery quota, a
// session handle, an IP, an identity or a device of ordinary spelling gets
// the digest it had, so locks, quotas and links in a shared store carry
// over an upgrade and old and new replicas share them during a rolling
// deploy. Only the send quotas of the other purposes and the total per
// address are new keys (see [Limiter.RecipientKey]).

// IdentifierKey returns the key of the account a first factor names.
// account is Kratos's own form of it for the method (kratos.PasswordIdentifier
// for passwords and security keys, kratos.Address for one-time codes);
// [NormalizeIdentifier] merges spellings a person cannot tell apart on top.
func (l *Limiter) IdentifierKey(account string) Key {
	return l.key(KindIdentifier, NormalizeIdentifier(account))
}

// IPKey returns the key for a client IP address; it is normalized with
// [NormalizeIP].
func (l *Limiter) IPKey(ip string) Key {
	return l.key(KindIP, NormalizeIP(ip, l.cfg.IPv6Prefix))
}

// IdentityKey returns the key for a second-factor attempt on an identity
// (its Kratos identity ID).
func (l *Limiter) IdentityKey(identityID string) Key {
	return l.key(KindIdentity, NormalizeIdentityID(identityID))
}

// DeviceKey returns the key of a device cookie's own failure counter. id is
// the cookie's identifier, taken as it is: it is random, not typed.
func (l *Limiter) DeviceKey(id string) Key {
	return l.key(KindDevice, id)
}

// Purpose is why Kratos sends a code or link to an address. Each purpose
// has its own quota per address, so that sends for one cannot starve
// another: above all, no number of verification, sign-in, registration or
// settings sends can use up an address's recovery quota.
type Purpose string

// The purposes of a send.
const (
	PurposeRecovery     Purpose = "recovery"
	PurposeVerification Purpose = "verification"
	PurposeLogin        Purpose = "login"
	PurposeRegistration Purpose = "registration"
	PurposeSettings     Purpose = "settings"
	// purposeTotal is the key of the total over every purpose but
	// recovery.
	purposeTotal Purpose = "total"
)

// RecipientKey returns the send-quota key of an address Kratos sends codes
// to, for one purpose. address is Kratos's own form (kratos.Address);
// [NormalizeIdentifier] merges further. The recovery quota keeps the digest
// that earlier versions gave an address's one shared quota.
func (l *Limiter) RecipientKey(purpose Purpose, address string) Key {
	v := NormalizeIdentifier(address)
	if purpose != PurposeRecovery {
		// Version 2 keys: a purpose and a NUL cannot start a normalized
		// address, so these never meet a version-1 digest.
		v = "v2\x00" + string(purpose) + "\x00" + v
	}
	return l.key(KindRecipient, v)
}

// SessionKey returns the key of a Kratos session handle, for session links.
// The handle is Kratos's own form of the credential (a session token as it
// is, a session cookie in its canonical spelling: kratos.SessionHandle);
// stores only see its digest.
func (l *Limiter) SessionKey(handle string) Key {
	return l.key(KindSession, handle)
}

func (l *Limiter) key(kind KeyKind, normalized string) Key {
	var h hash.Hash
	if len(l.cfg.KeySecret) > 0 {
		h = hmac.New(sha256.New, l.cfg.KeySecret)
	} else {
		h = sha256.New()
	}
	// The kind is hashed in too, so equal values of different kinds never
	// share a digest.
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(normalized))
	return Key{Realm: l.cfg.Realm, Kind: kind, Digest: base64.RawURLEncoding.EncodeToString(h.Sum(nil))}
}
