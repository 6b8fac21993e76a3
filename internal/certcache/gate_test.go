package certcache

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGateBoundsQueueAndServesPriorityFirst(t *testing.T) {
	g := NewGate(1, 2)
	ctx := context.Background()
	hold, err := g.Acquire(ctx, false)
	require.NoError(t, err)

	order := make(chan string, 4)
	wait := func(name string, priority bool) {
		go func() {
			release, err := g.Acquire(ctx, priority)
			if err != nil {
				order <- name + ": " + err.Error()
				return
			}
			order <- name
			release()
		}()
	}
	wait("ordinary 1", false)
	waitFor(t, func() bool { _, o := g.Waiting(); return o == 1 })
	wait("ordinary 2", false)
	waitFor(t, func() bool { _, o := g.Waiting(); return o == 2 })

	// The ordinary queue is full: answered at once.
	start := time.Now()
	_, err = g.Acquire(ctx, false)
	assert.ErrorIs(t, err, ErrQueueFull)
	assert.Less(t, time.Since(start), time.Second)

	// A priority caller still queues, and is served before the ordinary ones that came first.
	wait("priority", true)
	waitFor(t, func() bool { p, _ := g.Waiting(); return p == 1 })
	hold()
	assert.Equal(t, "priority", <-order)
	assert.Equal(t, "ordinary 1", <-order)
	assert.Equal(t, "ordinary 2", <-order)
	p, o := g.Waiting()
	assert.Zero(t, p+o)
}

func TestGateCancelledWaiterLeavesTheQueue(t *testing.T) {
	g := NewGate(1, 1)
	hold, err := g.Acquire(context.Background(), false)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := g.Acquire(ctx, false); done <- err }()
	waitFor(t, func() bool { _, o := g.Waiting(); return o == 1 })
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	_, o := g.Waiting()
	assert.Zero(t, o, "the cancelled caller's place is free again")
	hold()
	hold() // release acts once: still one slot only
	r1, err := g.Acquire(context.Background(), false)
	require.NoError(t, err)
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	_, err = g.Acquire(short, false)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a second release must not have made a second slot")
	r1()
}
