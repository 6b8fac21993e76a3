package pcwebhook

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testCorrelationID = "04af2aea-d413-42db-824e-f328001484d1"
	statusPath        = validationEventsPath + "/" + testCorrelationID
)

// documentedStatus is what validation-status.json decodes to.
var documentedStatus = &ValidationStatus{
	CorrelationID: testCorrelationID,
	PartnerID:     "00234d9d-8c2d-4ff5-8c18-39f8afc6f7f3",
	Status:        "completed",
	CallbackURL:   "https://partner.example/webhooks",
	Results: []ValidationResult{{
		ResponseCode: "OK",
		DateTimeUTC:  time.Date(2017, 12, 8, 21, 39, 48, 238699700, time.UTC),
	}},
}

func TestSendTestEvent(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "POST", path: validationEventsPath, file: "validation-event.json"},
		fakeCall{method: "POST", path: validationEventsPath, body: `{"CorrelationId":" abc "}`},
		fakeCall{method: "POST", path: validationEventsPath, body: `{}`},
	)
	c, _ := newTestClient(t, f)
	id, err := c.SendTestEvent(context.Background())
	require.NoError(t, err)
	assert.Equal(t, testCorrelationID, id)

	id, err = c.SendTestEvent(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "abc", id)

	_, err = c.SendTestEvent(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResponse)

	for _, r := range f.requests() {
		assert.Equal(t, "0", r.header.Get("Content-Length"), "empty body")
	}
}

func TestValidationStatus(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: statusPath, file: "validation-status.json"},
		fakeCall{method: "GET", path: statusPath, body: `{"CorrelationId":"x","Status":"Failed","Results":[
			{"ResponseCode":404,"ResponseMessage":null,"SystemError":false,"DateTimeUtc":"2017-12-08T21:39:48Z"},
			{"responseCode":"InternalServerError","systemError":true,"dateTimeUtc":"2017-12-08T22:39:48.1+01:00"}]}`},
	)
	c, _ := newTestClient(t, f)
	got, err := c.ValidationStatus(context.Background(), " "+testCorrelationID+" ")
	require.NoError(t, err)
	assert.Equal(t, documentedStatus, got)
	assert.Equal(t, time.UTC, got.Results[0].DateTimeUTC.Location())
	assert.True(t, got.Terminal())
	assert.True(t, got.Delivered())

	got, err = c.ValidationStatus(context.Background(), testCorrelationID)
	require.NoError(t, err)
	assert.Equal(t, []ValidationResult{
		{ResponseCode: "404", DateTimeUTC: time.Date(2017, 12, 8, 21, 39, 48, 0, time.UTC)},
		{ResponseCode: "InternalServerError", SystemError: true, DateTimeUTC: time.Date(2017, 12, 8, 21, 39, 48, 100000000, time.UTC)},
	}, got.Results)
	assert.True(t, got.Terminal())
	assert.False(t, got.Delivered())

	_, err = c.ValidationStatus(context.Background(), "  ")
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func TestValidationStatusPredicates(t *testing.T) {
	for status, terminal := range map[string]bool{
		"completed": true, "Completed": true, " FAILED ": true,
		"": false, "pending": false, "inProgress": false, "something-new": false,
	} {
		assert.Equal(t, terminal, (&ValidationStatus{Status: status}).Terminal(), "%q", status)
	}
	for code, ok := range map[string]bool{
		"OK": true, "ok": true, "200": true, "204": true, "Accepted": true, "NoContent": true,
		"": false, "2000": false, "301": false, "NotFound": false, "InternalServerError": false, "2x0": false,
	} {
		s := &ValidationStatus{Results: []ValidationResult{{ResponseCode: code}}}
		assert.Equal(t, ok, s.Delivered(), "%q", code)
	}
	s := &ValidationStatus{Results: []ValidationResult{{ResponseCode: "OK", SystemError: true}}}
	assert.False(t, s.Delivered(), "a system error is not a delivery")
	var nilStatus *ValidationStatus
	assert.False(t, nilStatus.Terminal())
	assert.False(t, nilStatus.Delivered())
}

