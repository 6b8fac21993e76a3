package pcwebhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/backoff"
)

const eventsPath = "/webhooks/v1/registration/events"

func TestRetryAfterSeconds(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, status: 429, file: "error-429.json", header: map[string]string{"Retry-After": "7"}},
		fakeCall{method: "GET", path: eventsPath, file: "supported-events.json"},
	)
	c, rec := newTestClient(t, f)
	got, err := c.SupportedEvents(context.Background())
	require.NoError(t, err)
	assert.Len(t, got, 3)
	assert.Equal(t, []time.Duration{7 * time.Second}, rec.recorded())
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f := newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, status: 503, header: map[string]string{"Retry-After": "Wed, 01 May 2024 12:00:12 GMT"}},
		fakeCall{method: "GET", path: eventsPath, status: 429, header: map[string]string{"Retry-After": "Wed, 01 May 2024 11:00:00 GMT"}},
		fakeCall{method: "GET", path: eventsPath, file: "supported-events.json"},
	)
	c, rec := newTestClient(t, f)
	c.now = func() time.Time { return now }
	_, err := c.SupportedEvents(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{12 * time.Second, 0}, rec.recorded(), "a date in the past means retry at once")
}

func TestRetryBackoffOn5xx(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, status: 500},
		fakeCall{method: "GET", path: eventsPath, status: 503, body: "overloaded"},
		fakeCall{method: "GET", path: eventsPath, file: "supported-events.json"},
	)
	c, rec := newTestClient(t, f, WithRetryPolicy(RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Minute}))
	_, err := c.SupportedEvents(context.Background())
	require.NoError(t, err)
	waits := rec.recorded()
	require.Len(t, waits, 2)
	assert.GreaterOrEqual(t, waits[0], 500*time.Millisecond)
	assert.LessOrEqual(t, waits[0], time.Second)
	assert.GreaterOrEqual(t, waits[1], time.Second)
	assert.LessOrEqual(t, waits[1], 2*time.Second)
}

func TestRetryAttemptsRunOut(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, status: 503},
		fakeCall{method: "GET", path: eventsPath, status: 502},
		fakeCall{method: "GET", path: eventsPath, status: 500, body: `{"code":500,"description":"internal","isRetryable":true}`},
	)
	c, rec := newTestClient(t, f)
	_, err := c.SupportedEvents(context.Background())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 500, apiErr.StatusCode)
	assert.Equal(t, 3, apiErr.Attempts)
	assert.Contains(t, err.Error(), "after 3 attempts")
	assert.Len(t, rec.recorded(), 2)
}

func TestRetryPolicyMaxAttempts(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, status: 503},
		fakeCall{method: "GET", path: eventsPath, status: 503},
		fakeCall{method: "GET", path: eventsPath, status: 503},
		fakeCall{method: "GET", path: eventsPath, status: 503},
		fakeCall{method: "GET", path: eventsPath, file: "supported-events.json"},
	)
	c, _ := newTestClient(t, f, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	_, err := c.SupportedEvents(context.Background())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 1, apiErr.Attempts)

	c, _ = newTestClient(t, f, WithRetryPolicy(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond}))
	_, err = c.SupportedEvents(context.Background())
	require.NoError(t, err)
	assert.Len(t, f.requests(), 5)
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409} {
		f := newFakePC(t, fakeCall{method: "GET", path: eventsPath, status: status, header: map[string]string{"Retry-After": "1"}})
		c, rec := newTestClient(t, f)
		_, err := c.SupportedEvents(context.Background())
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr, "status %d", status)
		assert.Equal(t, status, apiErr.StatusCode)
		assert.Empty(t, rec.recorded(), "status %d is not retried", status)
		assert.Len(t, f.requests(), 1)
	}
}

func TestRetryAfterBeyondCapIsNotAwaited(t *testing.T) {
	f := newFakePC(t, fakeCall{method: "GET", path: eventsPath, status: 429, header: map[string]string{"Retry-After": "3600"}})
	c, rec := newTestClient(t, f)
	_, err := c.SupportedEvents(context.Background())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, time.Hour, apiErr.RetryAfter)
	assert.Contains(t, apiErr.Hint, "1h0m0s")
	assert.Empty(t, rec.recorded())

	f = newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, status: 429, header: map[string]string{"Retry-After": "3600"}},
		fakeCall{method: "GET", path: eventsPath, file: "supported-events.json"},
	)
	c, rec = newTestClient(t, f, WithRetryPolicy(RetryPolicy{MaxRetryAfter: 2 * time.Hour}))
	_, err = c.SupportedEvents(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{time.Hour}, rec.recorded())
}

