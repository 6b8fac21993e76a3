package pcwebhookprom_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookprom"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// Observe's cost is measured against the RSA floor (the signature check every delivery pays),
// in one run:
//
//	go test -run '^$' -bench . -benchmem
//
// Observe/RSAFloor is the share of a delivery that metrics add.

// BenchmarkObserve is one delivery's Observe: a counter and a histogram of a known event.
func BenchmarkObserve(b *testing.B) {
	m, err := pcwebhookprom.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ev, err := pcwebhook.ParseEvent(pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated))
	if err != nil {
		b.Fatal(err)
	}
	res := pcwebhook.Result{Event: ev, Status: http.StatusOK, Outcome: pcwebhook.OutcomeHandled,
		Duration: 120 * time.Microsecond, DeliveryKey: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	req, err := http.NewRequest(http.MethodPost, "/webhooks", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Observe(req, res)
	}
}

// BenchmarkRSAFloor is the least any delivery costs: SHA-256 of a body and
// crypto/rsa.VerifyPKCS1v15 with the signing key (the root module's benchmark of the same name).
func BenchmarkRSAFloor(b *testing.B) {
	s, err := sharedSender()
	if err != nil {
		b.Fatal(err)
	}
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	sig, err := base64.StdEncoding.DecodeString(s.Signature(body))
	if err != nil {
		b.Fatal(err)
	}
	pub := s.Leaf().PublicKey.(*rsa.PublicKey)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sum := sha256.Sum256(body)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
