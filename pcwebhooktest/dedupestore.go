package pcwebhooktest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// DedupeStoreConfig is what [TestDedupeStore] asks of each store it makes.
type DedupeStoreConfig struct {
	// Lease is how long an unfinished claim must block other deliveries of the same key.
	Lease time.Duration
	// Retention is how long a handled delivery must be remembered.
	Retention time.Duration
}

// MakeDedupeStore returns a new, empty store with cfg's lease and retention, for
// [TestDedupeStore]. Stores made for one test may share a backend (one Redis server, one
// database): TestDedupeStore uses fresh random keys in every subtest. Release what the store
// holds with t.Cleanup.
type MakeDedupeStore func(t *testing.T, cfg DedupeStoreConfig) pcwebhook.DedupeStore

// Durations TestDedupeStore gives its stores. The short ones are what the expiry subtests wait
// for, so a store must keep time to a few tens of milliseconds.
const (
	kitShortLease     = 250 * time.Millisecond
	kitShortRetention = 400 * time.Millisecond
	kitLongLease      = 10 * time.Minute
	kitLongRetention  = time.Hour
)

// TestDedupeStore runs the contract of pcwebhook.DedupeStore against the stores newStore makes,
// as golang.org/x/net/nettest.TestConn does for connections. Run it from a test of your own
// store (on SQL, Cosmos DB, ...):
//
//	func TestMyStore(t *testing.T) {
//		pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
//			return mystore.New(db, mystore.WithLease(cfg.Lease), mystore.WithRetention(cfg.Retention))
//		})
//	}
//
// The subtests check: Begin is atomic under concurrency (exactly one DeliveryNew, with a token);
// tokens are distinct; Done and Release act only for the current claim and otherwise change
// nothing and return an error wrapping pcwebhook.ErrClaimLost; a repeated Done of the claim that
// finished the key, and a repeated Release of a claim whose lease still runs on a free key,
// return nil (a client library retried a command whose reply was lost), while a Done with
// another claim's token on a done key, and a Release by a late owner, stay lost; a claim's lease
// runs out and another Begin takes the key over, after which the late owner's Done and Release
// cannot undo it; Done is recorded when the lease ran out and nobody took over; a handled
// delivery is remembered for the retention and forgotten after it; Release after a failure lets
// the retry begin again. The expiry subtests sleep for leases and retentions of a few hundred
// milliseconds; the suite takes about three seconds.
func TestDedupeStore(t *testing.T, newStore MakeDedupeStore) {
	t.Helper()
	for _, st := range kitSubtests() {
		st := st
		t.Run(st.name, func(t *testing.T) {
			s := newStore(t, st.cfg)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			st.fn(t, s, st.cfg)
		})
	}
}

// kitSubtest is one subtest of TestDedupeStore: its name, the durations its store gets, and
// the checks it runs on that store.
type kitSubtest struct {
	name string
	cfg  DedupeStoreConfig
	fn   func(*testing.T, pcwebhook.DedupeStore, DedupeStoreConfig)
}

// kitSubtests lists TestDedupeStore's subtests, in the order they run.
func kitSubtests() []kitSubtest {
	long := DedupeStoreConfig{Lease: kitLongLease, Retention: kitLongRetention}
	shortLease := DedupeStoreConfig{Lease: kitShortLease, Retention: kitLongRetention}
	return []kitSubtest{
		{"BeginClaims", long, testBeginClaims},
		{"ConcurrentBegin", long, testConcurrentBegin},
		{"DistinctTokens", long, testDistinctTokens},
		{"DoneIsRemembered", long, testDoneIsRemembered},
		{"RepeatedDoneSameClaim", long, testRepeatedDone},
		{"DoneWithOtherTokenOnDoneKey", long, testDoneWithOtherToken},
		{"ReleaseAfterFailure", long, testReleaseAfterFailure},
		{"RepeatedRelease", long, testRepeatedRelease},
		{"ForeignClaim", long, testForeignClaim},
		{"LeaseExpiry", shortLease, testLeaseExpiry},
		{"LateOwnerAfterTakeover", shortLease, testLateOwnerAfterTakeover},
		{"ReleaseAfterTakeover", shortLease, testReleaseAfterTakeover},
		{"DoneAfterLeaseWithoutTakeover", shortLease, testDoneAfterLease},
		{"Retention", DedupeStoreConfig{Lease: kitLongLease, Retention: kitShortRetention}, testRetention},
	}
}

