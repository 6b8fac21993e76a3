package pcwebhooktest_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// The default store of the Handler passes the contract. The kit mostly sleeps for its leases:
// it runs beside the other tests.
func TestDedupeStoreMemory(t *testing.T) {
	t.Parallel()
	pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
		return pcwebhook.NewMemoryDedupeStoreWithOptions(pcwebhook.MemoryDedupeOptions{Lease: cfg.Lease, Retention: cfg.Retention})
	})
}

// TestDedupeStoreCatchesBrokenStores runs the kit, in a child process, against a small map store
// with one defect at a time and checks that the subtest meant to catch it fails; the same store
// without a defect passes the whole kit.
func TestDedupeStoreCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the kit in child processes")
	}
	t.Parallel()
	runKitChildren(t, "TestDedupeStoreChild", nil)
}

// kitCase is one run of a kit in a child process: the store's defect ("" for none) and the
// subtest meant to catch it.
type kitCase struct{ defect, subtest string }

// kitCases are the runs of each child test (a test that runs a kit against a store with the
// defect PCWEBHOOKTEST_DEFECT).
var kitCases = map[string][]kitCase{
	"TestDedupeStoreChild": {
		{"", ""},
		{"racy-begin", "ConcurrentBegin"},
		{"constant-token", "DistinctTokens"},
		{"release-ignores-owner", "ForeignClaim"},
		{"done-ignores-owner", "LateOwnerAfterTakeover"},
		{"release-forgets-done", "DoneIsRemembered"},
		{"done-forgets-token", "RepeatedDoneSameClaim"},
		{"done-key-accepts-any-token", "DoneWithOtherTokenOnDoneKey"},
		{"release-free-is-lost", "RepeatedRelease"},
		{"release-free-ignores-lease", "ReleaseAfterTakeover"},
		{"lease-never-ends", "LeaseExpiry"},
		{"done-needs-live-lease", "DoneAfterLeaseWithoutTakeover"},
		{"keeps-done-forever", "Retention"},
	},
	"TestTransactionalDedupeStoreChild": {
		{"", ""},
		{"writes-commit-at-once", "WritesCommitWithDone"},
		{"release-keeps-writes", "WritesVanishWithRelease"},
		{"late-done-records", "DoneAfterLeaseNotCommitted"},
		{"late-done-commits-writes", "LateOwnerCommitsNothing"},
		{"lease-never-ends", "LeaseExpiry"}, // the subtests of TestDedupeStore run too
	},
}

// kitResult is the output and exit error of one child run.
type kitResult struct {
	out []byte
	err error
}

// startKitChildren starts every run of kitCases in its child process, all at once, the first
// time it is called: the runs mostly sleep for the kits' leases, so they sleep side by side
// whatever -test.parallel allows. It returns, per child test, a function that waits for that
// test's runs.
var startKitChildren = sync.OnceValue(func() map[string]func() []kitResult {
	waits := map[string]func() []kitResult{}
	for child, cases := range kitCases {
		results := make([]kitResult, len(cases))
		var wg sync.WaitGroup
		for i, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run := "^" + child + "$"
				if c.subtest != "" {
					run += "/^" + c.subtest + "$"
				}
				cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), "PCWEBHOOKTEST_DEFECT="+c.defect, "PCWEBHOOKTEST_CHILD=1")
				results[i].out, results[i].err = cmd.CombinedOutput()
			}()
		}
		waits[child] = func() []kitResult { wg.Wait(); return results }
	}
	return waits
})

// runKitChildren checks the runs of child (kitCases), one subtest each: the subtest meant to
// catch the defect failed, or, when the defect is "", the whole kit passed; check, when not nil,
// looks at a run's output further.
func runKitChildren(t *testing.T, child string, check func(t *testing.T, c kitCase, out string)) {
	t.Helper()
	results := startKitChildren()[child]()
	for i, c := range kitCases[child] {
		t.Run("defect="+c.defect, func(t *testing.T) {
			out, err := results[i].out, results[i].err
			switch {
			case c.defect == "" && err != nil:
				t.Fatalf("the store without a defect fails the kit: %v\n%s", err, out)
			case c.defect != "" && err == nil:
				t.Fatalf("the kit passed a store with the defect %s:\n%s", c.defect, out)
			case c.defect != "" && !strings.Contains(string(out), "--- FAIL: "+child+"/"+c.subtest):
				t.Fatalf("want %q in the child's output:\n%s", "--- FAIL: "+child+"/"+c.subtest, out)
			}
			if check != nil {
				check(t, c, string(out))
			}
		})
	}
}

