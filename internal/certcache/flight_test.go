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

func TestGroupSharesOneCall(t *testing.T) {
	var g Group[int]
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		runs.Add(1)
		<-release
		return 42, nil
	}

	const n = 200
	var started atomic.Int32
	var wg sync.WaitGroup
	results := make([]int, n)
	ready := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, s := g.Do("k", fn)
			if s {
				started.Add(1)
			}
			ready <- struct{}{}
			v, err := c.Wait(context.Background())
			assert.NoError(t, err)
			results[i] = v
		}()
	}
	for i := 0; i < n; i++ {
		<-ready
	}
	close(release)
	wg.Wait()

	assert.Equal(t, int32(1), runs.Load())
	assert.Equal(t, int32(1), started.Load())
	for _, v := range results {
		assert.Equal(t, 42, v)
	}
	assert.Equal(t, 0, g.Running())
}

func TestGroupKeysAreIndependentAndForgotten(t *testing.T) {
	var g Group[string]
	a, _ := g.Do("a", func(context.Context) (string, error) { return "A", nil })
	b, _ := g.Do("b", func(context.Context) (string, error) { return "", errors.New("boom") })
	va, erra := a.Wait(context.Background())
	_, errb := b.Wait(context.Background())
	assert.Equal(t, "A", va)
	assert.NoError(t, erra)
	assert.EqualError(t, errb, "boom")

	// After the call finished the key is forgotten: a new Do runs fn again.
	c, started := g.Do("a", func(context.Context) (string, error) { return "A2", nil })
	assert.True(t, started)
	v, _ := c.Wait(context.Background())
	assert.Equal(t, "A2", v)
}

func TestGroupWaitHonoursContextAndCallContinues(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	c, _ := g.Do("k", func(context.Context) (int, error) { <-release; return 1, nil })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Wait(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	// A second caller joins the same, still running, call and gets its result.
	c2, started := g.Do("k", func(context.Context) (int, error) { return 2, nil })
	assert.False(t, started)
	close(release)
	v, err := c2.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	<-c.Done()
}

func TestGroupRecoversPanic(t *testing.T) {
	var g Group[int]
	c, _ := g.Do("k", func(context.Context) (int, error) { panic("bad") })
	_, err := c.Wait(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "panicked")
	assert.Equal(t, 0, g.Running())
}
