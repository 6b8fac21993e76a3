// Package pgdedupe is a pcwebhook.DedupeStore on PostgreSQL whose claim is a transaction: the
// callbacks write through it (TxFrom), and their writes commit together with the delivery's
// "handled" record, or not at all. A Partner Center retry, on any replica, then finds either the
// record and the effects, or neither: the effects happen exactly once.
//
// How a delivery goes:
//   - Begin takes a connection from the pool (waiting at most the acquire timeout: an exhausted
//     pool answers an error, and the Handler 503) and asks whether the key has a record: a
//     duplicate is answered in this one round trip. Otherwise it opens a READ COMMITTED
//     transaction, takes the key's transaction-scoped advisory lock (held by another delivery
//     for more than 100 ms: DeliveryInProgress) and looks again under the lock, in one more
//     round trip.
//   - The Handler runs the callbacks with the context WithClaim returns; TxFrom gives them the
//     transaction. They must not commit or roll it back themselves.
//   - Done inserts the record and commits, in one round trip (three per new delivery in all).
//     When another delivery's record is there first, the transaction is rolled back and Done
//     returns pcwebhook.ErrAlreadyHandled (the Handler answers 200, a duplicate). When the commit
//     fails, the connection died or the lease ran out, Done returns pcwebhook.ErrNotCommitted
//     (503: the retry runs the callbacks again against a database that holds none of their
//     writes). Release rolls back: the writes vanish, and the retry handles the delivery again.
//   - The lease (WithLease) bounds the transaction: when it runs out the store cancels the query
//     in flight, closes the connection (the server rolls back and frees the lock) and takes it out
//     of the pool, even while a callback is still running; a retry may then take the delivery
//     over. The server also ends the transaction when it stays idle past the lease
//     (idle_in_transaction_session_timeout, set for the transaction only), in case this process
//     froze.
//
// Each delivery in progress holds one pool connection for its callbacks' duration: size the pool
// (pgxpool's MaxConns) for the concurrent deliveries plus the rest of the application, and keep
// callbacks short (enqueue slow work in the same transaction, for example with River's InsertTx).
//
// The store keeps no state on the session (no SET outside the transaction, no session advisory
// locks, no prepared statements), so it works through PgBouncer in transaction pooling mode, and
// with any pgx QueryExecMode. It never logs: pgx has no logger unless the pool's configuration
// sets a tracer, and every failure is returned once, to the Handler, which logs it.
//
// Records are deleted when expired by Purge (run it periodically); an expired record counts as
// absent even before. Create the table with Migrate, or put Schema's DDL into your migrations.
package pgdedupe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnercenter-go/pcwebhook"
)

// Defaults of a Store made by New.
const (
	// DefaultTable is the table of the records.
	DefaultTable = "pcwebhook_deliveries"
	// DefaultRetention is how long a handled delivery is remembered: longer than Partner
	// Center's ten attempts take. The same as pcwebhook.DefaultDedupeRetention.
	DefaultRetention = pcwebhook.DefaultDedupeRetention
	// DefaultLease is the longest a delivery's transaction may stay open. The same as
	// pcwebhook.DefaultDedupeLease.
	DefaultLease = pcwebhook.DefaultDedupeLease
	// DefaultAcquireTimeout is how long Begin waits for a pool connection while every one is in
	// use and none comes free.
	DefaultAcquireTimeout = time.Second
)

// ErrNoPool is returned by a Store that has no pool (the zero Store, or New(nil)).
var ErrNoPool = errors.New("pgdedupe: no connection pool (use New with a pool)")

// ErrTxManaged is returned by Commit and Rollback of the transaction TxFrom gives: the store ends
// it, in Done (commit, with the delivery's record) or Release (rollback). A callback that wants
// its writes rolled back returns an error.
var ErrTxManaged = errors.New("pgdedupe: the delivery's transaction is committed with its record by the Handler (return an error from the callback to roll it back)")

