package pcwebhooktest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// receiver is a partner's endpoint: the real Handler, trusting the sender, recording the test
// events it handled and the signature header each came with.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	ids     []string
	headers []http.Header
}

func newReceiver(t *testing.T, s *pcwebhooktest.Sender) *receiver {
	r := &receiver{}
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(s.Verifier()))
	h.OnTestCreated(func(_ context.Context, e *pcwebhook.TestEvent) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ids = append(r.ids, e.CorrelationID)
		return nil
	})
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) handled() ([]string, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...), append([]http.Header(nil), r.headers...)
}

func TestAPIRegisterAndValidate(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil)
	rcv := newReceiver(t, api.Sender())
	c := api.NewClient()
	ctx := context.Background()

	_, err := c.Registration(ctx)
	require.ErrorIs(t, err, pcwebhook.ErrNotRegistered)
	_, ok := api.Registration()
	assert.False(t, ok)

	events, err := c.SupportedEvents(ctx)
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.KnownEventNames(), events)

	reg, err := c.Register(ctx, pcwebhook.Registration{WebhookURL: rcv.srv.URL + "/hooks",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated, pcwebhook.EventSubscriptionUpdated}})
	require.NoError(t, err)
	assert.NotEmpty(t, reg.SubscriberID)
	assert.Equal(t, rcv.srv.URL+"/hooks", reg.WebhookURL)
	assert.WithinDuration(t, time.Now(), reg.LastModified, time.Minute)
	_, err = c.Register(ctx, pcwebhook.Registration{WebhookURL: "https://other.example/"})
	var apiErr *pcwebhook.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusConflict, apiErr.StatusCode, "one registration per partner")

	got, err := c.Registration(ctx)
	require.NoError(t, err)
	assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventTestCreated, pcwebhook.EventSubscriptionUpdated}, got.WebhookEvents)

	// The test event really reaches the endpoint, signed by the sender, and the status says so.
	id, err := c.SendTestEvent(ctx)
	require.NoError(t, err)
	st, err := c.WaitForValidation(ctx, id, 5*time.Millisecond)
	require.NoError(t, err)
	assert.True(t, st.Terminal())
	assert.True(t, st.Delivered(), "%+v", st)
	assert.Equal(t, "OK", st.Results[0].ResponseCode)
	assert.Equal(t, rcv.srv.URL+"/hooks", st.CallbackURL)
	ids, headers := rcv.handled()
	assert.Equal(t, []string{id}, ids)
	assert.NotEmpty(t, headers[0].Get("Authorization"))

	// Switched to the x-ms-signature header: the next test event uses it.
	_, err = c.UpdateRegistration(ctx, pcwebhook.Registration{WebhookURL: rcv.srv.URL + "/hooks",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}, SignatureTokenToMsSignatureHeader: true})
	require.NoError(t, err)
	id2, err := c.SendTestEvent(ctx)
	require.NoError(t, err)
	st, err = c.WaitForValidation(ctx, id2, 5*time.Millisecond)
	require.NoError(t, err)
	assert.True(t, st.Delivered())
	ids, headers = rcv.handled()
	assert.Equal(t, []string{id, id2}, ids)
	assert.Empty(t, headers[1].Get("Authorization"))
	assert.True(t, strings.HasPrefix(headers[1].Get("X-Ms-Signature"), "Signature "))

	assert.Contains(t, api.Requests(), "PUT /webhooks/v1/registration")
	r, ok := api.Registration()
	require.True(t, ok)
	assert.True(t, r.SignatureTokenToMsSignatureHeader)
}

func TestAPIEnsureRegistration(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPITLS())
	c := api.NewClient()
	want := pcwebhook.Registration{WebhookURL: "https://partner.example/hooks", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventInvoiceReady}}
	api.SetRegistration(pcwebhook.Registration{WebhookURL: "https://old.example/hooks"})
	_, _, err := c.EnsureRegistrationWith(context.Background(), want, pcwebhook.AllowDisruptive()) // moves the URL
	require.NoError(t, err)
	got, ok := api.Registration()
	require.True(t, ok)
	assert.Equal(t, want.WebhookURL, got.WebhookURL)
	assert.Equal(t, want.WebhookEvents, got.WebhookEvents)
	n := len(api.Requests())
	_, err = c.EnsureRegistration(context.Background(), want)
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /webhooks/v1/registration"}, api.Requests()[n:], "nothing to change: no write")
	assert.True(t, strings.HasPrefix(api.URL(), "https://"))
}

