// Package device issues and checks device cookies (OWASP "Slow down online
// guessing attacks with device cookies"): after a successful sign-in the
// browser gets a cookie that says "this browser has signed in to this
// account before". Attempts that carry one for the account they name skip
// the account's lock and are counted on a counter of their own, so a
// stranger who locks an account does not lock its owner out.
//
// A cookie holds no personal data and no session state: a version byte,
// when it was issued, a random ID (the key of its own failure counter) and
// an HMAC-SHA-256 over those and the account, under a secret the operator
// configures. Its name carries a short HMAC tag of the account, so one
// browser can hold cookies for several accounts and Hera reads only the
// one for the account an attempt names.
package device

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"time"

	"github.com/heraproject/hera/internal/lockout"
)

// NamePrefix starts every device cookie's name.
const NamePrefix = "hera_device_"

const (
	version  = 1
	nonceLen = 12
	macLen   = 16
	valueLen = 1 + 8 + nonceLen + macLen
	// skew tolerates clocks of replicas that disagree a little.
	skew = time.Minute
)

// MinSecretLen is the shortest secret New accepts.
const MinSecretLen = 32

// Config configures New.
type Config struct {
	// Secret keys the HMAC; every replica needs the same one.
	Secret []byte
	// Lifetime is how long a cookie is honoured after it was issued.
	Lifetime time.Duration
	// Secure marks cookies Secure (Hera served over https).
	Secure bool
	// Path is the cookies' Path: where Hera is served ("/" by default,
	// "/auth/" under a path prefix).
	Path string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Cookies issues and verifies device cookies.
type Cookies struct {
	secret   []byte
	lifetime time.Duration
	secure   bool
	path     string
	now      func() time.Time
}

// New returns a device cookie issuer.
func New(c Config) (*Cookies, error) {
	if len(c.Secret) < MinSecretLen {
		return nil, errors.New("device: secret shorter than 32 bytes")
	}
	if c.Lifetime < time.Hour {
		return nil, errors.New("device: lifetime shorter than 1h")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Path == "" {
		c.Path = "/"
	}
	return &Cookies{secret: append([]byte(nil), c.Secret...), lifetime: c.Lifetime, secure: c.Secure, path: c.Path, now: c.Now}, nil
}

// mac is HMAC-SHA-256 under the secret of the parts, each length-prefixed
// so no two sequences of parts share an input.
func (c *Cookies) mac(parts ...[]byte) []byte {
	h := hmac.New(sha256.New, c.secret)
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	return h.Sum(nil)
}

// Name is the cookie name for an account (normalized as the lockout
// counts it).
func (c *Cookies) Name(account string) string {
	tag := c.mac([]byte("name"), []byte(lockout.NormalizeIdentifier(account)))
	return NamePrefix + base64.RawURLEncoding.EncodeToString(tag[:9])
}

// Issue returns a new cookie for account, with a new random ID.
func (c *Cookies) Issue(account string) (*http.Cookie, error) {
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return c.issue(account, nonce), nil
}

// Renew returns a cookie for account that keeps id, the ID Verify returned
// for the browser's valid cookie: its lifetime starts again, and the
// browser stays the same device to the account's activity, whose events
// name devices by this ID (a new ID at every sign-in would make each
// sign-in look like another browser's).
func (c *Cookies) Renew(account, id string) (*http.Cookie, error) {
	nonce, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil || len(nonce) != nonceLen {
		return nil, errors.New("device: not a device cookie's ID")
	}
	return c.issue(account, nonce), nil
}

func (c *Cookies) issue(account string, nonce []byte) *http.Cookie {
	v := make([]byte, 0, valueLen)
	v = append(v, version)
	v = binary.BigEndian.AppendUint64(v, uint64(c.now().Unix()))
	v = append(v, nonce...)
	v = append(v, c.sign(account, v)...)
	return &http.Cookie{
		Name:     c.Name(account),
		Value:    base64.RawURLEncoding.EncodeToString(v),
		Path:     c.path,
		MaxAge:   int(c.lifetime / time.Second),
		HttpOnly: true,
		Secure:   c.secure,
		// Only Hera reads it: its submit endpoint, from same-site posts,
		// and its account pages (which browser is this one).
		SameSite: http.SameSiteStrictMode,
	}
}

func (c *Cookies) sign(account string, payload []byte) []byte {
	return c.mac([]byte("cookie"), []byte(lockout.NormalizeIdentifier(account)), payload)[:macLen]
}

// Verify returns the ID of the browser's valid device cookie for account,
// read from cookies as net/http parses a Cookie header (the first cookie of
// the name counts). ok is false when there is none, or it is forged,
// expired, or issued for another account.
func (c *Cookies) Verify(account string, cookies []*http.Cookie) (id string, ok bool) {
	name := c.Name(account)
	for _, ck := range cookies {
		if ck.Name != name {
			continue
		}
		// Strict: one spelling per cookie (the last character's unused
		// bits must be zero).
		v, err := base64.RawURLEncoding.Strict().DecodeString(ck.Value)
		if err != nil || len(v) != valueLen || v[0] != version {
			return "", false
		}
		payload, sig := v[:valueLen-macLen], v[valueLen-macLen:]
		if !hmac.Equal(sig, c.sign(account, payload)) {
			return "", false
		}
		issued := time.Unix(int64(binary.BigEndian.Uint64(v[1:9])), 0)
		now := c.now()
		if issued.After(now.Add(skew)) || now.Sub(issued) > c.lifetime {
			return "", false
		}
		return base64.RawURLEncoding.EncodeToString(v[9 : 9+nonceLen]), true
	}
	return "", false
}
