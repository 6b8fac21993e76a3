package pcwebhooktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// TransactionalDedupeStore is a store whose claim is a transaction (a
// pcwebhook.ClaimContexter that commits the callbacks' writes in Done together with the
// delivery's record, and rolls them back in Release), with what
// [TestTransactionalDedupeStore] needs to see those writes.
type TransactionalDedupeStore struct {
	// Store is the store under test. It implements pcwebhook.ClaimContexter.
	Store pcwebhook.DedupeStore
	// Write writes one row through the claim's transaction, as a callback does; ctx is what the
	// store's WithClaim returned.
	Write func(ctx context.Context) error
	// Count returns how many rows of Write on this store are committed, read outside any claim.
	Count func(ctx context.Context) (int, error)
}

// MakeTransactionalDedupeStore returns a new, empty transactional store with cfg's lease and
// retention, for [TestTransactionalDedupeStore]; its Count starts at 0. Release what it holds
// with t.Cleanup.
type MakeTransactionalDedupeStore func(t *testing.T, cfg DedupeStoreConfig) TransactionalDedupeStore

// TestTransactionalDedupeStore runs the contract of [TestDedupeStore] against a store whose claim
// is a transaction (the pgdedupe module's, for example), with the one difference such a store
// declares: Done after the claim's lease ran out returns an error wrapping
// pcwebhook.ErrNotCommitted instead of recording the delivery (the store rolled the callbacks'
// writes back when the lease ended). It adds the subtests of the writes: they commit with Done
// and are invisible before it; they vanish with Release, and when the lease runs out; a late
// owner's Done commits none of its writes after another claim took the key over and committed its
// own.
func TestTransactionalDedupeStore(t *testing.T, newStore MakeTransactionalDedupeStore) {
	t.Helper()
	subtests := make([]kitSubtest, 0, len(kitSubtests()))
	for _, st := range kitSubtests() {
		if st.name != "DoneAfterLeaseWithoutTakeover" { // recording it is what a transactional store must not do
			subtests = append(subtests, st)
		}
	}
	for _, st := range subtests {
		st := st
		t.Run(st.name, func(t *testing.T) {
			st.fn(t, makeTransactional(t, newStore, st.cfg).Store, st.cfg)
		})
	}
	shortLease := DedupeStoreConfig{Lease: kitShortLease, Retention: kitLongRetention}
	long := DedupeStoreConfig{Lease: kitLongLease, Retention: kitLongRetention}
	for _, st := range []struct {
		name string
		cfg  DedupeStoreConfig
		fn   func(*testing.T, TransactionalDedupeStore, DedupeStoreConfig)
	}{
		{"WritesCommitWithDone", long, testWritesCommitWithDone},
		{"WritesVanishWithRelease", long, testWritesVanishWithRelease},
		{"DoneAfterLeaseNotCommitted", shortLease, testDoneAfterLeaseNotCommitted},
		{"LateOwnerCommitsNothing", shortLease, testLateOwnerCommitsNothing},
	} {
		st := st
		t.Run(st.name, func(t *testing.T) {
			st.fn(t, makeTransactional(t, newStore, st.cfg), st.cfg)
		})
	}
}

// makeTransactional calls newStore and checks what it returned.
func makeTransactional(t *testing.T, newStore MakeTransactionalDedupeStore, cfg DedupeStoreConfig) TransactionalDedupeStore {
	t.Helper()
	ts := newStore(t, cfg)
	switch {
	case ts.Store == nil:
		t.Fatal("newStore returned no Store")
	case ts.Write == nil || ts.Count == nil:
		t.Fatal("newStore returned no Write or no Count")
	}
	if _, ok := ts.Store.(pcwebhook.ClaimContexter); !ok {
		t.Fatalf("%T is not a pcwebhook.ClaimContexter: its claim cannot carry a transaction to the callbacks", ts.Store)
	}
	return ts
}

// write writes n rows through c's transaction, as the callbacks of the claimed delivery do.
func (ts TransactionalDedupeStore) write(t *testing.T, ctx context.Context, c pcwebhook.Claim, n int) {
	t.Helper()
	cctx := ts.Store.(pcwebhook.ClaimContexter).WithClaim(ctx, c)
	for i := 0; i < n; i++ {
		if err := ts.Write(cctx); err != nil {
			t.Fatalf("Write through the claim's context: %v", err)
		}
	}
}

