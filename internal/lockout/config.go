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
	// Device is the rule for device cookies ([Limiter.DeviceKey]).
	// Default: the Identifier rule (after its defaults).
	Device Rule
	// Hold is how long a reservation ([Limiter.Reserve]) may stay unsettled:
	// one not settled by then (its instance crashed, or the store failed at
	// Settle) counts as a failed attempt on every key it holds. It must
	// exceed the longest time from Reserve to Settle, so every Kratos call.
	// Default 1 min; 1 s to 1 h.
	Hold time.Duration
	// Sends are the send quotas of [Limiter.TakeSend].
	// Default: per recipient and purpose 3 per 15 min and 10 per hour; per
	// recipient over every purpose but recovery 6 per 15 min and 20 per
	// hour; per IP 30 per hour.
	Sends SendPolicy
	// LinkTTL is how long a session link lasts ([Limiter.Link]).
	// Default 24 h; 1 min to 30 days.
	LinkTTL time.Duration
	// CaptchaAfter is the number of identifier, identity or device attempts
	// (failed or in flight) after which Decision.CaptchaRequired is set.
	// Default 3; negative disables.
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
	// OnExpired, if set, is called whenever a store write of the limiter
	// counted n reservations on a key of kind as failures because their
	// hold ended unsettled (for metrics). It must be quick and safe for
	// concurrent use.
	OnExpired func(kind KeyKind, n int)
}

// SendPolicy is the send quotas: how often Kratos may be asked to send a
// code to one recipient for one purpose ([Purpose]), to one recipient for
// every purpose but recovery together, and for one client IP.
type SendPolicy struct {
	Recipient      []Limit
	RecipientTotal []Limit
	IP             []Limit
}

// Default policy numbers.
const (
	DefaultRealm        = "ciam"
	DefaultCaptchaAfter = 3
	DefaultHold         = time.Minute
	DefaultLinkTTL      = 24 * time.Hour
)

// Limits on Config.LinkTTL.
const (
	minConfigLinkTTL = time.Minute
)

// defaultRecipientLimits, defaultRecipientTotalLimits and
// defaultIPSendLimits are the default send quotas;
// withDefaults copies them, so no caller can change them.
var (
	defaultRecipientLimits      = []Limit{{Max: 3, Per: 15 * time.Minute}, {Max: 10, Per: time.Hour}}
	defaultRecipientTotalLimits = []Limit{{Max: 6, Per: 15 * time.Minute}, {Max: 20, Per: time.Hour}}
	defaultIPSendLimits         = []Limit{{Max: 30, Per: time.Hour}}
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
	c.Device = c.Device.withDefaults(c.Identifier)
	if c.Hold == 0 {
		c.Hold = DefaultHold
	}
	if len(c.Sends.Recipient) == 0 {
		c.Sends.Recipient = defaultRecipientLimits
	}
	if len(c.Sends.RecipientTotal) == 0 {
		c.Sends.RecipientTotal = defaultRecipientTotalLimits
	}
	if len(c.Sends.IP) == 0 {
		c.Sends.IP = defaultIPSendLimits
	}
	// Copies: the limiter keeps its own, whatever the caller does later.
	c.Sends.Recipient = append([]Limit(nil), c.Sends.Recipient...)
	c.Sends.RecipientTotal = append([]Limit(nil), c.Sends.RecipientTotal...)
	c.Sends.IP = append([]Limit(nil), c.Sends.IP...)
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
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
// all problems at once. It enforces ASVS 2.2.1 by rejecting identifier,
// identity and device rules whose worst case [Rule.MaxFailuresPerHour] exceeds
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
	}{{"Identifier", c.Identifier, true}, {"IP", c.IP, false}, {"Identity", c.Identity, true}, {"Device", c.Device, true}} {
		if err := k.rule.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("lockout: %s rule: %w", k.name, err))
			continue
		}
		if n := k.rule.MaxFailuresPerHour(); k.account && n > MaxFailuresPerHourPerAccount {
			errs = append(errs, fmt.Errorf("lockout: %s rule allows up to %d failures per hour per account, more than %d (ASVS 2.2.1): lower MaxFailures or lengthen Window or LockDuration",
				k.name, n, MaxFailuresPerHourPerAccount))
		}
	}
	if err := ValidateHold(c.Hold); err != nil {
		errs = append(errs, fmt.Errorf("lockout: Hold: %w", err))
	}
	if err := ValidateLimits(c.Sends.Recipient); err != nil {
		errs = append(errs, fmt.Errorf("lockout: Sends.Recipient: %w", err))
	}
	if err := ValidateLimits(c.Sends.RecipientTotal); err != nil {
		errs = append(errs, fmt.Errorf("lockout: Sends.RecipientTotal: %w", err))
	}
	if err := ValidateLimits(c.Sends.IP); err != nil {
		errs = append(errs, fmt.Errorf("lockout: Sends.IP: %w", err))
	}
	if c.LinkTTL < minConfigLinkTTL || c.LinkTTL > maxDuration {
		errs = append(errs, fmt.Errorf("lockout: LinkTTL %v: must be between %v and %v", c.LinkTTL, minConfigLinkTTL, maxDuration))
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		errs = append(errs, fmt.Errorf("lockout: IPv6Prefix %d: want 1-128", c.IPv6Prefix))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("lockout: Now is nil"))
	}
	return errors.Join(errs...)
}
