// Command river is a Partner Center webhook receiver whose callback does no slow work itself: it
// enqueues a River job in the delivery's transaction (riverClient.InsertTx with the transaction
// from pgdedupe.TxFrom), so that the job is inserted exactly once, together with the delivery's
// record, and River works it outside the webhook request. Every event is delivered twice at once,
// and the first run of every third callback fails after it enqueued its job; still, each event has
// exactly one job, and each job is worked once. It plays Partner Center against itself and prints
// what each event left.
//
//	go run .                                 # from this folder: starts a local PostgreSQL
//	DATABASE_URL=postgres://user:pass@host/db go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/playback"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Getenv("DATABASE_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "river:", err)
		os.Exit(1)
	}
}

// ProvisionArgs is the job a subscription change enqueues.
type ProvisionArgs struct {
	SubscriptionID string    `json:"subscription_id"`
	ChangedAt      time.Time `json:"changed_at"`
}

// Kind names the job for River.
func (ProvisionArgs) Kind() string { return "provision_subscription" }

// ProvisionWorker does the slow work of a subscription change, outside the webhook request.
type ProvisionWorker struct {
	river.WorkerDefaults[ProvisionArgs]
}

// Work provisions the subscription.
func (w *ProvisionWorker) Work(ctx context.Context, job *river.Job[ProvisionArgs]) error {
	select { // calling the provisioning API, sending the e-mail...
	case <-time.After(20 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
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
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &ProvisionWorker{})
	riverClient, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers: workers,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	completed, unsubscribe := riverClient.Subscribe(river.EventKindJobCompleted)
	defer unsubscribe()
	if err := riverClient.Start(ctx); err != nil {
		return err
	}
	defer riverClient.Stop(context.WithoutCancel(ctx))

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
		_, err := riverClient.InsertTx(ctx, tx, ProvisionArgs{SubscriptionID: e.SubscriptionID, ChangedAt: e.ResourceChangeUTCDate}, nil)
		if err != nil {
			return err
		}
		return play.FailFirstRun(&e.Event) // an error after the insert: the job is rolled back
	})

	err = play.Play(ctx, out, h, func(ctx context.Context, changedAt time.Time) (n int, err error) {
		err = pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = $1 AND (args->>'changed_at')::timestamptz = $2",
			ProvisionArgs{}.Kind(), changedAt).Scan(&n)
		return n, err
	})
	if err != nil {
		return err
	}
	for worked := 0; worked < playback.Events; {
		select {
		case ev := <-completed:
			if ev.Job.Kind == (ProvisionArgs{}).Kind() {
				worked++
			}
		case <-ctx.Done():
			return fmt.Errorf("%d of %d jobs worked: %w", worked, playback.Events, ctx.Err())
		}
	}
	fmt.Fprintf(out, "%d jobs worked by River, outside the webhook requests\n", playback.Events)
	return nil
}
