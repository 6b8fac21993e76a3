package dedupe

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLifecycle(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)

	assert.Equal(t, New, m.Begin("a"))
	assert.Equal(t, InProgress, m.Begin("a"), "a second delivery while the first runs")
	m.Release("a")
	assert.Equal(t, New, m.Begin("a"), "after a failure the retry runs again")
	m.Complete("a")
	assert.Equal(t, Done, m.Begin("a"))
	m.Release("a")
	assert.Equal(t, Done, m.Begin("a"), "Release never forgets a handled key")

	c.advance(time.Hour - time.Nanosecond)
	assert.Equal(t, Done, m.Begin("a"), "kept for the whole retention")
	c.advance(time.Nanosecond)
	assert.Equal(t, New, m.Begin("a"), "forgotten after the retention")
}

func TestLeaseExpires(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)
	assert.Equal(t, New, m.Begin("k"))
	c.advance(59 * time.Second)
	assert.Equal(t, InProgress, m.Begin("k"))
	c.advance(time.Second)
	assert.Equal(t, New, m.Begin("k"), "a lost in-progress mark stops blocking retries after the lease")
}

func TestBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 3, c.now)
	for _, k := range []string{"a", "b", "c"} {
		m.Begin(k)
		m.Complete(k)
	}
	m.Begin("d") // evicts the oldest handled key, a
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, New, m.Begin("a"), "a was evicted")
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, InProgress, m.Begin("d"), "in-progress keys are evicted only when no handled key is left")

	for i := 0; i < 1000; i++ {
		m.Begin(fmt.Sprint(i))
	}
	assert.Equal(t, 3, m.Len())
}

func TestCompleteWithoutBegin(t *testing.T) {
	m := NewMemory(time.Hour, time.Minute, 2, nil)
	m.Complete("x")
	assert.Equal(t, Done, m.Begin("x"))
	assert.Equal(t, 1, m.Len())
}

func TestConcurrentBeginHasOneOwner(t *testing.T) {
	m := NewMemory(time.Hour, time.Minute, 1000, nil)
	var owners atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.Begin("same") == New {
				owners.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), owners.Load())
}

func BenchmarkBeginComplete(b *testing.B) {
	m := NewMemory(time.Hour, time.Minute, 100000, nil)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		if m.Begin(k) == New {
			m.Complete(k)
		}
	}
}
