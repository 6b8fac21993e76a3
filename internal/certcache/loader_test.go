package certcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

func newLoaderForTest(o LoaderOptions) (*Loader[int], *fakeClock) {
	c := &fakeClock{}
	c.ns.Store(t0.UnixNano())
	o.Now = c.now
	if o.Size == 0 {
		o.Size = 8
	}
	return NewLoader[int](o), c
}

func TestLoaderCachesValuesAndFailures(t *testing.T) {
	l, clock := newLoaderForTest(LoaderOptions{FailureTTL: 10 * time.Second, RefreshInterval: time.Minute})
	var loads atomic.Int32
	ok := func(context.Context, string) (int, time.Time, time.Time, error) {
		loads.Add(1)
		return 7, t0, t0.Add(time.Hour), nil
	}
	v, src, err := l.Load(context.Background(), "a", ok)
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	assert.Equal(t, Loaded, src)
	v, src, err = l.Load(context.Background(), "a", ok)
	require.NoError(t, err)
	assert.Equal(t, Cached, src, "the second lookup is the cache's, without a load")
	assert.Equal(t, 7, v)
	v, hit := l.Get("a", clock.now())
	assert.True(t, hit)
	assert.Equal(t, 7, v)
	assert.True(t, l.Known("a"))
	assert.False(t, l.Known("b"))

	boom := errors.New("boom")
	bad := func(context.Context, string) (int, time.Time, time.Time, error) {
		loads.Add(1)
		return 0, time.Time{}, time.Time{}, boom
	}
	_, src, err = l.Load(context.Background(), "b", bad)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, Loaded, src)
	_, src, err = l.Load(context.Background(), "b", bad)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, CachedFailure, src)
	assert.Equal(t, int32(2), loads.Load(), "the failure is remembered")
	clock.add(11 * time.Second)
	_, src, err = l.Load(context.Background(), "b", bad)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, Loaded, src)
	assert.Equal(t, int32(3), loads.Load(), "and forgotten after the TTL")
	assert.False(t, l.Known("b"))
}

func TestLoaderUncacheableFailureAndDeferred(t *testing.T) {
	busy := errors.New("busy")
	l, clock := newLoaderForTest(LoaderOptions{FailureTTL: time.Hour, Cacheable: func(err error) bool { return !errors.Is(err, busy) }, Deferred: true})
	var loads atomic.Int32
	fail := func(context.Context, string) (int, time.Time, time.Time, error) {
		loads.Add(1)
		return 0, time.Time{}, time.Time{}, busy
	}
	_, _, _ = l.Load(context.Background(), "k", fail)
	_, _, _ = l.Load(context.Background(), "k", fail)
	assert.Equal(t, int32(2), loads.Load(), "a condition of the load is not remembered")

	good := func(context.Context, string) (int, time.Time, time.Time, error) { return 1, t0, t0.Add(time.Hour), nil }
	v, _, err := l.Load(context.Background(), "d", good)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	_, hit := l.Get("d", clock.now())
	assert.False(t, hit, "a deferred loader stores nothing by itself")
	l.Add("d", 1, t0, t0.Add(time.Hour))
	_, hit = l.Get("d", clock.now())
	assert.True(t, hit)
	l.Fail("e", busy, clock.now())
	err, hit = l.Failure("e", clock.now())
	assert.True(t, hit)
	assert.ErrorIs(t, err, busy)
}

// TestLoaderReloadAtMostOncePerInterval: however many callers ask for a reload, the key is
// reloaded once per interval; a reload running is joined; a failed reload keeps the value. An
// ordinary load does not start the interval.
func TestLoaderReloadAtMostOncePerInterval(t *testing.T) {
	l, clock := newLoaderForTest(LoaderOptions{FailureTTL: time.Second, RefreshInterval: time.Minute})
	var loads atomic.Int32
	var fail atomic.Bool
	release := make(chan struct{})
	load := func(context.Context, string) (int, time.Time, time.Time, error) {
		n := loads.Add(1)
		<-release
		if fail.Load() {
			return 0, time.Time{}, time.Time{}, errors.New("down")
		}
		return int(n), t0, t0.Add(24 * time.Hour), nil
	}
	close(release)
	v, _, err := l.Load(context.Background(), "k", load)
	require.NoError(t, err)
	require.Equal(t, 1, v)

	// The ordinary load started no interval: the first reload loads.
	v, reloaded, err := l.Reload(context.Background(), "k", load)
	require.NoError(t, err)
	assert.True(t, reloaded)
	assert.Equal(t, 2, v)
	// Within the interval of that reload: no reload, the cached value is returned.
	v, reloaded, err = l.Reload(context.Background(), "k", load)
	require.NoError(t, err)
	assert.False(t, reloaded)
	assert.Equal(t, 2, v)

	clock.add(2 * time.Minute)
	var wg sync.WaitGroup
	var reloads atomic.Int32
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, r, err := l.Reload(context.Background(), "k", load)
			assert.NoError(t, err)
			if r {
				reloads.Add(1)
			}
			assert.Equal(t, 3, v, "a caller that did not reload sees the reloaded value")
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(3), loads.Load(), "one reload for 100 callers")
	assert.GreaterOrEqual(t, reloads.Load(), int32(1))

	// A failed reload leaves the value, and is not remembered as a failure.
	clock.add(2 * time.Minute)
	fail.Store(true)
	_, reloaded, err = l.Reload(context.Background(), "k", load)
	assert.True(t, reloaded)
	assert.Error(t, err)
	v, hit := l.Get("k", clock.now())
	assert.True(t, hit)
	assert.Equal(t, 3, v)
	_, hit = l.Failure("k", clock.now())
	assert.False(t, hit)
}

