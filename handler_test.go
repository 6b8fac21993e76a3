package pcwebhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// sender is shared by the handler tests: creating one generates three RSA keys.
var (
	senderOnce sync.Once
	sharedSend *pcwebhooktest.Sender
	senderErr  error
)

func testSender(t testing.TB) *pcwebhooktest.Sender {
	t.Helper()
	senderOnce.Do(func() { sharedSend, senderErr = pcwebhooktest.NewSender() })
	require.NoError(t, senderErr)
	return sharedSend
}

// logBuffer collects the handler's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// requestLines returns the per-request log lines, decoded.
func (l *logBuffer) requestLines(t testing.TB) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "partner center webhook" {
			out = append(out, m)
		}
	}
	return out
}

type handlerFixture struct {
	s    *pcwebhooktest.Sender
	h    *pcwebhook.Handler
	logs *logBuffer
}

func newHandlerFixture(t testing.TB, opts ...pcwebhook.HandlerOption) *handlerFixture {
	s := testSender(t)
	logs := &logBuffer{}
	base := []pcwebhook.HandlerOption{
		pcwebhook.WithVerifier(s.Verifier()),
		pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	return &handlerFixture{s: s, h: pcwebhook.NewHandler(append(base, opts...)...), logs: logs}
}

// post signs body and serves it through the handler in process.
func (f *handlerFixture) post(body []byte) *httptest.ResponseRecorder {
	return f.do(body, f.s.Sign(body))
}

func (f *handlerFixture) do(body []byte, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/partner-center", bytes.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

var uniq atomic.Int64

// uniqueBody is a signed-able body of the given event that no other call returns.
func uniqueBody(name pcwebhook.EventName) []byte {
	n := uniq.Add(1)
	return []byte(fmt.Sprintf(`{"EventName":%q,"ResourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/customers/c-%d/subscriptions/s-%d","ResourceName":"subscription","AuditUri":null,"ResourceChangeUtcDate":"2026-11-22T10:00:00.0000000+00:00"}`, name, n, n))
}

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

func TestHandlerWireContract(t *testing.T) {
	callbackErr := errors.New("database down")
	cases := []struct {
		name       string
		setup      func(f *handlerFixture)
		request    func(f *handlerFixture) *httptest.ResponseRecorder
		status     int
		outcome    string
		header     map[string]string
		bodyHas    string
		bodyHasNot []string
	}{
		{
			name: "GET is 405 with Allow",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				return w
			},
			status: 405, outcome: "method-not-allowed", header: map[string]string{"Allow": "POST"},
		},
		{
			name: "PUT is 405",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				body := uniqueBody(pcwebhook.EventTestCreated)
				r := httptest.NewRequest(http.MethodPut, "/", bytes.NewReader(body))
				for k, v := range f.s.Sign(body) {
					r.Header[k] = v
				}
				f.h.ServeHTTP(w, r)
				return w
			},
			status: 405, outcome: "method-not-allowed",
		},
		{
			name: "body over the limit is 413",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				body := append(uniqueBody(pcwebhook.EventTestCreated), bytes.Repeat([]byte(" "), pcwebhook.DefaultMaxBodyBytes)...)
				return f.post(body)
			},
			status: 413, outcome: "body-too-large",
		},
		{
			name: "chunked body over the limit is 413",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				body := append(uniqueBody(pcwebhook.EventTestCreated), bytes.Repeat([]byte(" "), pcwebhook.DefaultMaxBodyBytes)...)
				r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(body)))
				r.ContentLength = -1
				for k, v := range f.s.Sign(body) {
					r.Header[k] = v
				}
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, r)
				return w
			},
			status: 413, outcome: "body-too-large",
		},
		{
			name:    "signed but malformed JSON is 400",
			request: func(f *handlerFixture) *httptest.ResponseRecorder { return f.post([]byte(`{"EventName":`)) },
			status:  400, outcome: "malformed-event", bodyHas: "malformed event",
		},
		{
			name:    "signed but without EventName is 400",
			request: func(f *handlerFixture) *httptest.ResponseRecorder { return f.post([]byte(`{"ResourceName":"x"}`)) },
			status:  400, outcome: "malformed-event", bodyHas: "EventName",
		},
		{
			name: "tampered body is 401 with a generic answer",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				body := uniqueBody(pcwebhook.EventSubscriptionUpdated)
				h := f.s.Sign(body)
				return f.do(bytes.Replace(body, []byte("subscription-updated"), []byte("subscription-UPDATED"), 1), h)
			},
			status: 401, outcome: "verification-failed", bodyHasNot: []string{"signature", "certificate", "subscription"},
		},
		{
			name: "unsigned request is 401",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.do(uniqueBody(pcwebhook.EventTestCreated), http.Header{"Content-Type": {"application/json"}})
			},
			status: 401, outcome: "verification-failed",
		},
		{
			name: "callback error is 500",
			setup: func(f *handlerFixture) {
				f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return callbackErr })
			},
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody(pcwebhook.EventTestCreated))
			},
			status: 500, outcome: "callback-error", bodyHasNot: []string{"database"},
		},
		{
			name: "OnAny error is 500 and the typed callback does not run",
			setup: func(f *handlerFixture) {
				f.h.OnAny(func(context.Context, *pcwebhook.Event) error { return callbackErr })
				f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { panic("must not run") })
			},
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody(pcwebhook.EventTestCreated))
			},
			status: 500, outcome: "callback-error",
		},
		{
			name: "callback panic is 500",
			setup: func(f *handlerFixture) {
				f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { panic("boom") })
			},
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody(pcwebhook.EventTestCreated))
			},
			status: 500, outcome: "callback-panic", bodyHasNot: []string{"boom"},
		},
		{
			name: "no callback registered is 200",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody(pcwebhook.EventInvoiceReady))
			},
			status: 200, outcome: "acknowledged-no-callback",
		},
		{
			name: "unknown event without OnUnknown is 200",
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody("billing-profile-updated"))
			},
			status: 200, outcome: "acknowledged-no-callback",
		},
		{
			name: "unknown event goes to OnUnknown",
			setup: func(f *handlerFixture) {
				f.h.OnUnknown(func(_ context.Context, e *pcwebhook.Event) error {
					if e.Name != "billing-profile-updated" {
						return fmt.Errorf("wrong event %s", e.Name)
					}
					return nil
				})
			},
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody("billing-profile-updated"))
			},
			status: 200, outcome: "handled",
		},
		{
			name: "OnUnknown error is 500",
			setup: func(f *handlerFixture) {
				f.h.OnUnknown(func(context.Context, *pcwebhook.Event) error { return callbackErr })
			},
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody("billing-profile-updated"))
			},
			status: 500, outcome: "callback-error",
		},
		{
			name: "OnUnknown does not see known events",
			setup: func(f *handlerFixture) {
				f.h.OnUnknown(func(context.Context, *pcwebhook.Event) error { return callbackErr })
			},
			request: func(f *handlerFixture) *httptest.ResponseRecorder {
				return f.post(uniqueBody(pcwebhook.EventInvoiceReady))
			},
			status: 200, outcome: "acknowledged-no-callback",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newHandlerFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			w := c.request(f)
			assert.Equal(t, c.status, w.Code, w.Body.String())
			for k, v := range c.header {
				assert.Equal(t, v, w.Header().Get(k), k)
			}
			if c.bodyHas != "" {
				assert.Contains(t, w.Body.String(), c.bodyHas)
			}
			for _, s := range c.bodyHasNot {
				assert.NotContains(t, strings.ToLower(w.Body.String()), s)
			}
			lines := f.logs.requestLines(t)
			require.Len(t, lines, 1, "one log line per request")
			assert.Equal(t, c.outcome, lines[0]["outcome"])
			assert.EqualValues(t, c.status, lines[0]["status"])
			assert.Contains(t, lines[0], "duration")
		})
	}
}