// kitKey returns a fresh key shaped like the Handler's (hex SHA-256), so that stores sharing a
// backend across runs never meet an old key.
func kitKey(t *testing.T) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// kitCtx is a context that ends with the subtest, bounded so a hung store fails instead of
// blocking the whole run.
func kitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// begin calls Begin and fails the test on an error.
func begin(t *testing.T, ctx context.Context, s pcwebhook.DedupeStore, key string) pcwebhook.Claim {
	t.Helper()
	c, err := s.Begin(ctx, key)
	if err != nil {
		t.Fatalf("Begin(%s): %v", short(key), err)
	}
	if c.Key != key {
		t.Errorf("Begin(%s) returned a claim on key %q", short(key), c.Key)
	}
	switch c.State {
	case pcwebhook.DeliveryNew:
		if c.Token == "" {
			t.Errorf("Begin(%s) = DeliveryNew without a Token", short(key))
		}
	case pcwebhook.DeliveryInProgress, pcwebhook.DeliveryDone:
		if c.Token != "" {
			t.Errorf("Begin(%s) = %s with Token %q; only DeliveryNew hands out a token", short(key), c.State, c.Token)
		}
	default:
		t.Errorf("Begin(%s) returned state %d", short(key), c.State)
	}
	return c
}

// mustNew begins key and requires a fresh claim.
func mustNew(t *testing.T, ctx context.Context, s pcwebhook.DedupeStore, key, why string) pcwebhook.Claim {
	t.Helper()
	c := begin(t, ctx, s, key)
	if c.State != pcwebhook.DeliveryNew {
		t.Fatalf("Begin(%s) = %s, want new: %s", short(key), c.State, why)
	}
	return c
}

// wantState begins key and requires want, which must not be DeliveryNew (that would take a
// claim the test does not end).
func wantState(t *testing.T, ctx context.Context, s pcwebhook.DedupeStore, key string, want pcwebhook.DeliveryState, why string) {
	t.Helper()
	if c := begin(t, ctx, s, key); c.State != want {
		t.Errorf("Begin(%s) = %s, want %s: %s", short(key), c.State, want, why)
	}
}

// wantOK requires err to be nil.
func wantOK(t *testing.T, op string, err error, why string) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v, want nil: %s", op, err, why)
	}
}

// wantLost requires err to wrap pcwebhook.ErrClaimLost.
func wantLost(t *testing.T, op string, err error, why string) {
	t.Helper()
	if !errors.Is(err, pcwebhook.ErrClaimLost) {
		t.Errorf("%s: %v, want an error wrapping pcwebhook.ErrClaimLost: %s", op, err, why)
	}
}

