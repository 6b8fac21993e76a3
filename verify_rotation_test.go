package pcwebhook_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// rotatingFixture serves a certificate at one URL that the test can replace, and counts what it
// served.
type rotatingFixture struct {
	*fixture
	mu     sync.Mutex
	served []byte
}

func newRotatingFixture(t *testing.T, path string) *rotatingFixture {
	rf := &rotatingFixture{fixture: newFixture(t)}
	rf.served = rf.leaf.Raw
	rf.cs.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		rf.mu.Lock()
		body := rf.served
		rf.mu.Unlock()
		_, _ = w.Write(body)
	})
	return rf
}

func (rf *rotatingFixture) serve(der []byte) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.served = der
}

func headerSignedBy(t *testing.T, sig, certURL string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Signature "+sig)
	h.Set("X-MS-Certificate-Url", certURL)
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	return h
}

// TestRotationInPlaceVerifiesOnFirstAttempt (issue 10, point 2): Microsoft replaces the
// certificate at the same URL while the old one is cached (for up to a day); the first delivery
// signed with the new key verifies, with one extra download, instead of 401s until the cache
// entry ends. With a cached key and the production interval, the clock moves an hour.
func TestRotationInPlaceVerifiesOnFirstAttempt(t *testing.T) {
	const path = "/cert/pcnotifications-dispatch.microsoft.com.cer"
	rf := newRotatingFixture(t, path)
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	url := rf.cs.url(path)
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, url, testBody), testBody))

	k := testKeys()
	rotated := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		pub: &k.other.PublicKey, aia: []string{rf.cs.url(interPath)}}, rf.pki.inter, k.inter)
	rf.serve(rotated.Raw)
	clock.add(time.Hour) // well inside DefaultCertificateMaxAge: the old key is still cached

	body := []byte(`{"EventName":"subscription-updated"}`)
	require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, k.other, body), url), body), "first attempt")
	st := v.Stats()
	assert.Equal(t, int64(2), st.CertificateDownloads)
	assert.Equal(t, int64(1), st.RotationChecks)
	assert.Equal(t, 2, rf.cs.hitsFor(path))
	// Later deliveries use the new cached key.
	require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, k.other, testBody), url), testBody))
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)

	// A rotation to a larger key (another signature length) is picked up too.
	big := bigKey(t)
	rotated2 := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization},
		pub: &big.PublicKey, aia: []string{rf.cs.url(interPath)}}, rf.pki.inter, k.inter)
	rf.serve(rotated2.Raw)
	clock.add(time.Hour)
	require.NoError(t, v.Verify(context.Background(), headerSignedBy(t, sign(t, big, body), url), body))
	assert.Equal(t, int64(3), v.Stats().CertificateDownloads)
}

// TestRotationForgedFloodCostsOneDownloadPerInterval: forged signatures naming a cached URL cause
// at most one extra download per URL per rotation interval, and keep their 401 answer.
func TestRotationForgedFloodCostsOneDownloadPerInterval(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	rf.cs.serve("/cert/b.cer", rf.leaf.Raw)
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	urls := []string{rf.cs.url("/cert/a.cer"), rf.cs.url("/cert/b.cer")}
	for _, u := range urls {
		require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	}
	require.Equal(t, int64(2), v.Stats().CertificateDownloads)
	forged := sign(t, testKeys().other, testBody)

	for round := 1; round <= 3; round++ {
		clock.add(pcwebhook.DefaultRotationCheckInterval) // a new interval
		// A burst at once, then a stream, on both URLs.
		errs := concurrently(1000, func() error {
			return v.Verify(context.Background(), headerSignedBy(t, forged, urls[0]), testBody)
		})
		for i := 0; i < 500; i++ {
			errs = append(errs, v.Verify(context.Background(), headerSignedBy(t, forged, urls[i%2]), testBody))
			clock.add(pcwebhook.DefaultRotationCheckInterval / 1000) // the interval does not end meanwhile
		}
		for _, err := range errs {
			require.ErrorIs(t, err, pcwebhook.ErrBadSignature)
			var ve *pcwebhook.VerificationError
			require.True(t, errors.As(err, &ve))
			assert.False(t, ve.Transient(), "a signature that fails with a fresh key is the sender's: 401")
		}
		assert.Equal(t, int64(2+2*round), v.Stats().CertificateDownloads, "round %d: one extra download per URL", round)
	}
	assert.Equal(t, int64(6), v.Stats().RotationChecks)
	// The genuine key is still served from the cache.
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, urls[0], testBody), testBody))
	assert.Equal(t, int64(8), v.Stats().CertificateDownloads)
}

// TestRotationDownloadFailureIsTransient: when the re-download cannot be made, the answer is the
// download's failure (503, retried), and the cached key stays in place for genuine deliveries.
func TestRotationDownloadFailureIsTransient(t *testing.T) {
	rf := newRotatingFixture(t, "/cert/a.cer")
	var down sync.Mutex
	broken := false
	rf.cs.handle("/cert/a.cer", func(w http.ResponseWriter, _ *http.Request) {
		down.Lock()
		defer down.Unlock()
		if broken {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(rf.leaf.Raw)
	})
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now))
	u := rf.cs.url("/cert/a.cer")
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody))
	down.Lock()
	broken = true
	down.Unlock()
	clock.add(2 * pcwebhook.DefaultRotationCheckInterval)
	err := v.Verify(context.Background(), headerSignedBy(t, sign(t, testKeys().other, testBody), u), testBody)
	require.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable)
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, u, testBody), testBody), "the cached key is kept")
}
