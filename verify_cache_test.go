package pcwebhook_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// concurrently runs fn n times at once (all goroutines released together) and returns the
// errors.
func concurrently(n int, fn func() error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// TestOneDownloadForConcurrentVerifications: 1,500 deliveries at once on a cold cache cause one
// certificate download and one issuer download. The server is slow, so every caller misses the
// cache while the download is in progress.
func TestOneDownloadForConcurrentVerifications(t *testing.T) {
	f := newFixture(t)
	f.cs.handle("/cert/slow-leaf.cer", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(100 * time.Millisecond)
		_, _ = w.Write(f.leaf.Raw)
	})
	v := f.verifier(t)
	h := signedHeader(t, f.cs.url("/cert/slow-leaf.cer"), testBody)

	errs := concurrently(1500, func() error { return v.Verify(context.Background(), h, testBody) })
	for _, err := range errs {
		require.NoError(t, err)
	}
	st := v.Stats()
	assert.Equal(t, int64(1), st.CertificateDownloads)
	assert.Equal(t, int64(1), st.IssuerDownloads)
	assert.Equal(t, 1, f.cs.hitsFor("/cert/slow-leaf.cer"), "requests seen by the server")
	assert.Equal(t, 1, f.cs.hitsFor(interPath))
	assert.Equal(t, int64(1500), st.Verified)
}

// TestOneDownloadThroughTheKit is the same through pcwebhooktest, whose server counts what it
// served.
func TestOneDownloadThroughTheKit(t *testing.T) {
	s := pcwebhooktest.New(t)
	v := s.Verifier()
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	h := s.Sign(body)
	for _, err := range concurrently(1000, func() error { return v.Verify(context.Background(), h, body) }) {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), s.Downloads())
	assert.Equal(t, int64(1), s.IssuerDownloads())
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
}

// TestFloodAgainstFailingURL: a flood naming a URL that fails costs at most a few downloads.
func TestFloodAgainstFailingURL(t *testing.T) {
	f := newFixture(t)
	f.cs.handle("/cert/failing.cer", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	untrusted := f.pki.leaf(t, certSpec{org: []string{"Contoso"}})
	f.cs.serve("/cert/untrusted.cer", untrusted.Raw)

	for _, tc := range []struct {
		path string
		want error
	}{
		{"/cert/failing.cer", pcwebhook.ErrCertificateUnavailable},
		{"/cert/untrusted.cer", pcwebhook.ErrUntrustedCertificate},
	} {
		t.Run(tc.path, func(t *testing.T) {
			v := f.verifier(t)
			h := signedHeader(t, f.cs.url(tc.path), testBody)
			// A burst at once, then a stream one after the other.
			for _, err := range concurrently(1000, func() error { return v.Verify(context.Background(), h, testBody) }) {
				require.ErrorIs(t, err, tc.want)
			}
			for i := 0; i < 1000; i++ {
				require.ErrorIs(t, v.Verify(context.Background(), h, testBody), tc.want)
			}
			st := v.Stats()
			assert.LessOrEqual(t, st.CertificateDownloads, int64(2), "downloads for 2,000 requests")
			assert.GreaterOrEqual(t, st.CertificateDownloads, int64(1))
			assert.LessOrEqual(t, f.cs.hitsFor(tc.path), 2)
			assert.GreaterOrEqual(t, st.FailureCacheHits, int64(1000))
			assert.Equal(t, int64(2000), st.Rejected)
		})
	}
}

// TestAbandonedWaitDoesNotPoisonTheCache: a caller that gives up does not cancel the download
// for the others, and its impatience is not cached as a failure.
func TestAbandonedWaitDoesNotPoisonTheCache(t *testing.T) {
	f := newFixture(t)
	f.cs.handle("/cert/slow.cer", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(300 * time.Millisecond)
		_, _ = w.Write(f.leaf.Raw)
	})
	v := f.verifier(t)
	h := signedHeader(t, f.cs.url("/cert/slow.cer"), testBody)

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := v.Verify(short, h, testBody)
	require.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, v.Verify(context.Background(), h, testBody))
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
	assert.Equal(t, 1, f.cs.hitsFor("/cert/slow.cer"))
}

