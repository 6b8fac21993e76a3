package pgdedupe_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/benchdata"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/pgdedupe"
)

// The benchmarks compare, in one run, the RSA floor (the signature check alone), the Handler with
// the in-memory store, and the Handler with pgdedupe on a loopback PostgreSQL (fsync off), on the
// same signed bodies, each delivery new; and they count what pgdedupe costs per delivery on the
// wire (roundtrips/op) and in the pool (conns/delivery):
//
//	go test -run '^$' -bench . -benchmem -benchtime 1000x -count 3

// roundKey carries a per-round key suffix through the request's context, so that the same signed
// bodies are new deliveries again in every round.
type roundKey struct{}

// roundStore makes every delivery new: the key of Begin gets the round from the request's
// context. Done, Release and WithClaim see the claim's key, suffix included.
type roundStore struct{ *pgdedupe.Store }

func (s roundStore) Begin(ctx context.Context, key string) (pcwebhook.Claim, error) {
	return s.Store.Begin(ctx, key+ctx.Value(roundKey{}).(string))
}

// memoryRoundStore is roundStore for the in-memory store.
type memoryRoundStore struct{ pcwebhook.DedupeStore }

func (s memoryRoundStore) Begin(ctx context.Context, key string) (pcwebhook.Claim, error) {
	return s.DedupeStore.Begin(ctx, key+ctx.Value(roundKey{}).(string))
}

// benchHandler sends new deliveries through a Handler on store, from parallelism goroutines per
// CPU (none: one after the other): verify, decode, Begin, callback (cb), Done, log line.
func benchHandler(b *testing.B, store pcwebhook.DedupeStore, parallelism int, cb func(context.Context) error) {
	set := benchdata.Get(b)
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(set.Verifier), pcwebhook.WithDedupeStore(store),
		pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
	h.OnSubscriptionUpdated(func(ctx context.Context, _ *pcwebhook.SubscriptionEvent) error { return cb(ctx) })
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // a database used before holds other keys
	var n atomic.Int64
	serve := func() bool {
		i := int(n.Add(1))
		ctx := context.WithValue(context.Background(), roundKey{}, ":"+run+":"+strconv.Itoa(i/benchdata.Size))
		w := testio.DiscardWriter{Hdr: http.Header{}}
		h.ServeHTTP(&w, set.Request(ctx, i))
		if w.Code != http.StatusOK {
			b.Errorf("status %d", w.Code)
			return false
		}
		return true
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallelism == 0 {
		for i := 0; i < b.N && serve(); i++ {
		}
		return
	}
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() && serve() {
		}
	})
}

// noCallback is a callback that does nothing.
func noCallback(context.Context) error { return nil }

// benchPGStore returns a store on the shared server with a fresh table, on a pool of maxConns.
func benchPGStore(b *testing.B, maxConns int32, dsn string) (*pgdedupe.Store, *pgxpool.Pool) {
	pool := newPool(b, dsn, maxConns, noPing)
	s, _ := newStore(b, pool)
	return s, pool
}

// BenchmarkRSAFloor is the least any receiver must do per delivery: SHA-256 of the body and
// crypto/rsa.VerifyPKCS1v15 with the 2048-bit key.
func BenchmarkRSAFloor(b *testing.B) { benchdata.Get(b).RSAFloor(b) }

// BenchmarkHandlerMemory is a new delivery through the Handler with its in-memory store.
func BenchmarkHandlerMemory(b *testing.B) {
	benchHandler(b, memoryRoundStore{pcwebhook.NewMemoryDedupeStore(0, 0)}, 0, noCallback)
}

