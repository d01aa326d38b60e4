// Package lockout guards credential submissions against brute force.
//
// Hera counts failed credential submissions per key and locks a key for a
// while once it has failed too often. The model follows authelia's
// internal/regulation: checking and recording are separate steps.
//
//  1. Before forwarding a credential to Kratos, the caller builds the keys for
//     the attempt ([Limiter.IdentifierKey], [Limiter.IPKey] and, for second
//     factors, [Limiter.IdentityKey]) and calls [Limiter.Check]. If the
//     [Decision] is Locked the credential is not forwarded; the caller shows
//     the generic "too many attempts" message.
//  2. After Kratos rejected the credential, the caller calls [Limiter.Fail]
//     for each key. After Kratos accepted it, the caller calls
//     [Limiter.Succeed], which resets the identifier and identity keys but
//     never the IP key.
//
// # Keys
//
// A [Key] is a realm (default "ciam", so several deployments can share one
// store), a [Kind] (identifier, ip, identity) and a digest of the normalized
// value. Identifiers are normalized by [NormalizeIdentifier] (invisible
// characters removed, NFKC, Unicode case folding, trimmed), so that visually
// identical spellings share one counter; IP addresses by [NormalizeIP] (IPv6
// addresses are grouped by their /64 by default). Stores only ever see the
// digest (SHA-256, or HMAC-SHA-256 when Config.KeySecret is set), never the
// identifier itself.
//
// Unknown identifiers are counted and locked exactly like known ones and a
// [Decision] carries nothing that depends on whether the account exists, so
// the lockout does not help account enumeration. Showing the same message and
// status in both cases is the caller's job.
//
// # Policy defaults
//
// Every number is configurable in [Config]; zero fields take these defaults
// (see [DefaultConfig]):
//
//   - identifier: 5 failures within 15 min lock the identifier for 5 min; each
//     further lock doubles the duration, up to 1 h.
//   - ip: 50 failures within 15 min lock the IP for 15 min (no doubling).
//   - identity (second factors: TOTP, lookup secrets, codes): same as
//     identifier.
//   - captcha: [Decision].CaptchaRequired is set once an identifier or identity
//     key has 3 failures, so the caller can ask for a captcha before the hard
//     lock (this limits how easily an attacker can lock a victim out).
//
// Counting uses a fixed window that starts with the first failure of a key.
// When a key reaches MaxFailures it is locked for LockDuration; the window is
// then extended to end one Window after the lock ends. While the window lasts,
// every further failure after a lock has expired locks the key again, for
// twice as long as before (capped at MaxLockDuration). A key that stays quiet
// until its window ends is forgotten, escalation included. [Rule.Apply] is the
// reference implementation of these semantics; every [Store] implements
// exactly them, which the conformance suite in package storetest checks.
//
// # ASVS 2.2.1: at most 100 failures per hour per account
//
// [Config.Validate] (called by [New]) rejects any configuration whose
// identifier or identity rule allows more than 100 failed attempts per hour
// for one key, using the worst-case bound [Rule.MaxFailuresPerHour]. There is
// no separate hard cap at run time. The bound assumes the caller honours
// Check: requests that were already past Check when the lock engaged are
// still counted, but cannot be stopped.
//
// # Store outage
//
// Every [Store] error wraps [ErrUnavailable]. By default the limiter fails
// closed: when the store cannot be reached, [Limiter.Check] returns a
// Decision with Locked and Unavailable set (and the error), so no credential
// is forwarded. With Config.FailOpen the Decision is not locked but still has
// Unavailable set and, unless captchas are disabled, CaptchaRequired, so the
// caller can demand a captcha while the store is down. [Limiter.Fail] and
// [Limiter.Succeed] return the error; the caller logs it.
//
// # Wiring
//
//	store, err := memory.New(memory.Config{}) // or postgres.New / redis.New
//	limiter, err := lockout.New(store, lockout.Config{}) // defaults
//
//	id, ip := limiter.IdentifierKey(identifier), limiter.IPKey(clientIP)
//	d, err := limiter.Check(ctx, id, ip) // log err; act on d
//	if d.Locked { /* generic "too many attempts", same for every account */ }
//	if d.CaptchaRequired { /* verify the captcha first */ }
//	// ... forward to Kratos ...
//	if rejected { limiter.Fail(ctx, id); limiter.Fail(ctx, ip) }
//	if accepted { limiter.Succeed(ctx, id, ip) } // the IP is not reset
//
// # Stores
//
// Implementations live in subpackages: memory (default, one instance, bounded
// and swept), postgres (pgx) and redis (go-redis, one Lua script). Stores take
// "now" from the caller rather than from the database clock, so tests can
// move time, and bound every operation by the timeout in their config.
package lockout