// TestRetryTransportError: the server closes the connection without answering; the POST is sent
// again, with the same body and MS-RequestId.
func TestRetryTransportError(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "POST", path: "/webhooks/v1/registration", hijack: true},
		fakeCall{method: "POST", path: "/webhooks/v1/registration", file: "registration.json"},
	)
	c, rec := newTestClient(t, f)
	_, err := c.Register(context.Background(), Registration{WebhookURL: "https://partner.example/webhooks", WebhookEvents: []EventName{EventTestCreated}})
	require.NoError(t, err)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].body, reqs[1].body)
	assert.NotEmpty(t, reqs[0].body)
	assert.Equal(t, reqs[0].header.Get("MS-RequestId"), reqs[1].header.Get("MS-RequestId"))
	assert.NotEqual(t, reqs[0].header.Get("MS-CorrelationId"), reqs[1].header.Get("MS-CorrelationId"))
	assert.Len(t, rec.recorded(), 1)
}

func TestRetryTransportErrorsRunOut(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, hijack: true},
		fakeCall{method: "GET", path: eventsPath, hijack: true},
		fakeCall{method: "GET", path: eventsPath, hijack: true},
	)
	c, _ := newTestClient(t, f)
	_, err := c.SupportedEvents(context.Background())
	require.Error(t, err)
	var apiErr *APIError
	assert.False(t, errors.As(err, &apiErr))
	assert.Contains(t, err.Error(), "GET "+eventsPath)
	assert.Contains(t, err.Error(), "(after 3 attempts)")
}

func TestRetryConnectionRefused(t *testing.T) {
	f := newFakePC(t)
	root := f.srv.URL
	f.srv.Close() // nothing listens there any more
	c := NewClient(StaticToken(fakeToken), WithAPIRoot(root), WithRetryPolicy(fastRetries))
	rec := &sleepRecorder{}
	c.sleep = rec.sleep
	_, err := c.SupportedEvents(context.Background())
	require.Error(t, err)
	assert.Len(t, rec.recorded(), 2, "3 attempts")
}

// TestRetryResendsBodyIntact: every retry of a PUT carries the identical body.
func TestRetryResendsBodyIntact(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "PUT", path: "/webhooks/v1/registration", status: 500},
		fakeCall{method: "PUT", path: "/webhooks/v1/registration", status: 429},
		fakeCall{method: "PUT", path: "/webhooks/v1/registration", file: "registration.json"},
	)
	c, _ := newTestClient(t, f)
	_, err := c.UpdateRegistration(context.Background(), Registration{
		WebhookURL:    "https://partner.example/webhooks",
		WebhookEvents: []EventName{EventSubscriptionUpdated, EventTestCreated},
	})
	require.NoError(t, err)
	reqs := f.requests()
	require.Len(t, reqs, 3)
	want := `{"WebhookUrl":"https://partner.example/webhooks","WebhookEvents":["subscription-updated","test-created"],"SignatureTokenToMsSignatureHeader":false}`
	for i, r := range reqs {
		assert.Equal(t, want, string(r.body), "attempt %d", i+1)
		assert.Equal(t, reqs[0].header.Get("MS-RequestId"), r.header.Get("MS-RequestId"))
	}
}

const validationEventsPath = "/webhooks/v1/registration/validationEvents"

