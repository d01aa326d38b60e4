package web

import "time"

// SealTyped seals plain as Hera seals its typed-identifier cookie for a
// flow of kind, under the key Hera derives from secret (the
// CookieSecret option), valid until deadline: tests forge cookies with it
// that only the seal's deadline or binding can tell apart.
func SealTyped(secret []byte, kind, plain string, deadline time.Time) (string, error) {
	s, err := newSealer(secret, typedCookie)
	if err != nil {
		return "", err
	}
	return s.seal([]byte(plain), typedCookie+"\x00"+kind, deadline), nil
}
