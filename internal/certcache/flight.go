package certcache

import (
	"context"
	"fmt"
	"sync"
)

// Group runs at most one function per key at a time: callers that ask for a key while a call for
// it is running share that call's result instead of starting their own. The function runs in its
// own goroutine, so a caller that stops waiting (its context ended) neither cancels it nor loses
// it for the other callers. The zero value is ready to use; a Group must not be copied.
type Group[V any] struct {
	mu    sync.Mutex
	calls map[string]*Call[V]
}

// Call is one running or finished function call of a [Group].
type Call[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// Do returns the call running for key, starting fn in a new goroutine if none is running.
// started reports whether this invocation started it (false: it joined a running call). The key
// is forgotten as soon as fn returns, so a later Do starts a new call: callers that want the
// result to outlive the call must store it (in an [LRU], for instance) before fn returns.
// A panic in fn is recovered and returned as the call's error.
func (g *Group[V]) Do(key string, fn func() (V, error)) (c *Call[V], started bool) {
	g.mu.Lock()
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		return c, false
	}
	if g.calls == nil {
		g.calls = make(map[string]*Call[V])
	}
	c = &Call[V]{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()

	go g.run(key, c, fn)
	return c, true
}

func (g *Group[V]) run(key string, c *Call[V], fn func() (V, error)) {
	defer func() {
		if r := recover(); r != nil {
			c.err = fmt.Errorf("certcache: call for %q panicked: %v", key, r)
		}
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn()
}

// Wait blocks until the call has finished or ctx is done, whichever comes first. When ctx ends
// first it returns ctx.Err() and the call keeps running for everyone else.
func (c *Call[V]) Wait(ctx context.Context) (V, error) {
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
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
