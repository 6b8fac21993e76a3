package pcwebhooktest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// A receiver under test verifies with the Sender's verifier; the Sender delivers a signed sample
// event to it, and then a tampered one.
func Example() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	verifier := sender.Verifier() // trusts this sender only

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := verifier.Verify(r.Context(), r.Header, body); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		ev, err := pcwebhook.ParseEvent(body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if e, ok := ev.Typed().(*pcwebhook.SubscriptionEvent); ok {
			fmt.Println("subscription", e.SubscriptionID, "of customer", e.CustomerID)
		}
	}))
	defer receiver.Close()

	ctx := context.Background()
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	resp, err := sender.Send(ctx, receiver.URL, body)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("genuine:", resp.StatusCode)

	// The headers signed for body, sent with another body: refused.
	tampered := `{"EventName":"subscription-updated","ResourceUri":"https://evil.example/"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, receiver.URL, strings.NewReader(tampered))
	if err != nil {
		panic(err)
	}
	req.Header = sender.Sign(body)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("tampered:", resp.StatusCode)
	// The tampered signature matched the cached key of no certificate, so the certificate was
	// downloaded once more to tell a forgery from a certificate replaced since: refused for good.
	fmt.Println("certificate downloads:", sender.Downloads())

	// Output:
	// subscription cb9a54ce-b00e-5491-b23d-a456f44f2858 of customer a235e100-04c9-54b8-b9b6-6cb3500ccc5a
	// genuine: 200
	// tampered: 401
	// certificate downloads: 2
}
