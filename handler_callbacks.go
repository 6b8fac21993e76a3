package pcwebhook

import (
	"context"
	"log/slog"
	"maps"
)

// callbacks is an immutable set of registered callbacks; registering replaces the whole set, so
// ServeHTTP reads it with one atomic load and no lock.
type callbacks struct {
	typed   map[EventName]func(context.Context, *Event) error
	any     func(context.Context, *Event) error
	unknown func(context.Context, *Event) error
}

// update applies change to a copy of the current callbacks and publishes the copy. change reports
// whether it replaced a registered callback with another one; update then logs a warning naming
// what, because two registrations for one event usually mean that one of them is a mistake.
func (h *Handler) update(what slog.Attr, change func(*callbacks) (replaced bool)) {
	h.init()
	h.mu.Lock()
	next := &callbacks{}
	if cur := h.cbs.Load(); cur != nil {
		*next = *cur
	}
	next.typed = maps.Clone(next.typed)
	if next.typed == nil {
		next.typed = map[EventName]func(context.Context, *Event) error{}
	}
	replaced := change(next)
	h.cbs.Store(next)
	h.mu.Unlock()
	if replaced {
		h.logger.LogAttrs(context.Background(), slog.LevelWarn,
			"partner center webhook: a callback registration replaced an earlier one; only the latest runs",
			what)
	}
}

// setTyped registers the callback of one known event; nil removes it.
func (h *Handler) setTyped(name EventName, fn func(context.Context, *Event) error) {
	h.update(slog.String("event", string(name)), func(c *callbacks) bool {
		old := c.typed[name]
		if fn == nil {
			delete(c.typed, name)
		} else {
			c.typed[name] = fn
		}
		return old != nil && fn != nil
	})
}

// OnAny registers fn to run for every verified, non-duplicate event, before its typed callback
// (or OnUnknown), under the callback contract of [Handler]. If fn returns an error or panics, the
// typed callback does not run and Partner Center retries.
func (h *Handler) OnAny(fn func(context.Context, *Event) error) {
	h.update(slog.String("callback", "OnAny"), func(c *callbacks) bool {
		old := c.any
		c.any = fn
		return old != nil && fn != nil
	})
}

// OnUnknown registers fn for events whose name is not a documented one (Partner Center adds
// events over time), under the callback contract of [Handler]. Without it such events are
// acknowledged (200) and logged.
func (h *Handler) OnUnknown(fn func(context.Context, *Event) error) {
	h.update(slog.String("callback", "OnUnknown"), func(c *callbacks) bool {
		old := c.unknown
		c.unknown = fn
		return old != nil && fn != nil
	})
}
