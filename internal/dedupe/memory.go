// Package dedupe holds the in-memory store that remembers which webhook deliveries were handled.
package dedupe

import (
	"container/list"
	"sync"
	"time"
)

// State is what the store knew of a key when Begin was called.
type State int

// The states of a key.
const (
	New        State = iota // not seen (or forgotten): the caller now owns it, in progress
	InProgress              // another caller is handling it
	Done                    // handled successfully
)

type entry struct {
	key     string
	done    bool
	expires time.Time
}

// Memory is a bounded, expiring, concurrency-safe store. Keys in progress expire after the
// lease (so a hung or lost handler does not block retries forever); handled keys expire after
// the retention. Each kind sits in its own list in expiry order, since all its entries share one
// lifetime, so expiry and eviction are O(1).
type Memory struct {
	retention, lease time.Duration
	max              int
	now              func() time.Time

	mu       sync.Mutex
	entries  map[string]*list.Element
	progress list.List // of *entry, oldest first
	done     list.List // of *entry, oldest first
}

// NewMemory returns a store that keeps handled keys for retention, in-progress keys for lease,
// and at most max keys (the oldest handled keys are evicted first). now may be nil (time.Now).
func NewMemory(retention, lease time.Duration, max int, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	if max < 1 {
		max = 1
	}
	return &Memory{retention: retention, lease: lease, max: max, now: now, entries: map[string]*list.Element{}}
}

// Begin marks key in progress when it is new, and reports what it was.
func (m *Memory) Begin(key string) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	if el, ok := m.entries[key]; ok {
		if el.Value.(*entry).done {
			return Done
		}
		return InProgress
	}
	for len(m.entries) >= m.max {
		m.evictOldest()
	}
	m.entries[key] = m.progress.PushBack(&entry{key: key, expires: now.Add(m.lease)})
	return New
}

// Complete marks key handled; it is then remembered for the retention.
func (m *Memory) Complete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if el, ok := m.entries[key]; ok {
		m.remove(el)
	}
	for len(m.entries) >= m.max {
		m.evictOldest()
	}
	m.entries[key] = m.done.PushBack(&entry{key: key, done: true, expires: now.Add(m.retention)})
}

// Release forgets an in-progress key, so that the next delivery handles it again. A handled key
// is left alone.
func (m *Memory) Release(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok && !el.Value.(*entry).done {
		m.remove(el)
	}
}

// Len returns the number of keys held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func (m *Memory) expire(now time.Time) {
	for _, l := range []*list.List{&m.progress, &m.done} {
		for el := l.Front(); el != nil && !now.Before(el.Value.(*entry).expires); el = l.Front() {
			m.remove(el)
		}
	}
}

// evictOldest drops the oldest handled key, or the oldest in-progress key when none is handled.
func (m *Memory) evictOldest() {
	if el := m.done.Front(); el != nil {
		m.remove(el)
		return
	}
	if el := m.progress.Front(); el != nil {
		m.remove(el)
	}
}

func (m *Memory) remove(el *list.Element) {
	e := el.Value.(*entry)
	if e.done {
		m.done.Remove(el)
	} else {
		m.progress.Remove(el)
	}
	delete(m.entries, e.key)
}
