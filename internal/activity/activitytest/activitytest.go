// Package activitytest is the conformance suite every activity.Store must
// pass.
//
//	func TestConformance(t *testing.T) {
//		activitytest.Run(t, func(t *testing.T) activitytest.Backend {
//			s := newStore(t)
//			return activitytest.NewBackend(s, func(t *testing.T) activity.Store { return anotherStoreOnTheSameData(t) })
//		})
//	}
//
// Each Backend's store must be empty, isolated from every other Backend's (a
// fresh database, key prefix, ...), and cleaned up with t.Cleanup. Another
// returns a second store on the same data, as a second Hera replica would
// have (its own pool or client): the concurrency tests split their calls
// between both, so the bound and idempotence are proven across replicas.
package activitytest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/activity"
)

// Parallel is the number of concurrent writers in the concurrency tests.
const Parallel = 100

// T0 is the (millisecond-precise) time tests start at; the stores take their
// time from the caller, so tests move it freely.
var T0 = time.UnixMilli(1_750_000_000_000).UTC()

// Policy is the policy most tests use: a day, 10 events.
var Policy = activity.Policy{Retention: 24 * time.Hour, MaxPerIdentity: 10}

// wide is a policy that keeps whatever is stored: List under it shows what
// a store holds, whatever an earlier Add's policy was.
var wide = activity.Policy{Retention: 100 * 365 * 24 * time.Hour, MaxPerIdentity: 1 << 20}

// Backend is a store under test.
type Backend interface {
	// Store returns the store under test.
	Store() activity.Store
	// Another returns another store on the same data (the same store for an
	// in-process one).
	Another(t *testing.T) activity.Store
}

// NewBackend returns a Backend of s; another makes a second store on the
// same data (nil: s itself).
func NewBackend(s activity.Store, another func(t *testing.T) activity.Store) Backend {
	return backend{s, another}
}

type backend struct {
	s       activity.Store
	another func(t *testing.T) activity.Store
}

func (b backend) Store() activity.Store { return b.s }

func (b backend) Another(t *testing.T) activity.Store {
	if b.another == nil {
		return b.s
	}
	return b.another(t)
}

// Run runs the conformance suite.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	one := func(f func(t *testing.T, s activity.Store)) func(t *testing.T, b Backend) {
		return func(t *testing.T, b Backend) { f(t, b.Store()) }
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"ListEmpty", one(testListEmpty)},
		{"RoundTrip", one(testRoundTrip)},
		{"Idempotent", one(testIdempotent)},
		{"Order", one(testOrder)},
		{"Limit", one(testLimit)},
		{"Retention", one(testRetention)},
		{"RetentionDeletes", one(testRetentionDeletes)},
		{"Bound", one(testBound)},
		{"BoundKeepsNewest", one(testBoundKeepsNewest)},
		{"Isolation", one(testIsolation)},
		{"Forget", one(testForget)},
		{"Addresses", one(testAddresses)},
		{"AddressesRetention", one(testAddressesRetention)},
		{"UserAgentCut", one(testUserAgentCut)},
		{"Invalid", one(testInvalid)},
		{"CancelledContext", one(testCancelledContext)},
		{"ConcurrentBound", testConcurrentBound},
		{"ConcurrentReplicas", testConcurrentReplicas},
		{"ConcurrentIdempotent", testConcurrentIdempotent},
		{"ConcurrentAddresses", testConcurrentAddresses},
		{"Seen", one(testSeen)},
		{"SeenTTL", one(testSeenTTL)},
		{"SeenInvalid", one(testSeenInvalid)},
		{"SeenReplicas", testSeenReplicas},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t))
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// ev returns a sign-in event of identity at T0+offset.
func ev(identity, id string, offset time.Duration) activity.Event {
	return activity.Event{ID: id, Identity: identity, Kind: activity.SignIn, At: T0.Add(offset), Method: "password"}
}

func add(t *testing.T, s activity.Store, e activity.Event, now time.Time, p activity.Policy) {
	t.Helper()
	if err := s.Add(ctx(t), e, now, p); err != nil {
		t.Fatalf("Add %s: %v", e.ID, err)
	}
}

func list(t *testing.T, s activity.Store, identity string, now time.Time, p activity.Policy, limit int) []activity.Event {
	t.Helper()
	evs, err := s.List(ctx(t), identity, now, p, limit)
	if err != nil {
		t.Fatalf("List %s: %v", identity, err)
	}
	return evs
}

