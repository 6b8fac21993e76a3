package pgdedupe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/pgserver"
)

// replica is one receiver process: its own pool, store, Handler and loopback server.
type replica struct {
	name  string
	pool  *pgxpool.Pool
	store *pgdedupe.Store
	h     *pcwebhook.Handler
	srv   *httptest.Server
	logs  *testio.Buffer
}

// deployment is a table of records and a table of effects in one database, and the replicas that
// share them.
type deployment struct {
	table, effects string // effects is sanitized
	base           time.Time
	sender         *pcwebhooktest.Sender
	replicas       []*replica
}

// deploy starts n replicas on the database at dsn, each with a pool of maxConns connections and a
// Store with opts, sharing a fresh table of records and a fresh table of effects.
func deploy(t *testing.T, dsn string, n int, maxConns int32, opts ...pgdedupe.Option) *deployment {
	t.Helper()
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	t.Cleanup(sender.Close)
	d := &deployment{table: uniqueTable(t), base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), sender: sender}
	for i := 0; i < n; i++ {
		r := &replica{name: fmt.Sprintf("replica-%d", i+1), logs: &testio.Buffer{}}
		r.pool = newPool(t, dsn, maxConns)
		r.store = pgdedupe.New(r.pool, append([]pgdedupe.Option{pgdedupe.WithTable(d.table)}, opts...)...)
		if i == 0 {
			require.NoError(t, r.store.Migrate(context.Background()))
			d.effects = newEffects(t, r.pool)
		}
		t.Cleanup(r.store.ExpireAll)
		r.h = pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()), pcwebhook.WithDedupeStore(r.store),
			pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(r.logs, nil))))
		r.srv = httptest.NewServer(r.h)
		t.Cleanup(r.srv.Close)
		d.replicas = append(d.replicas, r)
	}
	return d
}

// event is the body of event i: SampleEvent with its own date, which identifies it in the
// callbacks.
func (d *deployment) event(i int) []byte {
	return pcwebhooktest.SampleEventAt(pcwebhook.EventSubscriptionUpdated, d.base.Add(time.Duration(i)*time.Second))
}

// index reads the event's number back.
func (d *deployment) index(e *pcwebhook.SubscriptionEvent) int {
	return int(e.ResourceChangeUTCDate.Sub(d.base) / time.Second)
}

// record writes the event's row of effects through the delivery's transaction, as a callback of
// the application does.
func (d *deployment) record(ctx context.Context, i int) error {
	tx, ok := pgdedupe.TxFrom(ctx)
	if !ok {
		return errors.New("no transaction in the callback's context")
	}
	_, err := tx.Exec(ctx, "INSERT INTO "+d.effects+" (event) VALUES ($1)", strconv.Itoa(i))
	return err
}

// rows returns how many rows of effects event i has.
func (d *deployment) rows(t *testing.T, i int) int {
	t.Helper()
	var n int
	require.NoError(t, d.replicas[0].pool.QueryRow(context.Background(), "SELECT count(*) FROM "+d.effects+" WHERE event = $1", strconv.Itoa(i)).Scan(&n))
	return n
}

