// Command plain is a Partner Center webhook receiver whose callback writes with plain pgx through
// the delivery's transaction (pgdedupe.TxFrom): the write commits together with the delivery's
// record, or not at all. Every event is delivered twice at once, and the first run of every third
// callback fails after it wrote; still, each event leaves exactly one row, in a table without a
// unique constraint. It plays Partner Center against itself and prints what each event left.
//
//	go run ./examples/plain                                 # from the pgdedupe folder: starts a local PostgreSQL
//	DATABASE_URL=postgres://user:pass@host/db go run ./examples/plain
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
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/playback"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Getenv("DATABASE_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "plain:", err)
		os.Exit(1)
	}
}

// schema is the application's table. It has no unique constraint: a second write of an event
// would be a second row.
const schema = `CREATE TABLE IF NOT EXISTS subscription_changes (
	subscription_id text NOT NULL,
	changed_at timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
)`

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
	if _, err := pool.Exec(ctx, schema); err != nil {
		return err
	}

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
		_, err := tx.Exec(ctx, "INSERT INTO subscription_changes (subscription_id, changed_at) VALUES ($1, $2)",
			e.SubscriptionID, e.ResourceChangeUTCDate)
		if err != nil {
			return err
		}
		return play.FailFirstRun(&e.Event) // an error after the write: the write is rolled back
	})

	return play.Play(ctx, out, h, func(ctx context.Context, changedAt time.Time) (n int, err error) {
		err = pool.QueryRow(ctx, "SELECT count(*) FROM subscription_changes WHERE changed_at = $1", changedAt).Scan(&n)
		return n, err
	})
}