// stored is what a store holds for identity, whatever its age.
func stored(t *testing.T, s activity.Store, identity string) []activity.Event {
	t.Helper()
	return list(t, s, identity, T0, wide, 0)
}

func ids(evs []activity.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func wantIDs(t *testing.T, what string, evs []activity.Event, want ...string) {
	t.Helper()
	if got := ids(evs); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("%s: IDs %q, want %q", what, got, want)
	}
}

func setAddresses(t *testing.T, s activity.Store, identity string, addrs []string, now time.Time, p activity.Policy) []string {
	t.Helper()
	prev, err := s.SetAddresses(ctx(t), identity, addrs, now, p)
	if err != nil {
		t.Fatalf("SetAddresses %s: %v", identity, err)
	}
	return prev
}

func testListEmpty(t *testing.T, s activity.Store) {
	if evs := list(t, s, "nobody", T0, Policy, 0); evs == nil || len(evs) != 0 {
		t.Fatalf("List of an identity without events = %#v, want an empty slice", evs)
	}
}

// testRoundTrip: every field comes back as stored, times to the
// millisecond in UTC.
func testRoundTrip(t *testing.T, s activity.Store) {
	at := T0.Add(1234567 * time.Nanosecond).In(time.FixedZone("X", 3600))
	full := activity.Event{
		ID: "hook:flow-1:sign_in", Identity: "id-1", Kind: activity.SignIn, At: at,
		Method: "password", Provider: "github", AAL: "aal2", IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
		Device: "dev-1", NewDevice: true, Lang: "de", Session: "sess-1", Until: T0.Add(5*time.Minute + 999*time.Microsecond),
		Count: 3, Client: "Example App", ClientID: "client-1", Scopes: []string{"openid", "email"},
		Old: []string{"old@example.com"}, New: []string{"new@example.com", "+491701234567"}, Detail: "added",
	}
	add(t, s, full, T0, Policy)
	got := list(t, s, "id-1", T0, Policy, 0)
	want := full
	want.At = time.UnixMilli(T0.UnixMilli() + 1).UTC()
	want.Until = T0.Add(5 * time.Minute).UTC()
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("List = %#v\nwant [%#v]", got, want)
	}
	if got[0].At.Location() != time.UTC {
		t.Errorf("At in %v, want UTC", got[0].At.Location())
	}
	// A minimal event: zero fields stay zero.
	min := activity.Event{ID: "m", Identity: "id-2", Kind: activity.Exported, At: T0}
	add(t, s, min, T0, Policy)
	if got := list(t, s, "id-2", T0, Policy, 0); len(got) != 1 || !reflect.DeepEqual(got[0], min) {
		t.Fatalf("List = %#v, want [%#v]", got, min)
	}
	// What a caller does to a listed event does not reach the store.
	got[0].Scopes = append(got[0].Scopes, "x")
	got = list(t, s, "id-1", T0, Policy, 0)
	got[0].Scopes[0] = "changed"
	if again := list(t, s, "id-1", T0, Policy, 0); again[0].Scopes[0] != "openid" {
		t.Fatal("changing a listed event changed the store")
	}
}

// testIdempotent: a second Add of an ID stores nothing, even with other
// content, and still applies the policy.
func testIdempotent(t *testing.T, s activity.Store) {
	e := ev("a", "x", 0)
	add(t, s, e, T0, Policy)
	dup := e
	dup.Method, dup.At = "totp", T0.Add(time.Hour)
	add(t, s, dup, T0, Policy)
	got := list(t, s, "a", T0.Add(time.Hour), Policy, 0)
	if len(got) != 1 || got[0].Method != "password" || !got[0].At.Equal(T0) {
		t.Fatalf("after a duplicate Add: %#v, want the first event only", got)
	}
	// The duplicate's Add still drops what retention no longer covers.
	add(t, s, ev("a", "y", time.Hour), T0.Add(time.Hour), Policy)
	add(t, s, ev("a", "y", time.Hour), T0.Add(Policy.Retention), Policy)
	wantIDs(t, "stored after a duplicate Add a retention later", stored(t, s, "a"), "y")
}

// testOrder: newest first, ties by ID in byte order.
func testOrder(t *testing.T, s activity.Store) {
	for _, e := range []activity.Event{
		ev("a", "b", time.Minute), ev("a", "c", 0), ev("a", "a", time.Minute), ev("a", "B", time.Minute),
		ev("a", "é", time.Minute), ev("a", "z", 2*time.Minute), ev("a", "a", 0 /* duplicate */),
		ev("a", "d", time.Millisecond), ev("a", "e", -time.Millisecond),
	} {
		add(t, s, e, T0.Add(time.Hour), Policy)
	}
	wantIDs(t, "List", list(t, s, "a", T0.Add(time.Hour), Policy, 0), "z", "B", "a", "b", "é", "d", "c", "e")
}

