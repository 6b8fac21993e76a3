package pcwebhook_test

// Tests of the second security review's findings on the verifier (issue 10, point 5): each one
// failed before its fix.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// leafWithKeyUsage issues a leaf under the fixture's intermediate with the given KeyUsage bits
// (0: no KeyUsage extension at all).
func leafWithKeyUsage(t *testing.T, f *fixture, ku x509.KeyUsage) *x509.Certificate {
	t.Helper()
	k := testKeys()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "pcnotifications-dispatch.microsoft.com", Organization: []string{pcwebhook.RequiredOrganization}},
		NotBefore:             f.pki.inter.NotBefore,
		NotAfter:              f.pki.inter.NotAfter,
		BasicConstraintsValid: true,
		KeyUsage:              ku,
		IssuingCertificateURL: []string{f.cs.url(interPath)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.pki.inter, &k.leaf.PublicKey, k.inter)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

// TestReviewLeafKeyUsageWithoutDigitalSignature (finding f): a leaf whose KeyUsage extension is
// present but lacks digitalSignature is refused; with the bit, or without the extension, it is
// accepted.
func TestReviewLeafKeyUsageWithoutDigitalSignature(t *testing.T) {
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

// TestReviewPathParameterDotSegments (finding g): "..;" and the other path-parameter forms of
// dot segments are refused before any request, even where the server would serve them.
func TestReviewPathParameterDotSegments(t *testing.T) {
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

// TestReviewHeaderUnderTwoSpellings (finding h): one header present under two key spellings in an
// http.Header map is ambiguous, like two values, whichever header it is.
func TestReviewHeaderUnderTwoSpellings(t *testing.T) {
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

// silence unused imports until the later review tests land.
var _ = time.Second