func short(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

// sleepPast sleeps until d after since, plus a margin for clocks of coarse resolution.
func sleepPast(since time.Time, d time.Duration) {
	time.Sleep(time.Until(since.Add(d + d/5 + 20*time.Millisecond)))
}

// expiredClaim claims a fresh key and lets the claim's lease run out without Done or Release, as
// a replica that hung or died leaves it.
func expiredClaim(t *testing.T, ctx context.Context, s pcwebhook.DedupeStore, cfg DedupeStoreConfig) (string, pcwebhook.Claim) {
	t.Helper()
	key := kitKey(t)
	start := time.Now()
	c := mustNew(t, ctx, s, key, "a key never seen")
	sleepPast(start, cfg.Lease)
	return key, c
}

func testBeginClaims(t *testing.T, s pcwebhook.DedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	before := time.Now()
	c := mustNew(t, ctx, s, key, "a key never seen")
	after := time.Now()
	if !c.Expires.IsZero() {
		// Expires may be estimated on the caller's side: allow a second either way.
		if c.Expires.Before(before.Add(cfg.Lease-time.Second)) || c.Expires.After(after.Add(cfg.Lease+time.Second)) {
			t.Errorf("Expires = %s, want about %s after Begin", c.Expires.Format(time.RFC3339Nano), cfg.Lease)
		}
	}
	wantState(t, ctx, s, key, pcwebhook.DeliveryInProgress, "a second delivery while the first is being handled")
	other := kitKey(t)
	o := mustNew(t, ctx, s, other, "keys are independent")
	wantOK(t, "Done(other)", s.Done(ctx, o), "the owner ends its claim")
	wantState(t, ctx, s, key, pcwebhook.DeliveryInProgress, "Done of another key does not touch this one")
	wantOK(t, "Done", s.Done(ctx, c), "the owner ends its claim")
}

func testConcurrentBegin(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	const keys, perKey = 8, 16
	type result struct {
		key string
		c   pcwebhook.Claim
		err error
	}
	names := make([]string, keys)
	for i := range names {
		names[i] = kitKey(t)
	}
	results := make(chan result, keys*perKey)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < keys*perKey; i++ {
		key := names[i%keys]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, err := s.Begin(ctx, key)
			results <- result{key, c, err}
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	owners := map[string][]pcwebhook.Claim{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("concurrent Begin: %v", r.err)
		}
		switch r.c.State {
		case pcwebhook.DeliveryNew:
			if r.c.Token == "" {
				t.Errorf("DeliveryNew without a Token")
			}
			owners[r.key] = append(owners[r.key], r.c)
		case pcwebhook.DeliveryInProgress:
		default:
			t.Errorf("concurrent Begin of a fresh key = %s, want new or in-progress", r.c.State)
		}
	}
	for _, key := range names {
		if n := len(owners[key]); n != 1 {
			t.Errorf("%d of %d concurrent Begin calls of one key returned DeliveryNew, want exactly 1", n, perKey)
		}
	}
	// All owners finish at once; every later Begin, concurrent again, sees done.
	var done sync.WaitGroup
	for _, cs := range owners {
		for _, c := range cs {
			done.Add(1)
			go func(c pcwebhook.Claim) {
				defer done.Done()
				wantOK(t, "Done", s.Done(ctx, c), "the one owner ends its claim")
			}(c)
		}
	}
	done.Wait()
	var seen sync.WaitGroup
	for i := 0; i < keys*perKey; i++ {
		key := names[i%keys]
		seen.Add(1)
		go func() {
			defer seen.Done()
			c, err := s.Begin(ctx, key)
			if err != nil || c.State != pcwebhook.DeliveryDone {
				t.Errorf("concurrent Begin of a handled key = %s, %v; want done", c.State, err)
			}
		}()
	}
	seen.Wait()
}

func testDistinctTokens(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	tokens := map[string]bool{}
	add := func(c pcwebhook.Claim) {
		if tokens[c.Token] {
			t.Errorf("token %q handed out twice", c.Token)
		}
		tokens[c.Token] = true
	}
	for i := 0; i < 50; i++ {
		c := mustNew(t, ctx, s, kitKey(t), "a key never seen")
		add(c)
		wantOK(t, "Release", s.Release(ctx, c), "the owner gives its claim up")
	}
	key := kitKey(t)
	var prev pcwebhook.Claim
	for i := 0; i < 50; i++ {
		c := mustNew(t, ctx, s, key, "the key was released")
		add(c)
		if i > 0 {
			wantLost(t, "Release(previous claim)", s.Release(ctx, prev), "an earlier claim on the key is not the current one")
			wantLost(t, "Done(previous claim)", s.Done(ctx, prev), "an earlier claim on the key is not the current one")
		}
		wantOK(t, "Release", s.Release(ctx, c), "the owner gives its claim up")
		prev = c
	}
}

func testDoneIsRemembered(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	c := mustNew(t, ctx, s, key, "a key never seen")
	wantOK(t, "Done", s.Done(ctx, c), "the owner ends its claim")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "a handled delivery is remembered")
	wantLost(t, "Release after Done", s.Release(ctx, c), "done is final")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "Release never forgets a handled delivery")
	wantOK(t, "second Done", s.Done(ctx, c), "a repeated Done of the claim that finished the key")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "still handled")
}