func testLimit(t *testing.T, s activity.Store) {
	for i := range 5 {
		add(t, s, ev("a", fmt.Sprint(i), time.Duration(i)*time.Second), T0, Policy)
	}
	wantIDs(t, "limit 2", list(t, s, "a", T0, Policy, 2), "4", "3")
	wantIDs(t, "limit 0", list(t, s, "a", T0, Policy, 0), "4", "3", "2", "1", "0")
	wantIDs(t, "limit 9", list(t, s, "a", T0, Policy, 9), "4", "3", "2", "1", "0")
	p := Policy
	p.MaxPerIdentity = 3
	wantIDs(t, "limit 0 under a smaller bound", list(t, s, "a", T0, p, 0), "4", "3", "2")
	wantIDs(t, "limit 4 under a smaller bound", list(t, s, "a", T0, p, 4), "4", "3", "2")
}

// testRetention: List shows events with At > now-Retention.
func testRetention(t *testing.T, s activity.Store) {
	add(t, s, ev("a", "old", 0), T0, Policy)
	add(t, s, ev("a", "new", time.Hour), T0, Policy)
	r := Policy.Retention
	wantIDs(t, "a millisecond before the old one's end", list(t, s, "a", T0.Add(r-time.Millisecond), Policy, 0), "new", "old")
	wantIDs(t, "at the old one's end", list(t, s, "a", T0.Add(r), Policy, 0), "new")
	wantIDs(t, "after both", list(t, s, "a", T0.Add(r+time.Hour), Policy, 0))
	// A longer retention shows what is still stored (List deletes nothing).
	wantIDs(t, "stored", stored(t, s, "a"), "new", "old")
	// An event older than the retention when added is not kept.
	add(t, s, ev("b", "ancient", 0), T0.Add(r), Policy)
	wantIDs(t, "an event added after its retention", stored(t, s, "b"))
}

// testRetentionDeletes: Add deletes the identity's events that are past
// retention, not just hides them.
func testRetentionDeletes(t *testing.T, s activity.Store) {
	for i := range 3 {
		add(t, s, ev("a", fmt.Sprint("old", i), time.Duration(i)*time.Minute), T0, Policy)
	}
	add(t, s, ev("a", "mid", 12*time.Hour), T0.Add(12*time.Hour), Policy)
	later := T0.Add(Policy.Retention + time.Minute + time.Millisecond)
	add(t, s, ev("a", "late", Policy.Retention+time.Minute), later, Policy)
	wantIDs(t, "stored", stored(t, s, "a"), "late", "mid", "old2")
	// With a shorter retention, the next Add deletes more.
	short := activity.Policy{Retention: time.Hour, MaxPerIdentity: Policy.MaxPerIdentity}
	add(t, s, ev("a", "last", Policy.Retention+2*time.Minute), later, short)
	wantIDs(t, "stored after a shorter retention", stored(t, s, "a"), "last", "late")
}

// testBound: only the newest MaxPerIdentity events stay.
func testBound(t *testing.T, s activity.Store) {
	p := activity.Policy{Retention: Policy.Retention, MaxPerIdentity: 3}
	for i := range 7 {
		add(t, s, ev("a", fmt.Sprint(i), time.Duration(i)*time.Second), T0.Add(time.Minute), p)
		if n := len(stored(t, s, "a")); n != min(i+1, 3) {
			t.Fatalf("after %d Adds, %d stored", i+1, n)
		}
	}
	wantIDs(t, "stored", stored(t, s, "a"), "6", "5", "4")
	// A smaller bound applies at the next Add.
	p.MaxPerIdentity = 1
	add(t, s, ev("a", "7", 7*time.Second), T0.Add(time.Minute), p)
	wantIDs(t, "stored after a smaller bound", stored(t, s, "a"), "7")
}

// testBoundKeepsNewest: an event older than every kept one, added to a
// full identity, is the one dropped; ties by time drop the last by ID.
func testBoundKeepsNewest(t *testing.T, s activity.Store) {
	p := activity.Policy{Retention: Policy.Retention, MaxPerIdentity: 2}
	add(t, s, ev("a", "new", 2*time.Second), T0, p)
	add(t, s, ev("a", "mid", time.Second), T0, p)
	add(t, s, ev("a", "old", 0), T0, p)
	wantIDs(t, "stored", stored(t, s, "a"), "new", "mid")
	add(t, s, ev("a", "a", time.Second), T0, p)
	wantIDs(t, "stored after a tie", stored(t, s, "a"), "new", "a")
}

