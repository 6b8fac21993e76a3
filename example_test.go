package pcwebhook_test

import (
	"context"
	"errors"
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

// EnsureRegistration makes Partner Center's registration match yours: it reads it, then creates
// or updates it only when needed. Here an httptest server stands in for the Partner Center API.
func ExampleClient_EnsureRegistration() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodGet: // no registration yet
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"code":2001,"description":"Registration not found"}`)
		case http.MethodPost: // echo the registration, as Partner Center does
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, `{"SubscriberId":"e3d7f6a2-9b1c-4c0e-8f5a-2d6b7c8e9f01",%s`, body[1:])
		}
	}))
	defer api.Close()

	client := pcwebhook.NewClient(pcwebhook.StaticToken("example-token"), // production: a TokenSource from Azure AD
		pcwebhook.WithAPIRoot(api.URL), // production: leave out (GlobalAPIRoot), or ChinaAPIRoot
	)
	reg, err := client.EnsureRegistration(context.Background(), pcwebhook.Registration{
		WebhookURL:    "https://partner.example/webhooks/partner-center",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(reg.SubscriberID)
	fmt.Println(reg.WebhookURL, reg.WebhookEvents)
	// Output:
	// e3d7f6a2-9b1c-4c0e-8f5a-2d6b7c8e9f01
	// https://partner.example/webhooks/partner-center [subscription-updated test-created]
}

// A verifier for deliveries whose certificate lives elsewhere than the documented location, for
// example in a sovereign cloud: the allow-list is replaced, and nothing else is loosened.
func ExampleNewVerifier() {
	v, err := pcwebhook.NewVerifier(
		pcwebhook.WithCertificateURLPrefixes("https://certs.partner.example.cn/cert/"),
	)
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Signature c2lnbmF0dXJl")
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	h.Set("X-MS-Certificate-Url", "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer")
	err = v.Verify(context.Background(), h, []byte(`{"EventName":"test-created"}`))
	fmt.Println(errors.Is(err, pcwebhook.ErrUntrustedCertificateURL))
	fmt.Println(pcwebhook.HTTPStatus(err))
	// Output:
	// true
	// 401
}
