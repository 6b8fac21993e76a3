package pcwebhook_test

// The verifier against hostile input and load: key usage, path parameters, a header under two
// spellings, floods of fresh certificate names, abandoned calls, issuer caching.

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// leafWithKeyUsage issues a leaf under the fixture's intermediate with the given KeyUsage bits
// (0: no KeyUsage extension at all).
func leafWithKeyUsage(t *testing.T, f *fixture, ku x509.KeyUsage) *x509.Certificate {
	t.Helper()
	k := testKeys()
	c, err := testpki.Issue(testpki.Template{
		CommonName:   testpki.LeafCommonName,
		Organization: []string{pcwebhook.RequiredOrganization},
		NotBefore:    f.pki.inter.NotBefore,
		NotAfter:     f.pki.inter.NotAfter,
		KeyUsage:     ku,
		NoKeyUsage:   ku == 0,
		AIA:          []string{f.cs.url(interPath)},
	}, &k.leaf.PublicKey, f.pki.inter, k.inter)
	require.NoError(t, err)
	return c
}

// TestLeafKeyUsageWithoutDigitalSignature : a leaf whose KeyUsage extension is
// present but lacks digitalSignature is refused; with the bit, or without the extension, it is
// accepted.
func TestLeafKeyUsageWithoutDigitalSignature(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		ku   x509.KeyUsage
		ok   bool
	}{
		{"keyEncipherment only", x509.KeyUsageKeyEncipherment, false},
		{"contentCommitment only", x509.KeyUsageContentCommitment, false},
		{"certSign only", x509.KeyUsageCertSign, false},
		{"digitalSignature", x509.KeyUsageDigitalSignature, true},
		{"digitalSignature and keyEncipherment", x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, true},
		{"no KeyUsage extension", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/cert/ku-" + strconv.Itoa(int(tc.ku)) + ".cer"
			leaf := leafWithKeyUsage(t, f, tc.ku)
			f.cs.serve(path, leaf.Raw)
			v := f.verifier(t)
			err := v.Verify(context.Background(), signedHeader(t, f.cs.url(path), testBody), testBody)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, pcwebhook.ErrUntrustedCertificate)
			var ve *pcwebhook.VerificationError
			require.True(t, errors.As(err, &ve))
			assert.Equal(t, pcwebhook.StepPublicKey, ve.Step)
			assert.Contains(t, ve.Reason, "digitalSignature")
		})
	}
}

// TestPathParameterDotSegments : "..;" and the other path-parameter forms of
// dot segments are refused before any request, even where the server would serve them.
func TestPathParameterDotSegments(t *testing.T) {
	f := newFixture(t)
	// A server that strips path parameters, as Tomcat does, would serve the intermediate here.
	v := f.verifier(t)
	for _, u := range []string{
		f.cs.url("/cert/..;/pki/inter.crt"),
		f.cs.url("/cert/..;x/pki/inter.crt"),
		f.cs.url("/cert/.;/leaf.cer"),
		f.cs.url("/cert/.;x=1/leaf.cer"),
		f.cs.url("/cert/%2e%2e;/pki/inter.crt"),
		f.cs.url("/cert/%2E%2E;/pki/inter.crt"),
		f.cs.url("/cert/.%2e;/pki/inter.crt"),
		f.cs.url("/cert/;/leaf.cer"),
		f.cs.url("/cert/;x/leaf.cer"),
		f.cs.url("/cert/sub/..;"),
	} {
		before := f.cs.conns.Load()
		err := v.Verify(context.Background(), signedHeader(t, u, testBody), testBody)
		assert.ErrorIs(t, err, pcwebhook.ErrUntrustedCertificateURL, u)
		assert.Equal(t, before, f.cs.conns.Load(), "a connection was made for %s", u)
	}
	assert.Zero(t, v.Stats().CertificateDownloads)

	// Path parameters that do not hide a dot segment stay acceptable (nothing else is special).
	f.cs.serve("/cert/leaf;v=1.cer", f.leaf.Raw)
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/leaf;v=1.cer"), testBody), testBody))

	// The same rules hold for issuer (AIA) URLs, which may contain escapes: an escaped ';' is
	// refused too.
	for _, aia := range []string{f.cs.url("/pki/..;/cert/leaf.cer"), f.cs.url("/pki/x/..%3b/inter.crt"), f.cs.url("/pki/x/..%3B/inter.crt")} {
		leaf := f.pki.leaf(t, certSpec{aia: []string{aia}})
		f.cs.serve("/cert/aia.cer", leaf.Raw)
		v := f.verifier(t)
		err := v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/aia.cer"), testBody), testBody)
		assert.ErrorIs(t, err, pcwebhook.ErrUntrustedCertificate, aia)
		assert.Zero(t, v.Stats().IssuerDownloads, aia)
	}
}