func TestWaitForValidation(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: statusPath, status: 404, file: "error-600008.json"},
		fakeCall{method: "GET", path: statusPath, file: "validation-status-pending.json"},
		fakeCall{method: "GET", path: statusPath, file: "validation-status.json"},
	)
	c, rec := newTestClient(t, f)
	got, err := c.WaitForValidation(context.Background(), testCorrelationID, 3*time.Second)
	require.NoError(t, err)
	assert.Equal(t, documentedStatus, got)
	assert.Equal(t, []time.Duration{3 * time.Second, 3 * time.Second}, rec.recorded(), "polls at once, then every 3s")
}

func TestWaitForValidationDefaultInterval(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: statusPath, file: "validation-status-pending.json"},
		fakeCall{method: "GET", path: statusPath, body: `{"status":"failed","results":[]}`},
	)
	c, rec := newTestClient(t, f)
	got, err := c.WaitForValidation(context.Background(), testCorrelationID, 0)
	require.NoError(t, err)
	assert.Equal(t, "failed", got.Status)
	assert.False(t, got.Delivered())
	assert.Equal(t, []time.Duration{5 * time.Second}, rec.recorded())
}

// expiringContext is a context whose deadline the test decides: after expire, Done is closed and
// Err is context.DeadlineExceeded, as when a real deadline passes, but at a point of the test's
// choosing rather than at an instant a loaded machine may reach before the first answer.
type expiringContext struct {
	context.Context // Background: no values, no deadline
	done            chan struct{}
	once            sync.Once
}

func newExpiringContext() *expiringContext {
	return &expiringContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiringContext) Done() <-chan struct{} { return c.done }

func (c *expiringContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *expiringContext) expire() { c.once.Do(func() { close(c.done) }) }

// expireAfterRequests expires ctx once f has received n requests: the client has then handled
// n-1 answers.
func expireAfterRequests(t *testing.T, f *fakePC, ctx *expiringContext, n int) {
	t.Helper()
	go func() {
		defer ctx.expire()
		deadline := time.Now().Add(30 * time.Second) // only bounds a broken client
		for len(f.requests()) < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}()
}

// TestWaitForValidationTimeout polls with real waits: the status stays pending until the
// context's deadline passes, and the last status seen is returned with the context's error.
func TestWaitForValidationTimeout(t *testing.T) {
	f := newFakePC(t)
	f.repeat = &fakeCall{method: "GET", path: statusPath, file: "validation-status-pending.json"}
	c := NewClient(StaticToken(fakeToken), WithAPIRoot(f.srv.URL))
	ctx := newExpiringContext()
	expireAfterRequests(t, f, ctx, 3)

	const every = 20 * time.Millisecond
	start := time.Now()
	got, err := c.WaitForValidation(ctx, testCorrelationID, every)
	elapsed := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, got)
	assert.Equal(t, "pending", got.Status)
	assert.Contains(t, err.Error(), `last status "pending"`)
	n := len(f.requests())
	assert.GreaterOrEqual(t, n, 3)
	assert.LessOrEqual(t, n, int(elapsed/every)+1, "polls no more often than every %s", every)
	t.Logf("%d polls in %v", n, elapsed)
}

func TestWaitForValidationTimeoutBeforeAnyStatus(t *testing.T) {
	f := newFakePC(t)
	f.repeat = &fakeCall{method: "GET", path: statusPath, status: 404, file: "error-600008.json"}
	c := NewClient(StaticToken(fakeToken), WithAPIRoot(f.srv.URL))
	ctx := newExpiringContext()
	expireAfterRequests(t, f, ctx, 2)
	got, err := c.WaitForValidation(ctx, testCorrelationID, 10*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Nil(t, got)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr, "the last answer is kept")
	assert.Equal(t, 404, apiErr.StatusCode)
}

func TestWaitForValidationStopsOnOtherErrors(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: statusPath, file: "validation-status-pending.json"},
		fakeCall{method: "GET", path: statusPath, status: 403},
	)
	c, _ := newTestClient(t, f)
	got, err := c.WaitForValidation(context.Background(), testCorrelationID, time.Millisecond)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 403, apiErr.StatusCode)
	require.NotNil(t, got)
	assert.Equal(t, "pending", got.Status)

	_, err = c.WaitForValidation(context.Background(), "", time.Millisecond)
	assert.ErrorIs(t, err, ErrInvalidInput)
}