// BenchmarkHandlerPostgres is a new delivery through the Handler with pgdedupe on a loopback
// PostgreSQL; the callback does nothing. conns/delivery is the most pool connections held while
// a callback ran (target 1: the delivery's own).
func BenchmarkHandlerPostgres(b *testing.B) {
	s, pool := benchPGStore(b, 4, sharedServer(b).DSN())
	var held atomic.Int32
	benchHandler(b, roundStore{s}, 0, func(context.Context) error {
		if n := pool.Stat().AcquiredConns(); n > held.Load() {
			held.Store(n)
		}
		return nil
	})
	b.ReportMetric(float64(held.Load()), "conns/delivery")
}

// BenchmarkHandlerPostgresWrite is BenchmarkHandlerPostgres with a callback that inserts one row
// through the delivery's transaction: the exactly-once write the store is for.
func BenchmarkHandlerPostgresWrite(b *testing.B) {
	s, pool := benchPGStore(b, 4, sharedServer(b).DSN())
	effects := newEffects(b, pool)
	benchHandler(b, roundStore{s}, 0, func(ctx context.Context) error {
		tx, _ := pgdedupe.TxFrom(ctx)
		_, err := tx.Exec(ctx, "INSERT INTO "+effects+" (event) VALUES ('e')")
		return err
	})
}

// BenchmarkHandlerMemoryParallel is BenchmarkHandlerMemory from 8 goroutines per CPU.
func BenchmarkHandlerMemoryParallel(b *testing.B) {
	benchHandler(b, memoryRoundStore{pcwebhook.NewMemoryDedupeStore(0, 0)}, 8, noCallback)
}

// BenchmarkHandlerPostgresParallel is BenchmarkHandlerPostgres from 8 goroutines per CPU, on a
// pool of 32: the round trips of concurrent deliveries overlap.
func BenchmarkHandlerPostgresParallel(b *testing.B) {
	s, _ := benchPGStore(b, 32, sharedServer(b).DSN())
	benchHandler(b, roundStore{s}, 8, noCallback)
}

// BenchmarkRoundTripsNew is Begin and Done of a new delivery through a loopback proxy that counts
// the round trips on the wire (target 3: the duplicate check; BEGIN with the lock and the check
// under it; the record with COMMIT).
func BenchmarkRoundTripsNew(b *testing.B) {
	proxy := newTripCounter(b, sharedServer(b).Addr)
	s, _ := benchPGStore(b, 4, "postgres://postgres@"+proxy.Addr()+"/postgres?sslmode=disable")
	ctx := context.Background()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	before := proxy.Trips()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := s.Begin(ctx, run+":"+strconv.Itoa(i))
		if err == nil {
			err = s.Done(ctx, c)
		}
		if err != nil || c.State != pcwebhook.DeliveryNew {
			b.Fatal(c.State, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(proxy.Trips()-before)/float64(b.N), "roundtrips/op")
}

// BenchmarkRoundTripsDuplicate is Begin of a delivery handled before, through the counting proxy
// (target 1: the duplicate check).
func BenchmarkRoundTripsDuplicate(b *testing.B) {
	proxy := newTripCounter(b, sharedServer(b).Addr)
	s, _ := benchPGStore(b, 4, "postgres://postgres@"+proxy.Addr()+"/postgres?sslmode=disable")
	ctx := context.Background()
	key := "handled:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c, err := s.Begin(ctx, key)
	if err == nil {
		err = s.Done(ctx, c)
	}
	if err != nil {
		b.Fatal(err)
	}
	before := proxy.Trips()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c, err := s.Begin(ctx, key); err != nil || c.State != pcwebhook.DeliveryDone {
			b.Fatal(c.State, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(proxy.Trips()-before)/float64(b.N), "roundtrips/op")
}

// BenchmarkPostgresRoundTrip is one bare round trip to the same loopback server (SELECT 1 on a
// pool connection): what BenchmarkHandlerPostgres pays three times on top of
// BenchmarkHandlerMemory, plus the server's work.
func BenchmarkPostgresRoundTrip(b *testing.B) {
	pool := newPool(b, sharedServer(b).DSN(), 4, noPing)
	ctx := context.Background()
	var one int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
}
