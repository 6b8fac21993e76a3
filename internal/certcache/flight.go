package certcache

import (
	"context"
	"fmt"
	"sync"
)

// Group runs at most one function per key at a time: callers that ask for a key while a call for
// it is running share that call's result instead of starting their own. The function runs in its
// own goroutine, so a caller that stops waiting (its context ended) does not cancel it for the
// other callers. When every caller has stopped waiting, the function's context is cancelled: it
// may then give up work it has not started (a place in a download queue) but should finish work
// in progress, whose result the next caller will want. The zero value is ready to use; a Group
// must not be copied.
//
// golang.org/x/sync/singleflight is not used: it cannot tell the function that nobody waits any
// more, which is what bounds the work left behind by abandoned callers.
type Group[V any] struct {
	mu    sync.Mutex
	calls map[string]*Call[V]
}

// Call is one running or finished function call of a [Group].
type Call[V any] struct {
	g         *Group[V]
	done      chan struct{}
	val       V
	err       error
	waiters   int // guarded by g.mu
	cancel    context.CancelFunc
	abandoned bool // set before done is closed
}

// Do returns the call running for key, starting fn in a new goroutine if none is running.
// started reports whether this invocation started it (false: it joined a running call). Every Do
// must be followed by one [Call.Wait]: the caller counts as waiting until then. The key is
// forgotten as soon as fn returns, so a later Do starts a new call: callers that want the result
// to outlive the call must store it (in an [LRU], for instance) before fn returns. A panic in fn
// is recovered and returned as the call's error.
func (g *Group[V]) Do(key string, fn func(ctx context.Context) (V, error)) (c *Call[V], started bool) {
	g.mu.Lock()
	if c, ok := g.calls[key]; ok {
		c.waiters++
		g.mu.Unlock()
		return c, false
	}
	if g.calls == nil {
		g.calls = make(map[string]*Call[V])
	}
	ctx, cancel := context.WithCancel(context.Background())
	c = &Call[V]{g: g, done: make(chan struct{}), waiters: 1, cancel: cancel}
	g.calls[key] = c
	g.mu.Unlock()

	go g.run(ctx, key, c, fn)
	return c, true
}

// Join returns the call running for key, if there is one, counting the caller as waiting on it
// (follow it with [Call.Wait]).
func (g *Group[V]) Join(key string) (*Call[V], bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.calls[key]
	if ok {
		c.waiters++
	}
	return c, ok
}

func (g *Group[V]) run(ctx context.Context, key string, c *Call[V], fn func(context.Context) (V, error)) {
	defer func() {
		if r := recover(); r != nil {
			c.err = fmt.Errorf("certcache: call for %q panicked: %v", key, r)
		}
		c.abandoned = c.err != nil && ctx.Err() != nil
		c.cancel()
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn(ctx)
}

// Wait blocks until the call has finished or ctx is done, whichever comes first. When ctx ends
// first it returns ctx.Err(); the call keeps running for everyone else, and when this was the last
// waiting caller, the call's context is cancelled.
func (c *Call[V]) Wait(ctx context.Context) (V, error) {
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
	}
	c.g.mu.Lock()
	c.waiters--
	if c.waiters == 0 {
		c.cancel()
	}
	c.g.mu.Unlock()
	var zero V
	return zero, ctx.Err()
}

// Abandoned reports, once the call has finished, whether it failed after every caller had stopped
// waiting: its error is then about nobody waiting, not about the key, and a caller that joined
// late should try again.
func (c *Call[V]) Abandoned() bool {
	select {
	case <-c.done:
		return c.abandoned
	default:
		return false
	}
}

// Done is closed when the call has finished.
func (c *Call[V]) Done() <-chan struct{} { return c.done }

// Running returns the number of calls in progress.
func (g *Group[V]) Running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}
