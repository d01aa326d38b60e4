package lockout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"time"
)

// ErrInvalidKey is returned for a [Key] with an unknown kind, an empty
// digest or a realm other than the limiter's.
var ErrInvalidKey = errors.New("lockout: invalid key")

// Limiter applies a [Config] to a [Store]. It is safe for concurrent use.
type Limiter struct {
	store Store
	cfg   Config
}

// New returns a limiter over store. Zero fields of cfg take their defaults;
// the result must pass [Config.Validate].
func New(store Store, cfg Config) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("lockout: nil store")
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.KeySecret = append([]byte(nil), cfg.KeySecret...)
	return &Limiter{store: store, cfg: cfg}, nil
}

// Config returns the effective configuration (defaults filled in).
func (l *Limiter) Config() Config { return l.cfg }

// IdentifierKey returns the key for a login identifier as typed by the user;
// it is normalized with [NormalizeIdentifier].
func (l *Limiter) IdentifierKey(identifier string) Key {
	return l.key(KindIdentifier, NormalizeIdentifier(identifier))
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

func (l *Limiter) key(kind Kind, normalized string) Key {
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

// Rule returns the rule for kind.
func (l *Limiter) Rule(kind Kind) Rule {
	switch kind {
	case KindIP:
		return l.cfg.IP
	case KindIdentity:
		return l.cfg.Identity
	default:
		return l.cfg.Identifier
	}
}

func (l *Limiter) checkKey(k Key) error {
	if !k.Kind.Valid() || k.Digest == "" || k.Realm != l.cfg.Realm {
		return fmt.Errorf("%w: %s", ErrInvalidKey, k)
	}
	return nil
}

// Decision is the outcome of [Limiter.Check]. It depends only on the failure
// counters of the checked keys, never on whether an account exists.
type Decision struct {
	// Locked: do not forward the credential; show the generic message.
	Locked bool
	// Until is when the longest lock among the keys ends (zero if not locked
	// or if the store is unavailable).
	Until time.Time
	// RetryAfter is Until - now rounded up to a whole second (for a
	// Retry-After header); zero if not locked.
	RetryAfter time.Duration
	// Failures is the highest failure count among identifier and identity
	// keys; IPFailures the highest among IP keys.
	Failures   int64
	IPFailures int64
	// CaptchaRequired: Failures reached Config.CaptchaAfter (or the store is
	// unavailable and the limiter fails open). The caller decides what to do.
	CaptchaRequired bool
	// Unavailable: the store could not be asked; Locked then follows
	// Config.FailOpen.
	Unavailable bool
}

// Check reports whether an attempt on keys may go ahead. Call it before
// forwarding a credential to Kratos, with all the keys of the attempt
// (identifier and IP, or identity and IP).
//
// The Decision is always usable. When the store is unavailable, Check also
// returns an error wrapping [ErrUnavailable] and the Decision is Locked
// (fail closed) unless Config.FailOpen. An invalid key yields a Locked
// Decision and an error wrapping [ErrInvalidKey].
func (l *Limiter) Check(ctx context.Context, keys ...Key) (Decision, error) {
	now := l.cfg.Now()
	var d Decision
	for _, k := range keys {
		if err := l.checkKey(k); err != nil {
			return Decision{Locked: true}, err
		}
		s, err := l.store.Get(ctx, k, now)
		if err != nil {
			return l.unavailable(), storeErr("check", k, err)
		}
		if s.Locked(now) {
			d.Locked = true
			if s.LockedUntil.After(d.Until) {
				d.Until = s.LockedUntil
			}
		}
		if k.Kind == KindIP {
			d.IPFailures = max(d.IPFailures, s.Failures)
		} else {
			d.Failures = max(d.Failures, s.Failures)
		}
	}
	if d.Locked {
		d.RetryAfter = (d.Until.Sub(now) + time.Second - 1).Truncate(time.Second)
	}
	d.CaptchaRequired = l.cfg.CaptchaAfter >= 0 && d.Failures >= int64(l.cfg.CaptchaAfter)
	return d, nil
}

func (l *Limiter) unavailable() Decision {
	if l.cfg.FailOpen {
		return Decision{Unavailable: true, CaptchaRequired: l.cfg.CaptchaAfter >= 0}
	}
	return Decision{Unavailable: true, Locked: true}
}

// Fail records that Kratos rejected a credential for key and returns the new
// state; State.LockedNow reports that this failure engaged a lock. Call it
// once per key of the attempt. Errors wrap [ErrUnavailable] or
// [ErrInvalidKey]; a failure whose Fail returned ErrUnavailable may still
// have been counted.
func (l *Limiter) Fail(ctx context.Context, key Key) (State, error) {
	if err := l.checkKey(key); err != nil {
		return State{}, err
	}
	s, err := l.store.Fail(ctx, key, l.cfg.Now(), l.Rule(key.Kind))
	if err != nil {
		return State{}, storeErr("fail", key, err)
	}
	return s, nil
}

// Succeed records that Kratos accepted a credential: it resets the
// identifier and identity keys among keys. IP keys are left alone, so one
// valid account cannot be used to reset an IP's counter. Errors wrap
// [ErrUnavailable] or [ErrInvalidKey].
func (l *Limiter) Succeed(ctx context.Context, keys ...Key) error {
	var errs []error
	for _, k := range keys {
		if err := l.checkKey(k); err != nil {
			errs = append(errs, err)
			continue
		}
		if k.Kind == KindIP {
			continue
		}
		if err := l.store.Reset(ctx, k); err != nil {
			errs = append(errs, storeErr("reset", k, err))
		}
	}
	return errors.Join(errs...)
}

// storeErr makes sure a store error wraps ErrUnavailable, whatever the store.
func storeErr(op string, k Key, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("lockout: %s %s: %w", op, k, err)
	}
	return fmt.Errorf("lockout: %s %s: %w: %w", op, k, ErrUnavailable, err)
}
