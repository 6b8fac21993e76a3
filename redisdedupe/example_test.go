package redisdedupe_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
)

// Every replica of the receiver runs the same code: a Handler whose dedupe store is on the one
// Redis they share, so a retry that lands on another replica is recognised.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr: "my-redis.example.com:6380",
		// Bound how long a slow Redis holds a delivery; the Handler then answers 503 and
		// Partner Center retries.
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
	})
	store := redisdedupe.New(rdb,
		redisdedupe.WithKeyPrefix("contoso:pcwebhook:"), // the default is "pcwebhook:dedupe:"
		redisdedupe.WithLease(2*time.Minute),            // longer than the callbacks take
	)
	h := pcwebhook.NewHandler(pcwebhook.WithDedupeStore(store))
	h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		return nil // provision, e-mail, open a ticket: once per event across all replicas
	})
	http.Handle("/webhooks/partner-center", h)
	if false { // a real server would listen here
		log.Fatal(http.ListenAndServe(":8080", nil))
	}
}
