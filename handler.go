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

// Retry-After values (seconds) of the answers that ask Partner Center to retry.
const (
	retryAfterCertificate = "60"
	retryAfterInProgress  = "30"
	retryAfterStore       = "30"
)

// Handler is an http.Handler that receives Partner Center webhooks: it reads the request with a
// size limit, verifies its signature, decodes the event, drops duplicates and calls the callbacks
// registered for the event. Its status codes decide whether Partner Center retries (it makes ten
// attempts, then parks the event for good):
//
//	200 the callbacks returned nil, there was none, or the same body was already handled
//	400 the body is not a valid event, or it is older than WithMaxEventAge
//	401 the signature or certificate does not verify (the body says no more than that)
//	405 the method is not POST (with an Allow header)
//	413 the body is larger than WithMaxBodyBytes
//	500 a callback returned an error or panicked: Partner Center retries
//	503 the signing certificate cannot be fetched now, or the same body is being handled right
//	    now, or the DedupeStore failed (with Retry-After): Partner Center retries
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

// WithLogger sets the logger of the one line written per request. The line has the event name,
// the outcome, the status and the duration; never the signature nor the body.
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

// ServeHTTP handles one delivery. See [Handler] for the status codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	start := time.Now()
	ctx := r.Context()
	var ev *Event
	reply := func(status int, o Outcome, err error, body string) {
		writeText(w, status, body)
		d := time.Since(start)
		var name EventName
		if ev != nil {
			name = ev.Name
		}
		h.log(ctx, name, o, status, d, err)
		if h.observer != nil {
			h.observer(r, Result{Event: ev, Status: status, Outcome: o, Err: err, Duration: d})
		}
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(http.StatusMethodNotAllowed, OutcomeMethodNotAllowed, nil, "method not allowed: use POST\n")
		return
	}
	if h.verifierErr != nil {
		reply(http.StatusInternalServerError, OutcomeMisconfigured, h.verifierErr, "receiver misconfigured\n")
		return
	}
	body, err := readBody(r, h.maxBody)
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			reply(http.StatusRequestEntityTooLarge, OutcomeBodyTooLarge, err, "body too large\n")
		} else {
			reply(http.StatusBadRequest, OutcomeBodyUnreadable, err, "body unreadable\n")
		}
		return
	}
	if err := h.verifier.Verify(ctx, r.Header, body); err != nil {
		if errors.Is(err, ErrCertificateUnavailable) {
			w.Header().Set("Retry-After", retryAfterCertificate)
			reply(http.StatusServiceUnavailable, OutcomeCertificateUnavailable, err, "signing certificate unavailable, retry later\n")
		} else {
			reply(http.StatusUnauthorized, OutcomeUnverified, err, "unauthorized\n")
		}
		return
	}
	e, err := ParseEvent(body)
	if err != nil {
		reply(http.StatusBadRequest, OutcomeMalformedEvent, err, err.Error()+"\n")
		return
	}
	ev = e
	if err := h.checkAge(e); err != nil {
		reply(http.StatusBadRequest, OutcomeEventTooOld, err, err.Error()+"\n")
		return
	}

	var claim Claim
	if h.store != nil {
		sum := sha256.Sum256(body)
		var hexSum [2 * sha256.Size]byte
		hex.Encode(hexSum[:], sum[:])
		c, err := h.store.Begin(ctx, string(hexSum[:]))
		switch {
		case err != nil:
			w.Header().Set("Retry-After", retryAfterStore)
			reply(http.StatusServiceUnavailable, OutcomeDedupeStoreError, err, "temporarily unavailable, retry later\n")
			return
		case c.State == DeliveryDone:
			reply(http.StatusOK, OutcomeDuplicate, nil, "already handled\n")
			return
		case c.State == DeliveryInProgress:
			w.Header().Set("Retry-After", retryAfterInProgress)
			reply(http.StatusServiceUnavailable, OutcomeInProgress, nil, "being handled, retry later\n")
			return
		}
		claim = c
	}

	o, err := h.dispatch(ctx, e)
	if err != nil {
		if h.store != nil {
			if rerr := h.store.Release(context.WithoutCancel(ctx), claim); rerr != nil {
				h.warnClaim(ctx, e, "release", rerr)
			}
		}
		reply(http.StatusInternalServerError, o, err, "callback failed, retry later\n")
		return
	}
	if h.store != nil {
		if err := h.store.Done(context.WithoutCancel(ctx), claim); err != nil {
			// The callbacks succeeded: acknowledging is right. A retry may run them again.
			h.warnClaim(ctx, e, "done", err)
		}
	}
	reply(http.StatusOK, o, nil, "ok\n")
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

// checkAge enforces WithMaxEventAge.
func (h *Handler) checkAge(e *Event) error {
	if h.maxAge <= 0 {
		return nil
	}
	if e.ResourceChangeUTCDate.IsZero() {
		return fmt.Errorf("event has no ResourceChangeUtcDate and a maximum age is set")
	}
	age := h.verifier.now().Sub(e.ResourceChangeUTCDate)
	if age > h.maxAge || -age > h.maxAge {
		return fmt.Errorf("event date %s is outside the accepted window of %s", e.ResourceChangeUTCDate.Format(time.RFC3339), h.maxAge)
	}
	return nil
}

// dispatch runs OnAny, then the typed callback (or OnUnknown), recovering panics.
func (h *Handler) dispatch(ctx context.Context, e *Event) (Outcome, error) {
	cbs := h.cbs.Load()
	if cbs == nil {
		return OutcomeNoCallback, nil
	}
	ran := false
	if cbs.any != nil {
		ran = true
		if o, err := h.call(ctx, cbs.any, e); err != nil {
			return o, err
		}
	}
	fn := cbs.typed[e.Name]
	if fn == nil && !e.Name.Known() {
		fn = cbs.unknown
	}
	if fn != nil {
		ran = true
		if o, err := h.call(ctx, fn, e); err != nil {
			return o, err
		}
	}
	if !ran {
		return OutcomeNoCallback, nil
	}
	return OutcomeHandled, nil
}

// call runs one callback and turns a panic into an error, logged with its stack.
func (h *Handler) call(ctx context.Context, fn func(context.Context, *Event) error, e *Event) (o Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			h.logger.LogAttrs(ctx, slog.LevelError, "partner center webhook: callback panicked",
				slog.String("event", string(e.Name)), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			o, err = OutcomeCallbackPanic, fmt.Errorf("pcwebhook: callback for %s panicked: %v", e.Name, p)
		}
	}()
	if err := fn(ctx, e); err != nil {
		return OutcomeCallbackError, err
	}
	return OutcomeHandled, nil
}

func (h *Handler) log(ctx context.Context, name EventName, o Outcome, status int, d time.Duration, err error) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	if !h.logger.Enabled(ctx, level) {
		return
	}
	if err == nil {
		h.logger.LogAttrs(ctx, level, "partner center webhook",
			slog.String("event", string(name)), slog.String("outcome", string(o)),
			slog.Int("status", status), slog.Duration("duration", d))
		return
	}
	h.logger.LogAttrs(ctx, level, "partner center webhook",
		slog.String("event", string(name)), slog.String("outcome", string(o)),
		slog.Int("status", status), slog.Duration("duration", d), slog.String("error", err.Error()))
}

func writeText(w http.ResponseWriter, status int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
