package pcwebhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/dedupe"
)

// DeliveryState is what a [DedupeStore] knew of a delivery when the Handler asked for it.
type DeliveryState int

// The states of a delivery.
const (
	// DeliveryNew: not seen before (or forgotten). The store has marked it in progress and the
	// caller must end with Done or Release.
	DeliveryNew DeliveryState = iota
	// DeliveryInProgress: another delivery of the same body is being handled right now.
	DeliveryInProgress
	// DeliveryDone: a delivery of the same body was handled successfully.
	DeliveryDone
)

// String names the state, for logs.
func (s DeliveryState) String() string {
	switch s {
	case DeliveryNew:
		return "new"
	case DeliveryInProgress:
		return "in-progress"
	case DeliveryDone:
		return "done"
	}
	return "unknown"
}

// Claim is a [DedupeStore]'s answer to Begin. When State is DeliveryNew the caller owns the
// delivery until Expires: it must end with Done (the callbacks succeeded) or Release (they
// failed), passing the Claim back, and the store acts only while the claim is still the current
// one. For the other states Token is empty and nothing is to be ended.
type Claim struct {
	// Key is the delivery's key, as given to Begin.
	Key string
	// State is what the store knew of the delivery.
	State DeliveryState
	// Token identifies the owner of a DeliveryNew claim; unique among the claims on Key (across
	// replicas, for a shared store). Empty for the other states.
	Token string
	// Expires is when the claim's lease runs out: after it, another delivery of the same body may
	// take over. Zero when the store does not say.
	Expires time.Time
}

// ErrClaimLost is returned (wrapped) by [DedupeStore.Done] and [DedupeStore.Release] when the
// claim is no longer the current one: its lease ran out and another delivery took the key over,
// or another claim finished the key, or (for Release) the key is done or free after the lease.
// Nothing was changed. The Handler logs it at WARN: the callbacks may have run twice (the lease
// is shorter than they took). A repeated Done or Release of the same claim, as a client library
// sends when it retries a command whose reply was lost, is not a lost claim (see [DedupeStore]).
var ErrClaimLost = errors.New("pcwebhook: dedupe claim lost (lease expired; another delivery took over or finished)")

// ErrDedupeStoreFull is returned (wrapped) by the in-memory store's Begin when every entry it may
// hold is a delivery being handled right now: it never forgets a running claim (the retry would
// then run the callbacks a second time, concurrently), so it claims nothing new. The Handler
// answers 503 with Retry-After, and Partner Center retries. Raise MaxEntries if it happens.
var ErrDedupeStoreFull = errors.New("pcwebhook: dedupe store full of deliveries in progress")

// ErrNotCommitted is wrapped by a [DedupeStore]'s Done when the callbacks' effects were rolled
// back: the store's transaction failed to commit, its connection died, or its lease ran out. The
// Handler answers 503 with Retry-After and logs at ERROR: nothing was recorded, so the retry runs
// the callbacks again, against a database that holds none of their effects. It takes precedence
// over [ErrClaimLost] when an error wraps both.
var ErrNotCommitted = errors.New("pcwebhook: the delivery's effects were not committed")

// ErrAlreadyHandled is wrapped by a transactional [DedupeStore]'s Done when another delivery of
// the same body was recorded first and this claim's effects were rolled back, so that nothing was
// done twice. The Handler acknowledges the delivery as a duplicate (200).
var ErrAlreadyHandled = errors.New("pcwebhook: another delivery of the same body was recorded first")

// ClaimContexter is an optional interface of a [DedupeStore]: for a DeliveryNew claim, the Handler
// runs OnAny and the typed callback (or OnUnknown) with the context WithClaim returns. A
// transactional store puts its transaction there, so that the callbacks' writes commit in Done
// together with the delivery's record, or are rolled back in Release (see the pgdedupe module).
type ClaimContexter interface {
	// WithClaim returns the context the callbacks of the claimed delivery run with; it derives
	// from ctx.
	WithClaim(ctx context.Context, c Claim) context.Context
}

// DedupeStore remembers which deliveries the Handler handled, so that Partner Center's retries
// (at-least-once delivery, identical bodies) do not run the callbacks again once a delivery
// succeeded. Keys are the hex-encoded SHA-256 of the raw body. Only verified deliveries ever reach
// the store.
//
// What it guarantees is about callback runs, not their effects: a delivery's callbacks succeed
// at most once while the store remembers it, except when they outlive the claim's lease (another
// delivery may then take over) or the process dies between their success and Done (the retry
// runs them again). Effects a callback wrote before such a failure stay. A transactional store
// (a [ClaimContexter], such as the pgdedupe module's) closes that gap: the callbacks' writes
// commit with the record, or not at all.
//
// The contract (pcwebhooktest.TestDedupeStore checks it against any implementation):
//   - Implementations are safe for concurrent use, and Begin is atomic: of concurrent Begin calls
//     for one key, exactly one returns DeliveryNew, with a fresh Token.
//   - While a claim's lease runs, Begin answers DeliveryInProgress; once it ran out without Done
//     or Release, the next Begin answers DeliveryNew with a new Token (a hung or lost replica
//     does not block the delivery for good).
//   - Done records the delivery as handled for the store's retention (Begin then answers
//     DeliveryDone) when the claim is current, or when the key is free because the lease ran out
//     and nobody took over (the callbacks did succeed). The record keeps the Token that finished
//     the key: a Done of that same claim on the key it finished is a repeat (a client library
//     retried a command whose reply was lost) and returns nil, changing nothing (the retention
//     still counts from the first Done), during the lease or after it. Otherwise (another claim
//     holds the key or finished it) Done changes nothing and returns an error wrapping
//     ErrClaimLost.
//   - Release forgets the delivery when the claim is current, so that the retry handles it
//     again. When the key is already free (nobody holds it and it is not done) while the claim's
//     lease runs (before its Expires), Release is a repeat and returns nil, changing nothing:
//     before Expires the key can be free only because this claim gave it up (another delivery
//     may have claimed and released it since).
//     Otherwise (another claim holds the key, the key is done, or it is free once the lease ran
//     out, or the Claim has no Expires) Release changes nothing and returns an error wrapping
//     ErrClaimLost.
//   - Any other error means the store could not answer (unreachable, timed out): the Handler
//     answers 503 for Begin and never runs callbacks without a claim.
//
// A store shared by several replicas gives the same guarantee across them; see the redisdedupe
// and pgdedupe modules. This interface may still change before the first tagged release; see
// CHANGELOG.md.
type DedupeStore interface {
	// Begin claims key when it is new and reports what it was.
	Begin(ctx context.Context, key string) (Claim, error)
	// Done marks the claimed delivery as handled successfully; later deliveries of it are
	// acknowledged without running callbacks, for as long as the store keeps it. Repeating it
	// with the same claim returns nil.
	Done(ctx context.Context, c Claim) error
	// Release forgets the claimed delivery after a failure, so that the retry handles it again.
	// Repeating it with the same claim before the claim's Expires returns nil while nobody else
	// holds the key.
	Release(ctx context.Context, c Claim) error
}