// post sends the signed body to r, as Partner Center does, and returns the status and the
// Retry-After header.
func (d *deployment) post(t *testing.T, r *replica, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = d.sender.Sign(body)
	resp, err := r.srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// deliver posts body to the replicas in turn, from the first, as Partner Center retries, until
// one answers 200; it returns the statuses.
func (d *deployment) deliver(t *testing.T, first int, body []byte) []int {
	t.Helper()
	var statuses []int
	for attempt := 0; attempt < 300; attempt++ {
		status, _ := d.post(t, d.replicas[(first+attempt)%len(d.replicas)], body)
		statuses = append(statuses, status)
		if status == http.StatusOK {
			return statuses
		}
		if status < 500 {
			t.Errorf("status %d after %d attempts", status, attempt+1)
			return statuses
		}
		time.Sleep(time.Duration(min(2+attempt, 20)) * time.Millisecond)
	}
	t.Errorf("no 200 after 300 attempts: %v", statuses)
	return statuses
}

// Three replicas, each with its own pool and Handler: hundreds of events, each delivered three
// times at once to different replicas, every seventh callback failing on its first run after it
// wrote; every delivery not answered 200 is retried, as Partner Center retries. The callback
// inserts one row per run into a table without a unique constraint: every event's row is there
// exactly once. PCWEBHOOK_PG_EVENTS sets the number of events (default 200).
func TestReplicasExactlyOnceEffects(t *testing.T) {
	events := 200
	if v, err := strconv.Atoi(os.Getenv("PCWEBHOOK_PG_EVENTS")); err == nil && v > 0 {
		events = v
	}
	replicasExactlyOnce(t, sharedServer(t).DSN(), events, 0)
}

// The same through a real PgBouncer in transaction pooling: the 24 connections of the replicas'
// pools share 2 server connections (the callbacks run on at most 2 backends), and the replicas'
// own queries prepare nothing (default_query_exec_mode=exec, as the documentation advises before
// PgBouncer 1.21).
func TestReplicasExactlyOnceEffectsThroughPgBouncer(t *testing.T) {
	const poolSize = 2
	bouncer := pgserver.StartBouncer(t, sharedServer(t), poolSize)
	replicasExactlyOnce(t, bouncer.DSN()+"&default_query_exec_mode=exec", 40, poolSize)
}

// replicasExactlyOnce runs events events through three replicas on the database at dsn, each with
// a pool of 8 connections, and checks that each one's effects are there exactly once; when
// maxBackends is not 0, the callbacks must have run on at most that many server backends.
func replicasExactlyOnce(t *testing.T, dsn string, events, maxBackends int) {
	const copies = 3
	d := deploy(t, dsn, 3, 8)
	var failed = make([]atomic.Int32, events)
	var ran sync.Map      // replica name -> *atomic.Int32
	var backends sync.Map // the server backends the callbacks ran on
	for _, r := range d.replicas {
		r := r
		n := new(atomic.Int32)
		ran.Store(r.name, n)
		r.h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
			i := d.index(e)
			if err := d.record(ctx, i); err != nil {
				return err
			}
			if maxBackends > 0 {
				tx, _ := pgdedupe.TxFrom(ctx)
				var pid int32
				if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
					return err
				}
				backends.Store(pid, true)
			}
			if i%7 == 0 && failed[i].Add(1) == 1 {
				return errors.New("downstream unavailable") // after the write: it must vanish
			}
			n.Add(1)
			return nil
		})
	}
	type task struct{ event, copy int }
	tasks := make(chan task)
	var wg sync.WaitGroup
	for w := 0; w < 3*copies; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tk := range tasks {
				d.deliver(t, tk.event+tk.copy, d.event(tk.event))
			}
		}()
	}
	for i := 0; i < events; i++ {
		for c := 0; c < copies; c++ { // the copies of one event are sent at once
			tasks <- task{i, c}
		}
	}
	close(tasks)
	wg.Wait()

	var perEvent []int
	rows, err := d.replicas[0].pool.Query(context.Background(), "SELECT count(*) FROM "+d.effects+" GROUP BY event ORDER BY event::int")
	require.NoError(t, err)
	for rows.Next() {
		var n int
		require.NoError(t, rows.Scan(&n))
		perEvent = append(perEvent, n)
	}
	require.NoError(t, rows.Err())
	require.Len(t, perEvent, events, "every event's row is there")
	for i, n := range perEvent {
		assert.Equal(t, 1, n, "event %d: its row exactly once", i)
		if i%7 == 0 {
			assert.Equal(t, int32(2), failed[i].Load(), "event %d: failed once, then ran once more", i)
		}
	}
	assert.Equal(t, events, count(t, d.replicas[0].pool, pgx.Identifier{d.table}.Sanitize()), "one record per event")
	busy := 0
	ran.Range(func(_, v any) bool {
		if v.(*atomic.Int32).Load() > 0 {
			busy++
		}
		return true
	})
	assert.Equal(t, 3, busy, "every replica handled some events")
	for _, r := range d.replicas {
		assert.Equal(t, int32(0), r.pool.Stat().AcquiredConns(), "%s: no connection left held", r.name)
	}
	if maxBackends > 0 {
		n := 0
		backends.Range(func(_, _ any) bool { n++; return true })
		assert.LessOrEqual(t, n, maxBackends, "the replicas' sessions share the server connections")
	}
}

