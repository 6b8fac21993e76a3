package pcwebhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBodyBytes is the default limit on a request body. Partner Center events are a few
// hundred bytes; anything much larger is not one.
const DefaultMaxBodyBytes = 64 << 10

// Handler is an http.Handler that receives Partner Center webhooks: it reads the request with a
// size limit, verifies its signature, decodes the event, drops duplicates and calls the callbacks
// registered for the event. Its status codes decide whether Partner Center retries (it makes ten
// attempts, then parks the event for good): 200 only once the callbacks returned nil (or there
// was none, or the same body was handled already), 4xx when the sender is at fault (not
// retried), 5xx when the failure is the receiver's (retried). [HTTPStatus] gives the status of
// each error and the README's "Receiving webhooks" section has the whole table.
//
// Each request is logged in one line: at DEBUG when it was acknowledged, WARN when the sender
// was at fault, ERROR when the receiver was (with what to fix). Use [WithObserver] for metrics.
//
// Register callbacks with the On* methods (one per documented event, such as
// [Handler.OnSubscriptionUpdated]), [Handler.OnAny] and [Handler.OnUnknown]. The zero Handler is
// usable and has the defaults of NewHandler.
//
// # The callback contract
//
// The Handler runs the callbacks of a delivery (OnAny first, then the event's On<Event> callback
// or OnUnknown) on the request's goroutine, one after the other, and answers only when they have
// returned. What a callback may rely on:
//
//   - Context: ctx is the request's context. It is cancelled when Partner Center hangs up (and
//     when ServeHTTP returns); the Handler adds no deadline of its own, so the server's timeouts
//     and Partner Center's patience are the only limits. Pass ctx to the calls you make. With a
//     transactional DedupeStore (a [ClaimContexter], such as pgdedupe's), ctx also carries the
//     delivery's transaction: write through it, and the writes commit with the delivery's record.
//   - Answer: nil acknowledges the event (200). An error, or a panic (recovered and logged with
//     its stack), answers 500: the delivery is released from deduplication and Partner Center
//     retries it with the same body.
//   - The event: the callback may keep it, Raw included, after it returns. The Handler reads each
//     body into a new buffer that it never reuses; the same memory is handed to every callback
//     of the delivery (the typed structs embed a copy of the Event, not of Raw), so do not modify
//     it.
//   - Registration: one callback per event, per OnAny and per OnUnknown. A second registration
//     replaces the first, and the Handler logs a WARN naming the event, because two
//     registrations usually mean one is a mistake; nil removes a callback. Registering is safe
//     while the Handler serves: a delivery runs the callbacks registered when its first one starts.
//   - Slow work: Partner Center does not document how long it waits for an answer, and a slow
//     answer risks a timeout and a retry, so work slower than a request goes through a queue.
//     Enqueue the event (Raw is the exact, verified body; ParseEvent decodes it again in the
//     worker) in a durable queue, and return nil only once the enqueue succeeded; return its
//     error otherwise. The worker may see an event twice, so its work must be idempotent. See
//     the example of Handler (queueHandOff).
type Handler struct {
	once        sync.Once
	verifier    *Verifier
	verifierErr error
	logger      *slog.Logger
	maxBody     int64
	maxAge      time.Duration
	store       DedupeStore
	noDedupe    bool
	observers   []func(*http.Request, Result)
	wrappers    []CallbackMiddleware
	newVerifier func() (*Verifier, error) // the default Verifier's constructor; tests replace it

	mu  sync.Mutex                // serializes registrations
	cbs atomic.Pointer[callbacks] // read without a lock while serving
}

// HandlerOption configures a Handler.
type HandlerOption func(*Handler)

// NewHandler returns a Handler. With no options it verifies with [NewVerifier]'s production
// policy, logs to slog.Default(), accepts bodies up to DefaultMaxBodyBytes and deduplicates with
// an in-memory store (NewMemoryDedupeStore with the default retention of 7 days).
//
// When the default Verifier cannot be built (the host has no trusted roots: a slim container
// image), NewHandler logs the error and its fix at ERROR right away, and the Handler answers
// every delivery 500 (Partner Center retries) until the process is fixed. Call [Handler.Check]
// after NewHandler to refuse to start instead.
func NewHandler(opts ...HandlerOption) *Handler {
	h := &Handler{}
	for _, o := range opts {
		o(h)
	}
	h.init()
	if h.verifierErr != nil {
		h.logger.LogAttrs(context.Background(), slog.LevelError,
			"partner center webhook: this Handler cannot verify deliveries and will answer every one with 500",
			slog.String("error", h.verifierErr.Error()), slog.String("fix", classify(h.Check()).fix))
	}
	return h
}