// Defaults of the in-memory DedupeStore used by NewHandler.
const (
	// DefaultDedupeRetention is how long a handled delivery is remembered: longer than Partner
	// Center's ten attempts take.
	DefaultDedupeRetention = 7 * 24 * time.Hour
	// DefaultDedupeMaxEntries bounds the memory of the store (about 200 bytes an entry); the
	// oldest handled deliveries are forgotten first, running claims never (see
	// ErrDedupeStoreFull).
	DefaultDedupeMaxEntries = 100_000
	// DefaultDedupeLease is how long a delivery stays "in progress" when its handling never ends
	// (a hung callback): after it, a retry runs the callbacks again.
	DefaultDedupeLease = 10 * time.Minute
)

// NewMemoryDedupeStore returns a bounded, expiring in-memory DedupeStore, safe for concurrent
// use, that remembers handled deliveries for retention and at most maxEntries of them (values
// below 1 take the defaults), with the DefaultDedupeLease. It is the Handler's default; it does
// not survive a restart and is not shared between replicas.
func NewMemoryDedupeStore(retention time.Duration, maxEntries int) DedupeStore {
	return NewMemoryDedupeStoreWithOptions(MemoryDedupeOptions{Retention: retention, MaxEntries: maxEntries})
}

// MemoryDedupeOptions configures [NewMemoryDedupeStoreWithOptions]. The zero value has the
// defaults.
type MemoryDedupeOptions struct {
	// Retention is how long a handled delivery is remembered (default DefaultDedupeRetention).
	Retention time.Duration
	// Lease is how long an unfinished claim blocks other deliveries of the same body (default
	// DefaultDedupeLease).
	Lease time.Duration
	// MaxEntries bounds the keys held; the oldest handled ones are forgotten first (default
	// DefaultDedupeMaxEntries).
	MaxEntries int
}

// NewMemoryDedupeStoreWithOptions returns an in-memory DedupeStore like NewMemoryDedupeStore,
// with every setting open, including the lease.
func NewMemoryDedupeStoreWithOptions(o MemoryDedupeOptions) DedupeStore {
	if o.Retention <= 0 {
		o.Retention = DefaultDedupeRetention
	}
	if o.Lease <= 0 {
		o.Lease = DefaultDedupeLease
	}
	if o.MaxEntries < 1 {
		o.MaxEntries = DefaultDedupeMaxEntries
	}
	return &memoryDedupeStore{m: dedupe.NewMemory(o.Retention, o.Lease, o.MaxEntries, nil)}
}

type memoryDedupeStore struct {
	m *dedupe.Memory
}

func (s *memoryDedupeStore) Begin(_ context.Context, key string) (Claim, error) {
	st, token, expires := s.m.Begin(key)
	switch st {
	case dedupe.InProgress:
		return Claim{Key: key, State: DeliveryInProgress}, nil
	case dedupe.Done:
		return Claim{Key: key, State: DeliveryDone}, nil
	case dedupe.Full:
		return Claim{Key: key}, fmt.Errorf("%w (%s)", ErrDedupeStoreFull, key)
	}
	return Claim{Key: key, State: DeliveryNew, Token: strconv.FormatUint(token, 36), Expires: expires}, nil
}

func (s *memoryDedupeStore) Done(_ context.Context, c Claim) error {
	token, ok := memoryToken(c)
	if !ok || !s.m.Done(c.Key, token) {
		return fmt.Errorf("%w: %s", ErrClaimLost, c.Key)
	}
	return nil
}

func (s *memoryDedupeStore) Release(_ context.Context, c Claim) error {
	token, ok := memoryToken(c)
	if !ok || !s.m.Release(c.Key, token, c.Expires) {
		return fmt.Errorf("%w: %s", ErrClaimLost, c.Key)
	}
	return nil
}

// memoryToken reads a Token made by memoryDedupeStore.Begin.
func memoryToken(c Claim) (uint64, bool) {
	t, err := strconv.ParseUint(c.Token, 36, 64)
	return t, err == nil && t != 0
}
