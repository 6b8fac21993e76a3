package pcwebhook_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// WithObserver sees every request's Result, for metrics and alerts: here each is printed. The
// Outcome names what happened; a 5xx outcome such as OutcomeCertificatePolicyFailed is the
// receiver's to fix, a 4xx one such as OutcomeVerificationFailed the sender's.
func ExampleWithObserver() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()

	hooks := pcwebhook.NewHandler(
		pcwebhook.WithVerifier(sender.Verifier()), // production: leave out
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		pcwebhook.WithObserver(func(r *http.Request, res pcwebhook.Result) {
			switch res.Outcome {
			case pcwebhook.OutcomeCertificateUnavailable, pcwebhook.OutcomeCertificatePolicyFailed,
				pcwebhook.OutcomeDedupeStoreError, pcwebhook.OutcomeMisconfigured, pcwebhook.OutcomeNotCommitted:
				fmt.Println("page the on-call:", res.Outcome, res.Err)
			case pcwebhook.OutcomeVerificationFailed:
				fmt.Println(res.Status, res.Outcome, "(not from Partner Center)")
			default:
				fmt.Println(res.Status, res.Outcome)
			}
		}),
	)
	hooks.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })

	deliver := func(header http.Header) {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/partner-center", strings.NewReader(exampleBody))
		for k, v := range header {
			r.Header[k] = v
		}
		hooks.ServeHTTP(httptest.NewRecorder(), r)
	}
	deliver(sender.Sign([]byte(exampleBody)))
	deliver(sender.Sign([]byte(exampleBody))) // Partner Center's retry of the same body
	deliver(http.Header{})                    // unsigned
	// Output:
	// 200 handled
	// 200 duplicate-acknowledged
	// 401 verification-failed (not from Partner Center)
}

// A server checks at start-up that its Handler can verify deliveries, and stops there when it
// cannot (a slim image without CA certificates): the error names the fix.
func ExampleHandler_Check() {
	hooks := pcwebhook.NewHandler() // the production policy, with this host's trust roots
	if err := hooks.Check(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready to verify deliveries")
	// Output: ready to verify deliveries
}
