// Package benchdata holds what the benchmarks of the shared dedupe stores (the redisdedupe and
// pgdedupe modules) send through the Handler: distinct signed deliveries, the Verifier that
// accepts them, and the RSA floor they are compared with.
package benchdata

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// Size is how many distinct deliveries a Set holds.
const Size = 512

// Set is Size signed deliveries of distinct events (subscription-updated, one second apart) and
// the Verifier that accepts them, with their certificate cached. Its memo of verified deliveries is
// off (pcwebhook.WithoutDeliveryMemo): the benchmarks send the same bodies round after round as
// new deliveries, and each must cost the RSA check a new delivery costs.
type Set struct {
	// Verifier verifies the deliveries' signatures.
	Verifier *pcwebhook.Verifier
	bodies   [][]byte
	headers  []http.Header
	sigs     [][]byte
	pub      *rsa.PublicKey
}

var load = sync.OnceValues(newSet)

// Get returns the process's Set, made on first use; it fails the benchmark when it cannot.
func Get(b *testing.B) *Set {
	b.Helper()
	s, err := load()
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func newSet() (*Set, error) {
	sender, err := pcwebhooktest.NewSender()
	if err != nil {
		return nil, err
	}
	s := &Set{Verifier: sender.Verifier(pcwebhook.WithoutDeliveryMemo()), pub: sender.Leaf().PublicKey.(*rsa.PublicKey)}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < Size; i++ {
		body := pcwebhooktest.SampleEventAt(pcwebhook.EventSubscriptionUpdated, base.Add(time.Duration(i)*time.Second))
		sig, err := base64.StdEncoding.DecodeString(sender.Signature(body))
		if err != nil {
			return nil, err
		}
		s.bodies = append(s.bodies, body)
		s.headers = append(s.headers, sender.Sign(body))
		s.sigs = append(s.sigs, sig)
	}
	return s, s.Verifier.Verify(context.Background(), s.headers[0], s.bodies[0]) // warm the cache
}

// Request returns delivery i (modulo Size) as Partner Center posts it, with ctx.
func (s *Set) Request(ctx context.Context, i int) *http.Request {
	j := i % Size
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(s.bodies[j])).WithContext(ctx)
	r.Header = s.headers[j].Clone()
	return r
}

// RSAFloor is the least any receiver must do per delivery, b.N times: SHA-256 of the body and
// crypto/rsa.VerifyPKCS1v15 with the 2048-bit key (as the root module's BenchmarkRSAFloor).
func (s *Set) RSAFloor(b *testing.B) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % Size
		sum := sha256.Sum256(s.bodies[j])
		if err := rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, sum[:], s.sigs[j]); err != nil {
			b.Fatal(err)
		}
	}
}