// Check reports whether the Handler can verify deliveries: nil when it can, otherwise the error
// that makes it answer every delivery 500 (misconfigured), which names the fix (for example
// [ErrNoTrustedRoots]: install the CA bundle, WithRootCAs, or x509roots/fallback). Call it at
// start-up and stop there when it fails:
//
//	hooks := pcwebhook.NewHandler()
//	if err := hooks.Check(); err != nil {
//		log.Fatal(err)
//	}
//
// Check makes no network call; [Verifier.Prefetch] checks the network and the clock.
func (h *Handler) Check() error {
	h.init()
	if h.verifierErr != nil {
		return fmt.Errorf("%w: %w", errMisconfigured, h.verifierErr)
	}
	return nil
}

// WithVerifier sets the Verifier that checks every request, for example one with the allow-list
// of a sovereign cloud, or pcwebhooktest.Sender.Verifier in tests.
func WithVerifier(v *Verifier) HandlerOption { return func(h *Handler) { h.verifier = v } }

// WithLogger sets the logger of the one line written per request (default slog.Default()). The
// line has the event name, the outcome, the status, the duration, the error and, for the
// receiver's faults, what to fix; never the signature nor the body. Acknowledged deliveries log
// at DEBUG, the sender's faults at WARN and the receiver's at ERROR: give a logger at DEBUG to
// see every delivery.
func WithLogger(l *slog.Logger) HandlerOption { return func(h *Handler) { h.logger = l } }

// WithMaxBodyBytes sets the largest body accepted (default DefaultMaxBodyBytes); larger requests
// get 413. Values below 1 keep the default.
func WithMaxBodyBytes(n int64) HandlerOption { return func(h *Handler) { h.maxBody = n } }

// WithMaxEventAge rejects (400) events whose ResourceChangeUtcDate is further than d from now,
// in the past or in the future, by the Verifier's clock; events without a date are rejected too.
// This bounds the replay of an old, genuinely signed request. Off by default, because Partner
// Center documents that events may arrive late (subscription-updated up to 48 hours after the
// change): choose d well above that.
func WithMaxEventAge(d time.Duration) HandlerOption { return func(h *Handler) { h.maxAge = d } }

// WithDedupeStore sets where handled deliveries are remembered, for example a store shared by
// several replicas. The default is an in-memory store (see NewMemoryDedupeStore).
func WithDedupeStore(s DedupeStore) HandlerOption { return func(h *Handler) { h.store = s } }

// WithoutDeduplication turns deduplication off: every delivery runs the callbacks, including
// Partner Center's retries of an event that was already handled. Use it only when the callbacks
// are idempotent themselves.
func WithoutDeduplication() HandlerOption { return func(h *Handler) { h.noDedupe = true } }

// WithObserver calls fn once for every request, after the Handler answered it, with what it did:
// for metrics, tracing, or tools that show deliveries (the pcwebhook command's listen uses it).
// It may be given several times (metrics and traces, say): every observer runs, in the order
// given. fn runs on the request's goroutine, so keep it short; a panic in it is not recovered. A
// nil fn is ignored.
func WithObserver(fn func(r *http.Request, res Result)) HandlerOption {
	return func(h *Handler) {
		if fn != nil {
			h.observers = append(h.observers, fn)
		}
	}
}

// CallbackKind says which registration a callback run belongs to, in a [CallbackRun].
type CallbackKind string

// The kinds of callback runs.
const (
	// CallbackAny: the callback of [Handler.OnAny], which runs before the event's own.
	CallbackAny CallbackKind = "any"
	// CallbackTyped: the callback of the event's On<Event> method.
	CallbackTyped CallbackKind = "typed"
	// CallbackUnknown: the callback of [Handler.OnUnknown], for a name this version does not know.
	CallbackUnknown CallbackKind = "unknown"
)

