package pcwebhook_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

func TestHandlerDeduplicates(t *testing.T) {
	t.Run("a handled delivery is acknowledged without running callbacks", func(t *testing.T) {
		f := newHandlerFixture(t)
		var n, any atomic.Int32
		f.h.OnAny(func(context.Context, *pcwebhook.Event) error { any.Add(1); return nil })
		f.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { n.Add(1); return nil })
		body := uniqueBody(pcwebhook.EventSubscriptionUpdated)
		for i := 0; i < 3; i++ {
			assert.Equal(t, 200, f.post(body).Code)
		}
		assert.Equal(t, int32(1), n.Load())
		assert.Equal(t, int32(1), any.Load())
		lines := f.logs.requestLines(t)
		require.Len(t, lines, 3)
		assert.Equal(t, "handled", lines[0]["outcome"])
		assert.Equal(t, "duplicate-acknowledged", lines[1]["outcome"])
		assert.Equal(t, "duplicate-acknowledged", lines[2]["outcome"])
	})
	t.Run("a failed delivery is released so the retry runs", func(t *testing.T) {
		f := newHandlerFixture(t)
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
			if n.Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		body := uniqueBody(pcwebhook.EventTestCreated)
		assert.Equal(t, 500, f.post(body).Code)
		assert.Equal(t, 500, f.post(body).Code)
		assert.Equal(t, 200, f.post(body).Code)
		assert.Equal(t, 200, f.post(body).Code)
		assert.Equal(t, int32(3), n.Load())
	})
	t.Run("a duplicate of an in-progress delivery gets 503, never 2xx", func(t *testing.T) {
		f := newHandlerFixture(t)
		entered, release := make(chan struct{}), make(chan struct{})
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
			n.Add(1)
			close(entered)
			<-release
			return errors.New("first attempt fails after all")
		})
		body := uniqueBody(pcwebhook.EventTestCreated)
		first := make(chan int)
		go func() { first <- f.post(body).Code }()
		<-entered
		w := f.post(body)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.NotEmpty(t, w.Header().Get("Retry-After"))
		close(release)
		assert.Equal(t, 500, <-first)
		assert.Equal(t, int32(1), n.Load())
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { n.Add(1); return nil })
		assert.Equal(t, 200, f.post(body).Code, "after the failure the retry runs")
		assert.Equal(t, int32(2), n.Load())
	})
	t.Run("an unverified request never marks a body as seen", func(t *testing.T) {
		f := newHandlerFixture(t)
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { n.Add(1); return nil })
		body := uniqueBody(pcwebhook.EventTestCreated)
		forged := f.s.Sign(body)
		forged.Set("Authorization", "Signature "+strings.Repeat("QUJD", 86)+"QQ==")
		assert.Equal(t, 401, f.do(body, forged).Code)
		assert.Equal(t, 401, f.do(body, http.Header{}).Code)
		assert.Equal(t, 200, f.post(body).Code)
		assert.Equal(t, int32(1), n.Load(), "the genuine delivery ran its callback")
	})
	t.Run("WithoutDeduplication runs every delivery", func(t *testing.T) {
		f := newHandlerFixture(t, pcwebhook.WithoutDeduplication())
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { n.Add(1); return nil })
		body := uniqueBody(pcwebhook.EventTestCreated)
		f.post(body)
		f.post(body)
		assert.Equal(t, int32(2), n.Load())
	})
	for name, store := range map[string]pcwebhook.DedupeStore{
		"a failing store":                    failingStore{},
		"a store answering an unknown state": oddStateStore{},
	} {
		t.Run(name+" is 503 and runs no callback", func(t *testing.T) {
			f := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
			ran := false
			f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran = true; return nil })
			w := f.post(uniqueBody(pcwebhook.EventTestCreated))
			assert.Equal(t, 503, w.Code)
			assert.NotEmpty(t, w.Header().Get("Retry-After"))
			assert.False(t, ran)
		})
	}
}

// oddStateStore answers Begin with a state that is none of the three.
type oddStateStore struct{ failingStore }

func (oddStateStore) Begin(_ context.Context, key string) (pcwebhook.Claim, error) {
	return pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryState(7)}, nil
}

type failingStore struct{}

func (failingStore) Begin(context.Context, string) (pcwebhook.Claim, error) {
	return pcwebhook.Claim{}, errors.New("redis: connection refused")
}
func (failingStore) Done(context.Context, pcwebhook.Claim) error    { return nil }
func (failingStore) Release(context.Context, pcwebhook.Claim) error { return nil }

