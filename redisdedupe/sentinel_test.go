package redisdedupe_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// newSentinelClient returns the client New gets when the application configures Sentinel:
// NewUniversalClient with a MasterName answers a failover client, which asks the Sentinel for
// the master. It is closed on cleanup.
func newSentinelClient(tb testing.TB, sentinel *redisserver.Server) redis.UniversalClient {
	tb.Helper()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		MasterName: redisserver.MasterName,
		Addrs:      []string{sentinel.Addr},
	})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// The store keeps the contract through a Sentinel (failover) client, on a real master watched by
// a real Sentinel.
func TestConformanceSentinel(t *testing.T) {
	master := redisserver.Start(t)
	sentinel := redisserver.StartSentinel(t, master)
	rdb := newSentinelClient(t, sentinel)
	require.IsType(t, &redis.Client{}, rdb, "a UniversalClient with MasterName is a failover client")
	pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
		return redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(t)),
			redisdedupe.WithLease(cfg.Lease), redisdedupe.WithRetention(cfg.Retention))
	})
	// The writes went to the master the Sentinel names.
	direct, _ := newClient(t, master)
	assert.Positive(t, direct.DBSize(context.Background()).Val())
}

// When the master dies, Sentinel promotes its replica and the same store, through the same
// client, keeps answering: a delivery marked done before the failover is still a duplicate, and
// new deliveries are claimed on the new master. That holds for writes that reached the replica
// (here made sure with WAIT); replication is asynchronous, so a Done acknowledged just before the
// master died can be lost, and its delivery is then handled again when Partner Center retries it.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a failover takes a few seconds")
	}
	master := redisserver.Start(t)
	replica := redisserver.StartReplica(t, master)
	sentinel := redisserver.StartSentinel(t, master, replica)
	rdb := newSentinelClient(t, sentinel)
	ctx := context.Background()
	s := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(t)))

	c, err := s.Begin(ctx, "done-before")
	require.NoError(t, err)
	require.NoError(t, s.Done(ctx, c))
	open, err := s.Begin(ctx, "claimed-before")
	require.NoError(t, err)
	require.Equal(t, pcwebhook.DeliveryNew, open.State)
	require.Equal(t, int64(1), rdb.Do(ctx, "WAIT", 1, 1000).Val(), "the writes reached the replica")

	require.NoError(t, master.Stop())
	require.NoError(t, sentinel.WaitMaster(replica.Addr, 30*time.Second), "Sentinel promoted the replica")

	// The client finds the new master by itself; a call may still fail while it switches, as
	// any Redis call can (the Handler answers 503 and Partner Center retries).
	require.Eventually(t, func() bool {
		c, err = s.Begin(ctx, "done-before")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the store answers again after the failover: %v", err)
	assert.Equal(t, pcwebhook.DeliveryDone, c.State, "a delivery done before the failover is still a duplicate")

	c, err = s.Begin(ctx, "claimed-before")
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryInProgress, c.State, "the claim survived the failover")
	require.NoError(t, s.Done(ctx, open), "its owner completes it on the new master")

	c, err = s.Begin(ctx, "after")
	require.NoError(t, err)
	require.Equal(t, pcwebhook.DeliveryNew, c.State)
	require.NoError(t, s.Done(ctx, c))
	c, err = s.Begin(ctx, "after")
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryDone, c.State)

	direct, _ := newClient(t, replica)
	role, err := direct.Do(ctx, "ROLE").Slice()
	require.NoError(t, err)
	assert.Equal(t, "master", role[0], "the writes went to the promoted replica")
}
