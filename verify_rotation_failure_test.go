package pcwebhook_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

func requireTransient(t *testing.T, err error, msg string) {
	t.Helper()
	require.Error(t, err, msg)
	var ve *pcwebhook.VerificationError
	require.True(t, errors.As(err, &ve), msg)
	require.True(t, ve.Transient(), "%s: got non-transient (401) %v", msg, err)
}

// TestRotationToAPolicyFailureStaysTransient: Microsoft rotates to a certificate that fails our
// policy (a new CA not trusted yet). Every genuine delivery inside the rotation interval must be
// 503 (retried), not only the first: the failed re-download is remembered for the interval instead
// of falling back to the old cached key (whose 401 would lose the event).
func TestRotationToAPolicyFailureStaysTransient(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	u := rf.cs.url("/cert/a.cer")
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	k := testKeys()
	// self-signed by an untrusted root: fails the chain policy
	untrusted := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		pub: &k.other.PublicKey}, nil, k.other)
	rf.serve(untrusted.Raw)
	clock.add(time.Hour)
	h := headerSignedBy(t, sign(t, k.other, testBody), u)
	requireTransient(t, v.Verify(context.Background(), h, testBody), "first genuine delivery")
	clock.add(time.Second)
	requireTransient(t, v.Verify(context.Background(), h, testBody), "second genuine delivery, 1s later")
}

// TestRotationDownloadBlipStaysTransient: the re-download hits a 503 at the store; Partner
// Center's retry a second later, inside the rotation interval, is 503 too, not 401.
func TestRotationDownloadBlipStaysTransient(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	var mu sync.Mutex
	down := false
	rf.cs.handle("/cert/a.cer", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		d := down
		mu.Unlock()
		if d {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		rf.mu.Lock()
		b := rf.served
		rf.mu.Unlock()
		_, _ = w.Write(b)
	})
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	u := rf.cs.url("/cert/a.cer")
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	k := testKeys()
	rotated := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		pub: &k.other.PublicKey, aia: []string{rf.cs.url(interPath)}}, rf.pki.inter, k.inter)
	rf.serve(rotated.Raw)
	mu.Lock()
	down = true
	mu.Unlock()
	clock.add(time.Hour)
	h := headerSignedBy(t, sign(t, k.other, testBody), u)
	requireTransient(t, v.Verify(context.Background(), h, testBody), "first genuine delivery")
	mu.Lock()
	down = false
	mu.Unlock()
	clock.add(time.Second)
	requireTransient(t, v.Verify(context.Background(), h, testBody), "retry 1s later, store back up")
}

// TestChainFailureOfOneLeafDoesNotBlockTheIssuer: a leaf whose chain fails names the genuine
// leaf's AIA issuer URL; that verdict is the leaf's, so the genuine leaf, needing the same issuer,
// still verifies (before the fix the issuer URL was failure-cached for every leaf: 503).
func TestChainFailureOfOneLeafDoesNotBlockTheIssuer(t *testing.T) {
	f := newFixture(t)
	k := testKeys()
	// same subject as the real intermediate, other key: B names I's AIA URL but I does not sign it
	i2 := issueCert(t, certSpec{cn: "Test Issuing CA", org: []string{pcwebhook.RequiredOrganization}, isCA: true,
		maxPathZero: true, pub: &k.other.PublicKey}, f.pki.root, k.root)
	b := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		aia: []string{f.cs.url(interPath)}}, i2, k.other)
	f.cs.serve("/cert/b.cer", b.Raw)
	v := f.verifier(t)
	errB := v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/b.cer"), testBody), testBody)
	require.Error(t, errB, "the impostor leaf does not chain")
	err := v.Verify(context.Background(), signedHeader(t, f.cs.url(leafPath), testBody), testBody)
	require.NoError(t, err, "genuine leaf, needs the same issuer")
}