// TestCacheNotUsedPastNotAfter: a cached key is not used once the clock passes the leaf's
// NotAfter; the verifier downloads again (and the expired certificate fails).
func TestCacheNotUsedPastNotAfter(t *testing.T) {
	f := newFixture(t)
	t0 := time.Now().Truncate(time.Second)
	leaf := f.pki.leaf(t, certSpec{notBefore: t0.Add(-time.Minute), notAfter: t0.Add(time.Hour), aia: []string{f.cs.url(interPath)}})
	f.cs.serve("/cert/short.cer", leaf.Raw)
	clock := newTestClock(t0)
	v := f.verifier(t, pcwebhook.WithClock(clock.now))
	h := signedHeader(t, f.cs.url("/cert/short.cer"), testBody)

	require.NoError(t, v.Verify(context.Background(), h, testBody))
	clock.set(t0.Add(59 * time.Minute))
	require.NoError(t, v.Verify(context.Background(), h, testBody))
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads, "served from the cache while valid")

	clock.set(t0.Add(time.Hour + time.Second))
	err := v.Verify(context.Background(), h, testBody)
	assert.ErrorIs(t, err, pcwebhook.ErrUntrustedCertificate)
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads, "the expired entry must not be used")

	// Before NotBefore the entry is not used either (a clock set back).
	v2 := f.verifier(t, pcwebhook.WithClock(clock.now))
	clock.set(t0)
	require.NoError(t, v2.Verify(context.Background(), h, testBody))
	clock.set(t0.Add(-2 * time.Minute))
	assert.ErrorIs(t, v2.Verify(context.Background(), h, testBody), pcwebhook.ErrUntrustedCertificate)
}

// TestCacheExpiresWithTheChain: the entry ends at the earliest NotAfter of the chain, here the
// intermediate's, before the leaf's.
func TestCacheExpiresWithTheChain(t *testing.T) {
	f := newFixture(t)
	k := testKeys()
	t0 := time.Now().Truncate(time.Second)
	shortInter := issueCert(t, certSpec{cn: "Short CA", isCA: true, pub: &k.other.PublicKey,
		notBefore: t0.Add(-time.Hour), notAfter: t0.Add(30 * time.Minute)}, f.pki.root, k.root)
	f.cs.serve("/pki/short.crt", shortInter.Raw)
	leaf := issueCert(t, certSpec{cn: "x", org: []string{pcwebhook.RequiredOrganization}, aia: []string{f.cs.url("/pki/short.crt")},
		notBefore: t0.Add(-time.Hour), notAfter: t0.Add(2 * time.Hour)}, shortInter, k.other)
	f.cs.serve("/cert/chain.cer", leaf.Raw)
	clock := newTestClock(t0)
	v := f.verifier(t, pcwebhook.WithClock(clock.now))
	h := signedHeader(t, f.cs.url("/cert/chain.cer"), testBody)

	require.NoError(t, v.Verify(context.Background(), h, testBody))
	clock.set(t0.Add(29 * time.Minute))
	require.NoError(t, v.Verify(context.Background(), h, testBody))
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
	clock.set(t0.Add(31 * time.Minute))
	assert.ErrorIs(t, v.Verify(context.Background(), h, testBody), pcwebhook.ErrUntrustedCertificate)
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)
}

// TestCertificateMaxAge: a certificate valid for days is downloaded again after the maximum age.
func TestCertificateMaxAge(t *testing.T) {
	f := newFixture(t)
	clock := newTestClock(time.Now())
	v := f.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithCertificateMaxAge(10*time.Minute))
	h := signedHeader(t, f.cs.url(leafPath), testBody)

	require.NoError(t, v.Verify(context.Background(), h, testBody))
	clock.add(9 * time.Minute)
	require.NoError(t, v.Verify(context.Background(), h, testBody))
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
	clock.add(2 * time.Minute)
	require.NoError(t, v.Verify(context.Background(), h, testBody))
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)
	assert.Equal(t, 2, f.cs.hitsFor(leafPath))
}

