// Command sqlc is a Partner Center webhook receiver whose callback writes through sqlc-generated
// queries (package db, in the shape sqlc generates) bound to the delivery's transaction:
// queries.WithTx(tx), with tx from pgdedupe.TxFrom. The write commits together with the
// delivery's record, or not at all. Every event is delivered twice at once, and the first run of
// every third callback fails after it wrote; still, each event leaves exactly one row. It plays
// Partner Center against itself and prints what each event left.
//
//	go run ./examples/sqlc                                 # from the pgdedupe folder: starts a local PostgreSQL
//	DATABASE_URL=postgres://user:pass@host/db go run ./examples/sqlc
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/examples/sqlc/db"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/playback"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Getenv("DATABASE_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "sqlc:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, dsn string) error {
	pool, closeDB, err := playback.OpenDatabase(ctx, dsn) // DATABASE_URL, or a local PostgreSQL
	if err != nil {
		return err
	}
	defer closeDB()

	store := pgdedupe.New(pool, pgdedupe.WithLease(time.Minute))
	if err := store.Migrate(ctx); err != nil { // or put pgdedupe.Schema(pgdedupe.DefaultTable) in your migrations
		return err
	}
	if _, err := pool.Exec(ctx, db.Schema); err != nil {
		return err
	}
	queries := db.New(pool)

	play, err := playback.New() // plays Partner Center
	if err != nil {
		return err
	}
	defer play.Close()
	h := pcwebhook.NewHandler(
		pcwebhook.WithVerifier(play.Verifier()), // in production: the default Verifier
		pcwebhook.WithDedupeStore(store),
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), // the table below says what happened
	)
	h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		tx, ok := pgdedupe.TxFrom(ctx)
		if !ok {
			return errors.New("no delivery transaction: is the Handler's DedupeStore a pgdedupe.Store?")
		}
		err := queries.WithTx(tx).RecordSubscriptionChange(ctx, db.RecordSubscriptionChangeParams{
			SubscriptionID: e.SubscriptionID,
			ChangedAt:      e.ResourceChangeUTCDate,
		})
		if err != nil {
			return err
		}
		return play.FailFirstRun(&e.Event) // an error after the write: the write is rolled back
	})

	return play.Play(ctx, out, h, func(ctx context.Context, changedAt time.Time) (int, error) {
		n, err := queries.CountSubscriptionChanges(ctx, changedAt)
		return int(n), err
	})
}