// TestHandlerProcessDiesMidCallback: Partner Center got no 2xx, so it retries. A restarted
// process (a new Handler with its own in-memory store) handles the retry; a replica sharing the
// store answers 503 while the dead one's in-progress mark lasts (DefaultDedupeLease), so the
// event is neither lost nor handled twice at once.
func TestHandlerProcessDiesMidCallback(t *testing.T) {
	s := testSender(t)
	store := pcwebhook.NewMemoryDedupeStore(0, 0)
	dead := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
	entered := make(chan struct{})
	dead.h.OnTestCreated(func(ctx context.Context, _ *pcwebhook.TestEvent) error {
		close(entered)
		<-ctx.Done() // the process "dies" here: the callback never returns on its own
		return ctx.Err()
	})
	body := uniqueBody(pcwebhook.EventTestCreated)
	ctx, kill := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)).WithContext(ctx)
	for k, v := range s.Sign(body) {
		r.Header[k] = v
	}
	done := make(chan struct{})
	go func() { dead.h.ServeHTTP(httptest.NewRecorder(), r); close(done) }()
	<-entered

	replica := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
	var ran atomic.Int32
	replica.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
	assert.Equal(t, http.StatusServiceUnavailable, replica.post(body).Code, "a replica sharing the store does not run it concurrently")

	restarted := newHandlerFixture(t)
	restarted.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
	assert.Equal(t, http.StatusOK, restarted.post(body).Code, "after a restart the retry is handled")
	assert.Equal(t, int32(1), ran.Load())

	kill()
	<-done
	assert.Equal(t, http.StatusOK, replica.post(body).Code, "once the failed attempt released it, the shared store lets the retry run")
	assert.Equal(t, int32(2), ran.Load())
}

// TestHandlerHungCallbackPastLease: a callback that outlives the dedupe lease loses its claim;
// another replica takes the retry over, and the late owner's Done or Release changes nothing
// (the event stays handled once by the new owner) and is logged at WARN.
func TestHandlerHungCallbackPastLease(t *testing.T) {
	for _, late := range []struct {
		name string
		err  error
	}{{"late success", nil}, {"late failure", errors.New("gave up")}} {
		t.Run(late.name, func(t *testing.T) {
			store := pcwebhook.NewMemoryDedupeStoreWithOptions(pcwebhook.MemoryDedupeOptions{Lease: 50 * time.Millisecond})
			hung := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
			entered, release := make(chan struct{}), make(chan struct{})
			hung.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
				close(entered)
				<-release
				return late.err
			})
			body := uniqueBody(pcwebhook.EventTestCreated)
			done := make(chan int)
			go func() { done <- hung.post(body).Code }()
			<-entered
			time.Sleep(80 * time.Millisecond) // past the lease

			replica := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
			var ran atomic.Int32
			replica.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
			replica2 := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
			replica2.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
			require.Equal(t, http.StatusOK, replica.post(body).Code, "the retry is taken over once the lease ran out")
			assert.Equal(t, http.StatusOK, replica2.post(body).Code, "and is then a duplicate on any replica")

			close(release)
			<-done
			assert.Contains(t, hung.logs.String(), "dedupe claim lost", "the late owner says so at WARN")
			assert.Contains(t, hung.logs.String(), `"level":"WARN"`)
			assert.Equal(t, http.StatusOK, replica2.post(body).Code, "the late owner could not undo the takeover")
			assert.Equal(t, int32(1), ran.Load())
		})
	}
}

// repeatingStore sends every Done and Release twice and answers the second result, as a store
// client does when it retries a command whose reply was lost (the first run did its work).
type repeatingStore struct {
	pcwebhook.DedupeStore
	firstFailed atomic.Int32 // first runs that did not succeed: the test would prove nothing
	repeats     atomic.Int32
}

func (s *repeatingStore) Done(ctx context.Context, c pcwebhook.Claim) error {
	return s.repeat(s.DedupeStore.Done(ctx, c), func() error { return s.DedupeStore.Done(ctx, c) })
}

func (s *repeatingStore) Release(ctx context.Context, c pcwebhook.Claim) error {
	return s.repeat(s.DedupeStore.Release(ctx, c), func() error { return s.DedupeStore.Release(ctx, c) })
}

func (s *repeatingStore) repeat(first error, again func() error) error {
	if first != nil {
		s.firstFailed.Add(1)
	}
	s.repeats.Add(1)
	return again()
}

// TestHandlerRepeatedDoneOrReleaseIsNoLostClaim: a Done or Release that the store's client sent
// twice (the first reply was lost) ends the claim quietly: no WARN "dedupe claim lost", and the
// outcome stands (the success is a duplicate afterwards, the failure is retried).
func TestHandlerRepeatedDoneOrReleaseIsNoLostClaim(t *testing.T) {
	store := &repeatingStore{DedupeStore: pcwebhook.NewMemoryDedupeStore(0, 0)}
	f := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
	var runs atomic.Int32
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
		if runs.Add(1) == 2 {
			return errors.New("the second delivery fails once")
		}
		return nil
	})
	handled, failing := uniqueBody(pcwebhook.EventTestCreated), uniqueBody(pcwebhook.EventTestCreated)
	require.Equal(t, http.StatusOK, f.post(handled).Code)
	require.Equal(t, http.StatusInternalServerError, f.post(failing).Code)
	assert.Equal(t, int32(2), store.repeats.Load(), "one Done and one Release, each sent twice")
	assert.Zero(t, store.firstFailed.Load(), "the first Done and Release did their work")

	assert.NotContains(t, f.logs.String(), "dedupe claim lost")
	assert.NotContains(t, f.logs.String(), `"level":"WARN"`)
	assert.Equal(t, http.StatusOK, f.post(handled).Code, "the handled delivery is a duplicate")
	assert.Equal(t, http.StatusOK, f.post(failing).Code, "the released delivery is retried")
	assert.Equal(t, int32(3), runs.Load())
	lines := f.logs.requestLines(t)
	require.Len(t, lines, 4)
	assert.Equal(t, "duplicate-acknowledged", lines[2]["outcome"])
	assert.Equal(t, "handled", lines[3]["outcome"])
}
