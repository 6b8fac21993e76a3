package pcwebhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// replacementWarnings returns the WARN lines that say a registration replaced another.
func replacementWarnings(t *testing.T, logs *logBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if strings.Contains(m["msg"].(string), "replaced an earlier one") {
			assert.Equal(t, "WARN", m["level"], line)
			out = append(out, m)
		}
	}
	return out
}

func TestHandlerSecondRegistrationReplacesTheFirstAndWarns(t *testing.T) {
	f := newHandlerFixture(t)
	var ran []string
	f.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error {
		ran = append(ran, "first")
		return nil
	})
	assert.Empty(t, replacementWarnings(t, f.logs), "a first registration is not a replacement")

	f.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error {
		ran = append(ran, "second")
		return nil
	})
	require.Equal(t, 200, f.post(uniqueBody(pcwebhook.EventSubscriptionUpdated)).Code)
	assert.Equal(t, []string{"second"}, ran, "only the latest registration runs")
	w := replacementWarnings(t, f.logs)
	require.Len(t, w, 1)
	assert.Equal(t, "subscription-updated", w[0]["event"])

	// Removing is deliberate, not a replacement; registering again after a removal neither.
	f.h.OnSubscriptionUpdated(nil)
	f.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
	assert.Len(t, replacementWarnings(t, f.logs), 1)

	// Another event's first registration is not a replacement either.
	f.h.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { return nil })
	assert.Len(t, replacementWarnings(t, f.logs), 1)

	for _, reg := range []struct {
		name string
		set  func(func(context.Context, *pcwebhook.Event) error)
	}{{"OnAny", f.h.OnAny}, {"OnUnknown", f.h.OnUnknown}} {
		before := len(replacementWarnings(t, f.logs))
		reg.set(func(context.Context, *pcwebhook.Event) error { return nil })
		assert.Len(t, replacementWarnings(t, f.logs), before, reg.name)
		reg.set(func(context.Context, *pcwebhook.Event) error { return nil })
		w := replacementWarnings(t, f.logs)
		require.Len(t, w, before+1, reg.name)
		assert.Equal(t, reg.name, w[before]["callback"])
	}
}

// TestZeroHandlerRegistrationWarns: the zero Handler logs the replacement to its default logger,
// slog.Default (swapped here for the test's buffer), rather than failing on a nil one.
func TestZeroHandlerRegistrationWarns(t *testing.T) {
	logs := &logBuffer{}
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, nil)))
	defer slog.SetDefault(saved)

	var h pcwebhook.Handler
	h.OnAny(func(context.Context, *pcwebhook.Event) error { return nil })
	h.OnAny(func(context.Context, *pcwebhook.Event) error { return nil })
	w := replacementWarnings(t, logs)
	require.Len(t, w, 1)
	assert.Equal(t, "OnAny", w[0]["callback"])
}

// TestCallbackMayKeepRaw holds the callback contract's promise that Raw may be kept: the bytes a
// callback kept are unchanged after later deliveries of other bodies through the same Handler.
func TestCallbackMayKeepRaw(t *testing.T) {
	f := newHandlerFixture(t)
	var kept [][]byte
	var copies []string
	f.h.OnAny(func(_ context.Context, e *pcwebhook.Event) error {
		kept = append(kept, e.Raw)
		copies = append(copies, string(e.Raw))
		return nil
	})
	for range 20 {
		require.Equal(t, 200, f.post(uniqueBody(pcwebhook.EventSubscriptionUpdated)).Code)
	}
	require.Len(t, kept, 20)
	for i := range kept {
		assert.Equal(t, copies[i], string(kept[i]), "delivery %d: the kept Raw changed", i)
	}
}

// TestCallbackContextIsTheRequests holds the contract's promise about the context: the callback
// gets the request's context (its values, its cancellation), with no deadline added.
func TestCallbackContextIsTheRequests(t *testing.T) {
	f := newHandlerFixture(t)
	type key struct{}
	var gotValue any
	var hasDeadline bool
	var cancelled error
	f.h.OnSubscriptionUpdated(func(ctx context.Context, _ *pcwebhook.SubscriptionEvent) error {
		gotValue = ctx.Value(key{})
		_, hasDeadline = ctx.Deadline()
		cancelled = ctx.Err()
		return nil
	})
	body := uniqueBody(pcwebhook.EventSubscriptionUpdated)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "mine"))
	r := newSignedRequest(f, body).WithContext(ctx)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, "mine", gotValue)
	assert.False(t, hasDeadline, "the Handler adds no deadline of its own")
	assert.NoError(t, cancelled)

	// Partner Center hanging up cancels the request's context, and so the callback's.
	f.h.OnSubscriptionUpdated(func(ctx context.Context, _ *pcwebhook.SubscriptionEvent) error {
		cancelled = ctx.Err()
		return ctx.Err()
	})
	cancel()
	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, newSignedRequest(f, uniqueBody(pcwebhook.EventSubscriptionUpdated)).WithContext(ctx))
	assert.ErrorIs(t, cancelled, context.Canceled)
	assert.Equal(t, 500, w.Code, "a callback that gives up is retried")
}

func newSignedRequest(f *handlerFixture, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/partner-center", bytes.NewReader(body))
	for k, v := range f.s.Sign(body) {
		r.Header[k] = v
	}
	return r
}