// CallbackRun describes one callback about to run, for a [CallbackMiddleware].
type CallbackRun struct {
	// Event is the delivery's event, as the callback gets it.
	Event *Event
	// Kind is the registration that runs.
	Kind CallbackKind
	// DeliveryKey is the delivery's key in the DedupeStore (the hex SHA-256 of the body).
	DeliveryKey string
}

// CallbackMiddleware wraps one callback run: it calls next, which runs the callback with the
// context it is given, and returns next's error (or another one). next recovers a panic of the
// callback and returns it as an error, so a middleware always sees the run end. A tracing
// middleware starts a span, passes the span's context to next, and ends the span with next's
// error; pcwebhookotel's CallbackMiddleware does that.
type CallbackMiddleware func(ctx context.Context, run CallbackRun, next func(context.Context) error) error

// WithCallbackMiddleware wraps every callback run (OnAny, the typed callback, OnUnknown) in mw. It
// may be given several times; the first given is the outermost. The error mw returns is the
// run's: nil acknowledges the delivery, an error answers 500 and Partner Center retries.
func WithCallbackMiddleware(mw CallbackMiddleware) HandlerOption {
	return func(h *Handler) {
		if mw != nil {
			h.wrappers = append(h.wrappers, mw)
		}
	}
}

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

// init fills in the defaults, once; it makes the zero Handler usable.
func (h *Handler) init() {
	h.once.Do(func() {
		if h.verifier == nil {
			if h.newVerifier == nil {
				h.newVerifier = func() (*Verifier, error) { return NewVerifier() }
			}
			h.verifier, h.verifierErr = h.newVerifier()
		}
		if h.logger == nil {
			h.logger = slog.Default()
		}
		if h.maxBody < 1 {
			h.maxBody = DefaultMaxBodyBytes
		}
		if h.store == nil && !h.noDedupe {
			h.store = NewMemoryDedupeStore(DefaultDedupeRetention, DefaultDedupeMaxEntries)
		}
	})
}

// ServeHTTP handles one delivery: it reads the body with a size limit, verifies the signature,
// decodes the event, checks its age, claims it in the DedupeStore, runs the callbacks and
// answers. Every way a delivery can end has one status, [Outcome] and log level, the same that
// [HTTPStatus] gives for its error; see [Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	start := time.Now()
	d, err := h.process(r)
	h.answer(w, r, start, d, err)
}

// delivery is what process learned of a request: the event (nil before decoding) and its key
// ("" before verification).
type delivery struct {
	ev  *Event
	key string
}

// process runs the steps of one delivery; the first that fails ends it. It returns what it
// learned of the delivery and the error the delivery ended with.
func (h *Handler) process(r *http.Request) (delivery, error) {
	var d delivery
	if r.Method != http.MethodPost {
		return d, errMethodNotAllowed
	}
	if err := h.Check(); err != nil {
		return d, err
	}
	body, err := readBody(r, h.maxBody)
	if err != nil {
		return d, err
	}
	ctx := r.Context()
	var digest [sha256.Size]byte
	if err := h.verifier.verify(ctx, r.Header, body, &digest); err != nil {
		return d, err
	}
	d.key = deliveryKey(&digest)
	if d.ev, err = ParseEvent(body); err != nil {
		return d, err
	}
	if err := h.checkAge(d.ev); err != nil {
		return d, err
	}
	claim, err := h.claim(ctx, d.key)
	if err != nil {
		return d, err
	}
	cbCtx := ctx
	if cc, ok := h.store.(ClaimContexter); ok {
		cbCtx = cc.WithClaim(ctx, claim)
	}
	err = h.dispatch(cbCtx, d)
	return d, h.settle(ctx, d, claim, err)
}

// deliveryKey is the key of a delivery in the DedupeStore: the hex-encoded SHA-256 of its body,
// given as that digest (the verifier computed it).
func deliveryKey(digest *[sha256.Size]byte) string {
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], digest[:])
	return string(hexSum[:])
}