// TestHeaderUnderTwoSpellings : one header present under two key spellings in an
// http.Header map is ambiguous, like two values, whichever header it is.
func TestHeaderUnderTwoSpellings(t *testing.T) {
	f := newFixture(t)
	leafURL := f.cs.url(leafPath)
	sig := "Signature " + sign(t, testKeys().leaf, testBody)
	forged := "Signature " + sign(t, testKeys().other, testBody)
	base := func() http.Header {
		return http.Header{
			"Authorization":            {sig},
			"X-Ms-Certificate-Url":     {leafURL},
			"X-Ms-Signature-Algorithm": {"rsa-sha256"},
		}
	}
	v := f.verifier(t)
	require.NoError(t, v.Verify(context.Background(), base(), testBody))

	for _, tc := range []struct {
		name   string
		mutate func(h http.Header)
		want   error
	}{
		{"authorization twice", func(h http.Header) { h["authorization"] = []string{forged} }, pcwebhook.ErrMissingSignature},
		{"authorization twice, same value", func(h http.Header) { h["AUTHORIZATION"] = []string{sig} }, pcwebhook.ErrMissingSignature},
		{"x-ms-signature twice", func(h http.Header) {
			delete(h, "Authorization")
			h["X-Ms-Signature"] = []string{sig}
			h["x-ms-signature"] = []string{forged}
		}, pcwebhook.ErrMissingSignature},
		{"certificate URL twice", func(h http.Header) { h["x-ms-certificate-url"] = []string{f.canary.url("/cert/x.cer")} }, pcwebhook.ErrMissingCertificateURL},
		{"algorithm twice", func(h http.Header) { h["x-ms-signature-algorithm"] = []string{"rsa-sha1"} }, pcwebhook.ErrUnsupportedAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := base()
			tc.mutate(h)
			err := v.Verify(context.Background(), h, testBody)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), "more than one")
		})
	}
	// One non-canonical spelling alone is fine.
	h := http.Header{"authorization": {sig}, "x-ms-certificate-url": {leafURL}, "X-MS-SIGNATURE-ALGORITHM": {"rsa-sha256"}}
	require.NoError(t, v.Verify(context.Background(), h, testBody))
	assert.Zero(t, f.canary.conns.Load())
}

// floodServer is a TLS server that serves the fixture's genuine leaf and intermediate, and answers
// every other name under /cert/ after delay with 404 (or, when hang is set, never until the
// test ends), counting those requests.
type floodServer struct {
	srv      *httptest.Server
	flooded  atomic.Int64
	genuine  atomic.Int64
	stop     chan struct{}
	stopOnce sync.Once
}

func newFloodServer(t *testing.T, f *fixture, delay time.Duration, hang bool) *floodServer {
	fs := &floodServer{stop: make(chan struct{})}
	leaf := f.pki.leaf(t, certSpec{}) // no AIA: the file carries the intermediate
	bundle := derConcat(leaf, f.pki.inter)
	fs.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cert/genuine.cer" {
			fs.genuine.Add(1)
			_, _ = w.Write(bundle)
			return
		}
		fs.flooded.Add(1)
		select {
		case <-time.After(delay):
		case <-fs.stop:
		case <-r.Context().Done():
		}
		if hang {
			panic(http.ErrAbortHandler)
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(func() {
		fs.stopOnce.Do(func() { close(fs.stop) })
		fs.srv.Close()
	})
	return fs
}

func (fs *floodServer) verifier(t *testing.T, f *fixture, extra ...pcwebhook.VerifierOption) *pcwebhook.Verifier {
	v, err := pcwebhook.NewVerifier(append([]pcwebhook.VerifierOption{
		pcwebhook.WithCertificateURLPrefixes(fs.srv.URL + "/cert/"),
		pcwebhook.WithoutIssuerDownloads(),
		pcwebhook.WithRootCAs(f.pki.pool),
		pcwebhook.WithHTTPClient(fs.srv.Client()),
	}, extra...)...)
	require.NoError(t, err)
	return v
}