// A callback that fails after it wrote: 500, its write is gone; the retry writes once.
func TestCallbackErrorRollsBack(t *testing.T) {
	d := deploy(t, sharedServer(t).DSN(), 1, 4)
	r := d.replicas[0]
	var runs atomic.Int32
	r.h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		if err := d.record(ctx, d.index(e)); err != nil {
			return err
		}
		if runs.Add(1) == 1 {
			return errors.New("downstream unavailable")
		}
		return nil
	})
	status, _ := d.post(t, r, d.event(0))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, 0, d.rows(t, 0), "the failed run's write was rolled back")
	status, _ = d.post(t, r, d.event(0))
	assert.Equal(t, http.StatusOK, status)
	status, _ = d.post(t, r, d.event(0))
	assert.Equal(t, http.StatusOK, status, "a duplicate")
	assert.Equal(t, int32(2), runs.Load())
	assert.Equal(t, 1, d.rows(t, 0), "the retry's write, once")
}

// The callback's backend is terminated (an administrator, a failover) after the callback wrote:
// the callback returns nil, but nothing can be committed, so the Handler answers 503
// (not-committed) and logs an ERROR; the write is gone and the retry writes once.
func TestBackendTerminatedMidCallback(t *testing.T) {
	srv := sharedServer(t)
	d := deploy(t, srv.DSN(), 1, 4)
	r := d.replicas[0]
	var runs atomic.Int32
	r.h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		if err := d.record(ctx, d.index(e)); err != nil {
			return err
		}
		if runs.Add(1) == 1 {
			tx, _ := pgdedupe.TxFrom(ctx)
			return srv.Terminate(ctx, tx.Conn().PgConn().PID())
		}
		return nil
	})
	status, retryAfter := d.post(t, r, d.event(0))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.NotEmpty(t, retryAfter)
	logs := r.logs.String()
	assert.Contains(t, logs, `"outcome":"not-committed"`)
	assert.Contains(t, logs, `"level":"ERROR"`)
	assert.Equal(t, 0, d.rows(t, 0), "the write died with the session")
	assert.Equal(t, []int{http.StatusOK}, d.deliver(t, 0, d.event(0)))
	assert.Equal(t, int32(2), runs.Load())
	assert.Equal(t, 1, d.rows(t, 0))
}

// PostgreSQL is down: 503 with Retry-After and no callback, even for a duplicate; when it is back
// (the same data), the retry is handled once and the earlier event is still a duplicate: the
// record survived the restart.
func TestPostgresDownAndRestarted(t *testing.T) {
	srv := pgserver.Start(t)
	d := deploy(t, srv.DSN(), 2, 4)
	var runs [2]atomic.Int32
	for _, r := range d.replicas {
		r.h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
			runs[d.index(e)].Add(1)
			return d.record(ctx, d.index(e))
		})
	}
	status, _ := d.post(t, d.replicas[0], d.event(0))
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, srv.Stop())
	for _, r := range d.replicas {
		status, retryAfter := d.post(t, r, d.event(1))
		assert.Equal(t, http.StatusServiceUnavailable, status, "%s: no store, no callback", r.name)
		assert.NotEmpty(t, retryAfter)
		status, _ = d.post(t, r, d.event(0))
		assert.Equal(t, http.StatusServiceUnavailable, status, "%s: not even a duplicate can be told apart", r.name)
		assert.Contains(t, r.logs.String(), `"outcome":"dedupe-store-error"`)
	}
	assert.Equal(t, int32(0), runs[1].Load(), "no callback without a claim")

	require.NoError(t, srv.Restart())
	d.deliver(t, 1, d.event(1))
	d.deliver(t, 0, d.event(1))
	d.deliver(t, 0, d.event(0))
	d.deliver(t, 1, d.event(0))
	assert.Equal(t, int32(1), runs[1].Load(), "the retried event ran once")
	assert.Equal(t, int32(1), runs[0].Load(), "the event handled before the restart is a duplicate after it")
	assert.Equal(t, 1, d.rows(t, 0))
	assert.Equal(t, 1, d.rows(t, 1))
}

