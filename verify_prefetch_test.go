package pcwebhook_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

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
