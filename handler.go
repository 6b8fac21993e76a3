package pcwebhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
// [Handler.OnSubscriptionUpdated]), [Handler.OnAny] and [Handler.OnUnknown]. Registering is safe
// at any time, also while serving. The zero Handler is usable and has the defaults of NewHandler.
type Handler struct {
	once        sync.Once
	verifier    *Verifier
	verifierErr error
	logger      *slog.Logger
	maxBody     int64
	maxAge      time.Duration
	store       DedupeStore
	noDedupe    bool
	observer    func(*http.Request, Result)

	mu  sync.Mutex                // serializes registrations
	cbs atomic.Pointer[callbacks] // read without a lock while serving
}

// HandlerOption configures a Handler.
type HandlerOption func(*Handler)

// NewHandler returns a Handler. With no options it verifies with [NewVerifier]'s production
// policy, logs to slog.Default(), accepts bodies up to DefaultMaxBodyBytes and deduplicates with
// an in-memory store (NewMemoryDedupeStore with the default retention of 7 days).
func NewHandler(opts ...HandlerOption) *Handler {
	h := &Handler{}
	for _, o := range opts {
		o(h)
	}
	h.init()
	return h
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
// fn runs on the request's goroutine, so keep it short; a panic in it is not recovered.
func WithObserver(fn func(r *http.Request, res Result)) HandlerOption {
	return func(h *Handler) { h.observer = fn }
}

// init fills in the defaults, once; it makes the zero Handler usable.
func (h *Handler) init() {
	h.once.Do(func() {
		if h.verifier == nil {
			h.verifier, h.verifierErr = NewVerifier()
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

// ServeHTTP handles one delivery: read, verify, decode, check the age, claim, dispatch, answer.
// Every way it ends is an error (nil when the callbacks succeeded) that classify turns into
// the status, the outcome and the log level.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	start := time.Now()
	ev, err := h.process(r)
	h.answer(w, r, start, ev, err)
}

// process runs the steps of one delivery; the first that fails ends it. It returns the decoded
// event (nil before decoding) and the error the delivery ended with.
func (h *Handler) process(r *http.Request) (*Event, error) {
	if r.Method != http.MethodPost {
		return nil, errMethodNotAllowed
	}
	if h.verifierErr != nil {
		return nil, fmt.Errorf("%w: %w", errMisconfigured, h.verifierErr)
	}
	body, err := readBody(r, h.maxBody)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if err := h.verifier.Verify(ctx, r.Header, body); err != nil {
		return nil, err
	}
	ev, err := ParseEvent(body)
	if err != nil {
		return nil, err
	}
	if err := h.checkAge(ev); err != nil {
		return ev, err
	}
	claim, err := h.claim(ctx, body)
	if err != nil {
		return ev, err
	}
	err = h.dispatch(ctx, ev)
	h.settle(ctx, ev, claim, err)
	return ev, err
}

// answer writes the status that classify gives for err, logs the request's line and calls the
// observer.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, start time.Time, ev *Event, err error) {
	v := classify(err)
	hdr := w.Header()
	switch {
	case v.retryAfter != "":
		hdr.Set("Retry-After", v.retryAfter)
	case v.status == http.StatusMethodNotAllowed:
		hdr.Set("Allow", http.MethodPost)
	}
	if v.status == http.StatusOK {
		err = nil // a duplicate or an event without callbacks is acknowledged, not failed
	}
	body := v.body
	if body == "" {
		body = err.Error() + "\n" // only for signed bodies: the sender sees what was wrong with its event
	}
	writeText(w, v.status, body)
	d := time.Since(start)
	h.log(r.Context(), ev, v, d, err)
	if h.observer != nil {
		h.observer(r, Result{Event: ev, Status: v.status, Outcome: v.outcome, Err: err, Duration: d})
	}
}

// claim asks the DedupeStore for the delivery of body. Its error is errDuplicate, errInProgress
// or a failure of the store.
func (h *Handler) claim(ctx context.Context, body []byte) (Claim, error) {
	if h.store == nil {
		return Claim{}, nil
	}
	sum := sha256.Sum256(body)
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])
	c, err := h.store.Begin(ctx, string(hexSum[:]))
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
// they failed, so that the retry runs them again.
func (h *Handler) settle(ctx context.Context, e *Event, c Claim, err error) {
	if h.store == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err == nil || err == errNoCallback {
		if derr := h.store.Done(ctx, c); derr != nil {
			// The callbacks succeeded: acknowledging is right. A retry may run them again.
			h.warnClaim(ctx, e, "done", derr)
		}
		return
	}
	if rerr := h.store.Release(ctx, c); rerr != nil {
		h.warnClaim(ctx, e, "release", rerr)
	}
}

// warnClaim logs a failed Done or Release of a dedupe claim: the claim was lost (the callbacks
// outlived the lease and another delivery took over) or the store failed.
func (h *Handler) warnClaim(ctx context.Context, e *Event, op string, err error) {
	msg := "partner center webhook: dedupe store failed to record the delivery; a retry may run the callbacks again"
	if errors.Is(err, ErrClaimLost) {
		msg = "partner center webhook: dedupe claim lost: the callbacks outlived the lease and another delivery took over; they may have run twice"
	}
	h.logger.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("event", string(e.Name)),
		slog.String("op", op), slog.Any("error", err))
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
func (h *Handler) dispatch(ctx context.Context, e *Event) error {
	cbs := h.cbs.Load()
	if cbs == nil {
		return errNoCallback
	}
	fn := cbs.typed[e.Name]
	if fn == nil && !e.Name.Known() {
		fn = cbs.unknown
	}
	if cbs.any == nil && fn == nil {
		return errNoCallback
	}
	if cbs.any != nil {
		if err := h.call(ctx, cbs.any, e); err != nil {
			return err
		}
	}
	if fn != nil {
		return h.call(ctx, fn, e)
	}
	return nil
}

// call runs one callback and turns a panic into an error, logged with its stack.
func (h *Handler) call(ctx context.Context, fn func(context.Context, *Event) error, e *Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			h.logger.LogAttrs(ctx, slog.LevelError, "partner center webhook: callback panicked",
				slog.String("event", string(e.Name)), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
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

// log writes the request's line at the level classify chose. It never holds the signature nor
// the body.
func (h *Handler) log(ctx context.Context, ev *Event, v verdict, d time.Duration, err error) {
	if !h.logger.Enabled(ctx, v.level) {
		return
	}
	var name EventName
	if ev != nil {
		name = ev.Name
	}
	attrs := [6]slog.Attr{
		slog.String("event", string(name)), slog.String("outcome", string(v.outcome)),
		slog.Int("status", v.status), slog.Duration("duration", d),
	}
	n := 4
	if err != nil {
		attrs[n] = slog.String("error", err.Error())
		n++
	}
	if v.fix != "" {
		attrs[n] = slog.String("fix", v.fix)
		n++
	}
	h.logger.LogAttrs(ctx, v.level, "partner center webhook", attrs[:n]...)
}

func writeText(w http.ResponseWriter, status int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
