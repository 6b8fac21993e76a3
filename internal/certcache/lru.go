package certcache

import (
	"container/list"
	"sync"
	"time"
)

// LRU is a bounded map from string keys to values of type V. Each entry is valid from its
// notBefore time (inclusive) until its expiry time (exclusive), measured on the clock the caller
// passes in; outside that window Get does not return it. When the cache is full, adding a new key
// evicts the least recently used entry. An LRU is safe for concurrent use; its zero value is not
// usable, use [NewLRU].
//
// It is hand-written (about 80 lines) rather than taken from a library: the verifier needs a
// validity window per entry (a certificate's NotBefore and NotAfter) measured on an injectable
// clock, which the LRU libraries (hashicorp/golang-lru/v2/expirable: one TTL from insertion, on the
// real clock) do not offer, and none of them is maintained by the Go team.
type LRU[V any] struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used; elements hold *entry[V]
	items map[string]*list.Element
}

type entry[V any] struct {
	key       string
	val       V
	notBefore time.Time
	expires   time.Time
}

// NewLRU returns an empty cache holding at most max entries; max < 1 is treated as 1.
func NewLRU[V any](max int) *LRU[V] {
	if max < 1 {
		max = 1
	}
	return &LRU[V]{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

// Get returns the value stored for key if there is one and now is inside its validity window,
// marking it as recently used. An entry found expired is removed. An entry not valid yet is kept:
// now may be stale (read by a caller before another goroutine stored the entry), and must not
// evict what is valid for everyone else.
func (c *LRU[V]) Get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[V])
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	if now.Before(e.notBefore) {
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.val, true
}

// Add stores val for key, valid from notBefore until expires, replacing any previous value and
// evicting the least recently used entries when the cache is over its bound. An entry whose
// window is empty (expires not after notBefore) is not stored, and removes any previous value.
func (c *LRU[V]) Add(key string, val V, notBefore, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.Remove(el)
		delete(c.items, key)
	}
	if !expires.After(notBefore) {
		return
	}
	c.items[key] = c.order.PushFront(&entry[V]{key: key, val: val, notBefore: notBefore, expires: expires})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*entry[V]).key)
	}
}

// Len returns the number of entries stored, including any that have expired but were not yet
// looked up.
func (c *LRU[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
