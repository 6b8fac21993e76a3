package pcwebhook_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

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

// TestHandlerLogsNeverHoldSignatureOrBody: the log lines carry the IDs of a verified event (its
// ResourceUri's customer, subscription ... IDs), never what an unverified request claims, nor the
// signature, nor a malformed body.
func TestHandlerLogsNeverHoldSignatureOrBody(t *testing.T) {
	f := newHandlerFixture(t)
	f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return errors.New("fail") })
	body := []byte(`{"EventName":"test-created","ResourceUri":"https://h/webhooks/v1/registration/validationEvents/GENUINE-ID-1234","ResourceChangeUtcDate":"` + time.Now().UTC().Format(time.RFC3339) + `"}`)
	h := f.s.Sign(body)
	f.do(body, h)
	tampered := bytes.Replace(body, []byte("GENUINE-ID-1234"), []byte("SECRET-MARKER-9999"), 1)
	f.do(tampered, h)
	f.do([]byte(`{"EventName":"SECRET-MARKER-5678"`), f.s.Sign([]byte(`{"EventName":"SECRET-MARKER-5678"`)))
	logs := f.logs.String()
	assert.NotContains(t, logs, "SECRET-MARKER")
	lines := f.logs.requestLines(t)
	require.Len(t, lines, 3)
	assert.Equal(t, "GENUINE-ID-1234", lines[0]["correlation_id"], "the verified event's ID is on its line")
	assert.Len(t, lines[0]["delivery_key"], 64)
	assert.NotContains(t, lines[1], "delivery_key", "an unverified request has no delivery")
	sig := strings.TrimPrefix(h.Get("Authorization"), "Signature ")
	require.NotEmpty(t, sig)
	assert.NotContains(t, logs, sig)
	assert.NotContains(t, logs, sig[:16])
	assert.Len(t, f.logs.requestLines(t), 3)
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
		pcwebhook.ErrBadSignature:            401,
		errors.New("anything else"):          500,
		fmt.Errorf("wrapped: %w", pcwebhook.ErrCertificateUnavailable): 503,
	}
	for err, want := range cases {
		assert.Equal(t, want, pcwebhook.HTTPStatus(err), "%v", err)
	}
	// A bare sentinel answers as a *VerificationError that wraps it: the same Transient decides.
	for _, s := range []error{pcwebhook.ErrUntrustedCertificate, pcwebhook.ErrCertificateUnavailable, pcwebhook.ErrBadSignature} {
		want := 401
		if (&pcwebhook.VerificationError{Err: s}).Transient() {
			want = 503
		}
		assert.Equal(t, want, pcwebhook.HTTPStatus(s), "%v", s)
		assert.Equal(t, want, pcwebhook.HTTPStatus(fmt.Errorf("wrapped: %w", s)), "%v", s)
	}
}

// observedFixture is a handlerFixture that keeps the Result of every request.
type observedFixture struct {
	*handlerFixture
	mu      sync.Mutex
	results []pcwebhook.Result
}

func newObservedFixture(t testing.TB, opts ...pcwebhook.HandlerOption) *observedFixture {
	o := &observedFixture{}
	o.handlerFixture = newHandlerFixture(t, append(opts, pcwebhook.WithObserver(func(_ *http.Request, res pcwebhook.Result) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.results = append(o.results, res)
	}))...)
	return o
}

func (o *observedFixture) last(t testing.TB) pcwebhook.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	require.NotEmpty(t, o.results)
	return o.results[len(o.results)-1]
}

// outcomeRow is one real request that ends in one Outcome.
type outcomeRow struct {
	outcome pcwebhook.Outcome
	status  int
	level   string // of the request's log line
	fix     bool   // the ERROR line says what to fix
	opts    func(t *testing.T) []pcwebhook.HandlerOption
	setup   func(t *testing.T, f *observedFixture)
	request func(t *testing.T, f *observedFixture) *httptest.ResponseRecorder
}

func postUnique(name pcwebhook.EventName) func(*testing.T, *observedFixture) *httptest.ResponseRecorder {
	return func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder { return f.post(uniqueBody(name)) }
}

