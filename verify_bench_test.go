package pcwebhook_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"testing"

	"github.com/partnercenter-go/pcwebhook"
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

// BenchmarkVerify is Verifier.Verify with a warm cache: header parsing, URL check, cache lookup,
// base64 and the RSA verification. Compare with BenchmarkRSAFloor.
func BenchmarkVerify(b *testing.B) {
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