// TestCacheSizeBound: with room for two URLs, a third evicts the least recently used.
func TestCacheSizeBound(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/cert/a.cer", "/cert/b.cer", "/cert/c.cer"} {
		f.cs.serve(p, f.leaf.Raw)
	}
	v := f.verifier(t, pcwebhook.WithCacheSize(2))
	verify := func(p string) {
		t.Helper()
		require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url(p), testBody), testBody))
	}
	verify("/cert/a.cer")
	verify("/cert/b.cer")
	verify("/cert/a.cer") // a is now more recent than b
	verify("/cert/c.cer") // evicts b
	assert.Equal(t, int64(3), v.Stats().CertificateDownloads)
	assert.Equal(t, 2, v.Stats().CachedCertificates)
	verify("/cert/a.cer")
	verify("/cert/c.cer")
	assert.Equal(t, int64(3), v.Stats().CertificateDownloads, "a and c are cached")
	verify("/cert/b.cer")
	assert.Equal(t, int64(4), v.Stats().CertificateDownloads, "b was evicted")
	assert.Equal(t, 2, f.cs.hitsFor("/cert/b.cer"))
	assert.Equal(t, 1, f.cs.hitsFor(interPath), "issuers are cached separately")
}

// TestFailureCacheTTL: a failure is remembered for the TTL, then the URL is tried again, and a
// recovered server is then used.
func TestFailureCacheTTL(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	healthy := false
	f.cs.handle("/cert/flaky.cer", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !healthy {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(f.leaf.Raw)
	})
	clock := newTestClock(time.Now())
	v := f.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithFailureCacheTTL(10*time.Second))
	h := signedHeader(t, f.cs.url("/cert/flaky.cer"), testBody)

	require.ErrorIs(t, v.Verify(context.Background(), h, testBody), pcwebhook.ErrCertificateUnavailable)
	mu.Lock()
	healthy = true
	mu.Unlock()
	clock.add(5 * time.Second)
	require.ErrorIs(t, v.Verify(context.Background(), h, testBody), pcwebhook.ErrCertificateUnavailable, "failure still cached")
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
	clock.add(6 * time.Second)
	require.NoError(t, v.Verify(context.Background(), h, testBody))
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)
}

// TestIssuerCachedAcrossLeaves: two certificate URLs with the same issuer download it once.
func TestIssuerCachedAcrossLeaves(t *testing.T) {
	f := newFixture(t)
	f.cs.serve("/cert/other.cer", f.leaf.Raw)
	v := f.verifier(t)
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url(leafPath), testBody), testBody))
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/other.cer"), testBody), testBody))
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)
	assert.Equal(t, int64(1), v.Stats().IssuerDownloads)
}

// TestCertificateRotation: a new certificate at the same URL is picked up on the first delivery
// signed with it (a signature that fails with the cached key causes one fresh download), also
// right after the old one was downloaded; the old key stays accepted until its own cache entry
// would have ended, so that retries of deliveries signed before the rotation verify; then it is
// refused, checked against a fresh download.
func TestCertificateRotation(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	served := f.leaf
	f.cs.handle("/cert/rotating.cer", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write(served.Raw)
	})
	clock := newTestClock(time.Now())
	v := f.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithCertificateMaxAge(time.Hour), pcwebhook.WithRotationCheckInterval(time.Minute))
	url := f.cs.url("/cert/rotating.cer")
	oldSig := signedHeader(t, url, testBody)
	require.NoError(t, v.Verify(context.Background(), oldSig, testBody)) // cached until +1h

	// The new certificate has another key.
	k := testKeys()
	mu.Lock()
	served = issueCert(t, certSpec{cn: "rotated", org: []string{pcwebhook.RequiredOrganization}, pub: &k.other.PublicKey, aia: []string{f.cs.url(interPath)}}, f.pki.inter, k.inter)
	mu.Unlock()
	newSig := http.Header{}
	newSig.Set("Authorization", "Signature "+sign(t, k.other, testBody))
	newSig.Set("X-MS-Certificate-Url", url)
	newSig.Set("X-MS-Signature-Algorithm", "rsa-sha256")

	clock.add(30 * time.Minute)
	require.NoError(t, v.Verify(context.Background(), newSig, testBody), "rotation picked up on the first delivery")
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)
	assert.Equal(t, int64(1), v.Stats().RotationChecks)

	// A retry signed before the rotation: the old key is still accepted, without a download.
	clock.add(time.Second)
	require.NoError(t, v.Verify(context.Background(), oldSig, testBody), "old key, 1 s after the rotation")
	clock.add(2 * time.Minute)
	require.NoError(t, v.Verify(context.Background(), oldSig, testBody), "old key, 2 min after the rotation")
	assert.Equal(t, int64(2), v.Stats().PreviousKeyMatches)
	require.NoError(t, v.Verify(context.Background(), newSig, testBody))
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads, "both keys are served from the cache")

	// Past the moment the old key's own entry would have ended (+1 h), it is refused: checked
	// against a fresh download, which still holds the new key only.
	clock.add(30 * time.Minute)
	err := v.Verify(context.Background(), oldSig, testBody)
	assert.ErrorIs(t, err, pcwebhook.ErrBadSignature, "old key gone once its entry would have expired")
	assert.Equal(t, int64(3), v.Stats().CertificateDownloads)
	require.NoError(t, v.Verify(context.Background(), newSig, testBody))
	assert.Equal(t, int64(3), v.Stats().CertificateDownloads, "the new key is fresh: no further download")
}

