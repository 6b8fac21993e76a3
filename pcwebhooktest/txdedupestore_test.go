package pcwebhooktest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// TestTransactionalDedupeStoreCatchesBrokenStores runs the transactional kit, in a child process,
// against txMapStore with one defect at a time and checks that the subtest meant to catch it
// fails; the same store without a defect passes the whole kit.
func TestTransactionalDedupeStoreCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the kit in child processes")
	}
	t.Parallel()
	runKitChildren(t, "TestTransactionalDedupeStoreChild", func(t *testing.T, c kitCase, out string) {
		if c.defect == "" && !strings.Contains(out, "--- PASS: TestTransactionalDedupeStoreChild/WritesCommitWithDone") {
			t.Fatalf("the transactional subtests did not run:\n%s", out)
		}
	})
}

// TestTransactionalDedupeStoreChild is the child of TestTransactionalDedupeStoreCatchesBrokenStores.
func TestTransactionalDedupeStoreChild(t *testing.T) {
	if os.Getenv("PCWEBHOOKTEST_CHILD") != "1" {
		t.Skip("run by TestTransactionalDedupeStoreCatchesBrokenStores")
	}
	defect := os.Getenv("PCWEBHOOKTEST_DEFECT")
	pcwebhooktest.TestTransactionalDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhooktest.TransactionalDedupeStore {
		s := &txMapStore{mapStore: &mapStore{cfg: cfg, defect: defect, m: map[string]*mapEntry{}}, defect: defect, pending: map[string]int{}}
		return pcwebhooktest.TransactionalDedupeStore{Store: s, Write: s.write, Count: s.count}
	})
}

// txMapStore is mapStore with a transaction per claim: the rows written through a claim's
// context wait in pending until Done records the delivery within the lease, and are dropped by
// Release or a Done after the lease. A defect, if any, breaks one of these.
type txMapStore struct {
	*mapStore
	defect    string
	txMu      sync.Mutex
	pending   map[string]int // claim token -> rows written, not committed
	committed int
}

type txTokenKey struct{}

func (s *txMapStore) WithClaim(ctx context.Context, c pcwebhook.Claim) context.Context {
	return context.WithValue(ctx, txTokenKey{}, c.Token)
}

func (s *txMapStore) write(ctx context.Context) error {
	token, ok := ctx.Value(txTokenKey{}).(string)
	if !ok {
		return errors.New("no claim in the context")
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if s.defect == "writes-commit-at-once" {
		s.committed++
		return nil
	}
	s.pending[token]++
	return nil
}

func (s *txMapStore) count(context.Context) (int, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.committed, nil
}

// end commits (or drops) the rows of token.
func (s *txMapStore) end(token string, commit bool) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if commit {
		s.committed += s.pending[token]
	}
	delete(s.pending, token)
}

func (s *txMapStore) Done(ctx context.Context, c pcwebhook.Claim) error {
	if time.Now().After(c.Expires) && s.defect != "late-done-records" {
		s.end(c.Token, s.defect == "late-done-commits-writes")
		return fmt.Errorf("lease ran out: %w: %w", pcwebhook.ErrNotCommitted, pcwebhook.ErrClaimLost)
	}
	err := s.mapStore.Done(ctx, c)
	s.end(c.Token, err == nil)
	return err
}

func (s *txMapStore) Release(ctx context.Context, c pcwebhook.Claim) error {
	err := s.mapStore.Release(ctx, c)
	if s.defect == "release-keeps-writes" {
		s.end(c.Token, true)
	} else {
		s.end(c.Token, false)
	}
	return err
}
