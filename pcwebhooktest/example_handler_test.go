package pcwebhooktest_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// newInvoiceWebhook is the application's code under test (README, "Testing your handler").
func newInvoiceWebhook(v *pcwebhook.Verifier, invoices chan<- string) *pcwebhook.Handler {
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v), pcwebhook.WithMaxEventAge(72*time.Hour))
	h.OnInvoiceReady(func(ctx context.Context, e *pcwebhook.InvoiceEvent) error {
		invoices <- e.InvoiceID
		return nil
	})
	return h
}

// The README's example test ("Testing your handler"), run here with NewSender where the test
// uses New(t): a genuine delivery reaches the callback, its retry is acknowledged without a
// second call, and a forged one is refused.
func Example_testingYourHandler() {
	sender, err := pcwebhooktest.NewSender() // in a test: pcwebhooktest.New(t)
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	invoices := make(chan string, 1)
	h := newInvoiceWebhook(sender.Verifier(), invoices)

	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady, IDs: []string{"G000123456"}}.Body()
	fmt.Println(sender.Deliver(h, body).Code, <-invoices)

	fmt.Println(sender.Deliver(h, body).Code, len(invoices)) // Partner Center's retry

	forger, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer forger.Close()
	fmt.Println(forger.Deliver(h, body).Code == http.StatusUnauthorized)
	// Output:
	// 200 G000123456
	// 200 0
	// true
}