// TestDedupeStoreChild is the child of TestDedupeStoreCatchesBrokenStores.
func TestDedupeStoreChild(t *testing.T) {
	if os.Getenv("PCWEBHOOKTEST_CHILD") != "1" {
		t.Skip("run by TestDedupeStoreCatchesBrokenStores")
	}
	defect := os.Getenv("PCWEBHOOKTEST_DEFECT")
	pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
		return &mapStore{cfg: cfg, defect: defect, m: map[string]*mapEntry{}}
	})
}

// mapStore is the least store that passes the kit, with an optional defect.
type mapStore struct {
	cfg    pcwebhooktest.DedupeStoreConfig
	defect string
	mu     sync.Mutex
	last   int
	m      map[string]*mapEntry
}

type mapEntry struct {
	token   string
	done    bool
	expires time.Time
}

// get returns key's live entry.
func (s *mapStore) get(key string) *mapEntry {
	e := s.m[key]
	if e != nil && time.Now().After(e.expires) {
		delete(s.m, key)
		return nil
	}
	return e
}

func (s *mapStore) Begin(_ context.Context, key string) (pcwebhook.Claim, error) {
	if s.defect == "racy-begin" {
		s.mu.Lock()
		e := s.get(key)
		s.mu.Unlock()
		time.Sleep(time.Millisecond) // check, then act
		if e != nil {
			return pcwebhook.Claim{Key: key, State: stateOf(e)}, nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.get(key); e != nil && s.defect != "racy-begin" {
		return pcwebhook.Claim{Key: key, State: stateOf(e)}, nil
	}
	s.last++
	token := strconv.Itoa(s.last)
	if s.defect == "constant-token" {
		token = "t"
	}
	lease := s.cfg.Lease
	if s.defect == "lease-never-ends" {
		lease = time.Hour
	}
	s.m[key] = &mapEntry{token: token, expires: time.Now().Add(lease)}
	return pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryNew, Token: token, Expires: time.Now().Add(lease)}, nil
}

func stateOf(e *mapEntry) pcwebhook.DeliveryState {
	if e.done {
		return pcwebhook.DeliveryDone
	}
	return pcwebhook.DeliveryInProgress
}

func (s *mapStore) Done(_ context.Context, c pcwebhook.Claim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(c.Key)
	switch {
	case c.Token == "":
		return pcwebhook.ErrClaimLost
	case e == nil && s.defect == "done-needs-live-lease":
		return pcwebhook.ErrClaimLost
	case e != nil && e.done && s.defect == "done-key-accepts-any-token":
		return nil
	case e != nil && e.done && e.token == c.Token && s.defect != "done-forgets-token":
		return nil // a repeat
	case e != nil && (e.done || e.token != c.Token) && s.defect != "done-ignores-owner":
		return pcwebhook.ErrClaimLost
	}
	retention := s.cfg.Retention
	if s.defect == "keeps-done-forever" {
		retention = time.Hour
	}
	s.m[c.Key] = &mapEntry{token: c.Token, done: true, expires: time.Now().Add(retention)}
	return nil
}

func (s *mapStore) Release(_ context.Context, c pcwebhook.Claim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(c.Key)
	switch {
	case e == nil && s.defect == "release-free-ignores-lease":
		return nil
	case e == nil && time.Now().Before(c.Expires) && s.defect != "release-free-is-lost":
		return nil // a repeat
	case e == nil:
		return pcwebhook.ErrClaimLost
	case e.done && s.defect == "release-forgets-done":
	case e.done:
		return pcwebhook.ErrClaimLost
	case c.Token == "" || e.token != c.Token:
		if s.defect != "release-ignores-owner" {
			return pcwebhook.ErrClaimLost
		}
	}
	delete(s.m, c.Key)
	return nil
}

// The test of a store of your own runs the whole contract with one call; here, the Handler's
// in-memory store.
func ExampleTestDedupeStore() {
	testMyStore := func(t *testing.T) {
		pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
			return pcwebhook.NewMemoryDedupeStoreWithOptions(pcwebhook.MemoryDedupeOptions{Lease: cfg.Lease, Retention: cfg.Retention})
		})
	}
	_ = testMyStore // func TestMyStore(t *testing.T) { testMyStore(t) }
}