// TestLoaderReloadRunsDetached: a reload goes on when its only caller stops waiting; a caller
// whose context has already ended starts none; a failure of the moment (Cacheable says no) gives
// the interval back, one about the key is remembered for the interval.
func TestLoaderReloadRunsDetached(t *testing.T) {
	moment := errors.New("queue full")
	l, clock := newLoaderForTest(LoaderOptions{RefreshInterval: time.Minute, Cacheable: func(err error) bool { return !errors.Is(err, moment) }})
	var loads atomic.Int32
	next := make(chan error, 1)
	started := make(chan struct{}, 1)
	load := func(ctx context.Context, _ string) (int, time.Time, time.Time, error) {
		n := loads.Add(1)
		started <- struct{}{}
		err := <-next
		if ctx.Err() != nil {
			return 0, time.Time{}, time.Time{}, ctx.Err()
		}
		return int(n), t0, t0.Add(24 * time.Hour), err
	}

	dead, cancel := context.WithCancel(context.Background())
	cancel()
	_, reloaded, err := l.Reload(dead, "k", load)
	assert.False(t, reloaded)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, loads.Load(), "a caller already gone starts nothing")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, _, err := l.Reload(ctx, "k", load); done <- err }()
	<-started
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	next <- nil // the load ends after its caller left, with a context that was not cancelled
	require.Eventually(t, func() bool { _, ok := l.Get("k", clock.now()); return ok }, 5*time.Second, time.Millisecond)

	clock.add(2 * time.Minute)
	next <- moment
	_, reloaded, err = l.Reload(context.Background(), "k", load)
	<-started
	assert.True(t, reloaded)
	assert.ErrorIs(t, err, moment)
	next <- nil
	_, reloaded, err = l.Reload(context.Background(), "k", load)
	<-started
	assert.True(t, reloaded, "a failure of the moment gave the interval back")
	assert.NoError(t, err)

	clock.add(2 * time.Minute)
	down := errors.New("HTTP 500")
	next <- down
	_, _, err = l.Reload(context.Background(), "k", load)
	<-started
	assert.ErrorIs(t, err, down)
	_, reloaded, err = l.Reload(context.Background(), "k", load)
	assert.False(t, reloaded, "a failure about the key holds the interval")
	assert.ErrorIs(t, err, down)
	assert.Equal(t, int32(4), loads.Load())
}

// TestGroupTellsTheFunctionWhenNobodyWaits: the function's context ends when the last caller
// stops waiting, not before; a caller that joins a call abandoned meanwhile loads again.
func TestGroupTellsTheFunctionWhenNobodyWaits(t *testing.T) {
	var g Group[int]
	fnCtx := make(chan context.Context, 1)
	c, _ := g.Do("k", func(ctx context.Context) (int, error) {
		fnCtx <- ctx
		<-ctx.Done()
		return 0, ctx.Err()
	})
	c2, started := g.Do("k", nil)
	require.False(t, started)
	ctx := <-fnCtx

	short, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Wait(short)
	assert.ErrorIs(t, err, context.Canceled)
	select {
	case <-ctx.Done():
		t.Fatal("cancelled while a caller still waits")
	case <-time.After(20 * time.Millisecond):
	}
	_, err = c2.Wait(short)
	assert.ErrorIs(t, err, context.Canceled)
	<-ctx.Done()
	<-c.Done()
	assert.True(t, c.Abandoned())
	assert.Equal(t, 0, g.Running())
}

func TestLoaderRetriesAnAbandonedLoad(t *testing.T) {
	l, _ := newLoaderForTest(LoaderOptions{FailureTTL: time.Hour, RefreshInterval: time.Minute})
	var loads atomic.Int32
	load := func(ctx context.Context, _ string) (int, time.Time, time.Time, error) {
		if loads.Add(1) == 1 {
			<-ctx.Done() // abandoned while "queued"
			return 0, time.Time{}, time.Time{}, ctx.Err()
		}
		return 5, t0, t0.Add(time.Hour), nil
	}
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, _, err := l.Load(short, "k", load)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	waitFor(t, func() bool { return l.flights.Running() == 0 })
	v, _, err := l.Load(context.Background(), "k", load)
	require.NoError(t, err, "an abandoned load is not remembered as a failure")
	assert.Equal(t, 5, v)
}
