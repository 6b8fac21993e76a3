package pcwebhook

import (
	"context"
	"maps"
)

// callbacks is an immutable set of registered callbacks; registering replaces the whole set, so
// ServeHTTP reads it with one atomic load and no lock.
type callbacks struct {
	typed   map[EventName]func(context.Context, *Event) error
	any     func(context.Context, *Event) error
	unknown func(context.Context, *Event) error
}

// update applies change to a copy of the current callbacks and publishes the copy.
func (h *Handler) update(change func(*callbacks)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := &callbacks{}
	if cur := h.cbs.Load(); cur != nil {
		*next = *cur
	}
	next.typed = maps.Clone(next.typed)
	if next.typed == nil {
		next.typed = map[EventName]func(context.Context, *Event) error{}
	}
	change(next)
	h.cbs.Store(next)
}

// setTyped registers the callback of one known event; nil removes it.
func (h *Handler) setTyped(name EventName, fn func(context.Context, *Event) error) {
	h.update(func(c *callbacks) {
		if fn == nil {
			delete(c.typed, name)
		} else {
			c.typed[name] = fn
		}
	})
}

// OnAny registers fn to run for every verified, non-duplicate event, before its typed callback
// (or OnUnknown). If fn returns an error the typed callback does not run and the answer is 500,
// so Partner Center retries. A later call replaces fn; nil removes it.
func (h *Handler) OnAny(fn func(context.Context, *Event) error) {
	h.update(func(c *callbacks) { c.any = fn })
}

// OnUnknown registers fn for events whose name is not a documented one (Partner Center adds
// events over time). Without it such events are acknowledged (200) and logged. A later call
// replaces fn; nil removes it.
func (h *Handler) OnUnknown(fn func(context.Context, *Event) error) {
	h.update(func(c *callbacks) { c.unknown = fn })
}
