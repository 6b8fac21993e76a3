package pcwebhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/partnercenter-go/pcwebhook"
)

// BenchmarkHandler serves unique, correctly signed deliveries in process with a warm certificate
// cache. Compare with BenchmarkRSAFloor (verify_test.go) in the same run:
//
//	go test -run '^$' -bench 'Handler|RSAFloor' -benchmem .
//
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

func BenchmarkHandler(b *testing.B) {
	s := testSender(b)
	bodies, headers := benchBodies()
	pool := len(bodies)
	v := s.Verifier()
	newHandler := func() *pcwebhook.Handler {
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v),
			pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
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
			for k := range reqs {
				reqs[k] = requestFor(bodies[k], headers[k])
			}
			b.StartTimer()
		}
		w := discardWriter{h: http.Header{}}
		h.ServeHTTP(&w, reqs[j])
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

func requestFor(body []byte, h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header = h.Clone()
	return r
}

// discardWriter is a minimal ResponseWriter, so the benchmark measures the handler, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
