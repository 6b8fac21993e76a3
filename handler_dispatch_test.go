package pcwebhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
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
