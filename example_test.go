package pcwebhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

const exampleBody = `{"EventName":"subscription-updated",` +
	`"ResourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/customers/4b2a6e33-8791-4386-bd2b-0d55baf25039/subscriptions/0f4a2c8e-9d1b-4f3a-8e2d-5c6b7a8f9e01",` +
	`"ResourceName":"subscription","AuditUri":null,"ResourceChangeUtcDate":"2017-11-16T16:19:06.3520276+00:00"}`

// Mount the Handler on your mux and register typed callbacks. In production use
// pcwebhook.NewHandler() with no verifier option: it verifies with Partner Center's production
// policy. Here pcwebhooktest plays Partner Center.
func ExampleHandler() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()

	hooks := pcwebhook.NewHandler(
		pcwebhook.WithVerifier(sender.Verifier()), // production: leave out
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	hooks.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		fmt.Println("customer:", e.CustomerID)
		fmt.Println("subscription:", e.SubscriptionID)
		return nil // an error here answers 500, and Partner Center retries
	})

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", hooks)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for i := 0; i < 2; i++ { // the second delivery is a retry: acknowledged, not run again
		resp, err := sender.Send(context.Background(), srv.URL+"/webhooks/partner-center", []byte(exampleBody))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println("status:", resp.StatusCode)
	}
	// Output:
	// customer: 4b2a6e33-8791-4386-bd2b-0d55baf25039
	// subscription: 0f4a2c8e-9d1b-4f3a-8e2d-5c6b7a8f9e01
	// status: 200
	// status: 200
}

// ParseRequest reads, verifies and decodes one request, for code that does its own routing,
// queuing or deduplication. HTTPStatus gives the answer the Handler would give for its error.
func ExampleParseRequest() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	verifier := sender.Verifier() // production: pcwebhook.NewVerifier(), created once

	receive := func(w http.ResponseWriter, r *http.Request) {
		ev, err := pcwebhook.ParseRequest(r, verifier)
		if err != nil {
			http.Error(w, http.StatusText(pcwebhook.HTTPStatus(err)), pcwebhook.HTTPStatus(err))
			return
		}
		fmt.Println("verified:", ev.Name)
		// e.g. put ev.Raw on a queue, then answer 2xx
		w.WriteHeader(http.StatusAccepted)
	}
	srv := httptest.NewServer(http.HandlerFunc(receive))
	defer srv.Close()

	resp, err := sender.Send(context.Background(), srv.URL, []byte(exampleBody))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("status:", resp.StatusCode)

	forged, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	resp, err = http.DefaultClient.Do(forged)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("unsigned:", resp.StatusCode)
	// Output:
	// verified: subscription-updated
	// status: 202
	// unsigned: 401
}

// ParseEvent decodes a body that is already trusted, for example one read back from your queue.
func ExampleParseEvent() {
	ev, err := pcwebhook.ParseEvent([]byte(exampleBody))
	if err != nil {
		panic(err)
	}
	switch e := ev.Typed().(type) {
	case *pcwebhook.SubscriptionEvent:
		fmt.Println(e.Name, e.CustomerID, e.ResourceChangeUTCDate)
	default:
		fmt.Println("other event:", ev.Name)
	}
	// Output:
	// subscription-updated 4b2a6e33-8791-4386-bd2b-0d55baf25039 2017-11-16 16:19:06.3520276 +0000 UTC
}