// testIsolation: identities do not share events, IDs, bounds, retention
// or address records.
func testIsolation(t *testing.T, s activity.Store) {
	p := activity.Policy{Retention: Policy.Retention, MaxPerIdentity: 2}
	add(t, s, ev("a", "x", 0), T0, p)
	add(t, s, ev("b", "x", time.Second), T0, p) // the same ID, another identity
	add(t, s, ev("ab", "y", 0), T0, p)
	for i := range 5 {
		add(t, s, ev("a", fmt.Sprint(i), time.Minute+time.Duration(i)*time.Millisecond), T0.Add(time.Minute), p)
	}
	wantIDs(t, "a", stored(t, s, "a"), "4", "3")
	wantIDs(t, "b", stored(t, s, "b"), "x")
	wantIDs(t, "ab", stored(t, s, "ab"), "y")
	if e := list(t, s, "b", T0, p, 0)[0]; e.Identity != "b" || !e.At.Equal(T0.Add(time.Second)) {
		t.Fatalf("b's x = %#v", e)
	}
	// Retention applied by an Add of a is a's.
	add(t, s, ev("a", "late", Policy.Retention+time.Hour), T0.Add(Policy.Retention+time.Hour), p)
	wantIDs(t, "b after a's retention ran", stored(t, s, "b"), "x")
	setAddresses(t, s, "a", []string{"a@example.com"}, T0, Policy)
	if prev := setAddresses(t, s, "b", []string{"b@example.com"}, T0, Policy); prev != nil {
		t.Fatalf("b's first record: previous %q, want nil", prev)
	}
	if err := s.Forget(ctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "b after a was forgotten", stored(t, s, "b"), "x")
	wantIDs(t, "ab after a was forgotten", stored(t, s, "ab"), "y")
	if prev := setAddresses(t, s, "b", nil, T0, Policy); !slices.Equal(prev, []string{"b@example.com"}) {
		t.Fatalf("b's record after a was forgotten: %q", prev)
	}
}