func TestHandlerCertificateUnavailableIs503(t *testing.T) {
	// A second sender whose certificate server is closed: its URL is allowed but cannot be fetched.
	gone, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	v := gone.Verifier()
	body := uniqueBody(pcwebhook.EventTestCreated)
	header := gone.Sign(body)
	gone.Close()

	f := newHandlerFixture(t, pcwebhook.WithVerifier(v))
	ran := false
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran = true; return nil })
	w := f.do(body, header)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.False(t, ran)
	lines := f.logs.requestLines(t)
	require.Len(t, lines, 1)
	assert.Equal(t, "certificate-unavailable", lines[0]["outcome"])
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

func TestHandlerDeduplicates(t *testing.T) {
	t.Run("a handled delivery is acknowledged without running callbacks", func(t *testing.T) {
		f := newHandlerFixture(t)
		var n, any atomic.Int32
		f.h.OnAny(func(context.Context, *pcwebhook.Event) error { any.Add(1); return nil })
		f.h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { n.Add(1); return nil })
		body := uniqueBody(pcwebhook.EventSubscriptionUpdated)
		for i := 0; i < 3; i++ {
			assert.Equal(t, 200, f.post(body).Code)
		}
		assert.Equal(t, int32(1), n.Load())
		assert.Equal(t, int32(1), any.Load())
		lines := f.logs.requestLines(t)
		require.Len(t, lines, 3)
		assert.Equal(t, "handled", lines[0]["outcome"])
		assert.Equal(t, "duplicate-acknowledged", lines[1]["outcome"])
		assert.Equal(t, "duplicate-acknowledged", lines[2]["outcome"])
	})
	t.Run("a failed delivery is released so the retry runs", func(t *testing.T) {
		f := newHandlerFixture(t)
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
			if n.Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		body := uniqueBody(pcwebhook.EventTestCreated)
		assert.Equal(t, 500, f.post(body).Code)
		assert.Equal(t, 500, f.post(body).Code)
		assert.Equal(t, 200, f.post(body).Code)
		assert.Equal(t, 200, f.post(body).Code)
		assert.Equal(t, int32(3), n.Load())
	})
	t.Run("a duplicate of an in-progress delivery gets 503, never 2xx", func(t *testing.T) {
		f := newHandlerFixture(t)
		entered, release := make(chan struct{}), make(chan struct{})
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
			n.Add(1)
			close(entered)
			<-release
			return errors.New("first attempt fails after all")
		})
		body := uniqueBody(pcwebhook.EventTestCreated)
		first := make(chan int)
		go func() { first <- f.post(body).Code }()
		<-entered
		w := f.post(body)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.NotEmpty(t, w.Header().Get("Retry-After"))
		close(release)
		assert.Equal(t, 500, <-first)
		assert.Equal(t, int32(1), n.Load())
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { n.Add(1); return nil })
		assert.Equal(t, 200, f.post(body).Code, "after the failure the retry runs")
		assert.Equal(t, int32(2), n.Load())
	})
	t.Run("an unverified request never marks a body as seen", func(t *testing.T) {
		f := newHandlerFixture(t)
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { n.Add(1); return nil })
		body := uniqueBody(pcwebhook.EventTestCreated)
		forged := f.s.Sign(body)
		forged.Set("Authorization", "Signature "+strings.Repeat("QUJD", 86)+"QQ==")
		assert.Equal(t, 401, f.do(body, forged).Code)
		assert.Equal(t, 401, f.do(body, http.Header{}).Code)
		assert.Equal(t, 200, f.post(body).Code)
		assert.Equal(t, int32(1), n.Load(), "the genuine delivery ran its callback")
	})
	t.Run("WithoutDeduplication runs every delivery", func(t *testing.T) {
		f := newHandlerFixture(t, pcwebhook.WithoutDeduplication())
		var n atomic.Int32
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { n.Add(1); return nil })
		body := uniqueBody(pcwebhook.EventTestCreated)
		f.post(body)
		f.post(body)
		assert.Equal(t, int32(2), n.Load())
	})
	t.Run("a failing store is 503 and runs no callback", func(t *testing.T) {
		f := newHandlerFixture(t, pcwebhook.WithDedupeStore(failingStore{}))
		ran := false
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran = true; return nil })
		w := f.post(uniqueBody(pcwebhook.EventTestCreated))
		assert.Equal(t, 503, w.Code)
		assert.NotEmpty(t, w.Header().Get("Retry-After"))
		assert.False(t, ran)
	})
}

