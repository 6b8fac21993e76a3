package pcwebhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
