package pcwebhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

func TestHandlerDispatchesEveryDocumentedEventToItsTypedCallback(t *testing.T) {
	f := newHandlerFixture(t)
	type call struct {
		method string
		typed  any
	}
	var mu sync.Mutex
	var calls []call
	ht := reflect.TypeOf(f.h)
	hv := reflect.ValueOf(f.h)
	registered := 0
	for i := 0; i < ht.NumMethod(); i++ {
		m := ht.Method(i)
		if !strings.HasPrefix(m.Name, "On") || m.Name == "OnAny" || m.Name == "OnUnknown" {
			continue
		}
		registered++
		fnType := m.Type.In(1)
		name := m.Name
		fn := reflect.MakeFunc(fnType, func(args []reflect.Value) []reflect.Value {
			mu.Lock()
			calls = append(calls, call{name, args[1].Interface()})
			mu.Unlock()
			return []reflect.Value{reflect.Zero(fnType.Out(0))}
		})
		hv.MethodByName(name).Call([]reflect.Value{fn})
	}
	require.Equal(t, 34, registered, "one typed On method per documented event")

	seen := map[string]pcwebhook.EventName{}
	for _, name := range pcwebhook.KnownEventNames() {
		calls = nil
		w := f.post(pcwebhooktest.SampleEvent(name))
		require.Equal(t, http.StatusOK, w.Code, "%s: %s", name, w.Body)
		require.Len(t, calls, 1, "%s runs exactly one typed callback", name)
		c := calls[0]
		got := reflect.ValueOf(c.typed).Elem().FieldByName("Event").Interface().(pcwebhook.Event)
		assert.Equal(t, name, got.Name)
		assert.Equal(t, "On", c.method[:2])
		prev, dup := seen[c.method]
		assert.False(t, dup, "%s and %s both went to %s", prev, name, c.method)
		seen[c.method] = name
		assert.Equal(t, reflect.TypeOf((&pcwebhook.Event{Name: name}).Typed()), reflect.TypeOf(c.typed), "%s gets its family's struct", name)
	}
	assert.Len(t, seen, 34)
}

func TestHandlerTypedCallbackGetsIDs(t *testing.T) {
	f := newHandlerFixture(t)
	var got *pcwebhook.SubscriptionEvent
	f.h.OnSubscriptionUpdated(func(_ context.Context, e *pcwebhook.SubscriptionEvent) error {
		got = e
		return nil
	})
	body := []byte(`{"EventName":"subscription-updated","ResourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/customers/0b3d6f0e-1111-4e5b-9c3a-9f1f3b8d2c11/subscriptions/7a9e9b34-2222-4f0d-8e7e-1d2c3b4a5f66","ResourceName":"subscription","AuditUri":null,"ResourceChangeUtcDate":"2017-11-16T16:19:06.3520276+00:00"}`)
	w := f.post(body)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NotNil(t, got)
	assert.Equal(t, "0b3d6f0e-1111-4e5b-9c3a-9f1f3b8d2c11", got.CustomerID)
	assert.Equal(t, "7a9e9b34-2222-4f0d-8e7e-1d2c3b4a5f66", got.SubscriptionID)
	assert.Equal(t, body, got.Raw)
	assert.Equal(t, time.Date(2017, 11, 16, 16, 19, 6, 352027600, time.UTC), got.ResourceChangeUTCDate)
}

func TestHandlerKeepsServingAfterPanic(t *testing.T) {
	f := newHandlerFixture(t)
	var n atomic.Int32
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
		if n.Add(1) == 1 {
			panic("first call panics")
		}
		return nil
	})
	body := uniqueBody(pcwebhook.EventTestCreated)
	assert.Equal(t, 500, f.post(body).Code)
	assert.Equal(t, 200, f.post(body).Code, "the retry of the same body runs again and succeeds")
	assert.Equal(t, int32(2), n.Load())
	assert.Contains(t, f.logs.String(), "callback panicked")
	assert.Contains(t, f.logs.String(), "goroutine", "the panic is logged with its stack")
}

func TestHandlerConcurrentDeliveriesAndRegistration(t *testing.T) {
	f := newHandlerFixture(t)
	var handled atomic.Int32
	f.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { handled.Add(1); return nil })
	const n = 100
	bodies := make([][]byte, n)
	headers := make([]http.Header, n)
	for i := range bodies {
		bodies[i] = uniqueBody(pcwebhook.EventSubscriptionUpdated)
		headers[i] = f.s.Sign(bodies[i])
	}
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(bodies[i]))
			req.Header = headers[i].Clone()
			resp, err := srv.Client().Do(req)
			if err != nil {
				codes[i] = -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}(i)
	}
	// Registering while serving is race-free.
	for i := 0; i < 50; i++ {
		f.h.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { return nil })
		f.h.OnAny(nil)
	}
	wg.Wait()
	for i, c := range codes {
		assert.Equal(t, 200, c, "delivery %d", i)
	}
	assert.Equal(t, int32(n), handled.Load())
}

func TestHandlerCallbackRemoval(t *testing.T) {
	f := newHandlerFixture(t)
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return errors.New("x") })
	f.h.OnTestCreated(nil)
	assert.Equal(t, 200, f.post(uniqueBody(pcwebhook.EventTestCreated)).Code)
}

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

func TestHandlerObserver(t *testing.T) {
	var mu sync.Mutex
	var got []pcwebhook.Result
	f := newHandlerFixture(t, pcwebhook.WithObserver(func(r *http.Request, res pcwebhook.Result) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, res)
	}))
	callbackErr := errors.New("downstream unavailable")
	f.h.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { return callbackErr })

	body := uniqueBody(pcwebhook.EventSubscriptionUpdated)
	f.post(body)
	f.post(body)
	f.do(append([]byte(" "), body...), f.s.Sign(body))
	f.post(uniqueBody(pcwebhook.EventInvoiceReady))
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))

	require.Len(t, got, 5)
	want := []struct {
		status  int
		outcome pcwebhook.Outcome
		event   pcwebhook.EventName
	}{
		{200, pcwebhook.OutcomeNoCallback, pcwebhook.EventSubscriptionUpdated},
		{200, pcwebhook.OutcomeDuplicate, pcwebhook.EventSubscriptionUpdated},
		{401, pcwebhook.OutcomeVerificationFailed, ""},
		{500, pcwebhook.OutcomeCallbackError, pcwebhook.EventInvoiceReady},
		{405, pcwebhook.OutcomeMethodNotAllowed, ""},
	}
	for i, w := range want {
		assert.Equal(t, w.status, got[i].Status, "#%d", i)
		assert.Equal(t, w.outcome, got[i].Outcome, "#%d", i)
		if w.event == "" {
			assert.Nil(t, got[i].Event, "#%d", i)
		} else if assert.NotNil(t, got[i].Event, "#%d", i) {
			assert.Equal(t, w.event, got[i].Event.Name, "#%d", i)
		}
		assert.Positive(t, got[i].Duration, "#%d", i)
	}
	assert.NoError(t, got[0].Err)
	var verr *pcwebhook.VerificationError
	assert.ErrorAs(t, got[2].Err, &verr, "the typed verification error reaches the observer")
	assert.ErrorIs(t, got[2].Err, pcwebhook.ErrBadSignature)
	assert.ErrorIs(t, got[3].Err, callbackErr)
}