// outcomeRows has one row per Outcome; TestEveryOutcomeHasARow keeps it complete.
func outcomeRows() []outcomeRow {
	callbackErr := errors.New("database down")
	var goneBody []byte // signed by a sender whose certificate server is closed
	var goneHeader http.Header
	return []outcomeRow{
		{outcome: pcwebhook.OutcomeHandled, status: 200, level: "DEBUG",
			setup: func(_ *testing.T, f *observedFixture) {
				f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return nil })
			},
			request: postUnique(pcwebhook.EventTestCreated)},
		{outcome: pcwebhook.OutcomeNoCallback, status: 200, level: "DEBUG", request: postUnique(pcwebhook.EventInvoiceReady)},
		{outcome: pcwebhook.OutcomeDuplicate, status: 200, level: "DEBUG",
			request: func(t *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				body := uniqueBody(pcwebhook.EventTestCreated)
				require.Equal(t, 200, f.post(body).Code)
				return f.post(body)
			}},
		{outcome: pcwebhook.OutcomeDuplicateInProgress, status: 503, level: "INFO",
			request: func(t *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				entered, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
				f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { close(entered); <-release; return nil })
				body := uniqueBody(pcwebhook.EventTestCreated)
				go func() { f.post(body); close(done) }()
				<-entered
				t.Cleanup(func() { close(release); <-done })
				return f.post(body)
			}},
		{outcome: pcwebhook.OutcomeMethodNotAllowed, status: 405, level: "WARN",
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				return w
			}},
		{outcome: pcwebhook.OutcomeBodyTooLarge, status: 413, level: "WARN",
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				return f.post(append(uniqueBody(pcwebhook.EventTestCreated), bytes.Repeat([]byte(" "), pcwebhook.DefaultMaxBodyBytes)...))
			}},
		{outcome: pcwebhook.OutcomeBodyUnreadable, status: 400, level: "WARN",
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader(`{"Event`), iotestErrReader{}))
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, r)
				return w
			}},
		{outcome: pcwebhook.OutcomeVerificationFailed, status: 401, level: "WARN",
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				return f.do(uniqueBody(pcwebhook.EventTestCreated), http.Header{})
			}},
		{outcome: pcwebhook.OutcomeCertificateUnavailable, status: 503, level: "ERROR", fix: true,
			opts: func(t *testing.T) []pcwebhook.HandlerOption {
				// A sender whose certificate server is closed: its URL is allowed but cannot be fetched.
				gone, err := pcwebhooktest.NewSender()
				require.NoError(t, err)
				v := gone.Verifier()
				goneBody = uniqueBody(pcwebhook.EventTestCreated)
				goneHeader = gone.Sign(goneBody)
				gone.Close()
				return []pcwebhook.HandlerOption{pcwebhook.WithVerifier(v)}
			},
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder { return f.do(goneBody, goneHeader) }},
		{outcome: pcwebhook.OutcomeCertificatePolicyFailed, status: 503, level: "ERROR", fix: true,
			opts: func(t *testing.T) []pcwebhook.HandlerOption {
				// The allow-listed certificate has expired by the Verifier's clock: a wrong clock,
				// or a certificate Microsoft let expire. Either way ours to fix.
				later := time.Now().AddDate(20, 0, 0)
				return []pcwebhook.HandlerOption{pcwebhook.WithVerifier(testSender(t).Verifier(pcwebhook.WithClock(func() time.Time { return later })))}
			},
			request: postUnique(pcwebhook.EventTestCreated)},
		{outcome: pcwebhook.OutcomeSignatureUnconfirmed, status: 503, level: "WARN",
			setup: func(t *testing.T, f *observedFixture) {
				// A genuine delivery caches the key; a forged one is checked against a fresh
				// download (401) and starts the rotation check interval.
				require.Equal(t, http.StatusOK, f.post(uniqueBody(pcwebhook.EventTestCreated)).Code)
				body := uniqueBody(pcwebhook.EventTestCreated)
				require.Equal(t, http.StatusUnauthorized, f.do(body, f.s.Sign(uniqueBody(pcwebhook.EventTestCreated))).Code)
			},
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				// Inside the interval, a signature that matches no cached key cannot be told from one
				// made with a new certificate: retried, not refused.
				return f.do(uniqueBody(pcwebhook.EventTestCreated), f.s.Sign(uniqueBody(pcwebhook.EventTestCreated)))
			}},
		{outcome: pcwebhook.OutcomeMalformedEvent, status: 400, level: "WARN",
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				return f.post([]byte(`{"EventName":`))
			}},
		{outcome: pcwebhook.OutcomeEventTooOld, status: 400, level: "WARN",
			opts: func(*testing.T) []pcwebhook.HandlerOption {
				return []pcwebhook.HandlerOption{pcwebhook.WithMaxEventAge(time.Hour)}
			},
			request: func(_ *testing.T, f *observedFixture) *httptest.ResponseRecorder {
				return f.post([]byte(fmt.Sprintf(`{"EventName":"test-created","ResourceUri":"https://h/x/%d","ResourceChangeUtcDate":"2000-01-01T00:00:00Z"}`, uniq.Add(1))))
			}},
		{outcome: pcwebhook.OutcomeCallbackError, status: 500, level: "ERROR",
			setup: func(_ *testing.T, f *observedFixture) {
				f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return callbackErr })
			},
			request: postUnique(pcwebhook.EventTestCreated)},
		{outcome: pcwebhook.OutcomeCallbackPanic, status: 500, level: "ERROR",
			setup: func(_ *testing.T, f *observedFixture) {
				f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { panic("boom") })
			},
			request: postUnique(pcwebhook.EventTestCreated)},
		{outcome: pcwebhook.OutcomeDedupeStoreError, status: 503, level: "ERROR", fix: true,
			opts: func(*testing.T) []pcwebhook.HandlerOption {
				return []pcwebhook.HandlerOption{pcwebhook.WithDedupeStore(failingStore{})}
			},
			request: postUnique(pcwebhook.EventTestCreated)},
		{outcome: pcwebhook.OutcomeMisconfigured, status: 500, level: "ERROR", fix: true,
			setup: func(_ *testing.T, f *observedFixture) {
				pcwebhook.Misconfigure(f.h, errors.New("no trust roots"))
			},
			request: postUnique(pcwebhook.EventTestCreated)},
		{outcome: pcwebhook.OutcomeNotCommitted, status: 503, level: "ERROR", fix: true,
			opts: func(*testing.T) []pcwebhook.HandlerOption {
				return []pcwebhook.HandlerOption{pcwebhook.WithDedupeStore(newTxStore(errCommitFailed))}
			},
			request: postUnique(pcwebhook.EventTestCreated)},
	}
}

