package redisdedupe_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// usedMemory reads used_memory from INFO memory.
func usedMemory(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no used_memory in INFO memory:\n%s", info)
	return 0
}

// What 100,000 handled events cost in Redis (the figure in docs/replicas.md): one key each, with the
// default prefix and retention.
func TestMemoryPer100kEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 keys")
	}
	srv := redisserver.Start(t)
	rdb, _ := newClient(t, srv)
	ctx := context.Background()
	s := redisdedupe.New(rdb)
	require.NoError(t, rdb.Ping(ctx).Err())
	before := usedMemory(t, rdb)

	const events, workers = 100_000, 16
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var b [8]byte
			for i := w; i < events; i += workers {
				binary.BigEndian.PutUint64(b[:], uint64(i))
				sum := sha256.Sum256(b[:]) // a key like the Handler's: hex SHA-256 of the body
				c, err := s.Begin(ctx, hex.EncodeToString(sum[:]))
				if err != nil || c.State != pcwebhook.DeliveryNew {
					t.Errorf("Begin: %v %v", c.State, err)
					return
				}
				if err := s.Done(ctx, c); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	n, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(events), n, "one key per event")
	after := usedMemory(t, rdb)
	var b [8]byte
	sum := sha256.Sum256(b[:])
	one, err := rdb.MemoryUsage(ctx, redisdedupe.DefaultKeyPrefix+hex.EncodeToString(sum[:])).Result()
	require.NoError(t, err)
	delta := after - before
	t.Logf("100,000 handled events: %d keys, used_memory +%.1f MiB (%d bytes a key; MEMORY USAGE of one key: %d bytes)",
		n, float64(delta)/(1<<20), delta/events, one)
	assert.Less(t, delta, int64(32<<20), "100,000 events fit in 32 MiB")
}
