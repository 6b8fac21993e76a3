package certcache

import (
	"context"
	"errors"
	"sync"
)

// ErrQueueFull is returned by [Gate.Acquire] when every slot is taken and the queue of the
// caller's class is full: the caller should give up at once rather than wait.
var ErrQueueFull = errors.New("certcache: queue full")

// Gate bounds work done at once (slots) and the callers waiting for a slot (a queue per class).
// Waiting callers are served in two classes: priority callers first, then the others, each in
// arrival order; each class queues at most maxWaiting callers, so a flood of ordinary callers
// can neither grow the queue without limit nor delay a priority caller behind it. A Gate is safe
// for concurrent use; use [NewGate].
type Gate struct {
	mu         sync.Mutex
	free       int
	maxWaiting int
	queues     [2][]*gateWaiter // [0]: priority, [1]: ordinary
}

type gateWaiter struct {
	ready   chan struct{}
	granted bool // guarded by Gate.mu
}

// NewGate returns a gate with slots slots and at most maxWaiting waiting callers per class
// (values below 1 are treated as 1 and 0).
func NewGate(slots, maxWaiting int) *Gate {
	if slots < 1 {
		slots = 1
	}
	if maxWaiting < 0 {
		maxWaiting = 0
	}
	return &Gate{free: slots, maxWaiting: maxWaiting}
}

// Acquire takes a slot, waiting until one is free or ctx ends (a ctx already ended takes
// nothing). It returns ErrQueueFull at once
// when the caller would have to wait and its class's queue is full, and ctx.Err() when ctx ended
// first (the caller then holds nothing). On success the caller must call release exactly once.
func (g *Gate) Acquire(ctx context.Context, priority bool) (release func(), err error) {
	class := 1
	if priority {
		class = 0
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		return g.releaser(), nil
	}
	if len(g.queues[class]) >= g.maxWaiting {
		g.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := &gateWaiter{ready: make(chan struct{})}
	g.queues[class] = append(g.queues[class], w)
	g.mu.Unlock()

	select {
	case <-w.ready:
		return g.releaser(), nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	if w.granted { // granted while ctx ended: pass the slot on
		g.mu.Unlock()
		g.release()
		return nil, ctx.Err()
	}
	q := g.queues[class]
	for i, x := range q {
		if x == w {
			g.queues[class] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	g.mu.Unlock()
	return nil, ctx.Err()
}

// releaser returns a release function that acts once.
func (g *Gate) releaser() func() {
	var once sync.Once
	return func() { once.Do(g.release) }
}

// release hands the slot to the first priority waiter, else the first ordinary one, else frees it.
func (g *Gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for class := range g.queues {
		if q := g.queues[class]; len(q) > 0 {
			w := q[0]
			q[0] = nil
			g.queues[class] = q[1:]
			w.granted = true
			close(w.ready)
			return
		}
	}
	g.free++
}

// Waiting returns the number of callers waiting for a slot, priority and ordinary.
func (g *Gate) Waiting() (priority, ordinary int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queues[0]), len(g.queues[1])
}