// TestFreshNameFloodDoesNotStarveTheGenuineCertificate : a flood of requests
// naming fresh file names under the allowed prefix (each one a download that takes a while) must
// neither queue without bound nor delay the refresh of the certificate that verified before.
// Before the fix every one of them waited in one FIFO for the download slots, and the genuine
// refresh waited behind all of them until it timed out: 503 for every genuine delivery.
func TestFreshNameFloodDoesNotStarveTheGenuineCertificate(t *testing.T) {
	f := newFixture(t)
	const slow = 500 * time.Millisecond
	fs := newFloodServer(t, f, slow, false)
	clock := newTestClock(time.Now())
	v := fs.verifier(t, f, pcwebhook.WithClock(clock.now), pcwebhook.WithCertificateMaxAge(time.Hour),
		pcwebhook.WithMaxConcurrentDownloads(2), pcwebhook.WithDownloadTimeout(30*time.Second))
	genuine := signedHeader(t, fs.srv.URL+"/cert/genuine.cer", testBody)
	require.NoError(t, v.Verify(context.Background(), genuine, testBody))
	clock.add(2 * time.Hour) // the cached key ended: the next genuine delivery must download again

	// The flood: 100 requests per second, each naming a fresh file, for as long as the test runs.
	// Their signature is never checked (a fresh name serves no certificate): it is made once.
	ctx, stopFlood := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var refusals, slowRefusals atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := genuine.Clone()
				h.Set(pcwebhook.HeaderCertificateURL, fs.srv.URL+"/cert/fresh-"+strconv.Itoa(i)+".cer")
				start := time.Now()
				err := v.Verify(ctx, h, testBody)
				// A fresh name is refused for the queue (503) or, once downloaded, for naming no file (401).
				assert.True(t, errors.Is(err, pcwebhook.ErrCertificateUnavailable) || errors.Is(err, pcwebhook.ErrCertificateNotFound), "%v", err)
				// A refusal for a full queue says so in its Fix; it must come at once.
				var ve *pcwebhook.VerificationError
				if errors.As(err, &ve) && strings.Contains(ve.Fix(), "known certificates are served first") {
					refusals.Add(1)
					if time.Since(start) >= slow {
						slowRefusals.Add(1)
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { stopFlood(); wg.Wait() })

	// Wait until the queue of never-seen URLs is full and refusing.
	deadline := time.Now().Add(10 * time.Second)
	for v.Stats().QueueFull < 10 {
		require.True(t, time.Now().Before(deadline), "the flood never filled the queue")
		time.Sleep(10 * time.Millisecond)
	}

	// The genuine delivery gets the next free slot: it waits for one slow download at most, not
	// for the 16 queued ahead of it (8 s).
	gctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	gstart := time.Now()
	require.NoError(t, v.Verify(gctx, genuine, testBody), "the genuine certificate starved")
	t.Logf("genuine refresh during the flood took %s", time.Since(gstart).Round(time.Millisecond))
	assert.Equal(t, int64(2), fs.genuine.Load())

	stopFlood()
	wg.Wait()
	st := v.Stats()
	assert.Greater(t, refusals.Load(), int64(0))
	assert.Equal(t, st.QueueFull, refusals.Load())
	assert.Zero(t, slowRefusals.Load(), "a full queue is answered at once, not after waiting")
	// Downloads made for the flood are bounded by the slots and the queue, not by its size.
	assert.Less(t, fs.flooded.Load(), st.QueueFull+int64(pcwebhook.DefaultMaxQueuedDownloads)+2+1)
	t.Logf("flood: %d refused at once, %d downloads made", st.QueueFull, fs.flooded.Load())
}

// TestAbandonedVerifyCallsLeaveNothingBehind : thousands of Verify calls whose
// callers give up while their downloads wait for a slot leave neither queued downloads nor
// goroutines behind. Before the fix 5,000 cancelled calls left about 5,000 goroutines, each
// waiting up to the download timeout for a slot.
func TestAbandonedVerifyCallsLeaveNothingBehind(t *testing.T) {
	f := newFixture(t)
	fs := newFloodServer(t, f, time.Minute, true) // fresh names never answer
	v := fs.verifier(t, f, pcwebhook.WithDownloadTimeout(time.Minute))
	base := runtime.NumGoroutine()

	const calls, workers = 5000, 50
	// The signature is never checked (no certificate arrives): sign once, vary the URL.
	signed := signedHeader(t, fs.srv.URL+"/cert/abandoned.cer", testBody)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > calls {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%5)*time.Millisecond)
				h := signed.Clone()
				h.Set(pcwebhook.HeaderCertificateURL, fs.srv.URL+"/cert/abandoned-"+strconv.FormatInt(i, 10)+".cer")
				err := v.Verify(ctx, h, testBody)
				cancel()
				assert.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable)
			}
		}()
	}
	wg.Wait()

	// What remains: the downloads in progress (one per slot, with their connections), nothing per
	// call. Allow for the HTTP machinery of those few downloads.
	limit := base + 4*pcwebhook.DefaultMaxConcurrentDownloads + 20
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > limit && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), limit, "goroutines left behind by abandoned calls (base %d)", base)
	t.Logf("goroutines: %d before, %d after %d abandoned calls; %d downloads started", base, runtime.NumGoroutine(), calls, fs.flooded.Load())
	assert.LessOrEqual(t, fs.flooded.Load(), int64(pcwebhook.DefaultMaxConcurrentDownloads), "downloads started for abandoned calls")

	// The verifier still works for a genuine delivery, without waiting for the hung downloads.
	fs.stopOnce.Do(func() { close(fs.stop) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, v.Verify(ctx, signedHeader(t, fs.srv.URL+"/cert/genuine.cer", testBody), testBody))
}

