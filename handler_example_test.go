package pcwebhook_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

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

// durableQueue stands in for a durable queue: a database table, or a message broker with
// publisher confirms. What matters is that Enqueue returns nil only once the message is stored.
type durableQueue struct{ stored chan []byte }

func (q *durableQueue) Enqueue(ctx context.Context, msg []byte) error {
	select {
	case q.stored <- msg:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Work slower than a request goes through a queue: the callback acknowledges the event only
// after a durable enqueue, and a worker does the work later. If the enqueue fails the Handler
// answers 500 and Partner Center retries, so no event is lost. The worker may see an event more
// than once (a crash after the enqueue but before the answer, for example): make its work
// idempotent.
func ExampleHandler_queueHandOff() {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		panic(err)
	}
	defer sender.Close()
	queue := &durableQueue{stored: make(chan []byte, 100)}

	hooks := pcwebhook.NewHandler(
		pcwebhook.WithVerifier(sender.Verifier()), // production: leave out
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	hooks.OnAny(func(ctx context.Context, e *pcwebhook.Event) error {
		// Raw is the verified body, exactly as received. The Handler never reuses its memory,
		// so it may be kept; ctx is cancelled if Partner Center hangs up before it is stored.
		return queue.Enqueue(ctx, e.Raw)
	})
	srv := httptest.NewServer(hooks)
	defer srv.Close()

	resp, err := sender.Send(context.Background(), srv.URL, []byte(exampleBody))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("acknowledged:", resp.StatusCode)

	// The worker, in another goroutine or process: the body was verified before it was queued,
	// so ParseEvent decodes it without verifying again.
	ev, err := pcwebhook.ParseEvent(<-queue.stored)
	if err != nil {
		panic(err) // a malformed body never reaches the queue: the Handler answered 400
	}
	fmt.Println("worker:", ev.Name, ev.IDs()[0].Value)
	// Output:
	// acknowledged: 200
	// worker: subscription-updated 4b2a6e33-8791-4386-bd2b-0d55baf25039
}

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

// IDs lists the IDs of any event as (name, value) pairs, for code that treats every family alike,
// such as a log line.
func ExampleEvent_IDs() {
	ev, err := pcwebhook.ParseEvent([]byte(exampleBody))
	if err != nil {
		panic(err)
	}
	attrs := []slog.Attr{slog.String("event", string(ev.Name))}
	for _, id := range ev.IDs() {
		attrs = append(attrs, slog.String(id.Name, id.Value))
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable example output
			}
			return a
		},
	}))
	logger.LogAttrs(context.Background(), slog.LevelInfo, "partner center event", attrs...)
	// Output:
	// level=INFO msg="partner center event" event=subscription-updated CustomerID=4b2a6e33-8791-4386-bd2b-0d55baf25039 SubscriptionID=0f4a2c8e-9d1b-4f3a-8e2d-5c6b7a8f9e01
}