func TestSendTestEventThrottled(t *testing.T) {
	t.Run("Retry-After honoured", func(t *testing.T) {
		f := newFakePC(t,
			fakeCall{method: "POST", path: validationEventsPath, status: 429, file: "error-429.json", header: map[string]string{"Retry-After": "25"}},
			fakeCall{method: "POST", path: validationEventsPath, file: "validation-event.json"},
		)
		c, rec := newTestClient(t, f)
		id, err := c.SendTestEvent(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "04af2aea-d413-42db-824e-f328001484d1", id)
		assert.Equal(t, []time.Duration{25 * time.Second}, rec.recorded())
	})
	t.Run("no Retry-After: wait for the per-minute window", func(t *testing.T) {
		f := newFakePC(t,
			fakeCall{method: "POST", path: validationEventsPath, status: 429},
			fakeCall{method: "POST", path: validationEventsPath, file: "validation-event.json"},
		)
		c, rec := newTestClient(t, f)
		_, err := c.SendTestEvent(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{30 * time.Second}, rec.recorded())
	})
	t.Run("attempts run out", func(t *testing.T) {
		f := newFakePC(t,
			fakeCall{method: "POST", path: validationEventsPath, status: 429, file: "error-429.json", header: map[string]string{"Retry-After": "20"}},
			fakeCall{method: "POST", path: validationEventsPath, status: 429, file: "error-429.json", header: map[string]string{"Retry-After": "20"}},
			fakeCall{method: "POST", path: validationEventsPath, status: 429, file: "error-429.json", header: map[string]string{"Retry-After": "20"}},
		)
		c, rec := newTestClient(t, f)
		_, err := c.SendTestEvent(context.Background())
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 429, apiErr.StatusCode)
		assert.Equal(t, 3, apiErr.Attempts)
		assert.Equal(t, 20*time.Second, apiErr.RetryAfter)
		assert.Contains(t, apiErr.Hint, "2 test events per minute")
		assert.Contains(t, err.Error(), "429 Too Many Requests")
		assert.Contains(t, err.Error(), "throttled: Partner Center allows only 2 test events per minute")
		assert.Equal(t, []time.Duration{20 * time.Second, 20 * time.Second}, rec.recorded())
	})
	t.Run("other endpoints get the generic hint", func(t *testing.T) {
		f := newFakePC(t, fakeCall{method: "GET", path: eventsPath, status: 429})
		c, _ := newTestClient(t, f, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		_, err := c.SupportedEvents(context.Background())
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, hintThrottled, apiErr.Hint)
	})
}

// TestCancelDuringBackoff uses the real clock: a cancelled context ends a 30 s Retry-After wait
// at once.
func TestCancelDuringBackoff(t *testing.T) {
	f := newFakePC(t, fakeCall{method: "GET", path: eventsPath, status: 503, header: map[string]string{"Retry-After": "30"}})
	c := NewClient(StaticToken(fakeToken), WithAPIRoot(f.srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the client has begun its real wait, however long the request took.
	var waitStart time.Time
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waitStart = time.Now()
		time.AfterFunc(10*time.Millisecond, cancel)
		return backoff.Sleep(ctx, d)
	}

	_, err := c.SupportedEvents(ctx)
	require.False(t, waitStart.IsZero(), "the client did not wait")
	waited := time.Since(waitStart)
	require.ErrorIs(t, err, context.Canceled)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr, "the last failure is kept")
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "while waiting 30s to retry")
	assert.Less(t, waited, 10*time.Second, "the 30 s wait ended with the context")
	t.Logf("returned %v after the wait began", waited)
}

// TestContextEndsDuringRequest: a request that outlives its context is not retried.
func TestContextEndsDuringRequest(t *testing.T) {
	f := newFakePC(t, fakeCall{method: "GET", path: eventsPath, block: true})
	c, rec := newTestClient(t, f)
	// End the context only once the request has reached the fake, whatever the machine's load.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for len(f.requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.SupportedEvents(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, rec.recorded())

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.SupportedEvents(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, f.requests(), 1, "nothing is sent with a cancelled context")
}

// TestAttemptTimeoutIsRetried: the http.Client's own timeout (not the caller's context) counts as
// a transport error, and the retry carries the same MS-RequestId, as the API asks for.
func TestAttemptTimeoutIsRetried(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: eventsPath, block: true},
		fakeCall{method: "GET", path: eventsPath, file: "supported-events.json"},
	)
	c, _ := newTestClient(t, f, WithClientHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}))
	_, err := c.SupportedEvents(context.Background())
	require.NoError(t, err)
	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].header.Get("MS-RequestId"), reqs[1].header.Get("MS-RequestId"))
}

func TestRetryPolicyDefaults(t *testing.T) {
	assert.Equal(t, RetryPolicy{MaxAttempts: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second, MaxRetryAfter: time.Minute},
		RetryPolicy{}.withDefaults())
	assert.Equal(t, RetryPolicy{MaxAttempts: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second, MaxRetryAfter: time.Minute},
		RetryPolicy{MaxAttempts: -1, BaseDelay: -1, MaxDelay: -1, MaxRetryAfter: -1}.withDefaults())
	assert.Equal(t, 2*time.Minute, RetryPolicy{BaseDelay: 2 * time.Minute}.withDefaults().MaxDelay, "MaxDelay is at least BaseDelay")
	assert.False(t, retryableStatus(404))
	assert.True(t, retryableStatus(429))
	assert.True(t, retryableStatus(599))
	assert.False(t, strings.Contains(hintTestEventThrottled, "\n"))
}
