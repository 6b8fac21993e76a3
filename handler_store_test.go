package pcwebhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

var errCommitFailed = fmt.Errorf("commit: connection reset: %w", pcwebhook.ErrNotCommitted)

// txKey is the context key under which txStore puts its "transaction".
type txKey struct{}

// txStore is a DedupeStore with a transaction per claim, in memory: callbacks write through the
// context WithClaim returns, and Done commits the writes with the record, or, when doneErr is set,
// rolls them back and returns doneErr.
type txStore struct {
	pcwebhook.DedupeStore
	doneErr error

	mu        sync.Mutex
	pending   map[string][]string // claim token -> writes
	committed []string
}

func newTxStore(doneErr error) *txStore {
	return &txStore{DedupeStore: pcwebhook.NewMemoryDedupeStore(0, 0), doneErr: doneErr, pending: map[string][]string{}}
}

func (s *txStore) WithClaim(ctx context.Context, c pcwebhook.Claim) context.Context {
	return context.WithValue(ctx, txKey{}, c.Token)
}

// write records w in the transaction of ctx's claim.
func (s *txStore) write(ctx context.Context, w string) error {
	token, ok := ctx.Value(txKey{}).(string)
	if !ok {
		return errors.New("no transaction in the callback's context")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[token] = append(s.pending[token], w)
	return nil
}

func (s *txStore) Done(ctx context.Context, c pcwebhook.Claim) error {
	s.mu.Lock()
	writes := s.pending[c.Token]
	delete(s.pending, c.Token)
	if s.doneErr == nil {
		s.committed = append(s.committed, writes...)
	}
	s.mu.Unlock()
	if s.doneErr != nil {
		_ = s.DedupeStore.Release(ctx, c) // rolled back: the key is free again
		return s.doneErr
	}
	return s.DedupeStore.Done(ctx, c)
}

func (s *txStore) Release(ctx context.Context, c pcwebhook.Claim) error {
	s.mu.Lock()
	delete(s.pending, c.Token)
	s.mu.Unlock()
	return s.DedupeStore.Release(ctx, c)
}

func (s *txStore) writes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.committed...)
}

// TestHandlerRunsCallbacksInTheClaimsContext: OnAny and the typed callback both get the context
// of a ClaimContexter store, and their writes commit with Done.
func TestHandlerRunsCallbacksInTheClaimsContext(t *testing.T) {
	store := newTxStore(nil)
	f := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
	f.h.OnAny(func(ctx context.Context, e *pcwebhook.Event) error { return store.write(ctx, "any") })
	f.h.OnTestCreated(func(ctx context.Context, e *pcwebhook.TestEvent) error { return store.write(ctx, "typed") })
	body := uniqueBody(pcwebhook.EventTestCreated)
	require.Equal(t, http.StatusOK, f.post(body).Code)
	assert.Equal(t, []string{"any", "typed"}, store.writes())

	w := f.post(body)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "already handled\n", w.Body.String())
	assert.Equal(t, []string{"any", "typed"}, store.writes(), "the duplicate wrote nothing")
}

// TestHandlerNotCommittedIs503: when Done says the effects were rolled back, the answer is 503
// with Retry-After (not 200: the effects no longer exist), the line is at ERROR, and the retry
// runs the callbacks again.
func TestHandlerNotCommittedIs503(t *testing.T) {
	store := newTxStore(errCommitFailed)
	f := newObservedFixture(t, pcwebhook.WithDedupeStore(store))
	runs := 0
	f.h.OnTestCreated(func(ctx context.Context, e *pcwebhook.TestEvent) error { runs++; return store.write(ctx, "typed") })
	body := uniqueBody(pcwebhook.EventTestCreated)
	w := f.post(body)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	res := f.last(t)
	assert.Equal(t, pcwebhook.OutcomeNotCommitted, res.Outcome)
	assert.ErrorIs(t, res.Err, pcwebhook.ErrNotCommitted)
	assert.Empty(t, store.writes())
	lines := f.logs.requestLines(t)
	require.Len(t, lines, 1)
	assert.Equal(t, "ERROR", lines[0]["level"])

	store.doneErr = nil
	assert.Equal(t, http.StatusOK, f.post(body).Code)
	assert.Equal(t, 2, runs, "the retry ran the callback again")
	assert.Equal(t, []string{"typed"}, store.writes(), "and its writes committed once")
}

// TestHandlerNotCommittedBeatsClaimLost: an error wrapping both is answered as not committed.
func TestHandlerNotCommittedBeatsClaimLost(t *testing.T) {
	both := fmt.Errorf("lease ran out: %w; %w", pcwebhook.ErrClaimLost, pcwebhook.ErrNotCommitted)
	f := newObservedFixture(t, pcwebhook.WithDedupeStore(newTxStore(both)))
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return nil })
	assert.Equal(t, http.StatusServiceUnavailable, f.post(uniqueBody(pcwebhook.EventTestCreated)).Code)
	assert.Equal(t, pcwebhook.OutcomeNotCommitted, f.last(t).Outcome)
	assert.Equal(t, http.StatusServiceUnavailable, pcwebhook.HTTPStatus(both))
}

// TestHandlerAlreadyHandledAtDoneIsADuplicate: a transactional store whose Done finds that another
// delivery committed first rolled this one back: nothing was doubled, so it is a duplicate, 200.
func TestHandlerAlreadyHandledAtDoneIsADuplicate(t *testing.T) {
	f := newObservedFixture(t, pcwebhook.WithDedupeStore(newTxStore(fmt.Errorf("unique violation: %w", pcwebhook.ErrAlreadyHandled))))
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return nil })
	w := f.post(uniqueBody(pcwebhook.EventTestCreated))
	assert.Equal(t, http.StatusOK, w.Code)
	res := f.last(t)
	assert.Equal(t, pcwebhook.OutcomeDuplicate, res.Outcome)
	assert.NoError(t, res.Err)
	assert.NotContains(t, f.logs.String(), `"level":"WARN"`, "nothing to warn about")
	assert.NotContains(t, f.logs.String(), `"level":"ERROR"`)
}