// TestEveryOutcomeThroughServeHTTPAndHTTPStatus walks every Outcome through a real request and
// checks that ServeHTTP's answer, its log line, its Result and HTTPStatus(Result.Err) agree.
func TestEveryOutcomeThroughServeHTTPAndHTTPStatus(t *testing.T) {
	for _, row := range outcomeRows() {
		t.Run(string(row.outcome), func(t *testing.T) {
			var opts []pcwebhook.HandlerOption
			if row.opts != nil {
				opts = row.opts(t)
			}
			f := newObservedFixture(t, opts...)
			if row.setup != nil {
				row.setup(t, f)
			}
			w := row.request(t, f)
			res := f.last(t)
			assert.Equal(t, row.outcome, res.Outcome)
			assert.Equal(t, row.status, res.Status)
			assert.Equal(t, res.Status, w.Code, "the answer is the Result's status")
			assert.Equal(t, res.Status, pcwebhook.HTTPStatus(res.Err), "HTTPStatus(Result.Err) agrees with ServeHTTP: %v", res.Err)
			assert.Equal(t, res.Status == 200, res.Err == nil, "Err is nil exactly when the answer is 200: %v", res.Err)
			switch res.Status {
			case http.StatusServiceUnavailable:
				assert.NotEmpty(t, w.Header().Get("Retry-After"), "a 503 says when to retry")
			case http.StatusMethodNotAllowed:
				assert.Equal(t, "POST", w.Header().Get("Allow"))
			}

			var line map[string]any
			for _, l := range f.logs.requestLines(t) {
				if l["outcome"] == string(row.outcome) {
					line = l
				}
			}
			require.NotNil(t, line, "a log line with outcome %s", row.outcome)
			assert.Equal(t, row.level, line["level"])
			assert.EqualValues(t, row.status, line["status"])
			if row.fix {
				assert.NotEmpty(t, line["fix"], "the ERROR line says what to fix")
			} else {
				assert.NotContains(t, line, "fix")
			}
		})
	}
}

