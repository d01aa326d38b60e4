package lockout

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// MaxFailuresPerHourPerAccount is the ASVS 2.2.1 limit that
// [Config.Validate] enforces for identifier and identity rules.
const MaxFailuresPerHourPerAccount = 100

// Config is the lockout policy. Zero fields take the documented defaults
// (see [DefaultConfig]); [New] fills them in and validates.
type Config struct {
	// Realm namespaces every key, so deployments can share a store.
	// Default "ciam". Letters, digits, '.', '_' and '-', at most 64.
	Realm string
	// Identifier is the rule for login identifiers.
	// Default: 5 failures / 15 min → lock 5 min, doubling up to 1 h.
	Identifier Rule
	// IP is the rule for client IPs.
	// Default: 50 failures / 15 min → lock 15 min, no doubling.
	IP Rule
	// Identity is the rule for second factors, per identity ID.
	// Default: same as the identifier default.
	Identity Rule
	// CaptchaAfter is the identifier/identity failure count from which
	// Decision.CaptchaRequired is set. Default 3; negative disables.
	CaptchaAfter int
	// FailOpen lets credentials through (with CaptchaRequired) when the store
	// is unavailable. Default false: fail closed, Decision.Locked.
	FailOpen bool
	// IPv6Prefix groups IPv6 clients by this prefix length. Default 64.
	IPv6Prefix int
	// KeySecret, if set, makes key digests HMAC-SHA-256 under this secret
	// instead of plain SHA-256, so the store holds no guessable hash of an
	// identifier. All instances sharing a store need the same secret.
	KeySecret []byte
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Default policy numbers.
const (
	DefaultRealm        = "ciam"
	DefaultCaptchaAfter = 3
)

// defaultIdentifierRule is the default rule for identifiers and identities.
var defaultIdentifierRule = Rule{MaxFailures: 5, Window: 15 * time.Minute, LockDuration: 5 * time.Minute, MaxLockDuration: time.Hour}

// defaultIPRule is the default rule for client IPs.
var defaultIPRule = Rule{MaxFailures: 50, Window: 15 * time.Minute, LockDuration: 15 * time.Minute, MaxLockDuration: 15 * time.Minute}

// DefaultConfig returns the default policy.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config { return c.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	c.Identifier = c.Identifier.withDefaults(defaultIdentifierRule)
	c.IP = c.IP.withDefaults(defaultIPRule)
	c.Identity = c.Identity.withDefaults(defaultIdentifierRule)
	if c.CaptchaAfter == 0 {
		c.CaptchaAfter = DefaultCaptchaAfter
	}
	if c.IPv6Prefix == 0 {
		c.IPv6Prefix = DefaultIPv6Prefix
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (r Rule) withDefaults(d Rule) Rule {
	if r.MaxFailures == 0 {
		r.MaxFailures = d.MaxFailures
	}
	if r.Window == 0 {
		r.Window = d.Window
	}
	if r.LockDuration == 0 {
		r.LockDuration = d.LockDuration
	}
	if r.MaxLockDuration == 0 {
		r.MaxLockDuration = max(d.MaxLockDuration, r.LockDuration)
	}
	return r
}

var realmRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Validate checks a configuration (after defaults are applied) and returns
// all problems at once. It enforces ASVS 2.2.1 by rejecting identifier and
// identity rules whose worst case [Rule.MaxFailuresPerHour] exceeds
// [MaxFailuresPerHourPerAccount]; there is no run-time hard cap.
func (c Config) Validate() error {
	var errs []error
	if !realmRE.MatchString(c.Realm) {
		errs = append(errs, fmt.Errorf("lockout: Realm %q: want 1-64 of A-Z a-z 0-9 . _ -", c.Realm))
	}
	for _, k := range []struct {
		name    string
		rule    Rule
		account bool
	}{{"Identifier", c.Identifier, true}, {"IP", c.IP, false}, {"Identity", c.Identity, true}} {
		if err := k.rule.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("lockout: %s rule: %w", k.name, err))
			continue
		}
		if n := k.rule.MaxFailuresPerHour(); k.account && n > MaxFailuresPerHourPerAccount {
			errs = append(errs, fmt.Errorf("lockout: %s rule allows up to %d failures per hour per account, more than %d (ASVS 2.2.1): lower MaxFailures or lengthen Window or LockDuration",
				k.name, n, MaxFailuresPerHourPerAccount))
		}
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		errs = append(errs, fmt.Errorf("lockout: IPv6Prefix %d: want 1-128", c.IPv6Prefix))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("lockout: Now is nil"))
	}
	return errors.Join(errs...)
}