// testForget: the identity's events and address record go; it may start
// again.
func testForget(t *testing.T, s activity.Store) {
	for i := range 3 {
		add(t, s, ev("a", fmt.Sprint(i), 0), T0, Policy)
	}
	setAddresses(t, s, "a", []string{"a@example.com"}, T0, Policy)
	if err := s.Forget(ctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after Forget", stored(t, s, "a"))
	if prev := setAddresses(t, s, "a", []string{"new@example.com"}, T0, Policy); prev != nil {
		t.Fatalf("address record after Forget: %q, want none", prev)
	}
	if err := s.Forget(ctx(t), "never-seen"); err != nil {
		t.Fatalf("Forget of an unknown identity: %v", err)
	}
	// Forgotten IDs may be added again.
	add(t, s, ev("a", "1", 0), T0, Policy)
	wantIDs(t, "after adding again", stored(t, s, "a"), "1")
}

// testAddresses: SetAddresses returns the previous record, nil at first,
// empty (not nil) for a record without addresses.
func testAddresses(t *testing.T, s activity.Store) {
	if prev := setAddresses(t, s, "a", []string{"a@example.com", "+491701234567"}, T0, Policy); prev != nil {
		t.Fatalf("first record: previous %q, want nil", prev)
	}
	prev := setAddresses(t, s, "a", []string{"b@example.com"}, T0.Add(time.Minute), Policy)
	if !slices.Equal(prev, []string{"a@example.com", "+491701234567"}) {
		t.Fatalf("previous = %q", prev)
	}
	prev[0] = "changed" // a caller's change does not reach the store
	if prev := setAddresses(t, s, "a", []string{}, T0.Add(2*time.Minute), Policy); !slices.Equal(prev, []string{"b@example.com"}) {
		t.Fatalf("previous = %q", prev)
	}
	if prev := setAddresses(t, s, "a", nil, T0.Add(3*time.Minute), Policy); prev == nil || len(prev) != 0 {
		t.Fatalf("previous of an empty record = %#v, want an empty non-nil slice", prev)
	}
	// Events and the address record do not touch each other.
	add(t, s, ev("a", "x", 0), T0, Policy)
	if prev := setAddresses(t, s, "a", []string{"c@example.com"}, T0.Add(4*time.Minute), Policy); prev == nil || len(prev) != 0 {
		t.Fatalf("previous = %#v, want an empty record", prev)
	}
	wantIDs(t, "events next to an address record", stored(t, s, "a"), "x")
}

// testAddressesRetention: a record is kept for Retention after its last
// write.
func testAddressesRetention(t *testing.T, s activity.Store) {
	r := Policy.Retention
	setAddresses(t, s, "a", []string{"1"}, T0, Policy)
	if prev := setAddresses(t, s, "a", []string{"2"}, T0.Add(r-time.Millisecond), Policy); !slices.Equal(prev, []string{"1"}) {
		t.Fatalf("a millisecond before the end: previous %q", prev)
	}
	// The last write restarted the retention.
	if prev := setAddresses(t, s, "a", []string{"3"}, T0.Add(2*r-2*time.Millisecond), Policy); !slices.Equal(prev, []string{"2"}) {
		t.Fatalf("a retention after the first write: previous %q", prev)
	}
	if prev := setAddresses(t, s, "a", []string{"4"}, T0.Add(3*r-2*time.Millisecond), Policy); prev != nil {
		t.Fatalf("a retention after the last write: previous %q, want nil", prev)
	}
}

func testUserAgentCut(t *testing.T, s activity.Store) {
	ua := strings.Repeat("a", activity.MaxUserAgent-1) + "é" + "tail"
	e := ev("a", "x", 0)
	e.UserAgent = ua
	add(t, s, e, T0, Policy)
	got := list(t, s, "a", T0, Policy, 0)[0].UserAgent
	if got != ua[:activity.MaxUserAgent-1] {
		t.Fatalf("User-Agent of %d bytes kept as %d bytes %q…", len(ua), len(got), got[len(got)-5:])
	}
}

// testInvalid: invalid events, identities and policies are refused, not
// as an unavailable store, and nothing is stored.
func testInvalid(t *testing.T, s activity.Store) {
	bad := map[string]activity.Event{
		"no ID":       {Identity: "a", Kind: activity.SignIn, At: T0},
		"no identity": {ID: "x", Kind: activity.SignIn, At: T0},
		"no kind":     {ID: "x", Identity: "a", At: T0},
		"no time":     {ID: "x", Identity: "a", Kind: activity.SignIn},
		"long ID":     {ID: strings.Repeat("x", activity.MaxIDLen+1), Identity: "a", Kind: activity.SignIn, At: T0},
		"binary ID":   {ID: "x\xff", Identity: "a", Kind: activity.SignIn, At: T0},
		"NUL":         {ID: "x", Identity: "a\x00", Kind: activity.SignIn, At: T0},
		"huge":        {ID: "x", Identity: "a", Kind: activity.SignIn, At: T0, Scopes: slices.Repeat([]string{strings.Repeat("s", 100)}, 200)},
	}
	for name, e := range bad {
		if err := s.Add(ctx(t), e, T0, Policy); err == nil || errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("Add (%s) = %v, want a refusal", name, err)
		}
	}
	for name, p := range map[string]activity.Policy{"zero": {}, "no retention": {MaxPerIdentity: 1}, "no events": {Retention: time.Hour}} {
		if err := s.Add(ctx(t), ev("a", "x", 0), T0, p); err == nil || errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("Add with policy %s = %v, want a refusal", name, err)
		}
		if _, err := s.List(ctx(t), "a", T0, p, 0); err == nil || errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("List with policy %s = %v, want a refusal", name, err)
		}
		if _, err := s.SetAddresses(ctx(t), "a", nil, T0, p); err == nil || errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("SetAddresses with policy %s = %v, want a refusal", name, err)
		}
	}
	if _, err := s.List(ctx(t), "", T0, Policy, 0); err == nil {
		t.Error("List of identity \"\" accepted")
	}
	if err := s.Forget(ctx(t), ""); err == nil {
		t.Error("Forget of identity \"\" accepted")
	}
	if _, err := s.SetAddresses(ctx(t), "a", make([]string, activity.MaxAddresses+1), T0, Policy); err == nil {
		t.Error("SetAddresses accepted too many addresses")
	}
	wantIDs(t, "stored after refusals", stored(t, s, "a"))
	if prev := setAddresses(t, s, "a", nil, T0, Policy); prev != nil {
		t.Fatalf("a refused SetAddresses stored %q", prev)
	}
}

