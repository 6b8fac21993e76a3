package pgdedupe_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/pgserver"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// key returns a fresh key shaped like the Handler's.
func key(t *testing.T) string {
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// begin claims k and requires want.
func begin(t *testing.T, ctx context.Context, s *pgdedupe.Store, k string, want pcwebhook.DeliveryState) pcwebhook.Claim {
	t.Helper()
	c, err := s.Begin(ctx, k)
	require.NoError(t, err)
	require.Equal(t, want, c.State)
	return c
}

// insert writes a row into effects through the claim's transaction in ctx.
func insert(t *testing.T, ctx context.Context, effects string) {
	t.Helper()
	tx, ok := pgdedupe.TxFrom(ctx)
	require.True(t, ok, "the callbacks' context carries the transaction")
	_, err := tx.Exec(ctx, "INSERT INTO "+effects+" (event) VALUES ('e')")
	require.NoError(t, err)
}

// The DDL: one table, its index, names split on '.' and quoted.
func TestSchema(t *testing.T) {
	assert.Equal(t, `CREATE TABLE IF NOT EXISTS "pcwebhook_deliveries" (
	delivery_key text PRIMARY KEY,
	token text NOT NULL,
	handled_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "pcwebhook_deliveries_expires_at_idx" ON "pcwebhook_deliveries" (expires_at);
`, pgdedupe.Schema(pgdedupe.DefaultTable))
	assert.Equal(t, pgdedupe.Schema(pgdedupe.DefaultTable), pgdedupe.Schema(""))
	ddl := pgdedupe.Schema(`app.Odd "Name"`)
	assert.Contains(t, ddl, `CREATE TABLE IF NOT EXISTS "app"."Odd ""Name""" (`)
	assert.Contains(t, ddl, `CREATE INDEX IF NOT EXISTS "Odd ""Name""_expires_at_idx" ON "app"."Odd ""Name""" (expires_at);`)
}

// Migrate does not create a missing schema; several replicas may run it at once; the
// schema-qualified table with an odd name then works, and so do odd keys.
func TestMigrate(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 20)
	ctx := testCtx(t)
	schema := "app_" + uniqueTable(t)
	name := `Odd "Name"`
	table := schema + "." + name
	s := pgdedupe.New(pool, pgdedupe.WithTable(table))
	err := s.Migrate(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pgdedupe: migrate")
	assert.Contains(t, err.Error(), "does not exist")
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n))
	assert.Equal(t, 0, n, "Migrate does not create the schema")

	_, err = pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for i := 0; i < cap(errs); i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- pgdedupe.New(pool, pgdedupe.WithTable(table)).Migrate(ctx) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "replicas migrating at once")
	}
	require.NoError(t, s.Migrate(ctx), "again: nothing to do")
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = $2", schema, name).Scan(&n))
	assert.Equal(t, 2, n, "the primary key and the index on expires_at")

	for _, k := range []string{`it's`, `back\slash`, `E'\x27; DROP TABLE x; --`, "ümlaut"} {
		c := begin(t, ctx, s, k, pcwebhook.DeliveryNew)
		begin(t, ctx, s, k, pcwebhook.DeliveryInProgress)
		require.NoError(t, s.Done(ctx, c))
		begin(t, ctx, s, k, pcwebhook.DeliveryDone)
		require.NoError(t, s.Done(ctx, c), "the repeat finds its record")
		var stored string
		require.NoError(t, pool.QueryRow(ctx, "SELECT delivery_key FROM "+pgx.Identifier{schema, name}.Sanitize()+" WHERE token = $1", c.Token).Scan(&stored))
		assert.Equal(t, k, stored)
	}
	_, err = s.Begin(ctx, "nul\x00byte")
	assert.Error(t, err)
}

// The claim's transaction is READ COMMITTED even where the database's default is not, and the
// callbacks see the session's lock_timeout, not the one Begin waits for the lock with.
func TestCallbacksTransactionSettings(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 4, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
		c.ConnConfig.RuntimeParams["lock_timeout"] = "7s"
	})
	ctx := testCtx(t)
	s, _ := newStore(t, pool)
	var def string
	require.NoError(t, pool.QueryRow(ctx, "SHOW default_transaction_isolation").Scan(&def))
	require.Equal(t, "serializable", def)
	c := begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	tx, ok := pgdedupe.TxFrom(s.WithClaim(ctx, c))
	require.True(t, ok)
	var level, lockTimeout string
	require.NoError(t, tx.QueryRow(ctx, "SELECT current_setting('transaction_isolation'), current_setting('lock_timeout')").Scan(&level, &lockTimeout))
	assert.Equal(t, "read committed", level)
	assert.Equal(t, "7s", lockTimeout)
	require.NoError(t, s.Release(ctx, c))
}