// TestIssuerCachedOnlyAfterAValidChain : an issuer file downloaded through AIA
// that does not complete a valid chain is not cached (before the fix: for a day, so that every
// leaf naming it failed until then); its failure is remembered only for the failure TTL, and a
// corrected file is used after it.
func TestIssuerCachedOnlyAfterAValidChain(t *testing.T) {
	f := newFixture(t)
	k := testKeys()
	impostor := issueCert(t, certSpec{cn: "Test Issuing CA", org: []string{pcwebhook.RequiredOrganization}, isCA: true, pub: &k.other.PublicKey}, nil, k.other)
	var mu sync.Mutex
	served := impostor.Raw
	f.cs.handle("/pki/swap.crt", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write(served)
	})
	leaf := f.pki.leaf(t, certSpec{aia: []string{f.cs.url("/pki/swap.crt")}})
	f.cs.serve("/cert/one.cer", leaf.Raw)
	f.cs.serve("/cert/two.cer", leaf.Raw)
	clock := newTestClock(time.Now())
	v := f.verifier(t, pcwebhook.WithClock(clock.now), pcwebhook.WithFailureCacheTTL(10*time.Second))

	err := v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/one.cer"), testBody), testBody)
	require.ErrorIs(t, err, pcwebhook.ErrUntrustedCertificate)
	assert.Equal(t, int64(1), v.Stats().IssuerDownloads)

	// The store corrects the file. The chain's failure is the leaf's: within the failure TTL that
	// leaf's URL is answered from its failure cache (no download at all)...
	mu.Lock()
	served = f.pki.inter.Raw
	mu.Unlock()
	err = v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/one.cer"), testBody), testBody)
	require.ErrorIs(t, err, pcwebhook.ErrUntrustedCertificate)
	assert.Equal(t, int64(1), v.Stats().IssuerDownloads, "the leaf's failure is remembered briefly")

	// ...but the issuer file was not cached (it built no valid chain), and its URL is not blocked
	// for other leaves: one leaf's verdict must not let a bad file under the prefix deny the
	// genuine leaf its issuer. The corrected issuer is downloaded and, having built a valid chain,
	// cached.
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/two.cer"), testBody), testBody))
	assert.Equal(t, int64(2), v.Stats().IssuerDownloads, "the uncached issuer is downloaded again")

	clock.add(11 * time.Second)
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/one.cer"), testBody), testBody))
	require.NoError(t, v.Verify(context.Background(), signedHeader(t, f.cs.url("/cert/two.cer"), testBody), testBody))
	assert.Equal(t, int64(2), v.Stats().IssuerDownloads, "cached once it built a valid chain")
	assert.Equal(t, 2, f.cs.hitsFor("/pki/swap.crt"))
}
