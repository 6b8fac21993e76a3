package redisdedupe_test

import (
	"context"
	"errors"
	"regexp"
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

// The store passes the contract every DedupeStore must keep, on a real redis-server.
func TestConformance(t *testing.T) {
	srv := redisserver.Start(t)
	rdb, _ := newClient(t, srv)
	pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
		return redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(t)),
			redisdedupe.WithLease(cfg.Lease), redisdedupe.WithRetention(cfg.Retention))
	})
}

// What the store writes: one key per delivery, the owner's token with the lease, then "done:"
// and the finishing token with the retention; Release deletes it. A repeated Done or Release
// changes nothing.
func TestKeysAndExpiry(t *testing.T) {
	srv := redisserver.Start(t)
	rdb, _ := newClient(t, srv)
	ctx := context.Background()
	s := redisdedupe.New(rdb, redisdedupe.WithLease(90*time.Second), redisdedupe.WithRetention(48*time.Hour))
	key := "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"

	c, err := s.Begin(ctx, key)
	require.NoError(t, err)
	require.Equal(t, pcwebhook.DeliveryNew, c.State)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), c.Token, "128 random bits in hex")
	assert.WithinDuration(t, time.Now().Add(90*time.Second), c.Expires, 5*time.Second)
	v, err := rdb.Get(ctx, redisdedupe.DefaultKeyPrefix+key).Result()
	require.NoError(t, err)
	assert.Equal(t, c.Token, v, "the key holds the owner's token")
	ttl := rdb.PTTL(ctx, redisdedupe.DefaultKeyPrefix+key).Val()
	assert.InDelta(t, (90 * time.Second).Seconds(), ttl.Seconds(), 5, "the lease")

	require.NoError(t, s.Done(ctx, c))
	assert.Equal(t, "done:"+c.Token, rdb.Get(ctx, redisdedupe.DefaultKeyPrefix+key).Val(), "done, by the claim's token")
	ttl = rdb.PTTL(ctx, redisdedupe.DefaultKeyPrefix+key).Val()
	assert.InDelta(t, (48 * time.Hour).Seconds(), ttl.Seconds(), 5, "the retention")
	assert.Equal(t, int64(1), rdb.DBSize(ctx).Val(), "one key per delivery, nothing else")
	require.NoError(t, rdb.PExpire(ctx, redisdedupe.DefaultKeyPrefix+key, time.Hour).Err())
	require.NoError(t, s.Done(ctx, c), "a repeated Done")
	assert.Equal(t, "done:"+c.Token, rdb.Get(ctx, redisdedupe.DefaultKeyPrefix+key).Val())
	assert.LessOrEqual(t, rdb.PTTL(ctx, redisdedupe.DefaultKeyPrefix+key).Val(), time.Hour, "the repeat does not renew the retention")

	other := key[:63] + "f"
	c, err = s.Begin(ctx, other)
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, c))
	assert.Equal(t, int64(0), rdb.Exists(ctx, redisdedupe.DefaultKeyPrefix+other).Val(), "Release deletes the key")
	require.NoError(t, s.Release(ctx, c), "a repeated Release within the lease")
	assert.Equal(t, int64(0), rdb.Exists(ctx, redisdedupe.DefaultKeyPrefix+other).Val(), "and writes nothing")
}

// A record of a handled delivery as earlier versions wrote it ("done" alone) still reads as
// handled, and no claim's Done or Release changes it.
func TestDoneRecordsOfEarlierVersions(t *testing.T) {
	srv := redisserver.Start(t)
	rdb, _ := newClient(t, srv)
	ctx := context.Background()
	prefix := uniquePrefix(t)
	s := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(prefix))
	c, err := s.Begin(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, pcwebhook.DeliveryNew, c.State)
	require.NoError(t, rdb.Set(ctx, prefix+"k", "done", time.Hour).Err()) // an earlier version's Done

	again, err := s.Begin(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryDone, again.State, "an earlier version's record is a handled delivery")
	assert.ErrorIs(t, s.Done(ctx, c), pcwebhook.ErrClaimLost, "it names no finishing claim")
	assert.ErrorIs(t, s.Release(ctx, c), pcwebhook.ErrClaimLost, "done is final")
	assert.Equal(t, "done", rdb.Get(ctx, prefix+"k").Val(), "unchanged")
	assert.InDelta(t, time.Hour.Seconds(), rdb.PTTL(ctx, prefix+"k").Val().Seconds(), 5, "its retention unchanged")
}

// Defaults and options.
func TestOptions(t *testing.T) {
	srv := redisserver.Start(t)
	rdb, _ := newClient(t, srv)
	ctx := context.Background()
	key := "0000000000000000000000000000000000000000000000000000000000000001"

	s := redisdedupe.New(rdb, nil, redisdedupe.WithLease(0), redisdedupe.WithRetention(-time.Second))
	c, err := s.Begin(ctx, key)
	require.NoError(t, err)
	assert.InDelta(t, redisdedupe.DefaultLease.Seconds(), rdb.PTTL(ctx, redisdedupe.DefaultKeyPrefix+key).Val().Seconds(), 5)
	require.NoError(t, s.Done(ctx, c))
	assert.InDelta(t, redisdedupe.DefaultRetention.Seconds(), rdb.PTTL(ctx, redisdedupe.DefaultKeyPrefix+key).Val().Seconds(), 5)

	a := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix("receiver-a:"))
	b := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix("receiver-b:"))
	ca, err := a.Begin(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryNew, ca.State)
	cb, err := b.Begin(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryNew, cb.State, "stores with other prefixes are apart")
	assert.Equal(t, int64(1), rdb.Exists(ctx, "receiver-a:"+key).Val())
	assert.ErrorIs(t, b.Done(ctx, ca), pcwebhook.ErrClaimLost, "a claim of another prefix is foreign")
}