// testRepeatedDone: a client library that lost the reply of Done sends it again; the repeat
// finds the key done by the same claim and must not report the claim lost.
func testRepeatedDone(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	c := mustNew(t, ctx, s, key, "a key never seen")
	wantOK(t, "Done", s.Done(ctx, c), "the owner ends its claim")
	for i := 0; i < 3; i++ {
		wantOK(t, "repeated Done", s.Done(ctx, c), "the key is done by this very claim")
		wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "a repeated Done keeps the delivery handled")
	}
	other := kitKey(t)
	o := mustNew(t, ctx, s, other, "a key never seen")
	wantOK(t, "Done(other)", s.Done(ctx, o), "the owner ends its claim")
	wantOK(t, "repeated Done(other)", s.Done(ctx, o), "each key remembers its own finishing claim")
	wantOK(t, "repeated Done", s.Done(ctx, c), "finishing another key changed nothing here")
}

// testDoneWithOtherToken: a done key is final for every claim but the one that finished it.
func testDoneWithOtherToken(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)

	// The released claim's lease still runs, but the retry claimed the key and finished it.
	released := mustNew(t, ctx, s, key, "a key never seen")
	wantOK(t, "Release", s.Release(ctx, released), "the owner gives its claim up after a failure")
	owner := mustNew(t, ctx, s, key, "after a Release the retry handles the delivery again")
	wantOK(t, "Done of the retry", s.Done(ctx, owner), "the retry's owner ends its claim")
	wantLost(t, "Done of the released claim", s.Done(ctx, released), "another claim finished the key")
	wantLost(t, "Done of the released claim, again", s.Done(ctx, released), "another claim finished the key")

	stranger := mustNew(t, ctx, s, kitKey(t), "a key never seen")
	moved := stranger
	moved.Key = key
	wantLost(t, "Done with the token of a claim on another key", s.Done(ctx, moved), "a token holds only its own key")
	wantLost(t, "Done with a token the store never made", s.Done(ctx, pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryNew, Token: "0123456789abcdef0123456789abcdef", Expires: owner.Expires}), "only the finishing claim repeats its Done")
	wantLost(t, "Done without a token", s.Done(ctx, pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryDone}), "a duplicate's answer owns nothing")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "still handled")
	wantOK(t, "repeated Done of the finishing claim", s.Done(ctx, owner), "the refused ones changed nothing")
	wantOK(t, "Release(stranger)", s.Release(ctx, stranger), "the other key's owner still holds its claim")
}

func testReleaseAfterFailure(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	first := mustNew(t, ctx, s, key, "a key never seen")
	wantOK(t, "Release", s.Release(ctx, first), "the owner gives its claim up after a failure")
	retry := mustNew(t, ctx, s, key, "after a Release the retry handles the delivery again")
	if retry.Token == first.Token {
		t.Errorf("the retry's claim has the released claim's token %q", retry.Token)
	}
	wantLost(t, "second Release", s.Release(ctx, first), "the released claim is not the current one")
	wantState(t, ctx, s, key, pcwebhook.DeliveryInProgress, "the released claim's second Release changed nothing")
	wantOK(t, "Done", s.Done(ctx, retry), "the retry's owner ends its claim")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "the retry was recorded")
}

// testRepeatedRelease: a client library that lost the reply of Release sends it again; the
// repeat finds the key free while the claim's lease still runs and must not report the claim
// lost.
func testRepeatedRelease(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	c := mustNew(t, ctx, s, key, "a key never seen")
	wantOK(t, "Release", s.Release(ctx, c), "the owner gives its claim up after a failure")
	for i := 0; i < 3; i++ {
		wantOK(t, "repeated Release", s.Release(ctx, c), "the key is free and the claim's lease still runs")
	}
	retry := mustNew(t, ctx, s, key, "the repeated Release left the key free for the retry")
	wantLost(t, "repeated Release while the retry holds the key", s.Release(ctx, c), "another claim holds the key")
	wantState(t, ctx, s, key, pcwebhook.DeliveryInProgress, "the retry's claim still stands")
	wantOK(t, "Done of the retry", s.Done(ctx, retry), "the retry's owner ends its claim")
	wantLost(t, "repeated Release of a done key", s.Release(ctx, c), "done is final")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "still handled")
}

