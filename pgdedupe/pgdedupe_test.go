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
)

// conformance runs the contract of a transactional DedupeStore against pgdedupe on pool: each
// store has tables of its own, the records' and the effects' (rows written by the callbacks,
// without a unique constraint).
func conformance(t *testing.T, pool *pgxpool.Pool) {
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
				_, err := tx.Exec(ctx, "INSERT INTO "+effects+" (event) VALUES ($1)", "e")
				return err
			},
			Count: func(ctx context.Context) (int, error) {
				var n int
				err := pool.QueryRow(ctx, "SELECT count(*) FROM "+effects).Scan(&n)
				return n, err
			},
		}
	})
}

// The store passes the contract of a transactional DedupeStore on a real PostgreSQL.
func TestConformance(t *testing.T) {
	conformance(t, newPool(t, sharedServer(t).DSN(), 40))
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
	conformance(t, newPool(t, sharedServer(t).DSN()+"&default_query_exec_mode=exec", 40))
}