// TestCertificateNotFound: a never-seen name under the allowed prefix that the store answers 404
// is the sender's fault (401, remembered like any failure), whereas a URL this verifier knows (one
// given to Prefetch, one that verified before) answering 404 is the receiver's condition (503):
// Partner Center's own certificate missing for a while must not lose deliveries.
func TestCertificateNotFound(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	present := true
	f.cs.handle("/cert/vanishing.cer", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !present {
			http.NotFound(w, nil)
			return
		}
		_, _ = w.Write(f.leaf.Raw)
	})
	clock := newTestClock(time.Now())
	v := f.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithCertificateMaxAge(time.Hour))

	fresh := f.cs.url("/cert/never-seen.cer")
	err := v.Verify(context.Background(), signedHeader(t, fresh, testBody), testBody)
	require.ErrorIs(t, err, pcwebhook.ErrCertificateNotFound)
	assert.Equal(t, http.StatusUnauthorized, pcwebhook.HTTPStatus(err))
	require.ErrorIs(t, v.Verify(context.Background(), signedHeader(t, fresh, testBody), testBody), pcwebhook.ErrCertificateNotFound)
	assert.Equal(t, int64(1), v.Stats().FailureCacheHits, "the refusal is remembered")

	prefetched := f.cs.url("/cert/prefetched-missing.cer")
	require.ErrorIs(t, v.Prefetch(context.Background(), prefetched), pcwebhook.ErrCertificateUnavailable)
	clock.add(time.Minute) // past the failure cache
	err = v.Verify(context.Background(), signedHeader(t, prefetched, testBody), testBody)
	require.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable, "a prefetched URL is known: 503")
	assert.Equal(t, http.StatusServiceUnavailable, pcwebhook.HTTPStatus(err))

	verified := f.cs.url("/cert/vanishing.cer")
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, verified, testBody), testBody))
	mu.Lock()
	present = false
	mu.Unlock()
	clock.add(2 * time.Hour) // the cached entry ended
	err = v.Verify(context.Background(), signedHeader(t, verified, testBody), testBody)
	require.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable, "a URL that verified before is known: 503")
	assert.Equal(t, http.StatusServiceUnavailable, pcwebhook.HTTPStatus(err))
}