func testCancelledContext(t *testing.T, s activity.Store) {
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, activity.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error wrapping activity.ErrUnavailable and context.Canceled", op, err)
		}
	}
	check("Add", s.Add(c, ev("a", "x", 0), T0, Policy))
	_, err := s.List(c, "a", T0, Policy, 0)
	check("List", err)
	check("Forget", s.Forget(c, "a"))
	_, err = s.SetAddresses(c, "a", []string{"x"}, T0, Policy)
	check("SetAddresses", err)
	wantIDs(t, "after cancelled calls", stored(t, s, "a"))
	if prev := setAddresses(t, s, "a", nil, T0, Policy); prev != nil {
		t.Fatalf("a cancelled SetAddresses stored %q", prev)
	}
}

func getSeen(t *testing.T, s activity.Store, key string, now time.Time) (activity.Seen, bool) {
	t.Helper()
	v, ok, err := s.GetSeen(ctx(t), key, now)
	if err != nil {
		t.Fatalf("GetSeen %s: %v", key, err)
	}
	return v, ok
}

func putSeen(t *testing.T, s activity.Store, key string, v activity.Seen, now time.Time, ttl time.Duration) {
	t.Helper()
	if err := s.PutSeen(ctx(t), key, v, now, ttl); err != nil {
		t.Fatalf("PutSeen %s: %v", key, err)
	}
}

// testSeen: a Seen comes back as put, a second put replaces it, keys are
// apart, and the User-Agent is cut as an event's.
func testSeen(t *testing.T, s activity.Store) {
	if v, ok := getSeen(t, s, "flow:none", T0); ok {
		t.Fatalf("GetSeen of a key never put = %+v", v)
	}
	full := activity.Seen{IP: "2001:db8::7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", Lang: "de",
		Device: "dev-1", Checked: true, Detail: "removed", Method: "totp", Session: "s-1", At: T0.Add(time.Second)}
	putSeen(t, s, "flow:1", full, T0, time.Minute)
	putSeen(t, s, "signin:1", activity.Seen{IP: "192.0.2.1"}, T0, time.Minute)
	if v, ok := getSeen(t, s, "flow:1", T0); !ok || v != full {
		t.Fatalf("GetSeen = %+v, %v; want %+v", v, ok, full)
	}
	next := activity.Seen{IP: "192.0.2.9", Checked: true}
	putSeen(t, s, "flow:1", next, T0.Add(time.Second), time.Minute)
	if v, ok := getSeen(t, s, "flow:1", T0.Add(time.Second)); !ok || v != next {
		t.Fatalf("after a second PutSeen: %+v, %v; want %+v", v, ok, next)
	}
	if v, ok := getSeen(t, s, "signin:1", T0); !ok || v.IP != "192.0.2.1" {
		t.Fatalf("another key: %+v, %v", v, ok)
	}
	ua := strings.Repeat("a", activity.MaxUserAgent-1) + "é" + "tail"
	putSeen(t, s, "flow:ua", activity.Seen{UserAgent: ua}, T0, time.Minute)
	if v, _ := getSeen(t, s, "flow:ua", T0); v.UserAgent != ua[:activity.MaxUserAgent-1] {
		t.Fatalf("User-Agent of %d bytes kept as %d bytes", len(ua), len(v.UserAgent))
	}
}

// testSeenTTL: a Seen lasts its ttl by the caller's clock, and a later
// put starts a new one.
func testSeenTTL(t *testing.T, s activity.Store) {
	putSeen(t, s, "flow:t", activity.Seen{IP: "192.0.2.1"}, T0, 10*time.Second)
	if _, ok := getSeen(t, s, "flow:t", T0.Add(10*time.Second-time.Millisecond)); !ok {
		t.Fatal("gone before its ttl")
	}
	if v, ok := getSeen(t, s, "flow:t", T0.Add(10*time.Second)); ok {
		t.Fatalf("still there at its ttl: %+v", v)
	}
	putSeen(t, s, "flow:t", activity.Seen{IP: "192.0.2.2"}, T0.Add(20*time.Second), 10*time.Second)
	if v, ok := getSeen(t, s, "flow:t", T0.Add(25*time.Second)); !ok || v.IP != "192.0.2.2" {
		t.Fatalf("a put after the ttl: %+v, %v", v, ok)
	}
}

