package pgdedupe_test

import (
	"testing"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
)

// The store passes the contract every DedupeStore must keep, on a real PostgreSQL.
func TestConformance(t *testing.T) {
	pool := newPool(t, sharedServer(t), 40)
	pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
		s, _ := newStore(t, pool, pgdedupe.WithLease(cfg.Lease), pgdedupe.WithRetention(cfg.Retention))
		return s
	})
}