// A Begin of a key in progress waits briefly for its lock: when the owner finishes meanwhile the
// delivery is answered as a duplicate, otherwise as in progress.
func TestBeginWaitsBrieflyForTheLock(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 4)
	ctx := testCtx(t)
	s, _ := newStore(t, pool)
	k := key(t)
	c := begin(t, ctx, s, k, pcwebhook.DeliveryNew)
	start := time.Now()
	begin(t, ctx, s, k, pcwebhook.DeliveryInProgress)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "it waited for the lock")
	done := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		done <- s.Done(ctx, c)
	}()
	begin(t, ctx, s, k, pcwebhook.DeliveryDone) // waits for the lock, then finds the record
	require.NoError(t, <-done)
}

// Round trips to PostgreSQL, counted on the wire: a new delivery takes three (Begin: the
// duplicate check, then BEGIN with the lock and the check under it; Done: the record and COMMIT),
// a duplicate one, and each delivery in progress holds one pool connection.
func TestRoundTrips(t *testing.T) {
	srv := sharedServer(t)
	proxy := newTripCounter(t, srv.Addr)
	pool := newPool(t, "postgres://postgres@"+proxy.Addr()+"/postgres?sslmode=disable", 4, noPing)
	ctx := testCtx(t)
	s, _ := newStore(t, pool)
	trips := func(fn func()) int64 {
		before := proxy.Trips()
		fn()
		return proxy.Trips() - before
	}
	k := key(t)
	var c pcwebhook.Claim
	assert.Equal(t, int64(2), trips(func() { c = begin(t, ctx, s, k, pcwebhook.DeliveryNew) }), "Begin of a new delivery")
	assert.Equal(t, int32(1), pool.Stat().AcquiredConns(), "the delivery in progress holds one connection")
	assert.Equal(t, int64(0), trips(func() { s.WithClaim(ctx, c) }))
	assert.Equal(t, int64(3), trips(func() { begin(t, ctx, s, k, pcwebhook.DeliveryInProgress) }), "in progress: the check, BEGIN with the lock's wait timing out, ROLLBACK")
	assert.Equal(t, int64(1), trips(func() { require.NoError(t, s.Done(ctx, c)) }), "Done: the record and COMMIT")
	assert.Equal(t, int32(0), pool.Stat().AcquiredConns())
	assert.Equal(t, int64(1), trips(func() { begin(t, ctx, s, k, pcwebhook.DeliveryDone) }), "a duplicate")

	c = begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	assert.Equal(t, int64(1), trips(func() { require.NoError(t, s.Release(ctx, c)) }), "Release: ROLLBACK")
	assert.Equal(t, int64(1), trips(func() { require.NoError(t, s.Release(ctx, c)) }), "a repeated Release looks the key up")
	assert.Equal(t, int32(0), pool.Stat().AcquiredConns())
}

// noPing turns off pgxpool's liveness ping of connections idle for a second, which would count
// as round trips.
func noPing(c *pgxpool.Config) {
	c.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
}

// Nothing of a delivery stays on the session once it ended: no prepared statement, no setting,
// no advisory lock (PgBouncer's transaction pooling hands the session to another client).
func TestNoSessionState(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 1) // one session for everything
	ctx := testCtx(t)
	s, _ := newStore(t, pool)
	k := key(t)
	c := begin(t, ctx, s, k, pcwebhook.DeliveryNew)
	require.NoError(t, s.Done(ctx, c))
	begin(t, ctx, s, k, pcwebhook.DeliveryDone)
	require.NoError(t, s.Done(ctx, c))
	c = begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	require.NoError(t, s.Release(ctx, c))
	_, err := s.Purge(ctx)
	require.NoError(t, err)

	var prepared, locks int
	var idle, lockTimeout string
	require.NoError(t, pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_prepared_statements), "+
		"(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'), current_setting('idle_in_transaction_session_timeout'), "+
		"current_setting('lock_timeout')",
		pgx.QueryExecModeSimpleProtocol).Scan(&prepared, &locks, &idle, &lockTimeout))
	assert.Equal(t, 0, prepared, "no prepared statement")
	assert.Equal(t, 0, locks, "no advisory lock")
	assert.Equal(t, "0", idle, "the transaction's own idle timeout ended with it")
	assert.Equal(t, "0", lockTimeout, "and its lock timeout")
}

