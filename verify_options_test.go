package pcwebhook_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// TestNewVerifierRefusesEmptyOrInvalidOptions: no option value may silently turn a check off.
func TestNewVerifierRefusesEmptyOrInvalidOptions(t *testing.T) {
	leaf := newTestPKI(t).leaf(t, certSpec{})
	const prod = "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer"
	for name, opts := range map[string][]pcwebhook.VerifierOption{
		"nil option":                        {nil},
		"no certificate prefixes":           {pcwebhook.WithCertificateURLPrefixes()},
		"http certificate prefix":           {pcwebhook.WithCertificateURLPrefixes("http://host.example/cert/")},
		"certificate prefix with query":     {pcwebhook.WithCertificateURLPrefixes("https://host.example/cert/?")},
		"certificate prefix with fragment":  {pcwebhook.WithCertificateURLPrefixes("https://host.example/cert/#")},
		"certificate prefix with userinfo":  {pcwebhook.WithCertificateURLPrefixes("https://u@host.example/cert/")},
		"certificate prefix without path":   {pcwebhook.WithCertificateURLPrefixes("https://host.example")},
		"empty certificate prefix":          {pcwebhook.WithCertificateURLPrefixes("")},
		"one bad prefix among good":         {pcwebhook.WithCertificateURLPrefixes("https://host.example/cert/", "https://host.example/../")},
		"no issuer prefixes":                {pcwebhook.WithIssuerURLPrefixes()},
		"issuer prefix with encoding":       {pcwebhook.WithIssuerURLPrefixes("http://host.example/%2e/")},
		"issuer prefix ftp":                 {pcwebhook.WithIssuerURLPrefixes("ftp://host.example/")},
		"nil roots":                         {pcwebhook.WithRootCAs(nil)},
		"empty roots":                       {pcwebhook.WithRootCAs(x509.NewCertPool())},
		"nil client":                        {pcwebhook.WithHTTPClient(nil)},
		"nil clock":                         {pcwebhook.WithClock(nil)},
		"zero max age":                      {pcwebhook.WithCertificateMaxAge(0)},
		"negative download timeout":         {pcwebhook.WithDownloadTimeout(-time.Second)},
		"zero max bytes":                    {pcwebhook.WithMaxCertificateBytes(0)},
		"zero cache size":                   {pcwebhook.WithCacheSize(0)},
		"zero failure TTL":                  {pcwebhook.WithFailureCacheTTL(0)},
		"zero concurrent downloads":         {pcwebhook.WithMaxConcurrentDownloads(0)},
		"pin without certificate":           {pcwebhook.WithPinnedCertificate(prod)},
		"pin with nil certificate":          {pcwebhook.WithPinnedCertificate(prod, nil)},
		"pin outside the allow-list":        {pcwebhook.WithPinnedCertificate("https://host.example/cert/x.cer", leaf)},
		"pin with a query":                  {pcwebhook.WithPinnedCertificate(prod+"?x", leaf)},
		"pin twice":                         {pcwebhook.WithPinnedCertificate(prod, leaf), pcwebhook.WithPinnedCertificate("HTTPS://3psostorageacct.blob.core.windows.net:443/cert/pcnotifications-dispatch.microsoft.com.cer", leaf)},
		"pin outside a replaced allow-list": {pcwebhook.WithPinnedCertificate(prod, leaf), pcwebhook.WithCertificateURLPrefixes("https://mirror.example/cert/")},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := pcwebhook.NewVerifier(opts...)
			assert.Error(t, err)
			assert.Nil(t, v)
		})
	}
}

func TestNewVerifierAcceptsValidOptions(t *testing.T) {
	leaf := newTestPKI(t).leaf(t, certSpec{})
	v, err := pcwebhook.NewVerifier(
		pcwebhook.WithCertificateURLPrefixes("https://mirror.example/cert/", "https://mirror.example:8443/exact.cer"),
		pcwebhook.WithIssuerURLPrefixes("http://pki.example/certs/"),
		pcwebhook.WithRootCAs(newTestPKI(t).pool),
		pcwebhook.WithHTTPClient(&http.Client{}),
		pcwebhook.WithClock(time.Now),
		pcwebhook.WithCertificateMaxAge(time.Hour),
		pcwebhook.WithDownloadTimeout(time.Second),
		pcwebhook.WithMaxCertificateBytes(1<<10),
		pcwebhook.WithCacheSize(1),
		pcwebhook.WithFailureCacheTTL(time.Second),
		pcwebhook.WithMaxConcurrentDownloads(1),
		pcwebhook.WithPinnedCertificate("https://mirror.example:8443/exact.cer", leaf),
	)
	require.NoError(t, err)
	require.NotNil(t, v)
}

// TestReplacedAllowListIsTheOnlyOne: WithCertificateURLPrefixes replaces the default list.
func TestReplacedAllowListIsTheOnlyOne(t *testing.T) {
	rt := &recordingTransport{}
	v, err := pcwebhook.NewVerifier(
		pcwebhook.WithCertificateURLPrefixes("https://mirror.example/cert/"),
		pcwebhook.WithHTTPClient(&http.Client{Transport: rt}))
	require.NoError(t, err)
	h := http.Header{}
	h.Set("Authorization", "Signature AAAA")
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	h.Set("X-MS-Certificate-Url", "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer")
	assert.ErrorIs(t, v.Verify(context.Background(), h, testBody), pcwebhook.ErrUntrustedCertificateURL)
	h.Set("X-MS-Certificate-Url", "https://mirror.example/cert/x.cer")
	assert.ErrorIs(t, v.Verify(context.Background(), h, testBody), pcwebhook.ErrCertificateUnavailable)
	assert.Equal(t, []string{"https://mirror.example/cert/x.cer"}, rt.urls())
}

// TestZeroAndNilVerifier: the zero value applies the production policy; nil does not panic.
func TestZeroAndNilVerifier(t *testing.T) {
	var zero pcwebhook.Verifier
	h := http.Header{}
	h.Set("Authorization", "Signature AAAA")
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	h.Set("X-MS-Certificate-Url", "https://evil.example/cert/x.cer")
	assert.ErrorIs(t, zero.Verify(context.Background(), h, testBody), pcwebhook.ErrUntrustedCertificateURL, "production allow-list")
	assert.ErrorIs(t, zero.Verify(context.Background(), nil, nil), pcwebhook.ErrMissingSignature)
	assert.Equal(t, int64(2), zero.Stats().Rejected)

	var nilV *pcwebhook.Verifier
	err := nilV.Verify(context.Background(), h, testBody)
	assert.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable)
	assert.Equal(t, pcwebhook.VerifierStats{}, nilV.Stats())

	v, err := pcwebhook.NewVerifier()
	require.NoError(t, err)
	// A nil context must not panic either.
	//lint:ignore SA1012 this is the point of the test
	assert.ErrorIs(t, v.Verify(nil, h, testBody), pcwebhook.ErrUntrustedCertificateURL)
}