func TestAPIValidationReportsTheEndpointsAnswer(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil)
	ctx := context.Background()
	c := api.NewClient()

	// An endpoint that trusts another sender refuses the test event.
	stranger := newReceiver(t, pcwebhooktest.New(t))
	api.SetRegistration(pcwebhook.Registration{WebhookURL: stranger.srv.URL, WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}})
	id, err := c.SendTestEvent(ctx)
	require.NoError(t, err)
	st, err := c.WaitForValidation(ctx, id, 5*time.Millisecond)
	require.NoError(t, err)
	assert.False(t, st.Delivered())
	assert.Equal(t, "Unauthorized", st.Results[0].ResponseCode)

	// Nothing listens: a system error, status failed.
	dead := httptest.NewTLSServer(http.NotFoundHandler())
	dead.Close()
	api.SetRegistration(pcwebhook.Registration{WebhookURL: dead.URL, WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}})
	id, err = c.SendTestEvent(ctx)
	require.NoError(t, err)
	st, err = c.WaitForValidation(ctx, id, 5*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, "failed", st.Status)
	assert.True(t, st.Results[0].SystemError)
}

func TestAPIRefusals(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("secret"), pcwebhooktest.WithSupportedEvents(pcwebhook.EventInvoiceReady))
	ctx := context.Background()
	status := func(err error) int {
		var apiErr *pcwebhook.APIError
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode
		}
		return 0
	}
	noRetry := pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 1})

	wrong := pcwebhook.NewClient(pcwebhook.StaticToken("guess"), pcwebhook.WithAPIRoot(api.URL()), noRetry)
	_, err := wrong.SupportedEvents(ctx)
	assert.Equal(t, http.StatusUnauthorized, status(err))
	resp, err := http.Get(api.URL() + "/webhooks/v1/registration/events")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no token")

	c := api.NewClient(noRetry)
	events, err := c.SupportedEvents(ctx)
	require.NoError(t, err)
	assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventInvoiceReady}, events)
	_, err = c.UpdateRegistration(ctx, pcwebhook.Registration{WebhookURL: "https://p.example/"})
	assert.Equal(t, http.StatusNotFound, status(err), "PUT without a registration")
	_, err = c.SendTestEvent(ctx)
	assert.Equal(t, http.StatusNotFound, status(err), "test event without a registration")
	_, err = c.Register(ctx, pcwebhook.Registration{WebhookURL: "https://p.example/", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated}})
	assert.Equal(t, http.StatusBadRequest, status(err), "an event the API does not offer")
	_, err = c.Register(ctx, pcwebhook.Registration{WebhookURL: "https://p.example/", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventInvoiceReady}})
	require.NoError(t, err)
	_, err = c.SendTestEvent(ctx)
	assert.Equal(t, http.StatusBadRequest, status(err), "test-created is not registered")
	_, err = c.ValidationStatus(ctx, "04af2aea-d413-42db-824e-f328001484d1")
	assert.Equal(t, http.StatusNotFound, status(err))
}

func TestAPIFailNext(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil)
	c := api.NewClient(pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 3}))
	api.FailNext(http.StatusServiceUnavailable, http.StatusTooManyRequests)
	events, err := c.SupportedEvents(context.Background())
	require.NoError(t, err, "retried past both failures")
	assert.NotEmpty(t, events)
	assert.Len(t, api.Requests(), 3)

	api.FailNext(http.StatusForbidden)
	_, err = c.Registration(context.Background())
	var apiErr *pcwebhook.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
	_, err = c.Registration(context.Background())
	assert.ErrorIs(t, err, pcwebhook.ErrNotRegistered, "only the next request fails")
}