// expiredClaimWithWrites claims a fresh key, writes n rows through the claim and lets its lease
// run out, as a callback that hung does.
func (ts TransactionalDedupeStore) expiredClaimWithWrites(t *testing.T, ctx context.Context, cfg DedupeStoreConfig, n int) (string, pcwebhook.Claim) {
	t.Helper()
	key := kitKey(t)
	start := time.Now()
	c := mustNew(t, ctx, ts.Store, key, "a key never seen")
	ts.write(t, ctx, c, n)
	sleepPast(start, cfg.Lease)
	return key, c
}

// wantCount requires want committed rows.
func (ts TransactionalDedupeStore) wantCount(t *testing.T, ctx context.Context, want int, why string) {
	t.Helper()
	n, err := ts.Count(ctx)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Errorf("%d committed rows, want %d: %s", n, want, why)
	}
}

// wantNotCommitted requires err to wrap pcwebhook.ErrNotCommitted.
func wantNotCommitted(t *testing.T, op string, err error, why string) {
	t.Helper()
	if !errors.Is(err, pcwebhook.ErrNotCommitted) {
		t.Errorf("%s: %v, want an error wrapping pcwebhook.ErrNotCommitted: %s", op, err, why)
	}
}

func testWritesCommitWithDone(t *testing.T, ts TransactionalDedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	c := mustNew(t, ctx, ts.Store, key, "a key never seen")
	ts.write(t, ctx, c, 2)
	ts.wantCount(t, ctx, 0, "the writes are not committed before Done")
	wantOK(t, "Done", ts.Store.Done(ctx, c), "the owner ends its claim")
	ts.wantCount(t, ctx, 2, "Done commits the callbacks' writes with the record")
	wantState(t, ctx, ts.Store, key, pcwebhook.DeliveryDone, "and the record is there")
	wantOK(t, "repeated Done", ts.Store.Done(ctx, c), "the key is done by this very claim")
	ts.wantCount(t, ctx, 2, "a repeated Done commits nothing more")
}

func testWritesVanishWithRelease(t *testing.T, ts TransactionalDedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	first := mustNew(t, ctx, ts.Store, key, "a key never seen")
	ts.write(t, ctx, first, 3)
	wantOK(t, "Release", ts.Store.Release(ctx, first), "the owner gives its claim up after a failure")
	ts.wantCount(t, ctx, 0, "Release rolls the callbacks' writes back")
	retry := mustNew(t, ctx, ts.Store, key, "after a Release the retry handles the delivery again")
	ts.write(t, ctx, retry, 1)
	wantOK(t, "Done of the retry", ts.Store.Done(ctx, retry), "the retry's owner ends its claim")
	ts.wantCount(t, ctx, 1, "only the retry's writes are committed")
}

func testDoneAfterLeaseNotCommitted(t *testing.T, ts TransactionalDedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)
	key, late := ts.expiredClaimWithWrites(t, ctx, cfg, 2)
	wantNotCommitted(t, "Done after the lease", ts.Store.Done(ctx, late), "the lease ended the transaction: its writes were rolled back")
	ts.wantCount(t, ctx, 0, "nothing of the expired claim was committed")
	wantNotCommitted(t, "repeated Done after the lease", ts.Store.Done(ctx, late), "still nothing committed")
	retry := mustNew(t, ctx, ts.Store, key, "the late Done recorded nothing: the retry handles the delivery")
	ts.write(t, ctx, retry, 1)
	wantOK(t, "Done of the retry", ts.Store.Done(ctx, retry), "the retry's owner ends its claim")
	ts.wantCount(t, ctx, 1, "the retry's writes are committed")
	wantState(t, ctx, ts.Store, key, pcwebhook.DeliveryDone, "the retry was recorded")
}

func testLateOwnerCommitsNothing(t *testing.T, ts TransactionalDedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)
	key, late := ts.expiredClaimWithWrites(t, ctx, cfg, 1)
	owner := mustNew(t, ctx, ts.Store, key, "the lease ran out: another delivery takes over")
	ts.write(t, ctx, owner, 1)
	wantOK(t, "Done of the new owner", ts.Store.Done(ctx, owner), "nobody took the key from the new owner")
	err := ts.Store.Done(ctx, late)
	wantNotCommitted(t, "late owner's Done", err, "its transaction ended with its lease")
	wantLost(t, "late owner's Done", err, "another claim finished the key")
	ts.wantCount(t, ctx, 1, "only the new owner's writes are committed")
	wantState(t, ctx, ts.Store, key, pcwebhook.DeliveryDone, "the late owner could not undo the new owner's Done")
}