func testForeignClaim(t *testing.T, s pcwebhook.DedupeStore, _ DedupeStoreConfig) {
	ctx := kitCtx(t)
	key, other := kitKey(t), kitKey(t)
	owner := mustNew(t, ctx, s, key, "a key never seen")
	stranger := mustNew(t, ctx, s, other, "a key never seen")
	foreign := []struct {
		name string
		c    pcwebhook.Claim
	}{
		{"the token of a claim on another key", pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryNew, Token: stranger.Token, Expires: owner.Expires}},
		{"an empty token", pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryNew, Expires: owner.Expires}},
		{"the answer of a Begin that was not the owner", pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryInProgress}},
		{"a token the store never made", pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryNew, Token: "0123456789abcdef0123456789abcdef", Expires: owner.Expires}},
	}
	for _, f := range foreign {
		wantLost(t, "Release with "+f.name, s.Release(ctx, f.c), "only the owner may release")
		wantState(t, ctx, s, key, pcwebhook.DeliveryInProgress, "a foreign Release changed nothing")
		wantLost(t, "Done with "+f.name, s.Done(ctx, f.c), "only the owner may finish")
		wantState(t, ctx, s, key, pcwebhook.DeliveryInProgress, "a foreign Done changed nothing")
	}
	moved := owner
	moved.Key = other
	wantLost(t, "Done on another key with the owner's token", s.Done(ctx, moved), "a token holds only its own key")
	wantState(t, ctx, s, other, pcwebhook.DeliveryInProgress, "the other key's claim is untouched")
	wantOK(t, "Done", s.Done(ctx, owner), "the owner still holds its claim")
	wantOK(t, "Release", s.Release(ctx, stranger), "the other owner still holds its claim")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "the owner's Done was recorded")
	mustNew(t, ctx, s, other, "the other key was released")
}

func testLeaseExpiry(t *testing.T, s pcwebhook.DedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	start := time.Now()
	late := mustNew(t, ctx, s, key, "a key never seen")
	c := begin(t, ctx, s, key)
	if time.Since(start) < cfg.Lease { // skipped on a machine too slow to ask within the lease
		if c.State != pcwebhook.DeliveryInProgress {
			t.Errorf("Begin within the lease = %s, want in-progress", c.State)
		}
	}
	late2 := c
	if c.State != pcwebhook.DeliveryNew { // else the machine was so slow that c took over already
		sleepPast(start, cfg.Lease)
		late2 = mustNew(t, ctx, s, key, "once the lease ran out without Done or Release, the next delivery takes over")
	}
	if late2.Token == late.Token {
		t.Errorf("the takeover's claim has the expired claim's token %q", late.Token)
	}
	wantLost(t, "Release of the expired claim", s.Release(ctx, late), "the claim was taken over")
	wantLost(t, "Release of the expired claim, again", s.Release(ctx, late), "the claim was taken over")
	wantOK(t, "Done of the takeover", s.Done(ctx, late2), "the new owner's claim was never taken over")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "the takeover was recorded")

	// A lease that ran out with nobody taking over: Release has nothing to give up, and the
	// key is free for the retry.
	free, c := expiredClaim(t, ctx, s, cfg)
	wantLost(t, "Release of an expired claim", s.Release(ctx, c), "the lease ran out")
	mustNew(t, ctx, s, free, "the expired claim no longer blocks the key")
}

