package certcache

import (
	"context"
	"sync"
	"time"
)

// LoadFunc loads the value of key. ctx is cancelled when every caller has stopped waiting: the
// function may then give up work it has not started, and should finish work in progress. It
// returns the value and the window in which it may be served from the cache: from notBefore
// (inclusive) until expires (exclusive). A caller keeps its LoadFunc in a variable made once, so
// that a lookup served from the cache allocates nothing.
type LoadFunc[V any] func(ctx context.Context, key string) (val V, notBefore, expires time.Time, err error)

// Source says where [Loader.Load] found the value or the error it returns.
type Source int

// The sources of a Load.
const (
	// Loaded: the value (or the error) is the result of a load, run by this caller or joined.
	Loaded Source = iota
	// Cached: the value was in the cache.
	Cached
	// CachedFailure: the error was remembered from an earlier failed load.
	CachedFailure
)

// LoaderOptions are the parameters of a [Loader]: what differs between its uses.
type LoaderOptions struct {
	// Size bounds each of the loader's caches (values, failures, known keys); at least 1.
	Size int
	// Now is the clock that cache windows are measured on (default time.Now).
	Now func() time.Time
	// FailureTTL is how long a failed load is remembered, so that callers meanwhile get the
	// failure without a load. Zero: failures are not remembered.
	FailureTTL time.Duration
	// Cacheable, when set, says whether a failure may be remembered; conditions of the load
	// rather than of the key (a full queue) should not be.
	Cacheable func(error) bool
	// Deferred: a successful load is not stored; the caller stores it with [Loader.Add] once it
	// has checked what it depends on, or records a failure with [Loader.Fail].
	Deferred bool
	// RefreshInterval is the least time between two loads of a key by [Loader.Reload]. Other
	// loads (a miss, an expiry) do not count.
	RefreshInterval time.Duration
}

// Loader is the cache sequence in front of a slow load that may fail: a positive cache whose
// entries are valid inside a window, a failure cache, one load per key at a time however many
// callers wait (single flight), forced reloads at most once per key per interval, and a record of
// the keys that loaded successfully before ([Loader.Known]), so that their refreshes can be given
// priority. Waiting is bounded by the caller's context; the load itself decides how it waits for
// resources (see [Gate]). A Loader is safe for concurrent use; use [NewLoader].
type Loader[V any] struct {
	opts      LoaderOptions
	values    *LRU[V]
	failures  *LRU[error]
	known     *LRU[struct{}]
	recent    *LRU[struct{}] // keys reloaded less than RefreshInterval ago
	reloadErr *LRU[error]    // the failure of a forced reload, for the rest of its interval
	flights   Group[V]
	mu        sync.Mutex // makes Reload's check of recent and its start of a load one step
}

// forever is the expiry of entries that only size evicts.
var forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// NewLoader returns an empty loader.
func NewLoader[V any](o LoaderOptions) *Loader[V] {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Loader[V]{
		opts:      o,
		values:    NewLRU[V](o.Size),
		failures:  NewLRU[error](o.Size),
		known:     NewLRU[struct{}](o.Size),
		recent:    NewLRU[struct{}](o.Size),
		reloadErr: NewLRU[error](o.Size),
	}
}

// Get returns the cached value of key when one is valid at now.
func (l *Loader[V]) Get(key string, now time.Time) (V, bool) { return l.values.Get(key, now) }

// Failure returns the remembered failure of key when there is one at now.
func (l *Loader[V]) Failure(key string, now time.Time) (error, bool) {
	return l.failures.Get(key, now)
}

// Known reports whether key has loaded successfully before (among the last Size such keys).
func (l *Loader[V]) Known(key string) bool {
	_, ok := l.known.Get(key, time.Time{})
	return ok
}

// MarkKnown records key as known before it ever loaded, for keys the caller vouches for (the
// default certificate URL, the URLs given to a start-up check): their downloads then go ahead of
// never-seen keys from the start.
func (l *Loader[V]) MarkKnown(key string) { l.known.Add(key, struct{}{}, time.Time{}, forever) }

// Len returns the number of cached values, including expired ones not looked up since.
func (l *Loader[V]) Len() int { return l.values.Len() }

// Add stores a value for key, valid from notBefore until expires, and records key as known. It is
// how a Deferred loader's caller stores what it has checked.
func (l *Loader[V]) Add(key string, val V, notBefore, expires time.Time) {
	l.values.Add(key, val, notBefore, expires)
	l.known.Add(key, struct{}{}, time.Time{}, forever)
}

