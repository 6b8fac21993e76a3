package pgdedupe_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
)

// Every replica of the receiver runs the same code: a Handler whose dedupe store is the
// application's own PostgreSQL. The callback writes through the delivery's transaction, so its
// write and the delivery's record commit together: a retry of the event, on any replica, finds
// both or neither.
func ExampleNew() {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig("postgres://app@db.example.com/app")
	if err != nil {
		log.Fatal(err)
	}
	cfg.MaxConns = 32 // each delivery in progress holds one connection, besides the application's
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	store := pgdedupe.New(pool,
		pgdedupe.WithTable("webhooks.pcwebhook_deliveries"), // the default is pcwebhook_deliveries
		pgdedupe.WithLease(time.Minute),                     // longer than the callbacks take
	)
	if err := store.Migrate(ctx); err != nil { // or pgdedupe.Schema(...) in your migrations
		log.Fatal(err)
	}

	h := pcwebhook.NewHandler(pcwebhook.WithDedupeStore(store))
	h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		tx, ok := pgdedupe.TxFrom(ctx)
		if !ok {
			return errors.New("no delivery transaction")
		}
		_, err := tx.Exec(ctx, "UPDATE subscriptions SET synced_at = now() WHERE id = $1", e.SubscriptionID)
		return err // an error rolls the update back, and Partner Center retries
	})
	http.Handle("/webhooks/partner-center", h)
	if false { // a real server would listen here
		log.Fatal(http.ListenAndServe(":8080", nil))
	}
}