// Two stores on the same table under different names take different advisory locks, so both
// claim the key: the second Done finds the first's record, answers ErrAlreadyHandled, and rolls
// its writes back.
func TestAlreadyHandled(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 8)
	ctx := testCtx(t)
	s1, table := newStore(t, pool)
	s2 := pgdedupe.New(pool, pgdedupe.WithTable("public."+table))
	effects := newEffects(t, pool)
	k := key(t)
	c1 := begin(t, ctx, s1, k, pcwebhook.DeliveryNew)
	c2 := begin(t, ctx, s2, k, pcwebhook.DeliveryNew)
	insert(t, s1.WithClaim(ctx, c1), effects)
	insert(t, s2.WithClaim(ctx, c2), effects)
	require.NoError(t, s1.Done(ctx, c1))
	err := s2.Done(ctx, c2)
	assert.ErrorIs(t, err, pcwebhook.ErrAlreadyHandled)
	assert.NotErrorIs(t, err, pcwebhook.ErrNotCommitted)
	assert.Equal(t, 1, count(t, pool, effects), "the second delivery's writes were rolled back")
	begin(t, ctx, s2, k, pcwebhook.DeliveryDone)
	assert.Equal(t, int32(0), pool.Stat().AcquiredConns())
}

// The lease ends the transaction while a callback is busy in a query: the query is cancelled,
// the lock freed, the connection taken out of the pool, the callbacks' context ended, and the
// late Done commits nothing.
func TestLeaseEndsBusyQuery(t *testing.T) { leaseEndsBusyQuery(t, sharedServer(t).DSN()) }

// The same through a real PgBouncer in transaction pooling: the lease's end reaches the query
// through the bouncer, and the bouncer's server connection is free again.
func TestLeaseEndsBusyQueryThroughPgBouncer(t *testing.T) {
	bouncer := pgserver.StartBouncer(t, sharedServer(t), 4)
	leaseEndsBusyQuery(t, bouncer.DSN()+"&default_query_exec_mode=exec")
}

func leaseEndsBusyQuery(t *testing.T, dsn string) {
	pool := newPool(t, dsn, 4)
	ctx := testCtx(t)
	const lease = 300 * time.Millisecond
	s, _ := newStore(t, pool, pgdedupe.WithLease(lease))
	effects := newEffects(t, pool)
	k := key(t)
	c := begin(t, ctx, s, k, pcwebhook.DeliveryNew)
	cctx := s.WithClaim(ctx, c)
	insert(t, cctx, effects)
	tx, _ := pgdedupe.TxFrom(cctx)
	start := time.Now()
	_, err := tx.Exec(context.Background(), "SELECT pg_sleep(60)") // not even the callbacks' context
	require.Error(t, err, "the lease ended the query")
	assert.Less(t, time.Since(start), 30*time.Second)
	assert.Error(t, cctx.Err(), "the callbacks' context ended with the lease")
	assert.Eventually(t, func() bool { return pool.Stat().AcquiredConns() == 0 }, 10*time.Second, 10*time.Millisecond, "the connection left the pool")

	var retry pcwebhook.Claim
	require.Eventually(t, func() bool {
		retry, err = s.Begin(ctx, k)
		return err == nil && retry.State == pcwebhook.DeliveryNew
	}, 10*time.Second, 20*time.Millisecond, "the lock is free: a retry takes the delivery over")
	insert(t, s.WithClaim(ctx, retry), effects)
	require.NoError(t, s.Done(ctx, retry))
	err = s.Done(ctx, c)
	assert.ErrorIs(t, err, pcwebhook.ErrNotCommitted)
	assert.Equal(t, 1, count(t, pool, effects), "only the retry's write")
	var busy int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'").Scan(&busy))
	assert.Equal(t, 0, busy, "no backend still sleeps")
}

