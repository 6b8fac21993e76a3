package pcwebhooktest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// A test of code that registers a webhook and waits until Partner Center's test event got
// through: the fake API delivers the test event, signed by its Sender, to the registered URL.
func ExampleNewAPI() {
	testRegistration := func(t *testing.T) {
		ctx := context.Background()
		api := pcwebhooktest.NewAPI(t, nil) // closed when t ends; nil: a new Sender

		// The application under test: its Handler (trusting the API's sender in the test) ...
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(api.Sender().Verifier()))
		h.OnTestCreated(func(context.Context, *pcwebhook.TestEvent) error { return nil })
		app := httptest.NewTLSServer(h) // the API's own sender reaches httptest TLS servers
		defer app.Close()

		// ... and its registration code, with a Client pointed at the fake.
		client := api.NewClient()
		if _, err := client.EnsureRegistration(ctx, pcwebhook.Registration{
			WebhookURL:    app.URL,
			WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated, pcwebhook.EventSubscriptionUpdated},
		}); err != nil {
			t.Fatal(err)
		}
		id, err := client.SendTestEvent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		status, err := client.WaitForValidation(ctx, id, 10*time.Millisecond)
		if err != nil || !status.Delivered() {
			t.Fatalf("validation: %+v, %v", status, err)
		}
		if reg, ok := api.Registration(); !ok || reg.WebhookURL != app.URL {
			t.Fatalf("registered %+v", reg)
		}
		t.Log(api.Requests()) // GET, POST, POST validationEvents, GET validationEvents/{id}...
	}
	_ = testRegistration // a func TestRegistration(t *testing.T) in a _test.go file
}

// The API over TLS with a required token, offering only some events, with a registration that
// exists before the test.
func ExampleWithAPITLS() {
	testUpdate := func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, pcwebhooktest.New(t),
			pcwebhooktest.WithAPITLS(),
			pcwebhooktest.WithAPIToken("t0ken"),
			pcwebhooktest.WithSupportedEvents(pcwebhook.EventTestCreated, pcwebhook.EventInvoiceReady))
		api.SetRegistration(pcwebhook.Registration{WebhookURL: "https://old.example/hooks"})
		client := pcwebhook.NewClient(pcwebhook.StaticToken("t0ken"),
			pcwebhook.WithAPIRoot(api.URL()), pcwebhook.WithClientHTTPClient(api.Client()))
		if _, err := client.UpdateRegistration(context.Background(), pcwebhook.Registration{
			WebhookURL: "https://new.example/hooks", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventInvoiceReady},
		}); err != nil {
			t.Fatal(err)
		}
		api.Close() // optional: NewAPI closes it when t ends
	}
	_ = testUpdate
}

// FailNext scripts failures, here an outage the client retries through and then a refusal.
func ExampleAPI_FailNext() {
	testOutage := func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, nil)
		client := api.NewClient()
		api.FailNext(http.StatusServiceUnavailable) // answered with Retry-After: 0
		if _, err := client.SupportedEvents(context.Background()); err != nil {
			t.Fatal("not retried:", err)
		}
		api.FailNext(http.StatusForbidden)
		var apiErr *pcwebhook.APIError
		if _, err := client.Registration(context.Background()); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
			t.Fatal(err)
		}
	}
	_ = testOutage
}

// Respond queues canned answers for what the fake does not produce by itself: here a test event
// whose first delivery failed and whose retry succeeded. Received shows what the client sent.
func ExampleAPI_Respond() {
	testRetriedDelivery := func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, nil)
		const events = "/webhooks/v1/registration/validationEvents"
		api.Respond(http.MethodPost, events, http.StatusOK, `{"correlationId":"c-1"}`)
		api.Respond(http.MethodGet, events+"/c-1", http.StatusOK, `{"status":"pending","results":[
			{"responseCode":"InternalServerError","dateTimeUtc":"2025-01-31T12:00:00Z"}]}`)
		api.Respond(http.MethodGet, events+"/c-1", http.StatusOK, `{"status":"completed","results":[
			{"responseCode":"InternalServerError","dateTimeUtc":"2025-01-31T12:00:00Z"},
			{"responseCode":"OK","dateTimeUtc":"2025-01-31T12:00:08Z"}]}`)

		client := api.NewClient()
		id, err := client.SendTestEvent(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		status, err := client.WaitForValidation(context.Background(), id, 10*time.Millisecond)
		if err != nil || !status.Delivered() || len(status.Results) != 2 {
			t.Fatalf("validation: %+v, %v", status, err)
		}
		if sent := api.Received()[0]; sent.Header.Get("Authorization") != "Bearer test-token" {
			t.Fatalf("sent %v", sent.Header)
		}
	}
	_ = testRetriedDelivery
}

// RespondFunc writes any answer, here a refusal with the service's own correlation ID.
func ExampleAPI_RespondFunc() {
	testRefusal := func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, nil)
		api.RespondFunc(http.MethodGet, "/webhooks/v1/registration", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("MS-CorrelationId", "corr-1")
			w.WriteHeader(http.StatusForbidden)
		})
		_, err := api.NewClient().Registration(context.Background())
		var apiErr *pcwebhook.APIError
		if !errors.As(err, &apiErr) || apiErr.CorrelationID != "corr-1" {
			t.Fatal(err)
		}
	}
	_ = testRefusal
}

// Code that acts on an event GETs its ResourceURI; tested against the fake API, whose sample
// events name the fake's host. In a test, pcwebhooktest.NewAPI(t, nil) replaces StartAPI and its
// Close.
func ExampleAPI_SampleEvent() {
	api, err := pcwebhooktest.StartAPI(nil)
	if err != nil {
		panic(err)
	}
	defer api.Close()
	client := api.NewClient() // production: pcwebhook.NewClient(tokens)

	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(api.Sender().Verifier()))
	h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		var sub struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := client.GetResource(ctx, e.ResourceURI, &sub); err != nil {
			return err // 500: Partner Center retries
		}
		fmt.Println("subscription", sub.ID, "is", sub.Status)
		return nil
	})

	body := api.SampleEvent(pcwebhook.EventSubscriptionUpdated) // the one line
	ev, _ := pcwebhook.ParseEvent(body)
	api.SetResource(ev.ResourceURI, `{"id":"cb9a54ce","status":"suspended"}`) // optional: the JSON your code reads
	rec := api.Sender().Deliver(h, body)
	fmt.Println(rec.Code, api.Requests())
	// Output:
	// subscription cb9a54ce is suspended
	// 200 [GET /webhooks/v1/customers/a235e100-04c9-54b8-b9b6-6cb3500ccc5a/subscriptions/cb9a54ce-b00e-5491-b23d-a456f44f2858]
}