// testSeenInvalid: bad keys, ttls and fields are refused, not as an
// unavailable store; a cancelled context is one.
func testSeenInvalid(t *testing.T, s activity.Store) {
	for name, key := range map[string]string{"empty": "", "long": strings.Repeat("k", activity.MaxSeenKey+1), "binary": "flow:\xff", "NUL": "flow:\x00"} {
		if err := s.PutSeen(ctx(t), key, activity.Seen{}, T0, time.Minute); err == nil || errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("PutSeen (%s key) = %v, want a refusal", name, err)
		}
		if _, _, err := s.GetSeen(ctx(t), key, T0); err == nil || errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("GetSeen (%s key) = %v, want a refusal", name, err)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Second, activity.MaxSeenTTL + time.Millisecond} {
		if err := s.PutSeen(ctx(t), "flow:x", activity.Seen{}, T0, ttl); err == nil || errors.Is(err, activity.ErrUnavailable) {
			t.Errorf("PutSeen with ttl %v = %v, want a refusal", ttl, err)
		}
	}
	if err := s.PutSeen(ctx(t), "flow:x", activity.Seen{Lang: strings.Repeat("l", 300)}, T0, time.Minute); err == nil {
		t.Error("PutSeen accepted a 300-byte language")
	}
	if _, ok := getSeen(t, s, "flow:x", T0); ok {
		t.Fatal("a refused PutSeen stored something")
	}
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	if err := s.PutSeen(c, "flow:x", activity.Seen{}, T0, time.Minute); !errors.Is(err, activity.ErrUnavailable) {
		t.Errorf("PutSeen with a cancelled context: %v", err)
	}
	if _, _, err := s.GetSeen(c, "flow:x", T0); !errors.Is(err, activity.ErrUnavailable) {
		t.Errorf("GetSeen with a cancelled context: %v", err)
	}
}

// testSeenReplicas: what one replica saw, another reads (the hook may
// reach another replica than the submission).
func testSeenReplicas(t *testing.T, b Backend) {
	one, other := b.Store(), b.Another(t)
	putSeen(t, one, "flow:r", activity.Seen{IP: "192.0.2.3", Device: "d", Checked: true}, T0, time.Minute)
	if v, ok := getSeen(t, other, "flow:r", T0); !ok || v.Device != "d" {
		t.Fatalf("the other replica reads %+v, %v", v, ok)
	}
}