// Store is a pcwebhook.DedupeStore and pcwebhook.ClaimContexter on PostgreSQL, safe for
// concurrent use by any number of Handlers in any number of processes that share the database
// and the table. Create it with New.
type Store struct {
	pool      *pgxpool.Pool
	table     table
	retention time.Duration
	lease     time.Duration
	acquire   time.Duration
	secret    [32]byte // signs this Store's tokens

	claims sync.Map // token -> *claim, the claims whose transaction is open
}

var (
	_ pcwebhook.DedupeStore    = (*Store)(nil)
	_ pcwebhook.ClaimContexter = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithTable sets the table of the records (default DefaultTable). A schema-qualified name
// ("app.pcwebhook_deliveries") is split on '.' and each part quoted; the schema must exist.
// Every replica of a receiver needs the same table.
func WithTable(name string) Option { return func(s *Store) { s.table = newTable(name) } }

// WithRetention sets how long a handled delivery is remembered (default DefaultRetention, 7
// days). A retry of a delivery that is forgotten runs the callbacks again, so keep it longer
// than Partner Center retries. Values below 1 ms keep the default.
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// WithLease sets the longest a delivery's transaction may stay open (default DefaultLease, 10
// minutes): then it is rolled back, whether a callback is idle or busy in a query, and a retry
// may take the delivery over; the late Done returns an error wrapping pcwebhook.ErrNotCommitted.
// Keep it longer than your callbacks take. Values below 1 ms keep the default.
func WithLease(d time.Duration) Option { return func(s *Store) { s.lease = d } }

// WithAcquireTimeout sets how long Begin (and a Done or Release that must look a claim up) waits
// for a pool connection while every one is in use and none comes free (default
// DefaultAcquireTimeout, 1 s); then it returns an error, and the Handler answers 503 with
// Retry-After. Values below 1 ms keep the default.
func WithAcquireTimeout(d time.Duration) Option { return func(s *Store) { s.acquire = d } }

// New returns a Store on pool. Every replica of a receiver needs a Store on the same database
// with the same table; create the table first (Migrate or Schema).
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{pool: pool, table: newTable(DefaultTable)}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	if s.retention < time.Millisecond {
		s.retention = DefaultRetention
	}
	if s.lease < time.Millisecond {
		s.lease = DefaultLease
	}
	if s.acquire < time.Millisecond {
		s.acquire = DefaultAcquireTimeout
	}
	_, _ = rand.Read(s.secret[:]) // never fails (crypto/rand panics rather)
	return s
}

// Migrate creates the table and its index when they are missing (Schema's DDL), under a
// transaction-scoped advisory lock, so that replicas starting at once may all run it. It does not
// create a missing schema.
func (s *Store) Migrate(ctx context.Context) error {
	if s == nil || s.pool == nil {
		return ErrNoPool
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgx.QueryExecModeExec, migrateLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, Schema(s.table.name))
		return err
	})
	if err != nil {
		return fmt.Errorf("pgdedupe: migrate %s: %w", s.table.sanitized, err)
	}
	return nil
}

// Purge deletes every record past its retention and returns how many it deleted. Run it
// periodically (an expired record counts as absent even before, but takes room).
func (s *Store) Purge(ctx context.Context) (int64, error) {
	if s == nil || s.pool == nil {
		return 0, ErrNoPool
	}
	tag, err := s.pool.Exec(ctx, s.table.purgeSQL())
	if err != nil {
		return 0, fmt.Errorf("pgdedupe: purge %s: %w", s.table.sanitized, err)
	}
	return tag.RowsAffected(), nil
}

// txKey is the context key of the claim's transaction.
type txKey struct{}

// TxFrom returns the delivery's transaction inside the Handler's callbacks (false elsewhere):
// write through it, and the writes commit with the delivery's record in Done, or are rolled back
// in Release. Its Commit and Rollback return ErrTxManaged; nested transactions (Begin, savepoints)
// work as in pgx. Do not keep it past the callback.
func TxFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// WithClaim returns the context the callbacks of the claim run with: ctx with the claim's
// transaction (see TxFrom), ending when the lease runs out. For a claim this Store does not hold
// open it returns ctx.
func (s *Store) WithClaim(ctx context.Context, c pcwebhook.Claim) context.Context {
	if s == nil {
		return ctx
	}
	cl, ok := s.open(c)
	if !ok {
		return ctx
	}
	ctx, cancel := context.WithDeadline(ctx, cl.expires)
	cl.addCancel(cancel)
	return context.WithValue(ctx, txKey{}, pgx.Tx(callbackTx{cl.tx}))
}