// TestEveryOutcomeHasARow fails when an Outcome constant is added to handler_outcome.go without
// a row in outcomeRows (and so without being walked through ServeHTTP and HTTPStatus).
func TestEveryOutcomeHasARow(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "handler_outcome.go", nil, 0)
	require.NoError(t, err)
	declared := map[pcwebhook.Outcome]bool{}
	for _, decl := range file.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Outcome" {
				continue // deprecated aliases repeat a value
			}
			for _, v := range vs.Values {
				s, err := strconv.Unquote(v.(*ast.BasicLit).Value)
				require.NoError(t, err)
				declared[pcwebhook.Outcome(s)] = true
			}
		}
	}
	rows := map[pcwebhook.Outcome]bool{}
	for _, r := range outcomeRows() {
		assert.False(t, rows[r.outcome], "two rows for %s", r.outcome)
		rows[r.outcome] = true
	}
	assert.Equal(t, declared, rows, "every Outcome in handler_outcome.go has exactly one row in outcomeRows")
	assert.Len(t, declared, 18)

}

// TestHTTPStatusOfTransientVerificationErrors: a VerificationError whose Transient is true is the
// receiver's problem: 503 and a retry, never 401 (Partner Center drops a 401).
func TestHTTPStatusOfTransientVerificationErrors(t *testing.T) {
	unavailable := &pcwebhook.VerificationError{Step: pcwebhook.StepDownload, Reason: "timeout", Err: pcwebhook.ErrCertificateUnavailable, Cause: context.DeadlineExceeded}
	require.True(t, unavailable.Transient())
	assert.Equal(t, 503, pcwebhook.HTTPStatus(unavailable))
	assert.Equal(t, 503, pcwebhook.HTTPStatus(fmt.Errorf("verifying: %w", unavailable)))

	untrusted := &pcwebhook.VerificationError{Step: pcwebhook.StepChain, Reason: "no trust roots", Err: pcwebhook.ErrUntrustedCertificate}
	want := 401
	if untrusted.Transient() {
		want = 503 // policy failures of allow-listed certificates are the receiver's
	}
	assert.Equal(t, want, pcwebhook.HTTPStatus(untrusted))

	forged := &pcwebhook.VerificationError{Step: pcwebhook.StepSignature, Reason: "mismatch", Err: pcwebhook.ErrBadSignature}
	require.False(t, forged.Transient())
	assert.Equal(t, 401, pcwebhook.HTTPStatus(forged))
}

// TestHandlerCallbackErrorIsAlways500: whatever a callback's error wraps, the answer is 500 so
// that Partner Center retries; the error stays reachable with errors.Is.
func TestHandlerCallbackErrorIsAlways500(t *testing.T) {
	for _, cbErr := range []error{
		fmt.Errorf("decoding the resource: %w", pcwebhook.ErrMalformedEvent),
		&pcwebhook.VerificationError{Step: pcwebhook.StepSignature, Err: pcwebhook.ErrBadSignature},
		fmt.Errorf("upstream: %w", pcwebhook.ErrBodyTooLarge),
	} {
		f := newObservedFixture(t)
		f.h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return cbErr })
		w := f.post(uniqueBody(pcwebhook.EventTestCreated))
		res := f.last(t)
		assert.Equal(t, 500, w.Code, "%v", cbErr)
		assert.Equal(t, pcwebhook.OutcomeCallbackError, res.Outcome)
		assert.Equal(t, 500, pcwebhook.HTTPStatus(res.Err))
		assert.ErrorIs(t, res.Err, cbErr)
	}
}

