package pcwebhook_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// benchSetup is one sender, one signed body and a warm verifier, shared by the benchmarks so that
// BenchmarkVerify and BenchmarkRSAFloor measure the same key and the same bytes.
var benchSetup = sync.OnceValues(func() (*benchState, error) {
	s, err := pcwebhooktest.NewSender()
	if err != nil {
		return nil, err
	}
	b := &benchState{sender: s, verifier: s.Verifier()}
	b.body = pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	b.header = s.Sign(b.body)
	if b.sig, err = base64.StdEncoding.DecodeString(s.Signature(b.body)); err != nil {
		return nil, err
	}
	b.pub = s.Leaf().PublicKey.(*rsa.PublicKey)
	return b, b.verifier.Verify(context.Background(), b.header, b.body) // warm the cache
})

type benchState struct {
	sender   *pcwebhooktest.Sender
	verifier *pcwebhook.Verifier
	body     []byte
	header   http.Header
	sig      []byte
	pub      *rsa.PublicKey
}

func setupBench(b *testing.B) *benchState {
	st, err := benchSetup()
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkVerify is Verifier.Verify of new deliveries with a warm cache: header parsing, URL
// check, cache lookup, base64, the body's SHA-256 and the RSA verification. Compare with
// BenchmarkRSAFloor. The bodies are the Handler benchmarks' unique signed ones; the memo of
// verified deliveries is emptied before each pass over them, so that every verification is a
// first one.
func BenchmarkVerify(b *testing.B) {
	s := testSender(b)
	v := s.Verifier()
	bodies, headers := benchBodies()
	ctx := context.Background()
	if err := v.Verify(ctx, headers[0], bodies[0]); err != nil {
		b.Fatal(err) // warm the certificate cache
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(bodies)
		if j == 0 {
			b.StopTimer()
			pcwebhook.ForgetVerifiedDeliveries(v, s.CertificateURL())
			b.StartTimer()
		}
		if err := v.Verify(ctx, headers[j], bodies[j]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if st := v.Stats(); st.CertificateDownloads != 1 || st.MemoHits != 0 {
		b.Fatalf("%d downloads, %d memo hits: not a warm cache and first verifications", st.CertificateDownloads, st.MemoHits)
	}
}

// BenchmarkVerifyReplay is Verifier.Verify of one delivery over and over, as in a replay flood
// of one captured genuine delivery: after the first, each is answered from the memo of verified
// deliveries, without the RSA operation.
func BenchmarkVerifyReplay(b *testing.B) {
	st := setupBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.verifier.Verify(ctx, st.header, st.body); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := st.sender.Downloads(); n != 1 {
		b.Fatalf("%d downloads: the cache was not warm", n)
	}
	if hits := st.verifier.Stats().MemoHits; hits < int64(b.N) {
		b.Fatalf("%d memo hits for %d repeats", hits, b.N)
	}
}

// BenchmarkRSAFloor is the least any verifier must do: SHA-256 of the same body and
// crypto/rsa.VerifyPKCS1v15 with the same key and signature.
func BenchmarkRSAFloor(b *testing.B) {
	st := setupBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sum := sha256.Sum256(st.body)
		if err := rsa.VerifyPKCS1v15(st.pub, crypto.SHA256, sum[:], st.sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParallel is BenchmarkVerify from GOMAXPROCS goroutines, to show the cache is
// not a point of contention.
func BenchmarkVerifyParallel(b *testing.B) {
	st := setupBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := st.verifier.Verify(ctx, st.header, st.body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The Handler's benchmarks, beside the floor they are measured against (scripts/bench.sh prints
// the ratios from one run):
//
//	go test -run '^$' -bench 'Handler|RSAFloor' -benchmem .

// benchBodies are unique subscription-updated bodies with their signatures, made once per test
// binary (signing is slow, and the benchmark function runs several times).
var benchBodies = sync.OnceValues(func() ([][]byte, []http.Header) {
	s := sharedSend
	const pool = 256 // small enough to stay in the CPU caches, as the floor's one body does
	bodies := make([][]byte, pool)
	headers := make([]http.Header, pool)
	for i := range bodies {
		bodies[i] = uniqueBody(pcwebhook.EventSubscriptionUpdated)
		headers[i] = s.Sign(bodies[i])
	}
	return bodies, headers
})

// BenchmarkHandler serves unique, correctly signed deliveries in process with a warm certificate
// cache and the in-memory dedupe store, logging to a JSON logger that discards.
func BenchmarkHandler(b *testing.B) {
	benchmarkHandler(b, pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
}

// BenchmarkHandlerDefault is BenchmarkHandler with the options users leave at their defaults: no
// WithLogger, so the Handler logs through slog.Default(), whose output is the log package's
// (stderr). That output goes to a pipe drained by a goroutine, as a real stderr does; slog's
// default is left as it is. Its ratio to BenchmarkRSAFloor is the cost of the defaults.
func BenchmarkHandlerDefault(b *testing.B) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	drained := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, r)
		drained <- n
	}()
	prev := log.Writer()
	log.SetOutput(w)
	defer func() {
		log.SetOutput(prev)
		w.Close()
		if n := <-drained; n > 0 {
			b.Logf("%d bytes of logs", n)
		}
		r.Close()
	}()
	benchmarkHandler(b)
}

func benchmarkHandler(b *testing.B, opts ...pcwebhook.HandlerOption) {
	s := testSender(b)
	bodies, headers := benchBodies()
	pool := len(bodies)
	v := s.Verifier()
	newHandler := func() *pcwebhook.Handler {
		h := pcwebhook.NewHandler(append([]pcwebhook.HandlerOption{pcwebhook.WithVerifier(v)}, opts...)...)
		h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
		return h
	}
	h := newHandler()
	warm := httptest.NewRecorder()
	h.ServeHTTP(warm, requestFor(bodies[0], headers[0]))
	if warm.Code != 200 {
		b.Fatalf("warm-up: %d %s", warm.Code, warm.Body)
	}
	h = newHandler()
	reqs := make([]*http.Request, pool)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % pool
		if j == 0 {
			b.StopTimer()
			if i > 0 {
				h = newHandler() // a fresh dedupe store: every body is new again
			}
			pcwebhook.ForgetVerifiedDeliveries(v, s.CertificateURL()) // and new to the verifier
			for k := range reqs {
				reqs[k] = requestFor(bodies[k], headers[k])
			}
			b.StartTimer()
		}
		w := testio.DiscardWriter{Hdr: http.Header{}}
		h.ServeHTTP(&w, reqs[j])
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func requestFor(body []byte, h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header = h.Clone()
	return r
}