func TestAPIRespond(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("secret"))
	ctx := context.Background()
	c := pcwebhook.NewClient(pcwebhook.StaticToken("secret"), pcwebhook.WithAPIRoot(api.URL()),
		pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 1}))
	const statusPath = "/webhooks/v1/registration/validationEvents/c-1"

	// Canned answers for one method and path are used once each, in order; then the fake answers.
	api.Respond(http.MethodPost, "/webhooks/v1/registration/validationEvents", http.StatusOK, `{"correlationId":"c-1"}`)
	api.Respond(http.MethodGet, statusPath, http.StatusOK, `{"status":"pending","results":[]}`)
	api.Respond("get", statusPath, http.StatusOK, `{"status":"completed","results":[
		{"responseCode":"InternalServerError","dateTimeUtc":"2017-12-08T21:39:40Z"},{"responseCode":"OK","dateTimeUtc":"2017-12-08T21:39:48Z"}]}`)
	id, err := c.SendTestEvent(ctx)
	require.NoError(t, err, "a canned answer needs no registration")
	assert.Equal(t, "c-1", id)
	st, err := c.ValidationStatus(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "pending", st.Status)
	st, err = c.ValidationStatus(ctx, id)
	require.NoError(t, err)
	assert.True(t, st.Delivered())
	require.Len(t, st.Results, 2)
	assert.Equal(t, "InternalServerError", st.Results[0].ResponseCode)
	_, err = c.ValidationStatus(ctx, id)
	var apiErr *pcwebhook.APIError
	require.ErrorAs(t, err, &apiErr, "the queue is used up: the fake knows no c-1")
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)

	// A canned answer changes no state: the fake still has no registration after a canned 201.
	api.Respond(http.MethodPost, "/webhooks/v1/registration", http.StatusCreated, "")
	reg, err := c.Register(ctx, pcwebhook.Registration{WebhookURL: "https://p.example/", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}})
	require.NoError(t, err)
	assert.Equal(t, "https://p.example/", reg.WebhookURL, "no body: the client reports what it sent")
	_, ok := api.Registration()
	assert.False(t, ok)

	// The token is checked first, FailNext comes before a canned answer, and neither uses it up.
	api.Respond(http.MethodGet, "/webhooks/v1/registration", http.StatusOK, `{"WebhookUrl":"https://canned.example/"}`)
	wrong := pcwebhook.NewClient(pcwebhook.StaticToken("guess"), pcwebhook.WithAPIRoot(api.URL()),
		pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 1}))
	_, err = wrong.Registration(ctx)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	api.FailNext(http.StatusForbidden)
	_, err = c.Registration(ctx)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
	reg, err = c.Registration(ctx)
	require.NoError(t, err)
	assert.Equal(t, "https://canned.example/", reg.WebhookURL)
	_, err = c.Registration(ctx)
	assert.ErrorIs(t, err, pcwebhook.ErrNotRegistered, "used once")
}

func TestAPIRespondFunc(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil)
	c := api.NewClient(pcwebhook.WithRetryPolicy(pcwebhook.RetryPolicy{MaxAttempts: 1}))
	api.RespondFunc(http.MethodGet, "/webhooks/v1/registration", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer test-token", r.Header.Get("Authorization"))
		w.Header().Set("MS-CorrelationId", "corr-1")
		w.WriteHeader(http.StatusUnauthorized)
	})
	_, err := c.Registration(context.Background())
	var apiErr *pcwebhook.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	assert.Equal(t, "corr-1", apiErr.CorrelationID, "the handler's header replaces the echoed one")
	sent := api.Received()[0].Header
	assert.Equal(t, sent.Get("MS-RequestId"), apiErr.RequestID, "the request id is echoed")
	assert.NotEqual(t, sent.Get("MS-CorrelationId"), "corr-1")
}

func TestAPIReceived(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("secret"))
	c := pcwebhook.NewClient(pcwebhook.StaticToken("secret"), pcwebhook.WithAPIRoot(api.URL()))
	_, err := c.Register(context.Background(), pcwebhook.Registration{WebhookURL: "https://p.example/hook",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventInvoiceReady}})
	require.NoError(t, err)

	got := api.Received()
	require.Len(t, got, 1)
	assert.Equal(t, http.MethodPost, got[0].Method)
	assert.Equal(t, "/webhooks/v1/registration", got[0].Path)
	assert.Equal(t, "Bearer secret", got[0].Header.Get("Authorization"))
	assert.JSONEq(t, `{"WebhookUrl":"https://p.example/hook","WebhookEvents":["invoice-ready"],
		"SignatureTokenToMsSignatureHeader":false}`, string(got[0].Body))
	assert.Equal(t, []string{"POST /webhooks/v1/registration"}, api.Requests())
	reg, ok := api.Registration()
	require.True(t, ok, "the fake read the body it recorded")
	assert.Equal(t, "https://p.example/hook", reg.WebhookURL)

	got[0].Body[0], got[0].Header["Authorization"] = 'X', nil
	again := api.Received()
	assert.Equal(t, byte('{'), again[0].Body[0], "Received returns copies")
	assert.Equal(t, "Bearer secret", again[0].Header.Get("Authorization"))
}

// TestAPIRefusesOversizedBodies: a request body past the fake's 1 MiB cap is answered 413 and
// not recorded, never cut to a prefix that would then decode.
func TestAPIRefusesOversizedBodies(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil)
	big := `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["test-created"],"pad":"` +
		strings.Repeat("x", 1<<20) + `"}`
	resp, err := api.Client().Post(api.URL()+"/webhooks/v1/registration", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	_, registered := api.Registration()
	assert.False(t, registered)
	assert.Empty(t, api.Received())
}