// TestVerifiedDeliveryMemo: an exact repeat of a verified delivery (same body, signature and
// certificate URL) is answered from the memo of its certificate's cache entry; anything that
// differs in one byte is checked with RSA as before, and a failed verification is never
// remembered.
func TestVerifiedDeliveryMemo(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	url := f.cs.url(leafPath)
	genuine := signedHeader(t, url, testBody)
	ctx := context.Background()

	require.NoError(t, v.Verify(ctx, genuine, testBody))
	assert.Equal(t, int64(0), v.Stats().MemoHits, "the first verification is an RSA one")
	for i := 0; i < 3; i++ {
		require.NoError(t, v.Verify(ctx, genuine, testBody))
	}
	assert.Equal(t, int64(3), v.Stats().MemoHits, "exact repeats")

	tampered := bytes.Clone(testBody)
	tampered[len(tampered)-2] ^= 1
	for i := 0; i < 3; i++ {
		assert.Error(t, v.Verify(ctx, genuine, tampered), "a genuine signature on another body")
	}
	other := []byte(`{"EventName":"test-created","n":1}`)
	forged := genuine.Clone()
	forged.Set("Authorization", signedHeader(t, url, other).Get("Authorization"))
	for i := 0; i < 3; i++ {
		assert.Error(t, v.Verify(ctx, forged, testBody), "another delivery's signature on this body")
	}
	assert.Equal(t, int64(3), v.Stats().MemoHits, "nothing that failed came from or went into the memo")
	foreign := genuine.Clone()
	foreign.Set(pcwebhook.HeaderCertificateURL, "https://attacker.example/cert/leaf.cer")
	assert.ErrorIs(t, v.Verify(ctx, foreign, testBody), pcwebhook.ErrUntrustedCertificateURL,
		"a delivery that verified does not let another certificate URL past the policy")

	// Another certificate URL with the same key has its own entry, and so its own memo.
	alias := f.cs.url("/cert/alias.cer")
	f.cs.handle("/cert/alias.cer", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(f.leaf.Raw) })
	require.NoError(t, v.Verify(ctx, signedHeader(t, alias, testBody), testBody))
	assert.Equal(t, int64(3), v.Stats().MemoHits, "the first delivery naming another URL is checked with RSA")
}

// TestVerifiedDeliveryMemoForgotten: the memo lives and dies with the certificate's cache entry.
// When the entry expires, or a rotation replaces the key, a repeat is checked with RSA again; a
// delivery signed with the previous key, accepted through a rollout, is never remembered.
func TestVerifiedDeliveryMemoForgotten(t *testing.T) {
	const path = "/cert/memo.cer"
	rf := newRotatingFixture(t, path)
	clock := newTestClock(time.Now())
	v := rf.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithCertificateMaxAge(time.Hour))
	url := rf.cs.url(path)
	ctx := context.Background()
	oldSig := signedHeader(t, url, testBody)
	require.NoError(t, v.Verify(ctx, oldSig, testBody))
	require.NoError(t, v.Verify(ctx, oldSig, testBody))
	require.Equal(t, int64(1), v.Stats().MemoHits)

	clock.add(time.Hour + time.Second) // the entry expires: downloaded again, memo empty
	require.NoError(t, v.Verify(ctx, oldSig, testBody))
	assert.Equal(t, int64(2), v.Stats().CertificateDownloads)
	assert.Equal(t, int64(1), v.Stats().MemoHits, "checked with RSA against the new entry")
	require.NoError(t, v.Verify(ctx, oldSig, testBody))
	assert.Equal(t, int64(2), v.Stats().MemoHits)

	key := rf.rotate(t)
	body := []byte(`{"EventName":"subscription-updated"}`)
	require.NoError(t, v.Verify(ctx, headerSignedBy(t, sign(t, key, body), url), body), "rotation picked up")
	assert.Equal(t, int64(3), v.Stats().CertificateDownloads)
	for i := 0; i < 3; i++ {
		require.NoError(t, v.Verify(ctx, oldSig, testBody), "signed before the rotation")
	}
	assert.Equal(t, int64(3), v.Stats().PreviousKeyMatches, "each checked with RSA against the previous key")
	assert.Equal(t, int64(2), v.Stats().MemoHits, "the previous key's matches are not remembered")
}

// TestPrefetchCachesWhatPasses: Prefetch downloads and checks the certificate now; the first
// delivery then needs no download.
func TestPrefetchCachesWhatPasses(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	require.NoError(t, v.Prefetch(context.Background(), f.cs.url(leafPath)))
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
	assert.Equal(t, int64(1), v.Stats().IssuerDownloads)
	assert.Equal(t, 1, v.Stats().CachedCertificates)

	require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url(leafPath), testBody), testBody))
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads, "served from the cache Prefetch filled")
	assert.Equal(t, int64(1), v.Stats().CacheHits)

	// Again: already cached, not downloaded again.
	require.NoError(t, v.Prefetch(context.Background(), f.cs.url(leafPath)))
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
}

