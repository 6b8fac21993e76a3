// Package dedupe holds the in-memory store that remembers which webhook deliveries were handled.
package dedupe

import (
	"sync"
	"time"
)

// State is what the store knew of a key when Begin was called.
type State int

// The states of a key.
const (
	New        State = iota // not seen (or forgotten): the caller now owns it, in progress
	InProgress              // another caller is handling it
	Full                    // every entry is a running claim: nothing may be evicted, nothing claimed
	Done                    // handled successfully
)

// entry is one key, linked into the list of its kind (intrusive, so that moving a key from "in
// progress" to "done" allocates nothing).
type entry struct {
	key        string
	token      uint64 // owner of an in-progress key; once done, the claim that finished it (0: none)
	done       bool
	expires    time.Time
	prev, next *entry
}

// queue is a doubly linked list of entries in expiry order, oldest first, around a sentinel.
type queue struct{ root entry }

func (q *queue) init() { q.root.prev, q.root.next = &q.root, &q.root }
func (q *queue) oldest() *entry {
	if q.root.next == &q.root {
		return nil
	}
	return q.root.next
}

func (q *queue) pushBack(e *entry) {
	last := q.root.prev
	e.prev, e.next = last, &q.root
	last.next = e
	q.root.prev = e
}

func unlink(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

// Memory is a bounded, expiring, concurrency-safe store. Keys in progress expire after the
// lease (so a hung or lost handler does not block retries forever); handled keys expire after
// the retention. Each kind sits in its own queue in expiry order, since all its entries share one
// lifetime, so expiry and eviction are O(1).
type Memory struct {
	retention, lease time.Duration
	max              int
	now              func() time.Time

	mu       sync.Mutex
	last     uint64 // the last owner token handed out
	entries  map[string]*entry
	progress queue
	done     queue
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
	m := &Memory{retention: retention, lease: lease, max: max, now: now, entries: make(map[string]*entry, min(max, 1024))}
	m.progress.init()
	m.done.init()
	return m
}

// Begin marks key in progress when it is new, and reports what it was. When it returns New, token
// is the caller's claim on key (never 0): Done and Release act only with it; expires is when the
// claim's lease runs out (the instant after which another Begin takes the key over).
func (m *Memory) Begin(key string) (st State, token uint64, expires time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(&m.progress, now)
	m.expire(&m.done, now)
	if e, ok := m.entries[key]; ok {
		if e.done {
			return Done, 0, time.Time{}
		}
		return InProgress, 0, time.Time{}
	}
	for len(m.entries) >= m.max {
		if !m.evictOldest() {
			return Full, 0, time.Time{}
		}
	}
	m.last++
	e := &entry{key: key, token: m.last, expires: now.Add(m.lease)}
	m.entries[key] = e
	m.progress.pushBack(e)
	return New, e.token, e.expires
}

// Done marks key handled by the owner of token; it is then remembered for the retention, with
// the token that finished it. It acts when token still holds key, or when key is free (the lease
// ran out and nobody took over: the work did succeed). When key is already done by this same
// token (a repeated Done) it changes nothing and reports true. It changes nothing and returns
// false when another claim holds key or finished it.
func (m *Memory) Done(key string, token uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(&m.progress, now)
	e, ok := m.entries[key]
	switch {
	case ok && e.done:
		return token != 0 && e.token == token
	case ok && e.token != token:
		return false
	case ok:
		unlink(e)
	default:
		for len(m.entries) >= m.max {
			if !m.evictOldest() {
				return false
			}
		}
		e = &entry{key: key}
		m.entries[key] = e
	}
	e.done, e.token, e.expires = true, token, now.Add(m.retention)
	m.done.pushBack(e)
	return true
}

// Release forgets key when token still holds it in progress, so that the next delivery handles
// it again, and reports true. When key is already free and the claim's lease has not run out (now
// is before expires) it changes nothing and reports true: a repeated Release finds the key it gave
// up. A key that is done, one another claim holds, and a free key once the lease ran out are left
// alone, and it reports false.
func (m *Memory) Release(key string, token uint64, expires time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(&m.progress, now)
	e, ok := m.entries[key]
	switch {
	case !ok:
		return now.Before(expires)
	case !e.done && e.token == token:
		m.remove(e)
		return true
	}
	return false
}

// Len returns the number of keys held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func (m *Memory) expire(q *queue, now time.Time) {
	for e := q.oldest(); e != nil && !now.Before(e.expires); e = q.oldest() {
		m.remove(e)
	}
}

// evictOldest drops the oldest handled key and reports whether there was one. A running claim is
// never evicted: a retry of its delivery would then be claimed a second time while the first
// still runs.
func (m *Memory) evictOldest() bool {
	if e := m.done.oldest(); e != nil {
		m.remove(e)
		return true
	}
	return false
}

func (m *Memory) remove(e *entry) {
	unlink(e)
	delete(m.entries, e.key)
}
