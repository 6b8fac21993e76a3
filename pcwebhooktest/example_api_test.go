package pcwebhooktest_test

import (
	"context"
	"errors"
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