// TestDefaultHandlerIsQuietWhenAllIsWell: with no WithLogger the Handler logs through
// slog.Default(), whose level is INFO: a successful delivery writes nothing, a refused one a
// line at WARN.
func TestDefaultHandlerIsQuietWhenAllIsWell(t *testing.T) {
	var buf logBuffer
	prev, prevFlags := log.Writer(), log.Flags()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(prev); log.SetFlags(prevFlags) })

	s := testSender(t)
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(s.Verifier()))
	h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return nil })
	for i := 0; i < 3; i++ {
		body := uniqueBody(pcwebhook.EventTestCreated)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, requestFor(body, s.Sign(body)))
		require.Equal(t, 200, w.Code)
	}
	assert.Empty(t, buf.String(), "successful deliveries log at DEBUG")

	w := httptest.NewRecorder()
	h.ServeHTTP(w, requestFor(uniqueBody(pcwebhook.EventTestCreated), http.Header{}))
	require.Equal(t, 401, w.Code)
	assert.Contains(t, buf.String(), "WARN partner center webhook")
	assert.Contains(t, buf.String(), "outcome=verification-failed")
}

// TestHTTPStatusOfNilVerificationError: a typed-nil *VerificationError, bare or wrapped, does not
// panic HTTPStatus (errors.As walks it) and is answered as the receiver's failure.
func TestHTTPStatusOfNilVerificationError(t *testing.T) {
	var nilErr *pcwebhook.VerificationError
	assert.NotPanics(t, func() {
		assert.Equal(t, http.StatusInternalServerError, pcwebhook.HTTPStatus(nilErr))
		assert.Equal(t, http.StatusInternalServerError, pcwebhook.HTTPStatus(fmt.Errorf("x: %w", nilErr)))
		assert.NotEmpty(t, nilErr.Error())
	})
}

// TestHandlerFreshCertificateNameIsTheSenders: a forged request naming a never-seen file under the
// allowed prefix gets 401 and a WARN line, not 503 and an ERROR line asking the operator to let
// the host reach the certificate store.
func TestHandlerFreshCertificateNameIsTheSenders(t *testing.T) {
	s := testSender(t)
	f := newObservedFixture(t)
	h := s.Sign(uniqueBody(pcwebhook.EventTestCreated))
	h.Set("X-MS-Certificate-Url", s.CertificateURLPrefix()+"never-seen.cer")
	w := f.do(uniqueBody(pcwebhook.EventTestCreated), h)
	assert.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	assert.Equal(t, pcwebhook.OutcomeVerificationFailed, f.last(t).Outcome)
	lines := f.logs.requestLines(t)
	require.Len(t, lines, 1)
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.NotContains(t, lines[0], "fix")
}

// TestHandlerWithoutTrustRootsFailsAtStartUp: on a host without CA certificates the default
// Handler says so when it is built (an ERROR line naming the fixes) and Check returns the error,
// so the README's first snippet stops at start-up instead of answering 500 to every delivery.
func TestHandlerWithoutTrustRootsFailsAtStartUp(t *testing.T) {
	logs := &logBuffer{}
	h := pcwebhook.NewHandler(pcwebhook.WithSystemRoots(func() (*x509.CertPool, error) { return x509.NewCertPool(), nil }),
		pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	err := h.Check()
	require.ErrorIs(t, err, pcwebhook.ErrNoTrustedRoots)
	assert.Contains(t, err.Error(), "ca-certificates")
	lines := logs.lines(t)
	require.Len(t, lines, 1, "one line at construction, before any delivery")
	assert.Equal(t, "ERROR", lines[0]["level"])
	assert.Contains(t, lines[0]["error"], "WithRootCAs")
	assert.NotEmpty(t, lines[0]["fix"])

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`)))
	assert.Equal(t, http.StatusInternalServerError, w.Code)

	ok := pcwebhook.NewHandler(pcwebhook.WithVerifier(testSender(t).Verifier()))
	assert.NoError(t, ok.Check())
	var zero pcwebhook.Handler
	assert.NoError(t, zero.Check(), "the test machine has roots: the zero Handler's production policy builds")
}