// Fail remembers a failure of key for the failure TTL from now.
func (l *Loader[V]) Fail(key string, err error, now time.Time) {
	if l.opts.FailureTTL > 0 {
		// No lower bound: a failure applies to every caller until it expires.
		l.failures.Add(key, err, time.Time{}, now.Add(l.opts.FailureTTL))
	}
}

// Load returns the value of key and where it came from: the cached one (Cached), else the
// remembered failure (CachedFailure), else the result of load (Loaded), run once for all callers
// that ask for key meanwhile. The caller waits until ctx ends at most; the load goes on for the
// others. The caller needs no look at the caches first.
func (l *Loader[V]) Load(ctx context.Context, key string, load LoadFunc[V]) (V, Source, error) {
	now := l.opts.Now()
	if v, ok := l.values.Get(key, now); ok {
		return v, Cached, nil
	}
	if err, ok := l.failures.Get(key, now); ok {
		var zero V
		return zero, CachedFailure, err
	}
	for attempt := 0; ; attempt++ {
		call, _ := l.flights.Do(key, func(fctx context.Context) (V, error) { return l.run(fctx, key, load, false) })
		v, err := call.Wait(ctx)
		// A load abandoned by everyone just before this caller joined: start a new one.
		if err != nil && call.Abandoned() && ctx.Err() == nil && attempt < 3 {
			continue
		}
		return v, Loaded, err
	}
}

// Reload loads key again even though a value may be cached, for a caller that has reason to think
// the value changed at its source; such reloads are made at most once per key per
// RefreshInterval, whatever loaded the key otherwise. A reload of key already running is joined.
// Otherwise, when key was reloaded less than RefreshInterval ago, nothing is loaded and reloaded
// is false: val is then the value cached now (which may be newer than the caller's), or err the
// failure of that reload. A caller whose ctx has already ended starts nothing.
//
// The reload runs detached from the callers: it goes on when every caller stopped waiting (its
// load gets a context that is never cancelled, and must bound itself). A failed reload leaves the
// cached value in place and is not remembered as a failure of the key. Its failure is remembered
// for the rest of the interval only when Cacheable says it is about the key; a failure of the
// moment (a full queue) gives the interval back, so that the next caller may reload.
func (l *Loader[V]) Reload(ctx context.Context, key string, load LoadFunc[V]) (val V, reloaded bool, err error) {
	var zero V
	now := l.opts.Now()
	l.mu.Lock()
	call, joined := l.flights.Join(key)
	if !joined {
		if _, ok := l.recent.Get(key, now); ok {
			l.mu.Unlock()
			if err, ok := l.reloadErr.Get(key, now); ok {
				return zero, false, err
			}
			v, _ := l.values.Get(key, now)
			return v, false, nil
		}
		if err := ctx.Err(); err != nil {
			l.mu.Unlock()
			return zero, false, err
		}
		l.recent.Add(key, struct{}{}, time.Time{}, now.Add(l.opts.RefreshInterval))
		call, _ = l.flights.Do(key, func(fctx context.Context) (V, error) {
			return l.run(context.WithoutCancel(fctx), key, load, true)
		})
	}
	l.mu.Unlock()
	v, err := call.Wait(ctx)
	return v, true, err
}

// run is one load of key inside its single flight. Unless forced, it looks at the caches again
// first: a flight that finished between the caller's miss and its Do has stored its result there.
func (l *Loader[V]) run(ctx context.Context, key string, load LoadFunc[V], force bool) (V, error) {
	var zero V
	now := l.opts.Now()
	if !force {
		if v, ok := l.values.Get(key, now); ok {
			return v, nil
		}
		if err, ok := l.failures.Get(key, now); ok {
			return zero, err
		}
	}
	v, notBefore, expires, err := load(ctx, key)
	cacheable := err != nil && ctx.Err() == nil && (l.opts.Cacheable == nil || l.opts.Cacheable(err))
	if force {
		switch {
		case err == nil:
			l.reloadErr.Add(key, nil, now, now) // empty window: removes
		case cacheable:
			l.reloadErr.Add(key, err, time.Time{}, now.Add(l.opts.RefreshInterval))
		default:
			// A failure of the moment: the interval is given back.
			l.mu.Lock()
			l.recent.Add(key, struct{}{}, now, now)
			l.mu.Unlock()
		}
	}
	if err != nil {
		if !force && cacheable {
			l.Fail(key, err, now)
		}
		return zero, err
	}
	if !l.opts.Deferred {
		l.Add(key, v, notBefore, expires)
	}
	return v, nil
}
