package pcwebhooktest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// In a test, New replaces NewSender, its error check and its Close.
func ExampleNew() {
	testInvoices := func(t *testing.T) {
		sender := pcwebhooktest.New(t) // closed when t ends
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()))
		h.OnInvoiceReady(func(ctx context.Context, e *pcwebhook.InvoiceEvent) error { return nil })
		if rec := sender.Deliver(h, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	_ = testInvoices // a func TestInvoices(t *testing.T) in a _test.go file
}

// A test that fixes the verifier's clock makes the certificates from the same clock, so that it
// passes on any day.
func ExampleWithValidity() {
	clock := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	sender, err := pcwebhooktest.NewSender(pcwebhooktest.WithValidity(clock.Add(-time.Hour), clock.Add(time.Hour)))
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	h := pcwebhook.NewHandler(
		pcwebhook.WithVerifier(sender.Verifier(pcwebhook.WithClock(func() time.Time { return clock }))),
		pcwebhook.WithMaxEventAge(time.Hour),
	)
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated, Time: clock.Add(-time.Minute)}.Body()
	fmt.Println(sender.Deliver(h, body).Code)
	// Output: 200
}

// An event with chosen IDs, in the order its ResourceUri names them.
func ExampleEventSpec() {
	body := pcwebhooktest.EventSpec{
		Name: pcwebhook.EventSubscriptionUpdated,
		IDs:  []string{"contoso-customer", "contoso-subscription"},
		Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}.Body()
	fmt.Println(string(body))
	// Output: {"EventName":"subscription-updated","ResourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/customers/contoso-customer/subscriptions/contoso-subscription","ResourceName":"subscription","AuditUri":null,"ResourceChangeUtcDate":"2025-01-02T03:04:05.0000000+00:00"}
}

// Without a Time, every body is a new event; with the same Time, the same bytes come back, as
// in a retried delivery.
func ExampleEventSpec_Body() {
	spec := pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}
	first, second := spec.Body(), spec.Body()
	fmt.Println(bytes.Equal(first, second))
	spec.Time = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	first, second = spec.Body(), spec.Body()
	fmt.Println(bytes.Equal(first, second))
	// Output:
	// false
	// true
}

// Request builds a signed request for a handler, as httptest.NewRequest does.
func ExampleSender_Request() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	req := sender.Request("/webhooks/partner-center", pcwebhooktest.SampleEvent(pcwebhook.EventTestCreated))
	fmt.Println(req.Method, req.URL.Path, req.Header.Get("X-MS-Signature-Algorithm"))
	// Output: POST /webhooks/partner-center rsa-sha256
}

// Deliver serves a signed delivery to a handler and returns what it answered.
func ExampleSender_Deliver() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()))
	h.OnTestCreated(func(_ context.Context, e *pcwebhook.TestEvent) error {
		fmt.Println("validation event", e.CorrelationID)
		return nil
	})
	rec := sender.Deliver(h, pcwebhooktest.SampleEvent(pcwebhook.EventTestCreated))
	fmt.Println(rec.Code)
	// Output:
	// validation event af3495b3-8dfc-5a1d-a228-e6eba735b741
	// 200
}

// A Delivery is signed once and sent as often as a test needs: Partner Center's retry of the same
// bytes is acknowledged without running the callback again. Deliver serves it at the handler's
// path.
func ExampleSender_Delivery() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()))
	h.OnInvoiceReady(func(_ context.Context, e *pcwebhook.InvoiceEvent) error {
		fmt.Println("invoice", e.InvoiceID)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", h)

	d := sender.Delivery(pcwebhooktest.SampleEvent(pcwebhook.EventInvoiceReady))
	for i := 0; i < 2; i++ {
		rec := d.Deliver(mux, "/webhooks/partner-center")
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// invoice 409b9e19-312a-5d25-93be-78fd53886b95
	// 200 ok
	// 200 already handled
}

// Send posts the same bytes to several replicas, here two servers whose Handlers share one
// DedupeStore: the second replica acknowledges the delivery as one already handled.
func ExampleDelivery_Send() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	store := pcwebhook.NewMemoryDedupeStore(time.Hour, 0) // production: a shared store (Redis, PostgreSQL)
	var replicas []string
	for i := 0; i < 2; i++ {
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()), pcwebhook.WithDedupeStore(store))
		srv := httptest.NewServer(h)
		defer srv.Close()
		replicas = append(replicas, srv.URL)
	}

	d := sender.Delivery(pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated))
	for i, url := range replicas {
		resp, err := d.Send(context.Background(), nil, url)
		if err != nil {
			panic(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("replica %d: %d %s", i+1, resp.StatusCode, answer)
	}
	// Output:
	// replica 1: 200 ok
	// replica 2: 200 already handled
}
