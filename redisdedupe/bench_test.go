package redisdedupe_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/benchdata"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// The benchmarks compare, in one run, the Handler with the in-memory store, the Handler with
// redisdedupe on a loopback redis-server, and the RSA floor (the signature check alone), on the
// same unique signed bodies:
//
//	go test -run '^$' -bench . -benchmem -benchtime 2000x -count 5

// benchHandler serves every body of the pool once per round, each a new delivery: verify,
// decode, Begin, callback, Done, log line. newStore gives the store of each round (every body is
// new again).
func benchHandler(b *testing.B, st *benchdata.Set, newStore func() pcwebhook.DedupeStore) {
	newHandler := func() *pcwebhook.Handler {
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(st.Verifier), pcwebhook.WithDedupeStore(newStore()),
			pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
		h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
		return h
	}
	reqs := make([]*http.Request, benchdata.Size)
	var h *pcwebhook.Handler
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % benchdata.Size
		if j == 0 {
			b.StopTimer()
			h = newHandler()
			for k := range reqs {
				reqs[k] = st.Request(context.Background(), k)
			}
			b.StartTimer()
		}
		w := testio.DiscardWriter{Hdr: http.Header{}}
		h.ServeHTTP(&w, reqs[j])
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkRSAFloor is the least any receiver must do per delivery: SHA-256 of the body and
// crypto/rsa.VerifyPKCS1v15 with the 2048-bit key (as the root module's BenchmarkRSAFloor).
func BenchmarkRSAFloor(b *testing.B) { benchdata.Get(b).RSAFloor(b) }

// BenchmarkHandlerMemory is a new delivery through the Handler with its default in-memory store.
func BenchmarkHandlerMemory(b *testing.B) {
	st := benchdata.Get(b)
	benchHandler(b, st, func() pcwebhook.DedupeStore { return pcwebhook.NewMemoryDedupeStore(0, 0) })
}

// BenchmarkHandlerRedis is a new delivery through the Handler with redisdedupe on a loopback
// redis-server; roundtrips/op counts the Redis commands sent per delivery (target 2: Begin and
// Done).
func BenchmarkHandlerRedis(b *testing.B) {
	st := benchdata.Get(b)
	srv := redisserver.Start(b)
	rdb, counter := newClient(b, srv)
	ctx := context.Background()
	warm := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(b)))
	c, err := warm.Begin(ctx, "warm") // loads the scripts and opens the connection
	if err == nil {
		err = warm.Done(ctx, c)
	}
	if err != nil {
		b.Fatal(err)
	}
	counter.n.Store(0)
	benchHandler(b, st, func() pcwebhook.DedupeStore {
		return redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(b)))
	})
	b.StopTimer()
	b.ReportMetric(float64(counter.n.Load())/float64(b.N), "roundtrips/op")
}

// roundKey carries a per-delivery key suffix through the request's context, so the parallel
// benchmarks can send the same signed bodies again and again as new deliveries.
type roundKey struct{}

// roundStore makes every delivery of the parallel benchmarks new: the key of Begin gets the
// round from the request's context.
type roundStore struct{ pcwebhook.DedupeStore }

func (s roundStore) Begin(ctx context.Context, key string) (pcwebhook.Claim, error) {
	return s.DedupeStore.Begin(ctx, key+ctx.Value(roundKey{}).(string))
}

// benchParallel is benchHandler from 8 goroutines per CPU, the way a server handles concurrent
// deliveries: with Redis, round trips of different deliveries overlap.
func benchParallel(b *testing.B, st *benchdata.Set, store pcwebhook.DedupeStore) {
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(st.Verifier), pcwebhook.WithDedupeStore(roundStore{store}),
		pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
	h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ctx := context.WithValue(context.Background(), roundKey{}, ":"+strconv.FormatInt(i/benchdata.Size, 10))
			r := st.Request(ctx, int(i))
			w := testio.DiscardWriter{Hdr: http.Header{}}
			h.ServeHTTP(&w, r)
			if w.Code != http.StatusOK {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

// BenchmarkHandlerMemoryParallel is BenchmarkHandlerMemory with concurrent deliveries.
func BenchmarkHandlerMemoryParallel(b *testing.B) {
	benchParallel(b, benchdata.Get(b), pcwebhook.NewMemoryDedupeStore(0, 0))
}

// BenchmarkHandlerRedisParallel is BenchmarkHandlerRedis with concurrent deliveries.
func BenchmarkHandlerRedisParallel(b *testing.B) {
	st := benchdata.Get(b)
	srv := redisserver.Start(b)
	rdb, counter := newClient(b, srv)
	store := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(uniquePrefix(b)))
	ctx := context.Background()
	c, err := store.Begin(ctx, "warm")
	if err == nil {
		err = store.Done(ctx, c)
	}
	if err != nil {
		b.Fatal(err)
	}
	counter.n.Store(0)
	benchParallel(b, st, store)
	b.StopTimer()
	b.ReportMetric(float64(counter.n.Load())/float64(b.N), "roundtrips/op")
}

// BenchmarkRedisPing is one bare round trip to the same loopback redis-server (PING): what
// BenchmarkHandlerRedis pays twice on top of BenchmarkHandlerMemory.
func BenchmarkRedisPing(b *testing.B) {
	srv := redisserver.Start(b)
	rdb, _ := newClient(b, srv)
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rdb.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