type failingStore struct{}

func (failingStore) Begin(context.Context, string) (pcwebhook.Claim, error) {
	return pcwebhook.Claim{}, errors.New("redis: connection refused")
}
func (failingStore) Done(context.Context, pcwebhook.Claim) error    { return nil }
func (failingStore) Release(context.Context, pcwebhook.Claim) error { return nil }

func TestHandlerMaxEventAge(t *testing.T) {
	s := testSender(t)
	// The Verifier's clock must be one the sender's certificates are valid at: they are made from
	// the real clock, so the fixed "now" is derived from it too (never a calendar date).
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	f := newHandlerFixture(t, pcwebhook.WithVerifier(s.Verifier(pcwebhook.WithClock(clock))), pcwebhook.WithMaxEventAge(72*time.Hour))
	body := func(date string) []byte {
		return []byte(fmt.Sprintf(`{"EventName":"test-created","ResourceUri":"https://h/webhooks/v1/registration/validationEvents/%d","ResourceChangeUtcDate":%s}`, uniq.Add(1), date))
	}
	at := func(d time.Duration) string { return `"` + now.Add(d).Format(time.RFC3339) + `"` }
	plus2 := time.FixedZone("+02:00", 2*60*60)
	assert.Equal(t, 200, f.post(body(at(-48*time.Hour))).Code, "48 hours late is inside 72")
	assert.Equal(t, 200, f.post(body(`"`+now.Add(2*time.Hour).In(plus2).Format(time.RFC3339)+`"`)).Code, "inside the window in another offset")
	assert.Equal(t, 400, f.post(body(at(-72*time.Hour-time.Second))).Code, "older than 72 hours")
	assert.Equal(t, 400, f.post(body(at(72*time.Hour+time.Second))).Code, "more than 72 hours in the future")
	assert.Equal(t, 400, f.post(body(`null`)).Code, "no date cannot prove freshness")
	assert.Contains(t, f.logs.String(), "event-too-old")
}

