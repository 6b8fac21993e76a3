package certcache

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLRUWindow(t *testing.T) {
	c := NewLRU[int](4)
	c.Add("k", 7, t0, t0.Add(time.Hour))

	for _, tc := range []struct {
		name string
		at   time.Time
		hit  bool
	}{
		{"at notBefore", t0, true},
		{"inside", t0.Add(59 * time.Minute), true},
		{"before notBefore", t0.Add(-time.Nanosecond), false},
		{"at expiry", t0.Add(time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Add("k", 7, t0, t0.Add(time.Hour))
			v, ok := c.Get("k", tc.at)
			assert.Equal(t, tc.hit, ok)
			if tc.hit {
				assert.Equal(t, 7, v)
			} else {
				assert.Equal(t, 0, v)
			}
		})
	}
}

func TestLRUExpiredEntryIsRemoved(t *testing.T) {
	c := NewLRU[int](4)
	c.Add("k", 7, t0, t0.Add(time.Hour))
	_, ok := c.Get("k", t0.Add(time.Hour))
	assert.False(t, ok)
	assert.Equal(t, 0, c.Len())
	_, ok = c.Get("k", t0) // gone for good, even for an earlier clock
	assert.False(t, ok)
}

// A caller whose clock reading is older than the entry (it read the time, then another goroutine
// stored the entry) gets a miss but must not evict the entry for everyone else.
func TestLRUStaleClockDoesNotEvict(t *testing.T) {
	c := NewLRU[int](4)
	c.Add("k", 7, t0, t0.Add(time.Hour))
	_, ok := c.Get("k", t0.Add(-time.Second))
	assert.False(t, ok)
	assert.Equal(t, 1, c.Len())
	v, ok := c.Get("k", t0)
	assert.True(t, ok)
	assert.Equal(t, 7, v)
}

func TestLRUEmptyWindowNotStored(t *testing.T) {
	c := NewLRU[string](4)
	c.Add("k", "old", t0, t0.Add(time.Hour))
	c.Add("k", "new", t0, t0) // empty window: removes the old value, stores nothing
	_, ok := c.Get("k", t0)
	assert.False(t, ok)
	assert.Equal(t, 0, c.Len())
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewLRU[int](2)
	exp := t0.Add(time.Hour)
	c.Add("a", 1, t0, exp)
	c.Add("b", 2, t0, exp)
	_, ok := c.Get("a", t0) // a is now more recent than b
	require.True(t, ok)
	c.Add("c", 3, t0, exp)

	assert.Equal(t, 2, c.Len())
	_, okA := c.Get("a", t0)
	_, okB := c.Get("b", t0)
	_, okC := c.Get("c", t0)
	assert.True(t, okA)
	assert.False(t, okB, "b was the least recently used and must be evicted")
	assert.True(t, okC)
}

func TestLRUReplace(t *testing.T) {
	c := NewLRU[int](2)
	c.Add("a", 1, t0, t0.Add(time.Hour))
	c.Add("a", 2, t0, t0.Add(time.Hour))
	v, ok := c.Get("a", t0)
	assert.True(t, ok)
	assert.Equal(t, 2, v)
	assert.Equal(t, 1, c.Len())
}

func TestLRUMinimumSize(t *testing.T) {
	c := NewLRU[int](0)
	c.Add("a", 1, t0, t0.Add(time.Hour))
	c.Add("b", 2, t0, t0.Add(time.Hour))
	assert.Equal(t, 1, c.Len())
}

func TestLRUConcurrent(t *testing.T) {
	c := NewLRU[int](16)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				k := strconv.Itoa((i + j) % 40)
				c.Add(k, j, t0, t0.Add(time.Hour))
				c.Get(k, t0)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 16)
}