func testLateOwnerAfterTakeover(t *testing.T, s pcwebhook.DedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)

	// The late owner's Release or Done while the new owner's lease runs.
	key, late := expiredClaim(t, ctx, s, cfg)
	takeover := time.Now()
	owner := mustNew(t, ctx, s, key, "the lease ran out: another delivery takes over")
	relErr := s.Release(ctx, late)
	wantLost(t, "late owner's Release", relErr, "another delivery took the key over")
	doneErr := s.Done(ctx, late)
	c := begin(t, ctx, s, key)
	if time.Since(takeover) < cfg.Lease { // skipped on a machine too slow to ask within the new lease
		wantLost(t, "late owner's Done", doneErr, "another delivery holds the key")
		if c.State != pcwebhook.DeliveryInProgress {
			t.Errorf("Begin after the late owner's Release and Done = %s, want in-progress: the takeover is not undone", c.State)
		}
		wantOK(t, "Done of the new owner", s.Done(ctx, owner), "the new owner still holds the key")
		wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "the new owner's Done was recorded")
	} else {
		t.Logf("the machine was too slow to check within the new owner's lease of %s", cfg.Lease)
	}

	// The late owner's Done or Release after the new owner finished.
	key, late = expiredClaim(t, ctx, s, cfg)
	owner = mustNew(t, ctx, s, key, "the lease ran out: another delivery takes over")
	wantOK(t, "Done of the new owner", s.Done(ctx, owner), "nobody took the key from the new owner")
	wantLost(t, "late owner's Release", s.Release(ctx, late), "the key is done")
	wantLost(t, "late owner's Done", s.Done(ctx, late), "the key is done")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "the late owner could not undo the new owner's Done")

	// The late owner's Release after the new owner failed and released.
	key, late = expiredClaim(t, ctx, s, cfg)
	owner = mustNew(t, ctx, s, key, "the lease ran out: another delivery takes over")
	wantOK(t, "Release of the new owner", s.Release(ctx, owner), "nobody took the key from the new owner")
	wantLost(t, "late owner's Release", s.Release(ctx, late), "the claim was taken over")
	mustNew(t, ctx, s, key, "the key was released by its owner")
}

// testReleaseAfterTakeover: a late owner's Release, repeated or not, never undoes the claim that
// took the key over, and once that claim released the key the late owner's lease has run out:
// the free key is no repeat of its Release.
func testReleaseAfterTakeover(t *testing.T, s pcwebhook.DedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)
	key, late := expiredClaim(t, ctx, s, cfg)
	takeover := time.Now()
	owner := mustNew(t, ctx, s, key, "the lease ran out: another delivery takes over")
	wantLost(t, "late owner's Release", s.Release(ctx, late), "another delivery took the key over")
	wantLost(t, "late owner's Release, repeated", s.Release(ctx, late), "another delivery still holds the key")
	wantOK(t, "Release of the new owner", s.Release(ctx, owner), "nobody took the key from the new owner")
	wantLost(t, "late owner's Release of the free key", s.Release(ctx, late), "the late owner's lease ran out")
	if time.Since(takeover) < cfg.Lease { // skipped on a machine too slow to ask within the new lease
		wantOK(t, "repeated Release of the new owner", s.Release(ctx, owner), "the new owner's lease still runs")
	}
	mustNew(t, ctx, s, key, "the key was released by its owner")
}

func testDoneAfterLease(t *testing.T, s pcwebhook.DedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)
	key, c := expiredClaim(t, ctx, s, cfg)
	wantOK(t, "Done after the lease", s.Done(ctx, c), "the lease ran out but nobody took over: the callbacks did succeed")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "the late success was recorded")
	wantOK(t, "repeated Done after the lease", s.Done(ctx, c), "the key is done by this very claim")
	wantLost(t, "Release after that Done", s.Release(ctx, c), "done is final")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "still handled")
}

func testRetention(t *testing.T, s pcwebhook.DedupeStore, cfg DedupeStoreConfig) {
	ctx := kitCtx(t)
	key := kitKey(t)
	c := mustNew(t, ctx, s, key, "a key never seen")
	start := time.Now()
	wantOK(t, "Done", s.Done(ctx, c), "the owner ends its claim")
	got := begin(t, ctx, s, key)
	if time.Since(start) < cfg.Retention { // skipped on a machine too slow to ask within the retention
		if got.State != pcwebhook.DeliveryDone {
			t.Errorf("Begin within the retention = %s, want done", got.State)
		}
	}
	again := got
	if got.State != pcwebhook.DeliveryNew { // else the machine was so slow that the retention ended already
		sleepPast(start, cfg.Retention)
		again = mustNew(t, ctx, s, key, "a handled delivery is forgotten after the retention")
	}
	wantOK(t, "Done", s.Done(ctx, again), "the owner ends its claim")
	wantState(t, ctx, s, key, pcwebhook.DeliveryDone, "handled again")
}