// split runs f(i) for i in [0, n) concurrently, alternating between the two
// stores.
func split(t *testing.T, stores [2]activity.Store, n int, f func(s activity.Store, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Int64
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			if err := f(stores[i%2], i); err != nil {
				failed.Add(1)
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%d of %d concurrent calls failed; first: %v", failed.Load(), n, err)
		break
	}
	if t.Failed() {
		t.FailNow()
	}
}

// testConcurrentBound: writers on two replicas add to one identity at
// once; the bound holds and the newest events are the ones kept.
func testConcurrentBound(t *testing.T, b Backend) {
	stores := [2]activity.Store{b.Store(), b.Another(t)}
	p := activity.Policy{Retention: Policy.Retention, MaxPerIdentity: 20}
	split(t, stores, Parallel, func(s activity.Store, i int) error {
		return s.Add(ctx(t), ev("a", fmt.Sprintf("e%03d", i), time.Duration(i)*time.Millisecond), T0, p)
	})
	var want []string
	for i := Parallel - 1; i >= Parallel-p.MaxPerIdentity; i-- {
		want = append(want, fmt.Sprintf("e%03d", i))
	}
	wantIDs(t, "stored after concurrent Adds", stored(t, stores[0], "a"), want...)
	wantIDs(t, "stored, read on the other replica", stored(t, stores[1], "a"), want...)
}

// testConcurrentReplicas: two replicas write many identities at once;
// nothing is lost.
func testConcurrentReplicas(t *testing.T, b Backend) {
	stores := [2]activity.Store{b.Store(), b.Another(t)}
	const identities = 5
	p := activity.Policy{Retention: Policy.Retention, MaxPerIdentity: 1000}
	split(t, stores, 2*Parallel, func(s activity.Store, i int) error {
		return s.Add(ctx(t), ev(fmt.Sprint("id", i%identities), fmt.Sprintf("e%03d", i), time.Duration(i)*time.Millisecond), T0, p)
	})
	for k := range identities {
		var want []string
		for i := 2*Parallel - 1; i >= 0; i-- {
			if i%identities == k {
				want = append(want, fmt.Sprintf("e%03d", i))
			}
		}
		wantIDs(t, fmt.Sprint("id", k), stored(t, stores[k%2], fmt.Sprint("id", k)), want...)
	}
}

// testConcurrentIdempotent: both replicas add the same events (as two
// replicas handling retried hooks would); each is stored once.
func testConcurrentIdempotent(t *testing.T, b Backend) {
	stores := [2]activity.Store{b.Store(), b.Another(t)}
	const distinct = 10
	split(t, stores, Parallel, func(s activity.Store, i int) error {
		e := ev("a", fmt.Sprint("e", i%distinct), time.Duration(i%distinct)*time.Second)
		e.Count = i // which writer won; a loser must not overwrite it
		return s.Add(ctx(t), e, T0, Policy)
	})
	got := stored(t, stores[0], "a")
	if len(got) != distinct {
		t.Fatalf("%d events stored, want %d: %q", len(got), distinct, ids(got))
	}
	for _, e := range got {
		var n int
		if _, err := fmt.Sscanf(e.ID, "e%d", &n); err != nil || e.Count%distinct != n {
			t.Fatalf("event %s carries writer %d's content", e.ID, e.Count)
		}
	}
}

// testConcurrentAddresses: concurrent SetAddresses from two replicas form
// one chain: each record is someone's previous record exactly once,
// except the last one written, and exactly one call saw none.
func testConcurrentAddresses(t *testing.T, b Backend) {
	stores := [2]activity.Store{b.Store(), b.Another(t)}
	n := Parallel / 2
	prevs := make([][]string, n)
	split(t, stores, n, func(s activity.Store, i int) error {
		var err error
		prevs[i], err = s.SetAddresses(ctx(t), "a", []string{fmt.Sprint(i)}, T0, Policy)
		return err
	})
	seen := map[string]int{}
	none := 0
	for _, p := range prevs {
		switch len(p) {
		case 0:
			if p != nil {
				t.Fatalf("previous %#v", p)
			}
			none++
		case 1:
			seen[p[0]]++
		default:
			t.Fatalf("previous %q: records mixed", p)
		}
	}
	last := setAddresses(t, stores[0], "a", nil, T0, Policy)
	if len(last) != 1 {
		t.Fatalf("last record %q", last)
	}
	seen[last[0]]++
	if none != 1 || len(seen) != n {
		t.Fatalf("%d calls saw no record (want 1); %d of %d records were seen once", none, len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("record %s seen %d times: a write was lost", v, c)
		}
	}
}

// BenchmarkAdd adds events (about 400 bytes each, a sign-in as the hooks
// record it) to 1000 identities under the default policy, so each Add
// also applies retention and the bound.
func BenchmarkAdd(b *testing.B, s activity.Store) {
	p := activity.DefaultPolicy()
	var n atomic.Int64
	serialAndParallel(b, func() {
		i := n.Add(1)
		e := benchEvent(fmt.Sprint("bench-", i%1000), fmt.Sprint("e", i), T0.Add(time.Duration(i)*time.Millisecond))
		if err := s.Add(context.Background(), e, T0.Add(time.Duration(i)*time.Millisecond), p); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkList lists the newest 50 and all 500 events of identities
// holding 500 (the default bound), as /activity and the export read them.
func BenchmarkList(b *testing.B, s activity.Store) {
	p := activity.DefaultPolicy()
	const identities = 8
	now := T0.Add(time.Hour)
	for k := range identities {
		for i := range p.MaxPerIdentity {
			e := benchEvent(fmt.Sprint("list-", k), fmt.Sprint("e", i), T0.Add(time.Duration(i)*time.Second))
			if err := s.Add(context.Background(), e, now, p); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, limit := range []int{50, 0} {
		b.Run(fmt.Sprint("limit=", limit), func(b *testing.B) {
			var n atomic.Int64
			serialAndParallel(b, func() {
				evs, err := s.List(context.Background(), fmt.Sprint("list-", n.Add(1)%identities), now, p, limit)
				if err != nil {
					b.Fatal(err)
				}
				if want := activity.ListLimit(p, limit); len(evs) != want {
					b.Fatalf("List returned %d events, want %d", len(evs), want)
				}
			})
		})
	}
}

func benchEvent(identity, id string, at time.Time) activity.Event {
	return activity.Event{ID: "hook:" + id + ":sign_in", Identity: identity, Kind: activity.SignIn, At: at, Method: "password",
		AAL: "aal1", IP: "203.0.113.7", Device: "3f9c1a0e5b7d4c2a9e8f", Lang: "en", Session: "5c1b4e7e-2a7f-4f4e-9a53-0d8a5f9d2e11",
		UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36"}
}

func serialAndParallel(b *testing.B, op func()) {
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			op()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				op()
			}
		})
	})
}
