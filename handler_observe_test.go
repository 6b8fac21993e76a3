package pcwebhook_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// TestSeveralObserversRunInOrder: every WithObserver runs, in the order given, with the same
// Result, which carries the delivery key of a verified request.
func TestSeveralObserversRunInOrder(t *testing.T) {
	var order []string
	var results []pcwebhook.Result
	observe := func(name string) func(*http.Request, pcwebhook.Result) {
		return func(_ *http.Request, res pcwebhook.Result) {
			order = append(order, name)
			results = append(results, res)
		}
	}
	f := newHandlerFixture(t, pcwebhook.WithObserver(observe("metrics")), pcwebhook.WithObserver(nil),
		pcwebhook.WithObserver(observe("traces")))
	body := uniqueBody(pcwebhook.EventTestCreated)
	f.post(body)
	assert.Equal(t, []string{"metrics", "traces"}, order)
	require.Len(t, results, 2)
	assert.Equal(t, results[0], results[1])
	sum := sha256.Sum256(body)
	assert.Equal(t, hex.EncodeToString(sum[:]), results[0].DeliveryKey, "the hex SHA-256 of the body")

	order, results = nil, nil
	f.do([]byte(`{}`), http.Header{})
	require.Len(t, results, 2)
	assert.Empty(t, results[0].DeliveryKey, "an unverified request has no delivery key")
}

// TestCallbackMiddlewareWrapsEveryRun: the middlewares see each callback run (OnAny, then the
// typed one), outermost first, pass their context on to the callback, and see its error and its
// panic as an error.
func TestCallbackMiddlewareWrapsEveryRun(t *testing.T) {
	type ctxKey struct{}
	var trace []string
	mw := func(name string) pcwebhook.CallbackMiddleware {
		return func(ctx context.Context, run pcwebhook.CallbackRun, next func(context.Context) error) error {
			trace = append(trace, name+">"+string(run.Kind)+":"+string(run.Event.Name))
			assert.Len(t, run.DeliveryKey, 64)
			err := next(context.WithValue(ctx, ctxKey{}, name))
			end := "ok"
			if err != nil {
				end = "err"
			}
			trace = append(trace, name+"<"+end)
			return err
		}
	}
	f := newObservedFixture(t, pcwebhook.WithCallbackMiddleware(mw("outer")), pcwebhook.WithCallbackMiddleware(mw("inner")))
	var seen []any
	f.h.OnAny(func(ctx context.Context, _ *pcwebhook.Event) error {
		seen = append(seen, ctx.Value(ctxKey{}))
		return nil
	})
	f.h.OnTestCreated(func(ctx context.Context, _ *pcwebhook.TestEvent) error { return errors.New("database down") })
	f.h.OnUnknown(func(context.Context, *pcwebhook.Event) error { panic("boom") })

	assert.Equal(t, http.StatusInternalServerError, f.post(uniqueBody(pcwebhook.EventTestCreated)).Code)
	assert.Equal(t, []string{
		"outer>any:test-created", "inner>any:test-created", "inner<ok", "outer<ok",
		"outer>typed:test-created", "inner>typed:test-created", "inner<err", "outer<err",
	}, trace)
	assert.Equal(t, []any{"inner"}, seen, "the callback runs with the innermost middleware's context")
	assert.Equal(t, pcwebhook.OutcomeCallbackError, f.last(t).Outcome)

	trace = nil
	assert.Equal(t, http.StatusInternalServerError, f.post(uniqueBody("brand-new-event")).Code)
	assert.Equal(t, "outer>unknown:brand-new-event", trace[4])
	assert.Equal(t, "outer<err", trace[len(trace)-1], "a panic reaches the middleware as an error")
	assert.Equal(t, pcwebhook.OutcomeCallbackPanic, f.last(t).Outcome)
}

// TestCallbackMiddlewareErrorFailsTheDelivery: an error of the middleware itself is the run's
// error: 500, and the delivery is released for the retry.
func TestCallbackMiddlewareErrorFailsTheDelivery(t *testing.T) {
	refuse := func(ctx context.Context, _ pcwebhook.CallbackRun, next func(context.Context) error) error {
		return errors.New("rate limited")
	}
	f := newObservedFixture(t, pcwebhook.WithCallbackMiddleware(refuse))
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
		t.Error("the middleware did not call next")
		return nil
	})
	body := uniqueBody(pcwebhook.EventTestCreated)
	assert.Equal(t, http.StatusInternalServerError, f.post(body).Code)
	assert.Equal(t, pcwebhook.OutcomeCallbackError, f.last(t).Outcome)
	assert.ErrorContains(t, f.last(t).Err, "rate limited")
}

// TestLogLinesCarryTheEventsIDs: the request's line of a verified event says which customer and
// subscription it is about, and its delivery key, also when a callback failed or panicked.
func TestLogLinesCarryTheEventsIDs(t *testing.T) {
	f := newHandlerFixture(t)
	f.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { panic("boom") })
	body := []byte(strings.Replace(string(uniqueBody(pcwebhook.EventSubscriptionUpdated)), "customers/c-", "customers/cust-", 1))
	f.post(body)
	var request, panicked map[string]any
	for _, l := range f.logs.lines(t) {
		switch l["msg"] {
		case "partner center webhook":
			request = l
		case "partner center webhook: callback panicked":
			panicked = l
		}
	}
	for _, l := range []map[string]any{request, panicked} {
		require.NotNil(t, l)
		assert.Equal(t, "subscription-updated", l["event"])
		assert.True(t, strings.HasPrefix(l["customer_id"].(string), "cust-"), "%v", l)
		assert.NotEmpty(t, l["subscription_id"])
		assert.Len(t, l["delivery_key"], 64)
	}
}

func TestResourceIDKey(t *testing.T) {
	for name, want := range map[string]string{
		"CustomerID": "customer_id", "SubscriptionID": "subscription_id", "RelationshipID": "relationship_id",
		"CorrelationID": "correlation_id", "ID": "id", "": "",
	} {
		assert.Equal(t, want, pcwebhook.ResourceID{Name: name}.Key(), name)
	}
}

// TestResultEventLabel: the metric label of a delivery's event has a bounded set of values.
func TestResultEventLabel(t *testing.T) {
	for _, c := range []struct {
		ev   *pcwebhook.Event
		want string
	}{
		{nil, ""},
		{&pcwebhook.Event{Name: pcwebhook.EventInvoiceReady}, "invoice-ready"},
		{&pcwebhook.Event{Name: "made-up-by-a-sender-1234"}, pcwebhook.EventLabelUnknown},
	} {
		assert.Equal(t, c.want, pcwebhook.Result{Event: c.ev}.EventLabel())
	}
}
