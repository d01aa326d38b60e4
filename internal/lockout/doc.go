// Package lockout guards credential submissions against brute force, and
// code sends against flooding.
//
// Hera counts failed credential submissions per key and locks a key for a
// while once it has failed too often. Counting after the fact is not enough:
// requests that all pass a check before the first failure is recorded are
// all judged by Kratos (24 parallel wrong passwords were). So an attempt is
// counted before its credential is forwarded, and settled after:
//
//  1. Before forwarding a credential to Kratos, the caller builds the keys of
//     the attempt ([Limiter.IdentifierKey] or, for second factors,
//     [Limiter.IdentityKey], plus [Limiter.IPKey] and, if the browser has
//     one, [Limiter.DeviceKey]) and calls [Limiter.Reserve]. Each key admits
//     the attempt only while fewer attempts are in flight than it has
//     failures left before its lock ([Rule.Reserve]), and then holds it: a
//     [Hold] under the reservation's random ID, until now + Config.Hold. If
//     the [Decision] is Locked or Busy there is no Reservation and the
//     credential is not forwarded; the caller shows the generic "too many
//     attempts" message.
//  2. Once Kratos answered, the caller calls [Limiter.Settle] with the
//     [Outcome]: Failure counts a failure on every key and removes the hold,
//     Success removes it and resets every key but the IP key, Neutral (Kratos
//     judged nothing) only removes it.
//
// A reservation not settled within Config.Hold (its instance was killed
// while Kratos judged the credential, or the store failed at Settle) counts
// as a failed attempt on every key it holds, as at the end of its hold
// ([Rule.Current]): exactly once, by whichever store operation on the key
// comes first after that, and every read shows it. Settling it later counts
// nothing more, so a late Settle never double counts, and an attacker who
// crashes instances mid-guess gains no guess. Config.OnExpired reports these
// (for metrics).
//
// So at most MaxFailures credentials are judged before a key locks, however
// many arrive at once and whatever happens to the instances judging them,
// and after a lock has ended within the window only one at a time.
// [Limiter.Check], [Limiter.Fail] and [Limiter.Succeed] remain for callers
// that count after the fact.
//
// The same stores also keep send quotas ([Limiter.TakeSend]: a sliding window
// per recipient and per client IP, taken before Kratos is asked to send a
// code) and session links ([Limiter.Link], [Limiter.Resolve]: a Kratos
// session handle's digest to a subject, for Config.LinkTTL).
//
// # Keys
//
// A [Key] is a realm (default "ciam", so several deployments can share one
// store), a [KeyKind] (identifier, ip, identity, device, recipient, session) and
// a digest of the normalized value. Identifiers and recipients are
// normalized by [NormalizeIdentifier] (invisible characters removed, NFKC,
// Unicode case folding, trimmed), so that visually identical spellings share
// one counter; IP addresses by [NormalizeIP] (IPv6 addresses are grouped by
// their /64 by default); device ids and session handles are taken as they
// are. Stores only ever see the digest (SHA-256, or
// HMAC-SHA-256 when Config.KeySecret is set), never the value itself.
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
//   - device (a device cookie's own counter): the identifier rule.
//   - hold: a reservation not settled within 1 min counts as a failed
//     attempt.
//   - captcha: [Decision].CaptchaRequired is set from the 4th attempt on an
//     identifier, identity or device key (failed or in flight, [Decision].Slot
//     above 3), so the caller can ask for a captcha before the hard lock (this
//     limits how easily an attacker can lock a victim out).
//   - sends: at most 3 codes per 15 min and 10 per hour to one recipient, and
//     30 per hour from one client IP.
//   - session links last 24 h.
//
// Counting uses a fixed window that starts with the first failure of a key.
// When a key reaches MaxFailures it is locked for LockDuration; the window is
// then extended to end one Window after the lock ends. While the window lasts,
// every further failure after a lock has expired locks the key again, for
// twice as long as before (capped at MaxLockDuration). A key that stays quiet
// until its window ends is forgotten, escalation included (attempts still in
// flight stay counted until they settle, or their hold ends and they count
// as failures). [Rule.Current], [Rule.Apply], [Rule.Reserve], [Rule.Settle]
// and [TakeQuota] are the reference implementations of these semantics;
// every [Store] implements exactly them, atomically, which the conformance
// suite in package storetest checks.
//
// # Older versions sharing a store
//
// Hera versions before holds kept only a count of pending reservations and
// their latest end ([State].Pending and PendingUntil). Stores keep both up to
// date beside the holds (Pending counts every attempt in flight, holds
// included), so during a rolling deploy older replicas see this version's
// reservations in their busy check, and this version honours theirs until
// PendingUntil. Their reservations are anonymous: unsettled, they are
// forgotten, not counted.
//
// # ASVS 2.2.1: at most 100 failures per hour per account
//
// [Config.Validate] (called by [New]) rejects any configuration whose
// identifier, identity or device rule allows more than 100 failed attempts
// per hour for one key, using the worst-case bound [Rule.MaxFailuresPerHour].
// There is no separate hard cap at run time. With Reserve the bound holds however many
// requests arrive at once; with Check it assumes they arrive one by one
// (requests already past Check when the lock engaged are still counted, but
// cannot be stopped).
//
// # Store outage
//
// Every [Store] error wraps [ErrUnavailable]. By default the limiter fails
// closed: when the store cannot be reached, [Limiter.Reserve] and
// [Limiter.Check] return a Decision with Locked and Unavailable set (and the
// error), so no credential is forwarded, and [Limiter.TakeSend] refuses. With
// Config.FailOpen the Decision is not locked but still has Unavailable set
// and, unless captchas are disabled, CaptchaRequired, so the caller can
// demand a captcha while the store is down; Reserve then returns a
// Reservation whose Settle counts a failure with Fail, should the store be
// back. [Limiter.Settle], [Limiter.Fail] and [Limiter.Succeed] return the
// error; the caller logs it. Settle tries each store operation up to three
// times first; a hold it could not remove counts as a failure when it ends.
//
// # Wiring
//
//	store, err := memory.New(memory.Config{}) // or postgres.New / redis.New
//	limiter, err := lockout.New(store, lockout.Config{}) // defaults
//
//	id, ip := limiter.IdentifierKey(identifier), limiter.IPKey(clientIP)
//	r, d, err := limiter.Reserve(ctx, id, ip) // log err; act on d
//	if d.Locked || d.Busy { /* generic "too many attempts", same for every account */ }
//	if d.CaptchaRequired { /* verify the captcha first; if it fails: limiter.Settle(ctx, r, lockout.Neutral) */ }
//	// ... forward to Kratos ...
//	limiter.Settle(ctx, r, outcome) // Failure, Success (the IP is not reset) or Neutral
//
//	q, err := limiter.TakeSend(ctx, clientIP, recipient) // before Kratos sends a code
//	if !q.OK { /* "try again later", Retry-After from q.RetryAt */ }
//
// # Stores
//
// Implementations live in subpackages: memory (default, one instance, bounded
// and swept), postgres (pgx: short row-locking transactions and single
// statements) and redis (go-redis: one Lua script per operation). Stores
// take "now" from the caller rather than from the database clock, so tests
// can move time, and bound every operation by the timeout in their config.
package lockout