// answer writes the status that classify gives for err, logs the request's line and calls the
// observers.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, start time.Time, dl delivery, err error) {
	ev := dl.ev
	v := classify(err)
	if v.status == http.StatusOK {
		err = nil // a duplicate or an event without callbacks is acknowledged, not failed
		// A fixed text and no header of ours: the header map is left untouched, which spares
		// net/http a copy of it on the busiest path (net/http labels the text text/plain).
		_, _ = io.WriteString(w, v.body)
	} else {
		hdr := w.Header()
		switch {
		case v.retryAfter != "":
			hdr.Set("Retry-After", v.retryAfter)
		case v.status == http.StatusMethodNotAllowed:
			hdr.Set("Allow", http.MethodPost)
		}
		body := v.body
		if body == "" {
			body = err.Error() + "\n" // only for signed bodies: the sender sees what was wrong with its event
		}
		writeText(w, v.status, body)
	}
	d := time.Since(start)
	h.log(r.Context(), dl, v, d, err)
	if len(h.observers) > 0 {
		res := Result{Event: ev, Status: v.status, Outcome: v.outcome, Err: err, Duration: d, DeliveryKey: dl.key}
		for _, o := range h.observers {
			o(r, res)
		}
	}
}

// claim asks the DedupeStore for the delivery whose key is key. Its error is errDuplicate,
// errInProgress or a failure of the store.
func (h *Handler) claim(ctx context.Context, key string) (Claim, error) {
	if h.store == nil {
		return Claim{}, nil
	}
	c, err := h.store.Begin(ctx, key)
	switch {
	case err != nil:
		return c, fmt.Errorf("%w: %w", errDedupeStore, err)
	case c.State == DeliveryDone:
		return c, errDuplicate
	case c.State == DeliveryInProgress:
		return c, errInProgress
	case c.State != DeliveryNew:
		// A store answering a state it should not: never run callbacks without a claim.
		return c, fmt.Errorf("%w: Begin answered unknown state %d", errDedupeStore, int(c.State))
	}
	return c, nil
}

// settle ends the claim: Done when the callbacks succeeded (or there were none), Release when
// they failed, so that the retry runs them again. It returns the error the delivery ends with:
// the callbacks' (err), or, when Done says their effects were not committed (ErrNotCommitted),
// that failure, so that Partner Center retries; when Done says another delivery of the same body
// was recorded first (ErrAlreadyHandled), errDuplicate.
func (h *Handler) settle(ctx context.Context, d delivery, c Claim, err error) error {
	if h.store == nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err == nil || err == errNoCallback {
		derr := h.store.Done(ctx, c)
		switch {
		case derr == nil:
		case errors.Is(derr, ErrNotCommitted):
			return fmt.Errorf("%w: %w", errNotCommitted, derr)
		case errors.Is(derr, ErrAlreadyHandled):
			return errDuplicate
		default:
			// The callbacks succeeded and their effects stand: acknowledging is right. A retry
			// may run them again.
			h.warnClaim(ctx, d, "done", derr)
		}
		return err
	}
	if rerr := h.store.Release(ctx, c); rerr != nil {
		h.warnClaim(ctx, d, "release", rerr)
	}
	return err
}

// warnClaim logs a failed Done or Release of a dedupe claim: the claim was lost (the callbacks
// outlived the lease and another delivery took over) or the store failed.
func (h *Handler) warnClaim(ctx context.Context, d delivery, op string, err error) {
	msg := "partner center webhook: dedupe store failed to record the delivery; a retry may run the callbacks again"
	if errors.Is(err, ErrClaimLost) {
		msg = "partner center webhook: dedupe claim lost: the callbacks outlived the lease and another delivery took over; they may have run twice"
	}
	attrs := append(eventAttrs(d, make([]slog.Attr, 0, 8)), slog.String("op", op), slog.Any("error", err))
	h.logger.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}

// eventAttrs appends to attrs what a log line says of a delivery: the event name, the IDs its
// ResourceUri carries (customer_id, subscription_id, relationship_id ...) and the delivery key.
// Only verified deliveries have a key, so a forged request's claims are never logged as IDs.
func eventAttrs(d delivery, attrs []slog.Attr) []slog.Attr {
	if d.ev == nil {
		return append(attrs, slog.String("event", ""))
	}
	attrs = append(attrs, slog.String("event", string(d.ev.Name)))
	for _, id := range d.ev.IDs() {
		if id.Value != "" {
			attrs = append(attrs, slog.String(id.Key(), id.Value))
		}
	}
	if d.key != "" {
		attrs = append(attrs, slog.String("delivery_key", d.key))
	}
	return attrs
}