// TestPrefetchSaysWhatFailed: each start-up problem comes back as a *VerificationError that names
// its step and, for the receiver's conditions, the fix.
func TestPrefetchSaysWhatFailed(t *testing.T) {
	f := newFixture(t)
	k := testKeys()
	otherRoots := x509.NewCertPool() // roots that do not include the fixture's
	otherRoots.AddCert(issueCert(t, certSpec{cn: "Other Root", isCA: true, pub: &k.otherRoot.PublicKey}, nil, k.otherRoot))
	f.cs.handle("/cert/down.cer", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	for _, tc := range []struct {
		name      string
		opts      []pcwebhook.VerifierOption
		url       string
		want      error
		step      pcwebhook.VerificationStep
		transient bool
		fix       string
	}{
		{"trust roots missing the issuer", []pcwebhook.VerifierOption{pcwebhook.WithRootCAs(otherRoots)}, f.cs.url(leafPath),
			pcwebhook.ErrUntrustedCertificate, pcwebhook.StepChain, true, "WithRootCAs"},
		{"clock ten years ahead", []pcwebhook.VerifierOption{pcwebhook.WithClock(func() time.Time { return time.Now().AddDate(10, 0, 0) })}, f.cs.url(leafPath),
			pcwebhook.ErrUntrustedCertificate, pcwebhook.StepCertificateTime, true, "clock"},
		{"host down", nil, f.cs.url("/cert/down.cer"), pcwebhook.ErrCertificateUnavailable, pcwebhook.StepDownload, true, f.cs.srv.Listener.Addr().String()},
		{"outside the allow-list", nil, f.canary.url("/cert/x.cer"), pcwebhook.ErrUntrustedCertificateURL, pcwebhook.StepCertificateURL, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := f.verifier(t, tc.opts...)
			err := v.Prefetch(context.Background(), f.cs.url("/cert/missing.cer"), tc.url)
			require.Error(t, err)
			// The first URL that fails (not found) is reported; the others are checked anyway.
			var ve *pcwebhook.VerificationError
			require.True(t, errors.As(err, &ve))
			assert.Equal(t, pcwebhook.StepDownload, ve.Step)

			err = v.Prefetch(context.Background(), tc.url)
			require.ErrorIs(t, err, tc.want)
			require.True(t, errors.As(err, &ve))
			assert.Equal(t, tc.step, ve.Step)
			assert.Equal(t, tc.transient, ve.Transient())
			assert.Contains(t, ve.Fix(), tc.fix)
		})
	}
	assert.Zero(t, f.canary.conns.Load())
}

// TestPrefetchDefaultURL: with no argument Prefetch fetches DefaultCertificateURL, exactly.
func TestPrefetchDefaultURL(t *testing.T) {
	rt := &recordingTransport{}
	v, err := pcwebhook.NewVerifier(pcwebhook.WithHTTPClient(&http.Client{Transport: rt}))
	require.NoError(t, err)
	err = v.Prefetch(context.Background())
	require.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable)
	assert.Equal(t, []string{pcwebhook.DefaultCertificateURL}, rt.urls())

	// Under an allow-list that does not admit it, the default URL is refused without a request.
	rt2 := &recordingTransport{}
	v, err = pcwebhook.NewVerifier(pcwebhook.WithCertificateURLPrefixes("https://mirror.example/cert/"), pcwebhook.WithHTTPClient(&http.Client{Transport: rt2}))
	require.NoError(t, err)
	require.ErrorIs(t, v.Prefetch(context.Background()), pcwebhook.ErrUntrustedCertificateURL)
	assert.Empty(t, rt2.urls())

	var nilV *pcwebhook.Verifier
	require.ErrorIs(t, nilV.Prefetch(context.Background()), pcwebhook.ErrCertificateUnavailable)
}

// TestWithoutDeliveryMemo: with the memo off, an exact repeat is checked with RSA again (and still
// verifies).
func TestWithoutDeliveryMemo(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t, pcwebhook.WithoutDeliveryMemo())
	h := signedHeader(t, f.cs.url(leafPath), testBody)
	for i := 0; i < 3; i++ {
		require.NoError(t, v.Verify(context.Background(), h, testBody))
	}
	assert.Equal(t, int64(0), v.Stats().MemoHits)
	assert.Equal(t, int64(3), v.Stats().Verified)
}