// callbackTx is the claim's transaction as the callbacks see it: everything but ending it.
type callbackTx struct{ pgx.Tx }

// Commit returns ErrTxManaged: Done commits.
func (callbackTx) Commit(context.Context) error { return ErrTxManaged }

// Rollback returns ErrTxManaged: Release rolls back.
func (callbackTx) Rollback(context.Context) error { return ErrTxManaged }

// Begin claims key when it is new and reports what it was (see the package documentation). An
// error means PostgreSQL did not answer or no pool connection was free: the Handler then answers
// 503 and runs no callback.
func (s *Store) Begin(ctx context.Context, key string) (pcwebhook.Claim, error) {
	if s == nil || s.pool == nil {
		return pcwebhook.Claim{}, ErrNoPool
	}
	if strings.IndexByte(key, 0) >= 0 {
		return pcwebhook.Claim{}, fmt.Errorf("pgdedupe: begin: a key holds a NUL byte")
	}
	conn, err := s.acquireConn(ctx)
	if err != nil {
		return pcwebhook.Claim{}, fmt.Errorf("pgdedupe: begin %s: %w", shortKey(key), err)
	}
	var done bool
	if err := conn.QueryRow(ctx, s.table.isDoneSQL(), pgx.QueryExecModeExec, key).Scan(&done); err != nil {
		conn.Release()
		return pcwebhook.Claim{}, fmt.Errorf("pgdedupe: begin %s: %w", shortKey(key), err)
	}
	if done {
		conn.Release()
		return pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryDone}, nil
	}

	expires := time.Now().Add(s.lease) // the lease runs from before the transaction begins
	token := s.newToken(key, expires)
	bctx, cancel := context.WithDeadline(ctx, expires)
	tx, err := conn.BeginTx(bctx, pgx.TxOptions{
		BeginQuery:  s.table.beginSQL(key, lockID(s.table.sanitized, key), s.lease.Milliseconds()),
		CommitQuery: s.table.commitSQL(key, token, s.retention.Milliseconds()),
	})
	cancel()
	if err != nil {
		endConn(conn)
		if state, ok := beginAnswer(err); ok {
			return pcwebhook.Claim{Key: key, State: state}, nil
		}
		return pcwebhook.Claim{}, fmt.Errorf("pgdedupe: begin %s: %w", shortKey(key), err)
	}
	s.hold(token, &claim{key: key, expires: expires, conn: conn, pgConn: conn.Conn().PgConn(), tx: tx})
	return pcwebhook.Claim{Key: key, State: pcwebhook.DeliveryNew, Token: token, Expires: expires}, nil
}