// checkAge enforces WithMaxEventAge. It compares instants, never a duration computed from the
// event's date, which would overflow for a date centuries away (and then pass).
func (h *Handler) checkAge(e *Event) error {
	if h.maxAge <= 0 {
		return nil
	}
	date := e.ResourceChangeUTCDate
	if date.IsZero() {
		return fmt.Errorf("%w: the event has no ResourceChangeUtcDate", errEventAge)
	}
	now := h.verifier.now()
	if date.Before(now.Add(-h.maxAge)) || date.After(now.Add(h.maxAge)) {
		return fmt.Errorf("%w: event date %s is more than %s from now", errEventAge, date.Format(time.RFC3339), h.maxAge)
	}
	return nil
}

// dispatch runs OnAny, then the typed callback (or OnUnknown), recovering panics. It returns
// errNoCallback when none is registered for the event, and a *callbackError when one failed.
func (h *Handler) dispatch(ctx context.Context, d delivery) error {
	e := d.ev
	cbs := h.cbs.Load()
	if cbs == nil {
		return errNoCallback
	}
	fn, kind := cbs.typed[e.Name], CallbackTyped
	if fn == nil && !e.Name.Known() {
		fn, kind = cbs.unknown, CallbackUnknown
	}
	if cbs.any == nil && fn == nil {
		return errNoCallback
	}
	if cbs.any != nil {
		if err := h.run(ctx, d, cbs.any, CallbackAny); err != nil {
			return err
		}
	}
	if fn != nil {
		return h.run(ctx, d, fn, kind)
	}
	return nil
}

// run runs one callback inside the callback middlewares, the first given outermost.
func (h *Handler) run(ctx context.Context, d delivery, fn func(context.Context, *Event) error, kind CallbackKind) error {
	if len(h.wrappers) == 0 {
		return h.call(ctx, d, fn)
	}
	cr := CallbackRun{Event: d.ev, Kind: kind, DeliveryKey: d.key}
	next := func(ctx context.Context) error { return h.call(ctx, d, fn) }
	for i := len(h.wrappers) - 1; i >= 0; i-- {
		mw, inner := h.wrappers[i], next
		next = func(ctx context.Context) error {
			if err := mw(ctx, cr, inner); err != nil {
				var cbErr *callbackError
				if !errors.As(err, &cbErr) {
					err = &callbackError{event: d.ev.Name, err: err}
				}
				return err
			}
			return nil
		}
	}
	return next(ctx)
}

// call runs one callback and turns a panic into an error, logged with its stack.
func (h *Handler) call(ctx context.Context, d delivery, fn func(context.Context, *Event) error) (err error) {
	e := d.ev
	defer func() {
		if p := recover(); p != nil {
			attrs := append(eventAttrs(d, make([]slog.Attr, 0, 8)), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			h.logger.LogAttrs(ctx, slog.LevelError, "partner center webhook: callback panicked", attrs...)
			perr, ok := p.(error)
			if !ok {
				perr = fmt.Errorf("%v", p)
			}
			err = &callbackError{event: e.Name, err: perr, panicked: true}
		}
	}()
	if err := fn(ctx, e); err != nil {
		return &callbackError{event: e.Name, err: err}
	}
	return nil
}

// log writes the request's line at the level classify chose: the event, its IDs and delivery key
// (for a verified event), the outcome, the status, the duration, the error and the fix. It never
// holds the signature nor the body.
func (h *Handler) log(ctx context.Context, dl delivery, v verdict, d time.Duration, err error) {
	if !h.logger.Enabled(ctx, v.level) {
		return
	}
	attrs := eventAttrs(dl, make([]slog.Attr, 0, 10))
	attrs = append(attrs, slog.String("outcome", string(v.outcome)), slog.Int("status", v.status), slog.Duration("duration", d))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if v.fix != "" {
		attrs = append(attrs, slog.String("fix", v.fix))
	}
	h.logger.LogAttrs(ctx, v.level, "partner center webhook", attrs...)
}

func writeText(w http.ResponseWriter, status int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
