package pgdedupe_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/pgserver"
)

// conformance runs the contract of a transactional DedupeStore against pgdedupe on pool: each
// store has tables of its own, the records' and the effects' (rows written by the callbacks,
// without a unique constraint). The kit's own queries (the callbacks' writes, the counts) run in
// mode; the store's run as the store runs them.
func conformance(t *testing.T, pool *pgxpool.Pool, mode pgx.QueryExecMode) {
	pcwebhooktest.TestTransactionalDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhooktest.TransactionalDedupeStore {
		s, _ := newStore(t, pool, pgdedupe.WithLease(cfg.Lease), pgdedupe.WithRetention(cfg.Retention))
		effects := newEffects(t, pool)
		return pcwebhooktest.TransactionalDedupeStore{
			Store: s,
			Write: func(ctx context.Context) error {
				tx, ok := pgdedupe.TxFrom(ctx)
				if !ok {
					return errors.New("no transaction in the callbacks' context")
				}
				_, err := tx.Exec(ctx, "INSERT INTO "+effects+" (event) VALUES ($1)", mode, "e")
				return err
			},
			Count: func(ctx context.Context) (int, error) {
				var n int
				err := pool.QueryRow(ctx, "SELECT count(*) FROM "+effects, mode).Scan(&n)
				return n, err
			},
		}
	})
}

// The store passes the contract of a transactional DedupeStore on a real PostgreSQL.
func TestConformance(t *testing.T) {
	conformance(t, newPool(t, sharedServer(t).DSN(), 40), pgx.QueryExecModeCacheStatement)
}

// The store keeps no state on the session, so it passes the contract through a pool that
// prepares nothing (default_query_exec_mode=exec: what PgBouncer's transaction pooling needs of
// pgx before its protocol-level prepared statements).
func TestConformanceExecMode(t *testing.T) {
	if testing.Short() {
		t.Skip("the contract again")
	}
	cfg, err := pgxpool.ParseConfig(sharedServer(t).DSN() + "&default_query_exec_mode=exec")
	if err != nil {
		t.Fatal(err)
	}
	require.Equal(t, pgx.QueryExecModeExec, cfg.ConnConfig.DefaultQueryExecMode)
	conformance(t, newPool(t, sharedServer(t).DSN()+"&default_query_exec_mode=exec", 40), pgx.QueryExecModeExec)
}

// The store passes the contract through a real PgBouncer in transaction pooling, whose 10 server
// connections the pool's 40 sessions share (each claim holds one for its transaction, and the
// kit holds up to 8 claims at once): with the pool's defaults (the store's own
// queries prepare nothing whatever the pool's mode; the kit's, as the documentation advises
// before PgBouncer 1.21, use QueryExecModeExec), and with default_query_exec_mode=exec or
// simple_protocol in the connection string.
func TestConformanceThroughPgBouncer(t *testing.T) {
	bouncer := pgserver.StartBouncer(t, sharedServer(t), 10)
	for _, tc := range []struct {
		name, params string
		mode         pgx.QueryExecMode // of the kit's own queries
	}{
		{"pool defaults", "", pgx.QueryExecModeExec},
		{"exec", "&default_query_exec_mode=exec", pgx.QueryExecModeExec},
		{"simple protocol", "&default_query_exec_mode=simple_protocol", pgx.QueryExecModeSimpleProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.params != "" {
				t.Skip("the contract again")
			}
			conformance(t, newPool(t, bouncer.DSN()+tc.params, 40), tc.mode)
		})
	}
}
