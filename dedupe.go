package pcwebhook

import (
	"context"
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

// DedupeStore remembers which deliveries the Handler handled, so that Partner Center's retries
// (at-least-once delivery, identical bodies) run the callbacks exactly once. Keys are the
// hex-encoded SHA-256 of the raw body. Only verified deliveries ever reach the store.
//
// Implementations must be safe for concurrent use, and Begin must be atomic: of concurrent Begin
// calls for one key, exactly one may return DeliveryNew. A store shared by several replicas (for
// example on Redis with SET NX and an expiry) gives exactly-once processing across them.
type DedupeStore interface {
	// Begin marks key in progress when it is new and reports what it was.
	Begin(ctx context.Context, key string) (DeliveryState, error)
	// Done marks key as handled successfully; later deliveries of it are acknowledged without
	// running callbacks, for as long as the store keeps it.
	Done(ctx context.Context, key string) error
	// Release forgets an in-progress key after a failure, so that the retry handles it again.
	Release(ctx context.Context, key string) error
}

// Defaults of the in-memory DedupeStore used by NewHandler.
const (
	// DefaultDedupeRetention is how long a handled delivery is remembered: longer than Partner
	// Center's ten attempts take.
	DefaultDedupeRetention = 7 * 24 * time.Hour
	// DefaultDedupeMaxEntries bounds the memory of the store (about 200 bytes an entry); the
	// oldest handled deliveries are forgotten first.
	DefaultDedupeMaxEntries = 100_000
	// DefaultDedupeLease is how long a delivery stays "in progress" when its handling never ends
	// (a hung callback): after it, a retry runs the callbacks again.
	DefaultDedupeLease = 10 * time.Minute
)

// NewMemoryDedupeStore returns a bounded, expiring in-memory DedupeStore, safe for concurrent
// use, that remembers handled deliveries for retention and at most maxEntries of them (values
// below 1 take the defaults). It is the Handler's default; it does not survive a restart and is
// not shared between replicas.
func NewMemoryDedupeStore(retention time.Duration, maxEntries int) DedupeStore {
	if retention <= 0 {
		retention = DefaultDedupeRetention
	}
	if maxEntries < 1 {
		maxEntries = DefaultDedupeMaxEntries
	}
	return &memoryDedupeStore{m: dedupe.NewMemory(retention, DefaultDedupeLease, maxEntries, nil)}
}

type memoryDedupeStore struct{ m *dedupe.Memory }

func (s *memoryDedupeStore) Begin(_ context.Context, key string) (DeliveryState, error) {
	switch s.m.Begin(key) {
	case dedupe.InProgress:
		return DeliveryInProgress, nil
	case dedupe.Done:
		return DeliveryDone, nil
	}
	return DeliveryNew, nil
}

func (s *memoryDedupeStore) Done(_ context.Context, key string) error {
	s.m.Complete(key)
	return nil
}

func (s *memoryDedupeStore) Release(_ context.Context, key string) error {
	s.m.Release(key)
	return nil
}