func TestHandlerLogsNeverHoldSignatureOrBody(t *testing.T) {
	f := newHandlerFixture(t)
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return errors.New("fail") })
	body := []byte(`{"EventName":"test-created","ResourceUri":"https://h/webhooks/v1/registration/validationEvents/SECRET-MARKER-1234","ResourceChangeUtcDate":"2026-11-22T10:00:00Z"}`)
	h := f.s.Sign(body)
	f.do(body, h)
	tampered := bytes.Replace(body, []byte("1234"), []byte("9999"), 1)
	f.do(tampered, h)
	f.do([]byte(`{"EventName":"SECRET-MARKER-5678"`), f.s.Sign([]byte(`{"EventName":"SECRET-MARKER-5678"`)))
	logs := f.logs.String()
	assert.NotContains(t, logs, "SECRET-MARKER")
	sig := strings.TrimPrefix(h.Get("Authorization"), "Signature ")
	require.NotEmpty(t, sig)
	assert.NotContains(t, logs, sig)
	assert.NotContains(t, logs, sig[:16])
	assert.Len(t, f.logs.requestLines(t), 3)
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

func TestZeroHandlerFailsClosed(t *testing.T) {
	var h pcwebhook.Handler
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, 405, w.Code)

	// The zero Handler uses the production policy: the test sender's certificate URL is not on it.
	s := testSender(t)
	body := uniqueBody(pcwebhook.EventTestCreated)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	for k, v := range s.Sign(body) {
		r.Header[k] = v
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, 401, w.Code)
}