// The callbacks cannot end the delivery's transaction (Commit and Rollback are refused), but they
// can use savepoints; a statement that failed aborts the transaction, and Done then commits
// nothing, even when the callback swallowed the error.
func TestCallbackTransaction(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 4)
	ctx := testCtx(t)
	s, _ := newStore(t, pool)
	effects := newEffects(t, pool)

	_, ok := pgdedupe.TxFrom(ctx)
	assert.False(t, ok, "no transaction outside the callbacks")
	c := begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	_, ok = pgdedupe.TxFrom(s.WithClaim(ctx, pcwebhook.Claim{Key: "other", State: pcwebhook.DeliveryNew, Token: c.Token}))
	assert.False(t, ok, "a claim on another key carries no transaction")
	cctx := s.WithClaim(ctx, c)
	tx, ok := pgdedupe.TxFrom(cctx)
	require.True(t, ok)
	assert.ErrorIs(t, tx.Commit(ctx), pgdedupe.ErrTxManaged)
	assert.ErrorIs(t, tx.Rollback(ctx), pgdedupe.ErrTxManaged)
	nested, err := tx.Begin(ctx)
	require.NoError(t, err)
	insert(t, cctx, effects)
	require.NoError(t, nested.Rollback(ctx), "rolls back to the savepoint")
	nested, err = tx.Begin(ctx)
	require.NoError(t, err)
	_, err = nested.Exec(ctx, "INSERT INTO "+effects+" (event) VALUES ('kept')")
	require.NoError(t, err)
	require.NoError(t, nested.Commit(ctx), "releases the savepoint")
	assert.Equal(t, 0, count(t, pool, effects), "nothing committed before Done")
	require.NoError(t, s.Done(ctx, c))
	var events []string
	rows, err := pool.Query(ctx, "SELECT event FROM "+effects)
	require.NoError(t, err)
	events, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"kept"}, events)

	c = begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	cctx = s.WithClaim(ctx, c)
	insert(t, cctx, effects)
	tx, _ = pgdedupe.TxFrom(cctx)
	_, err = tx.Exec(ctx, "SELECT 1/0")
	require.Error(t, err)
	err = s.Done(ctx, c) // the callback returned nil all the same
	assert.ErrorIs(t, err, pcwebhook.ErrNotCommitted)
	assert.Contains(t, err.Error(), "aborted")
	assert.Equal(t, 1, count(t, pool, effects), "the aborted transaction's write is gone")
	begin(t, ctx, s, c.Key, pcwebhook.DeliveryNew)
}

// With every pool connection held by a delivery in progress, Begin fails after the acquire
// timeout instead of queueing behind the callbacks; a connection being made is waited for.
func TestPoolExhausted(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 2)
	ctx := testCtx(t)
	const wait = 200 * time.Millisecond
	s, _ := newStore(t, pool, pgdedupe.WithAcquireTimeout(wait))
	c1 := begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	c2 := begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	start := time.Now()
	_, err := s.Begin(ctx, key(t))
	require.Error(t, err)
	assert.GreaterOrEqual(t, time.Since(start), wait)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Contains(t, err.Error(), "no pool connection free within 200ms (2 of 2 in use")
	_, err = s.Begin(ctx, c1.Key)
	assert.Error(t, err, "not even a duplicate can be told apart without a connection")
	require.NoError(t, s.Release(ctx, c1))
	begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)
	require.NoError(t, s.Done(ctx, c2))
}

// Purge deletes the expired records, and only them; an expired record counts as absent before.
func TestPurge(t *testing.T) {
	pool := newPool(t, sharedServer(t).DSN(), 4)
	ctx := testCtx(t)
	const retention = 300 * time.Millisecond
	s, table := newStore(t, pool, pgdedupe.WithRetention(retention))
	var old []string
	for i := 0; i < 3; i++ {
		k := key(t)
		require.NoError(t, s.Done(ctx, begin(t, ctx, s, k, pcwebhook.DeliveryNew)))
		old = append(old, k)
	}
	time.Sleep(retention + 100*time.Millisecond)
	require.NoError(t, s.Done(ctx, begin(t, ctx, s, key(t), pcwebhook.DeliveryNew)))
	c := begin(t, ctx, s, old[0], pcwebhook.DeliveryNew) // expired: absent, and replaced at Done
	require.NoError(t, s.Done(ctx, c))
	n, err := s.Purge(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	n, err = s.Purge(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	assert.Equal(t, 2, count(t, pool, pgx.Identifier{table}.Sanitize()))
	begin(t, ctx, s, old[0], pcwebhook.DeliveryDone)
}

// The zero Store and a Store without a pool fail, they do not panic.
func TestNoPool(t *testing.T) {
	ctx := context.Background()
	for _, s := range []*pgdedupe.Store{{}, pgdedupe.New(nil)} {
		_, err := s.Begin(ctx, "k")
		assert.ErrorIs(t, err, pgdedupe.ErrNoPool)
		assert.ErrorIs(t, s.Done(ctx, pcwebhook.Claim{Key: "k", Token: "t"}), pgdedupe.ErrNoPool)
		assert.ErrorIs(t, s.Release(ctx, pcwebhook.Claim{Key: "k"}), pgdedupe.ErrNoPool)
		assert.ErrorIs(t, s.Migrate(ctx), pgdedupe.ErrNoPool)
		_, err = s.Purge(ctx)
		assert.ErrorIs(t, err, pgdedupe.ErrNoPool)
		assert.Equal(t, ctx, s.WithClaim(ctx, pcwebhook.Claim{Key: "k", Token: "t"}))
	}
	var nilStore *pgdedupe.Store
	_, err := nilStore.Begin(ctx, "k")
	assert.ErrorIs(t, err, pgdedupe.ErrNoPool)
	assert.False(t, strings.Contains(fmt.Sprint(pgdedupe.ErrNoPool), "%"))
}