// A callback hangs past the lease, idle or busy in a query: the lease rolls its transaction
// back; a retry on another replica takes the delivery over and writes once; the late callback's
// writes are never committed, whatever it returns.
func TestHungCallbackPastLease(t *testing.T) {
	const lease = 500 * time.Millisecond
	for i, hang := range []struct {
		name   string
		status int // of the late delivery
		hang   func(ctx context.Context, release <-chan struct{}) error
	}{
		{"idle, then succeeds", http.StatusServiceUnavailable, func(_ context.Context, release <-chan struct{}) error {
			<-release
			return nil
		}},
		{"busy in a query", http.StatusInternalServerError, func(ctx context.Context, _ <-chan struct{}) error {
			tx, _ := pgdedupe.TxFrom(ctx)
			_, err := tx.Exec(context.Background(), "SELECT pg_sleep(60)")
			return err
		}},
	} {
		t.Run(hang.name, func(t *testing.T) {
			d := deploy(t, sharedServer(t).DSN(), 2, 4, pgdedupe.WithLease(lease))
			hung, taker := d.replicas[0], d.replicas[1]
			entered, release := make(chan struct{}), make(chan struct{})
			hung.h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
				if err := d.record(ctx, d.index(e)); err != nil {
					return err
				}
				close(entered)
				return hang.hang(ctx, release)
			})
			var ran atomic.Int32
			taker.h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
				ran.Add(1)
				return d.record(ctx, d.index(e))
			})
			late := make(chan int, 1)
			go func() { status, _ := d.post(t, hung, d.event(i)); late <- status }()
			<-entered
			statuses := d.deliver(t, 1, d.event(i))
			assert.Equal(t, http.StatusOK, statuses[len(statuses)-1], "the retry takes the delivery over")
			close(release)
			assert.Equal(t, hang.status, <-late)
			assert.Equal(t, int32(1), ran.Load())
			assert.Equal(t, 1, d.rows(t, i), "the late callback committed nothing")
			assert.Equal(t, []int{http.StatusOK}, d.deliver(t, 0, d.event(i)), "a duplicate on the late replica too")
		})
	}
}

// Every pool connection is held by a delivery in progress: another delivery is answered 503
// quickly, not queued behind the callbacks; once a connection is free it is handled.
func TestPoolExhaustedAnswers503(t *testing.T) {
	const wait = 200 * time.Millisecond
	d := deploy(t, sharedServer(t).DSN(), 1, 1, pgdedupe.WithAcquireTimeout(wait))
	r := d.replicas[0]
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.h.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		if d.index(e) == 0 {
			once.Do(func() { close(entered) })
			<-release
		}
		return d.record(ctx, d.index(e))
	})
	first := make(chan int, 1)
	go func() { status, _ := d.post(t, r, d.event(0)); first <- status }()
	<-entered
	start := time.Now()
	status, retryAfter := d.post(t, r, d.event(1))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.NotEmpty(t, retryAfter)
	assert.Less(t, time.Since(start), 10*time.Second, "answered, not queued")
	assert.Contains(t, r.logs.String(), "no pool connection free within 200ms")
	close(release)
	assert.Equal(t, http.StatusOK, <-first)
	assert.Equal(t, []int{http.StatusOK}, d.deliver(t, 0, d.event(1)))
	assert.Equal(t, 1, d.rows(t, 0))
	assert.Equal(t, 1, d.rows(t, 1))
}