func TestParseRequest(t *testing.T) {
	s := testSender(t)
	v := s.Verifier()
	body := pcwebhooktest.SampleEvent(pcwebhook.EventGranularAdminRelationshipApproved)
	newReq := func(body []byte, h http.Header) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		for k, vs := range h {
			r.Header[k] = vs
		}
		return r
	}

	e, err := pcwebhook.ParseRequest(newReq(body, s.Sign(body)), v)
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.EventGranularAdminRelationshipApproved, e.Name)
	assert.Equal(t, body, e.Raw)

	_, err = pcwebhook.ParseRequest(newReq(body, s.Sign(body)), nil)
	assert.ErrorIs(t, err, pcwebhook.ErrNoVerifier)

	_, err = pcwebhook.ParseRequest(newReq(append([]byte("x"), body...), s.Sign(body)), v)
	assert.ErrorIs(t, err, pcwebhook.ErrBadSignature)
	assert.Equal(t, 401, pcwebhook.HTTPStatus(err))

	big := bytes.Repeat([]byte("a"), pcwebhook.DefaultMaxBodyBytes+1)
	_, err = pcwebhook.ParseRequest(newReq(big, s.Sign(big)), v)
	assert.ErrorIs(t, err, pcwebhook.ErrBodyTooLarge)
	assert.Equal(t, 413, pcwebhook.HTTPStatus(err))

	bad := []byte(`["not an event"]`)
	_, err = pcwebhook.ParseRequest(newReq(bad, s.Sign(bad)), v)
	assert.ErrorIs(t, err, pcwebhook.ErrMalformedEvent)
	assert.Equal(t, 400, pcwebhook.HTTPStatus(err))

	r := newReq(body, s.Sign(body))
	r.Body = io.NopCloser(iotestErrReader{})
	_, err = pcwebhook.ParseRequest(r, v)
	assert.ErrorIs(t, err, pcwebhook.ErrBodyUnreadable)
	assert.Equal(t, 400, pcwebhook.HTTPStatus(err))

	r = newReq(body, s.Sign(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	_, err = pcwebhook.ParseRequest(r, v)
	assert.ErrorIs(t, err, pcwebhook.ErrBodyTooLarge, "a user's MaxBytesReader limit is a 413 too")
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestHTTPStatus(t *testing.T) {
	cases := map[error]int{
		nil:                                  200,
		pcwebhook.ErrBodyTooLarge:            413,
		pcwebhook.ErrBodyUnreadable:          400,
		pcwebhook.ErrMalformedEvent:          400,
		pcwebhook.ErrCertificateUnavailable:  503,
		pcwebhook.ErrMissingSignature:        401,
		pcwebhook.ErrMissingCertificateURL:   401,
		pcwebhook.ErrUnsupportedAlgorithm:    401,
		pcwebhook.ErrUntrustedCertificateURL: 401,
		pcwebhook.ErrUntrustedCertificate:    401,
		pcwebhook.ErrBadSignature:            401,
		errors.New("anything else"):          500,
		fmt.Errorf("wrapped: %w", pcwebhook.ErrCertificateUnavailable): 503,
	}
	for err, want := range cases {
		assert.Equal(t, want, pcwebhook.HTTPStatus(err), "%v", err)
	}
}

// BenchmarkHandler serves unique, correctly signed deliveries in process with a warm certificate
// cache. Compare with BenchmarkRSAFloor (verify_test.go) in the same run:
//
//	go test -run '^$' -bench 'Handler|RSAFloor' -benchmem .
//
// benchBodies are unique subscription-updated bodies with their signatures, made once per test
// binary (signing is slow, and the benchmark function runs several times).
var benchBodies = sync.OnceValues(func() ([][]byte, []http.Header) {
	s := sharedSend
	const pool = 256 // small enough to stay in the CPU caches, as the floor's one body does
	bodies := make([][]byte, pool)
	headers := make([]http.Header, pool)
	for i := range bodies {
		bodies[i] = uniqueBody(pcwebhook.EventSubscriptionUpdated)
		headers[i] = s.Sign(bodies[i])
	}
	return bodies, headers
})

func BenchmarkHandler(b *testing.B) {
	s := testSender(b)
	bodies, headers := benchBodies()
	pool := len(bodies)
	v := s.Verifier()
	newHandler := func() *pcwebhook.Handler {
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v),
			pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
		h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
		return h
	}
	h := newHandler()
	warm := httptest.NewRecorder()
	h.ServeHTTP(warm, requestFor(bodies[0], headers[0]))
	if warm.Code != 200 {
		b.Fatalf("warm-up: %d %s", warm.Code, warm.Body)
	}
	h = newHandler()
	reqs := make([]*http.Request, pool)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % pool
		if j == 0 {
			b.StopTimer()
			if i > 0 {
				h = newHandler() // a fresh dedupe store: every body is new again
			}
			for k := range reqs {
				reqs[k] = requestFor(bodies[k], headers[k])
			}
			b.StartTimer()
		}
		w := discardWriter{h: http.Header{}}
		h.ServeHTTP(&w, reqs[j])
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

func requestFor(body []byte, h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header = h.Clone()
	return r
}

// discardWriter is a minimal ResponseWriter, so the benchmark measures the handler, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestHandlerProcessDiesMidCallback: Partner Center got no 2xx, so it retries. A restarted
// process (a new Handler with its own in-memory store) handles the retry; a replica sharing the
// store answers 503 while the dead one's in-progress mark lasts (DefaultDedupeLease), so the
// event is neither lost nor handled twice at once.
func TestHandlerProcessDiesMidCallback(t *testing.T) {
	s := testSender(t)
	store := pcwebhook.NewMemoryDedupeStore(0, 0)
	dead := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
	entered := make(chan struct{})
	dead.h.OnTestCreated(func(ctx context.Context, _ *pcwebhook.TestEvent) error {
		close(entered)
		<-ctx.Done() // the process "dies" here: the callback never returns on its own
		return ctx.Err()
	})
	body := uniqueBody(pcwebhook.EventTestCreated)
	ctx, kill := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)).WithContext(ctx)
	for k, v := range s.Sign(body) {
		r.Header[k] = v
	}
	done := make(chan struct{})
	go func() { dead.h.ServeHTTP(httptest.NewRecorder(), r); close(done) }()
	<-entered

	replica := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
	var ran atomic.Int32
	replica.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
	assert.Equal(t, http.StatusServiceUnavailable, replica.post(body).Code, "a replica sharing the store does not run it concurrently")

	restarted := newHandlerFixture(t)
	restarted.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
	assert.Equal(t, http.StatusOK, restarted.post(body).Code, "after a restart the retry is handled")
	assert.Equal(t, int32(1), ran.Load())

	kill()
	<-done
	assert.Equal(t, http.StatusOK, replica.post(body).Code, "once the failed attempt released it, the shared store lets the retry run")
	assert.Equal(t, int32(2), ran.Load())
}

