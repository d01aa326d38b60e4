package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/heraproject/hera/internal/attempt"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// typedCookie carries what the user typed into a form whose flow Kratos
// refused as expired or failing its CSRF check, to the restarted flow's
// page: the identifier and address fields only, never a password or code.
// It is personal data, so it is sealed (AES-GCM under a key only Hera
// holds, bound to the flow's kind and to a deadline inside the seal),
// scoped to the flow's page, lives minutes, and is deleted when read.
const typedCookie = "hera_typed"

// Bounds of what typedCookie keeps; a browser's cookie limit is 4 KiB.
const (
	typedMaxFields = 4
	typedMaxLen    = 320
	// typedLifetime is how long a kept value waits for the restarted
	// flow's page; a flow that has expired again by then restarts afresh.
	typedLifetime = 10 * time.Minute
)

// sealer seals Hera's own cookies.
type sealer struct{ aead cipher.AEAD }

// newSealer derives the key of purpose from secret (HMAC-SHA-256); an
// empty secret gives a random key, so sealed cookies last as long as the
// process and are readable only by the replica that sealed them.
func newSealer(secret []byte, purpose string) (*sealer, error) {
	var key []byte
	if len(secret) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	} else {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("hera cookie key\x00" + purpose))
		key = m.Sum(nil)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plain, bound to context and to a deadline, into a cookie
// value.
func (s *sealer) seal(plain []byte, context string, deadline time.Time) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+8+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return ""
	}
	msg := binary.BigEndian.AppendUint64(nil, uint64(deadline.Unix()))
	msg = append(msg, plain...)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, msg, []byte(context)))
}

// open returns what seal sealed under the same context, before its
// deadline; ok is false for anything else.
func (s *sealer) open(value, context string, now time.Time) (plain []byte, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(value)
	n := s.aead.NonceSize()
	if err != nil || len(b) < n+s.aead.Overhead()+8 {
		return nil, false
	}
	msg, err := s.aead.Open(nil, b[:n], b[n:], []byte(context))
	if err != nil || len(msg) < 8 || now.Unix() > int64(binary.BigEndian.Uint64(msg[:8])) {
		return nil, false
	}
	return msg[8:], true
}

// keepTyped remembers the identifier and addresses of a submission that
// must be typed again into a new flow.
func (s *server) keepTyped(w http.ResponseWriter, kind kratos.Kind, at *attempt.Attempt) {
	if at == nil {
		return
	}
	keep := url.Values{}
	for name, vs := range at.Fields {
		if len(vs) != 1 || !typedField(name, vs[0], at) || len(keep) == typedMaxFields {
			continue
		}
		keep.Set(name, vs[0])
	}
	if len(keep) == 0 {
		return
	}
	v := s.typedSeal.seal([]byte(keep.Encode()), typedCookie+"\x00"+string(kind), time.Now().Add(typedLifetime))
	if v == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: typedCookie, Value: v, Path: s.url("/" + string(kind)), MaxAge: int(typedLifetime / time.Second),
		HttpOnly: true, Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
}

// typedField says whether a field of the submission names the account or
// an address: the login identifier, the recovery or verification address,
// or a trait holding the account or an address the guard saw. Passwords,
// codes and other traits are never kept.
func typedField(name, value string, at *attempt.Attempt) bool {
	if value == "" || len(value) > typedMaxLen || strings.ContainsFunc(value, unicode.IsControl) {
		return false
	}
	switch {
	case name == "identifier":
		return true
	case name == "email":
		return at.Kind == kratos.Recovery || at.Kind == kratos.Verification
	case strings.HasPrefix(name, "traits."):
		return at.Account != "" && (kratos.PasswordIdentifier(value) == at.Account || kratos.Address(value) == at.Account) ||
			slices.Contains(at.Sends, kratos.Address(value))
	}
	return false
}

// takeTyped returns what keepTyped kept for this flow's page, and forgets it.
func (s *server) takeTyped(w http.ResponseWriter, r *http.Request, kind kratos.Kind) url.Values {
	c, err := r.Cookie(typedCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: typedCookie, Path: s.url("/" + string(kind)), MaxAge: -1, HttpOnly: true,
		Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
	b, ok := s.typedSeal.open(c.Value, typedCookie+"\x00"+string(kind), time.Now())
	if !ok {
		return nil
	}
	q, err := url.ParseQuery(string(b))
	if err != nil || len(q) > typedMaxFields {
		return nil
	}
	return q
}

// prefillTyped puts kept values into the empty text fields of the same
// name. A password field is never filled, whatever the cookie says.
func prefillTyped(p *view.FlowPage, typed url.Values) {
	for fi := range p.Forms {
		for ii := range p.Forms[fi].Items {
			it := &p.Forms[fi].Items[ii]
			if it.Kind != "input" || it.Value != "" || it.Type == "password" || it.Type == "hidden" {
				continue
			}
			if v := typed.Get(it.Name); v != "" && len(v) <= typedMaxLen {
				it.Value = v
			}
		}
	}
}