// Begin, Done and Release are one round trip each once the scripts are loaded; the very first
// call of each on a server that has not seen the script takes two (EVALSHA, then EVAL).
func TestOneRoundTripEach(t *testing.T) {
	srv := redisserver.Start(t)
	rdb, counter := newClient(t, srv)
	ctx := context.Background()
	s := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(t)))
	trips := func(fn func()) int64 {
		before := counter.n.Load()
		fn()
		return counter.n.Load() - before
	}
	require.NoError(t, rdb.Ping(ctx).Err()) // the connection's handshake (HELLO, CLIENT SETINFO) is not counted
	var c pcwebhook.Claim
	assert.Equal(t, int64(2), trips(func() { c, _ = s.Begin(ctx, "k1") }), "first Begin: NOSCRIPT, then EVAL")
	assert.Equal(t, int64(2), trips(func() { require.NoError(t, s.Done(ctx, c)) }), "first Done: NOSCRIPT, then EVAL")
	assert.Equal(t, int64(1), trips(func() { c, _ = s.Begin(ctx, "k2") }))
	assert.Equal(t, int64(1), trips(func() { require.NoError(t, s.Done(ctx, c)) }))
	assert.Equal(t, int64(1), trips(func() { c, _ = s.Begin(ctx, "k1") }), "a duplicate costs one round trip")
	assert.Equal(t, pcwebhook.DeliveryDone, c.State)
	assert.Equal(t, int64(0), trips(func() {
		assert.ErrorIs(t, s.Release(ctx, pcwebhook.Claim{Key: "k1", State: pcwebhook.DeliveryDone}), pcwebhook.ErrClaimLost)
	}), "a claim without a token is refused without asking Redis")

	// The server restarted (scripts gone): EVALSHA fails with NOSCRIPT and Run falls back to EVAL.
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Restart())
	c, err := s.Begin(ctx, "k3")
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryNew, c.State)
	assert.Equal(t, int64(1), trips(func() { c, _ = s.Begin(ctx, "k4") }))
}

// When Redis does not answer, every operation returns an error that is not ErrClaimLost (the
// Handler answers 503 for Begin); when it is back, the store works again.
func TestRedisUnreachable(t *testing.T) {
	srv := redisserver.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	s := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(t)))
	c, err := s.Begin(ctx, "k")
	require.NoError(t, err)

	require.NoError(t, srv.Stop())
	_, err = s.Begin(ctx, "other")
	require.Error(t, err)
	assert.NotErrorIs(t, err, pcwebhook.ErrClaimLost)
	assert.Contains(t, err.Error(), "redisdedupe: begin")
	err = s.Done(ctx, c)
	require.Error(t, err)
	assert.NotErrorIs(t, err, pcwebhook.ErrClaimLost, "a failed Done is not a lost claim")
	err = s.Release(ctx, c)
	require.Error(t, err)
	assert.NotErrorIs(t, err, pcwebhook.ErrClaimLost)

	// A Redis that accepts connections but never answers: the client's timeout ends Begin.
	hung := hangingListener(t)
	slow := redis.NewClient(&redis.Options{Addr: hung, MaxRetries: -1, ReadTimeout: 100 * time.Millisecond, DisableIdentity: true, Protocol: 2})
	t.Cleanup(func() { _ = slow.Close() })
	start := time.Now()
	_, err = redisdedupe.New(slow).Begin(ctx, "k")
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)

	require.NoError(t, srv.Restart())
	c, err = s.Begin(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryNew, c.State, "the restarted server (no persistence) forgot the claim")
}

// The zero Store and a Store without a client fail, they do not panic.
func TestNoClient(t *testing.T) {
	ctx := context.Background()
	for _, s := range []*redisdedupe.Store{{}, redisdedupe.New(nil)} {
		_, err := s.Begin(ctx, "k")
		assert.ErrorIs(t, err, redisdedupe.ErrNoClient)
		assert.ErrorIs(t, s.Done(ctx, pcwebhook.Claim{Key: "k", Token: "0123456789abcdef0123456789abcdef"}), redisdedupe.ErrNoClient)
		assert.ErrorIs(t, s.Release(ctx, pcwebhook.Claim{Key: "k"}), redisdedupe.ErrNoClient)
	}
	assert.False(t, errors.Is(redisdedupe.ErrNoClient, pcwebhook.ErrClaimLost))
}

// The store keeps the contract through a ClusterClient too (a one-node Cluster that enforces the
// Cluster's rules: every script declares its one key).
func TestConformanceCluster(t *testing.T) {
	srv := redisserver.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
	t.Cleanup(func() { _ = rdb.Close() })
	pcwebhooktest.TestDedupeStore(t, func(t *testing.T, cfg pcwebhooktest.DedupeStoreConfig) pcwebhook.DedupeStore {
		return redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(t)),
			redisdedupe.WithLease(cfg.Lease), redisdedupe.WithRetention(cfg.Retention))
	})
}