// TestHandlerHungCallbackPastLease: a callback that outlives the dedupe lease loses its claim;
// another replica takes the retry over, and the late owner's Done or Release changes nothing
// (the event stays handled once by the new owner) and is logged at WARN.
func TestHandlerHungCallbackPastLease(t *testing.T) {
	for _, late := range []struct {
		name string
		err  error
	}{{"late success", nil}, {"late failure", errors.New("gave up")}} {
		t.Run(late.name, func(t *testing.T) {
			store := pcwebhook.NewMemoryDedupeStoreWithOptions(pcwebhook.MemoryDedupeOptions{Lease: 50 * time.Millisecond})
			hung := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
			entered, release := make(chan struct{}), make(chan struct{})
			hung.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error {
				close(entered)
				<-release
				return late.err
			})
			body := uniqueBody(pcwebhook.EventTestCreated)
			done := make(chan int)
			go func() { done <- hung.post(body).Code }()
			<-entered
			time.Sleep(80 * time.Millisecond) // past the lease

			replica := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
			var ran atomic.Int32
			replica.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
			replica2 := newHandlerFixture(t, pcwebhook.WithDedupeStore(store))
			replica2.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { ran.Add(1); return nil })
			require.Equal(t, http.StatusOK, replica.post(body).Code, "the retry is taken over once the lease ran out")
			assert.Equal(t, http.StatusOK, replica2.post(body).Code, "and is then a duplicate on any replica")

			close(release)
			<-done
			assert.Contains(t, hung.logs.String(), "dedupe claim lost", "the late owner says so at WARN")
			assert.Contains(t, hung.logs.String(), `"level":"WARN"`)
			assert.Equal(t, http.StatusOK, replica2.post(body).Code, "the late owner could not undo the takeover")
			assert.Equal(t, int32(1), ran.Load())
		})
	}
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
		{401, pcwebhook.OutcomeUnverified, ""},
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

// TestHandlerAllocatesWithTheBodyNotContentLength: a request that announces 32 MiB (under a 32
// MiB limit) and sends 10 bytes costs kilobytes, not the announced size (issue 10, finding 5e).
func TestHandlerAllocatesWithTheBodyNotContentLength(t *testing.T) {
	const announced = 32 << 20
	f := newHandlerFixture(t, pcwebhook.WithMaxBodyBytes(announced))
	serve := func() int {
		r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("0123456789"), iotest.ErrReader(io.ErrUnexpectedEOF)))
		r.ContentLength = announced
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusBadRequest, serve(), "the sender went away after 10 bytes")
	const runs = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		serve()
	}
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
	assert.Less(t, perRequest, uint64(64<<10), "bytes allocated per request announcing %d", announced)
}