// Done records the claimed delivery and commits the callbacks' writes with the record. It
// returns an error wrapping pcwebhook.ErrAlreadyHandled when another delivery's record was
// committed first, and one wrapping pcwebhook.ErrNotCommitted when nothing was committed (the
// commit failed, the connection died, a statement of the callbacks had failed, or the lease ran
// out); in both cases the writes were rolled back. Done again with a claim that was committed
// returns nil; a claim of another store or key returns an error wrapping pcwebhook.ErrClaimLost.
func (s *Store) Done(ctx context.Context, c pcwebhook.Claim) error {
	if s == nil || s.pool == nil {
		return ErrNoPool
	}
	cl, ok := s.take(c)
	if !ok {
		return s.doneEnded(ctx, c)
	}
	defer cl.conn.Release()
	fail := func(why string, err error) error {
		cl.rollback(ctx)
		if err != nil {
			return fmt.Errorf("pgdedupe: done %s: %s: %w: %w", shortKey(c.Key), why, pcwebhook.ErrNotCommitted, err)
		}
		return fmt.Errorf("pgdedupe: done %s: %s: %w", shortKey(c.Key), why, pcwebhook.ErrNotCommitted)
	}
	switch {
	case time.Now().After(cl.expires):
		return fail("the lease ran out; the transaction was rolled back", nil)
	case cl.pgConn.IsClosed():
		return fail("the connection was lost; the transaction was rolled back", nil)
	case cl.pgConn.TxStatus() == 'E':
		return fail("a statement of the callbacks failed, which aborted the transaction", nil)
	case cl.pgConn.TxStatus() != 'T':
		return fmt.Errorf("pgdedupe: done %s: the callbacks ended the delivery's transaction themselves; their writes were not recorded with the delivery", shortKey(c.Key))
	}
	cctx, cancel := context.WithDeadline(ctx, cl.expires)
	defer cancel()
	if err := cl.tx.Commit(cctx); err != nil {
		if s.table.isRecordConflict(err) {
			return fmt.Errorf("pgdedupe: done %s: %w; this delivery's writes were rolled back", shortKey(c.Key), pcwebhook.ErrAlreadyHandled)
		}
		return fail("commit", err)
	}
	return nil
}

// Release rolls the claim's transaction back: the callbacks' writes vanish, and the retry handles
// the delivery again. Release of a claim whose transaction is gone already (its connection died,
// or it was released) returns nil while the key is free and the lease runs; otherwise it changes
// nothing and returns an error wrapping pcwebhook.ErrClaimLost.
func (s *Store) Release(ctx context.Context, c pcwebhook.Claim) error {
	if s == nil || s.pool == nil {
		return ErrNoPool
	}
	cl, ok := s.take(c)
	if !ok {
		return s.releaseEnded(ctx, c)
	}
	cl.rollback(ctx)
	cl.conn.Release()
	if time.Now().After(cl.expires) { // the timer was about to end it
		return fmt.Errorf("pgdedupe: release %s: the lease ran out: %w", shortKey(c.Key), pcwebhook.ErrClaimLost)
	}
	return nil
}

// acquireConn takes a pool connection. While the pool makes a new connection, or hands its
// connections out in turn, it waits (the connection's ConnectTimeout and ctx bound that); once a
// whole acquire timeout passed in which every connection stayed in use and none was handed out,
// it fails: each delivery in progress holds a connection, and a request must not queue behind
// callbacks that may take minutes.
func (s *Store) acquireConn(ctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	handedOut := s.pool.Stat().AcquireCount()
	var watch func()
	watch = func() {
		if actx.Err() != nil {
			return
		}
		st := s.pool.Stat()
		if st.AcquiredConns() >= st.MaxConns() && st.AcquireCount() == handedOut {
			cancel(fmt.Errorf("no pool connection free within %s (%d of %d in use: each delivery in progress holds one; raise the pool's MaxConns)",
				s.acquire, st.AcquiredConns(), st.MaxConns()))
			return
		}
		handedOut = st.AcquireCount()
		time.AfterFunc(s.acquire, watch)
	}
	first := time.AfterFunc(s.acquire, watch)
	defer first.Stop()
	conn, err := s.pool.Acquire(actx)
	if err != nil && ctx.Err() == nil {
		if cause := context.Cause(actx); cause != nil && cause != actx.Err() {
			return nil, cause
		}
	}
	return conn, err
}

// endConn ends a transaction a failed Begin left open and returns the connection to the pool.
func endConn(conn *pgxpool.Conn) {
	pc := conn.Conn().PgConn()
	if !pc.IsClosed() && pc.TxStatus() != 'I' {
		ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
		_, _ = conn.Exec(ctx, "ROLLBACK")
		cancel()
	}
	conn.Release() // the pool destroys a connection that is closed or still in a transaction
}

// rollbackTimeout bounds a ROLLBACK on a connection that no longer answers; the server rolls back
// anyway when the connection closes.
const rollbackTimeout = 5 * time.Second

// shortKey abbreviates a key for errors.
func shortKey(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}
