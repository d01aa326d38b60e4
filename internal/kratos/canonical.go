package kratos

import (
	"encoding/base64"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// This file mirrors how Kratos v1.3.1 itself reads the values Hera keys its
// counters and quotas on, so that two inputs Kratos resolves to the same
// account, address or session get the same key at Hera. Each function is a
// transcription of Kratos's own code (named in its comment) and uses the
// libphonenumber port Kratos uses, at the version Kratos pins
// (github.com/nyaruka/phonenumbers v1.3.6): newer metadata could split
// numbers Kratos merges. The differential tests (kratosform_test.go and the
// integration tests in cmd/hera) compare them with Kratos's code and with a
// running Kratos.

// MirroredVersion is the Kratos release whose reading of identifiers,
// addresses and session cookies these functions mirror; hera doctor warns
// when Kratos runs another.
const MirroredVersion = "v1.3.1"

// lowerTrim is Kratos's persister normalization of identifiers and
// addresses (stringToLowerTrim, persistence/sql/identity/
// persister_identity.go): strings.ToLower(strings.TrimSpace(s)).
func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// PasswordIdentifier is the identifier Kratos looks an account up by for a
// password (or security key) sign-in: the persister's lower-case and trim
// (FindByCredentialsIdentifier with the password or webauthn type). Typed
// phone numbers are not reformatted by these methods.
func PasswordIdentifier(typed string) string { return lowerTrim(typed) }

// Address is the form in which Kratos looks up and sends to an address
// typed for a one-time code: the code method's sign-in
// (strategy_login.go: maybeNormalizeEmail, then x.GracefulNormalization,
// then the persister's lower-case and trim). It is also the form in which
// Kratos stores every code address (identity/extension_credentials.go,
// x.NormalizeIdentifier), and, for the e-mail addresses recovery and
// verification look up (FindRecoveryAddressByValue,
// FindVerifiableAddressByValue: lower-case and trim), the same value.
func Address(typed string) string {
	return lowerTrim(gracefulNormalization(maybeNormalizeEmail(typed)))
}

// maybeNormalizeEmail is strategy_login.go's: an identifier with an "@" is
// lower-cased (not trimmed).
func maybeNormalizeEmail(s string) string {
	if strings.Contains(s, "@") {
		return strings.ToLower(s)
	}
	return s
}

// gracefulNormalization is x.GracefulNormalization (x/normalize.go): a
// valid phone number becomes E.164; otherwise an e-mail address is
// lower-cased and trimmed, and anything else trimmed.
func gracefulNormalization(s string) string {
	if n, err := phonenumbers.Parse(s, ""); err == nil && phonenumbers.IsValidNumber(n) {
		return phonenumbers.Format(n, phonenumbers.E164)
	}
	if strings.Contains(s, "@") {
		return strings.TrimSpace(strings.ToLower(s))
	}
	return strings.TrimSpace(s)
}

// PhoneE164 returns s as an E.164 phone number when libphonenumber (the
// version Kratos uses) reads it as a valid international number.
func PhoneE164(s string) (string, bool) {
	n, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}

// CanonicalSessionCookie returns the one spelling of a Kratos session
// cookie value. Kratos decodes the cookie with gorilla/securecookie, whose
// base64 decoder (encoding/base64's URLEncoding, not Strict) ignores the
// unused low bits of the last character before "=" padding: up to 16
// spellings decode to the same bytes, hence the same session. Hera keys on
// the strict re-encoding of those bytes. A value that is not padded
// URL-safe base64 is returned as it is: Kratos cannot decode it either, so
// it names no session.
func CanonicalSessionCookie(v string) string {
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		return v
	}
	return base64.URLEncoding.EncodeToString(b)
}
