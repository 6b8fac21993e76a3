package dedupe

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLifecycle(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)

	st, tok, exp := m.Begin("a")
	assert.Equal(t, New, st)
	assert.NotZero(t, tok)
	assert.Equal(t, c.t.Add(time.Minute), exp, "the lease")
	st, tok2, exp2 := m.Begin("a")
	assert.Equal(t, InProgress, st, "a second delivery while the first runs")
	assert.Zero(t, tok2, "no claim for a key in progress")
	assert.Zero(t, exp2)
	assert.True(t, m.Release("a", tok, exp))
	st, tok, exp = m.Begin("a")
	assert.Equal(t, New, st, "after a failure the retry runs again")
	assert.True(t, m.Done("a", tok))
	assert.Equal(t, Done, state(m, "a"))
	assert.False(t, m.Release("a", tok, exp))
	assert.Equal(t, Done, state(m, "a"), "Release never forgets a handled key")

	c.advance(time.Hour - time.Nanosecond)
	assert.Equal(t, Done, state(m, "a"), "kept for the whole retention")
	c.advance(time.Nanosecond)
	assert.Equal(t, New, state(m, "a"), "forgotten after the retention")
}

// state is Begin's state alone.
func state(m *Memory, key string) State {
	st, _, _ := m.Begin(key)
	return st
}

func TestLateOwnerCannotUndoTakeover(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)
	_, late, lateExp := m.Begin("k")
	c.advance(time.Minute) // the first owner's lease runs out
	st, owner, ownerExp := m.Begin("k")
	require.Equal(t, New, st, "another delivery takes over")
	require.NotEqual(t, late, owner)
	assert.False(t, m.Release("k", late, lateExp), "the late owner's Release changes nothing")
	assert.Equal(t, InProgress, state(m, "k"))
	assert.False(t, m.Done("k", late), "nor does its Done")
	assert.Equal(t, InProgress, state(m, "k"))
	assert.True(t, m.Done("k", owner))
	assert.False(t, m.Release("k", owner, ownerExp), "done is final")
	assert.False(t, m.Done("k", late), "the key is done by another claim")
	assert.Equal(t, Done, state(m, "k"))
}

func TestRepeatedDone(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)
	_, tok, _ := m.Begin("k")
	require.True(t, m.Done("k", tok))
	c.advance(time.Second)
	assert.True(t, m.Done("k", tok), "a repeated Done of the claim that finished the key")
	assert.Equal(t, Done, state(m, "k"))
	assert.False(t, m.Done("k", tok+1), "a token that did not finish the key")
	assert.False(t, m.Done("k", 0), "no claim")
	c.advance(time.Hour - 2*time.Second)
	assert.Equal(t, Done, state(m, "k"), "the repeated Done did not change the retention")
	c.advance(time.Second)
	assert.Equal(t, New, state(m, "k"), "forgotten an hour after the first Done")

	// Done after the lease with nobody taking over records the claim's token too.
	_, tok, _ = m.Begin("late")
	c.advance(2 * time.Minute)
	require.True(t, m.Done("late", tok))
	assert.True(t, m.Done("late", tok), "repeated")
	assert.Equal(t, Done, state(m, "late"))

	// A Done without a claim (token 0) records the key, but no repeat can name it.
	require.True(t, m.Done("free", 0))
	assert.False(t, m.Done("free", 0))
}

func TestRepeatedRelease(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)
	_, tok, exp := m.Begin("k")
	require.True(t, m.Release("k", tok, exp))
	c.advance(59 * time.Second)
	assert.True(t, m.Release("k", tok, exp), "a repeated Release within the lease finds the key free")
	assert.Zero(t, m.Len(), "and changes nothing")
	c.advance(time.Second)
	assert.False(t, m.Release("k", tok, exp), "once the lease ran out a free key says nothing of the claim")

	st, tok, exp := m.Begin("k")
	require.Equal(t, New, st)
	require.True(t, m.Release("k", tok, exp))
	st, owner, _ := m.Begin("k")
	require.Equal(t, New, st, "the retry claims the released key")
	assert.False(t, m.Release("k", tok, exp), "another claim holds the key")
	assert.Equal(t, InProgress, state(m, "k"), "and keeps it")
	require.True(t, m.Done("k", owner))
	assert.False(t, m.Release("k", tok, exp), "a done key is never released")
	assert.Equal(t, Done, state(m, "k"))
}

func TestDoneAfterLeaseWithoutTakeover(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)
	_, tok, _ := m.Begin("k")
	c.advance(2 * time.Minute)
	assert.True(t, m.Done("k", tok), "nobody took over: the success is recorded")
	assert.Equal(t, Done, state(m, "k"))
	_, tok, exp := m.Begin("r")
	c.advance(2 * time.Minute)
	assert.False(t, m.Release("r", tok, exp), "an expired claim has nothing to release")
}

func TestLeaseExpires(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 10, c.now)
	assert.Equal(t, New, state(m, "k"))
	c.advance(59 * time.Second)
	assert.Equal(t, InProgress, state(m, "k"))
	c.advance(time.Second)
	assert.Equal(t, New, state(m, "k"), "a lost in-progress mark stops blocking retries after the lease")
}

func TestBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMemory(time.Hour, time.Minute, 3, c.now)
	for _, k := range []string{"a", "b", "c"} {
		_, tok, _ := m.Begin(k)
		m.Done(k, tok)
	}
	m.Begin("d") // evicts the oldest handled key, a
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, New, state(m, "a"), "a was evicted")
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, InProgress, state(m, "d"))

	// c, the last handled key, makes room for "0"; then only running claims are left, and those
	// are never evicted: Begin answers Full instead of claiming a key a second time.
	assert.Equal(t, New, state(m, "0"))
	for i := 1; i < 1000; i++ {
		assert.Equal(t, Full, state(m, fmt.Sprint(i)))
	}
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, InProgress, state(m, "a"), "a running claim survives a full store")
	assert.False(t, m.Done("x", 0), "a success without a claim is not recorded over a running claim")
	_, tok, _ := m.Begin("d")
	assert.Zero(t, tok)
}

func TestDoneWithoutBegin(t *testing.T) {
	m := NewMemory(time.Hour, time.Minute, 2, nil)
	assert.True(t, m.Done("x", 0))
	assert.Equal(t, Done, state(m, "x"))
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
			if st, _, _ := m.Begin("same"); st == New {
				owners.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), owners.Load())
}

func BenchmarkBeginDone(b *testing.B) {
	m := NewMemory(time.Hour, time.Minute, 100000, nil)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		if st, tok, _ := m.Begin(k); st == New {
			m.Done(k, tok)
		}
	}
}
