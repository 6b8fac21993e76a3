package testpki_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// keys are made once: RSA key generation is slow under -race.
var keys = sync.OnceValue(func() [3]*rsa.PrivateKey {
	ch, err := testpki.NewChain()
	if err != nil {
		panic(err)
	}
	return [3]*rsa.PrivateKey{ch.RootKey, ch.IntermediateKey, ch.LeafKey}
})

func chain(t *testing.T, opts ...testpki.Option) *testpki.Chain {
	t.Helper()
	k := keys()
	ch, err := testpki.NewChain(append([]testpki.Option{testpki.WithKeys(k[0], k[1], k[2])}, opts...)...)
	require.NoError(t, err)
	return ch
}

func TestWireNamesMatchTheLibrary(t *testing.T) {
	assert.Equal(t, pcwebhook.HeaderAuthorization, testpki.HeaderAuthorization)
	assert.Equal(t, pcwebhook.HeaderMSSignature, testpki.HeaderMSSignature)
	assert.Equal(t, pcwebhook.HeaderCertificateURL, testpki.HeaderCertificateURL)
	assert.Equal(t, pcwebhook.HeaderSignatureAlgorithm, testpki.HeaderSignatureAlgorithm)
	assert.Equal(t, pcwebhook.RequiredOrganization, testpki.Organization)
}

func TestNewChainDefaults(t *testing.T) {
	ch := chain(t)
	assert.Equal(t, []string{"Microsoft Corporation"}, ch.Leaf.Subject.Organization)
	assert.Equal(t, x509.KeyUsageDigitalSignature, ch.Leaf.KeyUsage)
	assert.True(t, ch.Root.IsCA)
	assert.True(t, ch.Intermediate.IsCA)
	assert.False(t, ch.Leaf.IsCA)
	require.NoError(t, ch.Leaf.CheckSignatureFrom(ch.Intermediate))
	require.NoError(t, ch.Intermediate.CheckSignatureFrom(ch.Root))
	_, err := ch.Leaf.Verify(x509.VerifyOptions{Roots: testpki.Pool(ch.Root), Intermediates: testpki.Pool(ch.Intermediate),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	require.NoError(t, err)
	now := time.Now()
	assert.True(t, ch.Leaf.NotBefore.Before(now) && ch.Leaf.NotAfter.After(now.AddDate(0, 0, 29)))
	assert.True(t, ch.Root.NotAfter.After(now.AddDate(9, 0, 0)))
}

func TestNewChainOptions(t *testing.T) {
	from := time.Date(2040, 1, 2, 3, 4, 5, 0, time.UTC)
	to := from.Add(time.Hour)
	ch := chain(t, testpki.WithValidity(from, to), testpki.WithOrganization("Contoso"), testpki.WithoutIntermediate(),
		testpki.WithLeafKeyUsage(x509.KeyUsageKeyEncipherment), testpki.WithAIA("https://x.test/ca.crt"))
	for _, c := range []*x509.Certificate{ch.Root, ch.Leaf} {
		assert.True(t, from.Equal(c.NotBefore))
		assert.True(t, to.Equal(c.NotAfter))
	}
	assert.Nil(t, ch.Intermediate)
	require.NoError(t, ch.Leaf.CheckSignatureFrom(ch.Root))
	assert.Equal(t, []string{"Contoso"}, ch.Leaf.Subject.Organization)
	assert.Equal(t, x509.KeyUsageKeyEncipherment, ch.Leaf.KeyUsage)
	assert.Equal(t, []string{"https://x.test/ca.crt"}, ch.Leaf.IssuingCertificateURL)

	ch = chain(t, testpki.WithLeafKeyUsage(0), testpki.WithLeafValidity(from, to))
	assert.Zero(t, ch.Leaf.KeyUsage)
	assert.True(t, from.Equal(ch.Leaf.NotBefore))
	assert.True(t, ch.Root.NotBefore.Before(time.Now()))

	_, err := testpki.NewChain(testpki.WithKeys(keys()[0], keys()[1], keys()[2]), testpki.WithValidity(to, from))
	assert.Error(t, err)
}

func TestSigner(t *testing.T) {
	ch := chain(t)
	body := []byte(`{"EventName":"test-created"}`)
	h, err := testpki.Signer{Key: ch.LeafKey, CertificateURL: "https://c.test/cert/x.cer"}.Sign(body)
	require.NoError(t, err)
	auth := h.Get("Authorization")
	require.True(t, strings.HasPrefix(auth, "Signature "))
	assert.Equal(t, "https://c.test/cert/x.cer", h.Get("X-MS-Certificate-Url"))
	assert.Equal(t, "rsa-sha256", h.Get("X-MS-Signature-Algorithm"))
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Signature "))
	require.NoError(t, err)
	sum := sha256.Sum256(body)
	require.NoError(t, rsa.VerifyPKCS1v15(&ch.LeafKey.PublicKey, crypto.SHA256, sum[:], sig))

	h, err = testpki.Signer{Key: ch.LeafKey, CertificateURL: "https://c.test/cert/x.cer", MSSignatureHeader: true}.Sign(body)
	require.NoError(t, err)
	assert.Empty(t, h.Get("Authorization"))
	assert.Equal(t, auth, h.Get("X-MS-Signature"))

	// What it signs, the library verifies (leaf and intermediate pinned: nothing downloaded).
	v, err := pcwebhook.NewVerifier(pcwebhook.WithCertificateURLPrefixes("https://c.test/cert/"),
		pcwebhook.WithRootCAs(testpki.Pool(ch.Root)), pcwebhook.WithoutIssuerDownloads(),
		pcwebhook.WithPinnedCertificate("https://c.test/cert/x.cer", ch.Leaf, ch.Intermediate))
	require.NoError(t, err)
	require.NoError(t, v.Verify(context.Background(), h, body))

	_, err = testpki.Signer{}.Sign(body)
	assert.Error(t, err)
}

func TestEncodings(t *testing.T) {
	ch := chain(t)
	certs, err := x509.ParseCertificates(testpki.DER(ch.Leaf, ch.Intermediate))
	require.NoError(t, err)
	assert.Len(t, certs, 2)
	assert.Equal(t, 2, strings.Count(string(testpki.PEM(ch.Leaf, ch.Root)), "BEGIN CERTIFICATE"))
}
