package pgdedupe_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnercenter-go/pcwebhook/pgdedupe"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/pgserver"
)

// Most tests share one server, each with tables of its own; the tests that stop or restart a
// server start their own.
var shared struct {
	once sync.Once
	srv  *pgserver.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// sharedServer returns the package's server, started on first use.
func sharedServer(tb testing.TB) *pgserver.Server {
	tb.Helper()
	pgserver.RequireInstalled(tb)
	shared.once.Do(func() { shared.srv, shared.err = pgserver.Run() })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.srv
}

// newPool returns a pool on the database at dsn with at most maxConns connections, closed on
// cleanup. configure, when given, changes the pool's configuration first.
func newPool(tb testing.TB, dsn string, maxConns int32, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	for _, c := range configure {
		c(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// uniqueTable is a table name no other test of the run uses.
func uniqueTable(tb testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "deliveries_" + hex.EncodeToString(b[:])
}

// newStore returns a Store on pool with a fresh table (migrated) and opts.
func newStore(tb testing.TB, pool *pgxpool.Pool, opts ...pgdedupe.Option) (*pgdedupe.Store, string) {
	tb.Helper()
	table := uniqueTable(tb)
	s := pgdedupe.New(pool, append([]pgdedupe.Option{pgdedupe.WithTable(table)}, opts...)...)
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.ExpireAll) // claims a test left open, before the pool closes
	return s, table
}

// newEffects creates a table of a test's own for the callbacks' writes, without a unique
// constraint (a row written twice stays twice), and returns its sanitized name.
func newEffects(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	name := pgx.Identifier{"effects_" + uniqueTable(tb)}.Sanitize()
	if _, err := pool.Exec(context.Background(), "CREATE TABLE "+name+" (event text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"); err != nil {
		tb.Fatal(err)
	}
	return name
}

// count returns the rows of table (its sanitized name).
func count(tb testing.TB, pool *pgxpool.Pool, table string) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
