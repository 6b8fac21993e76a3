package pcwebhooktest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// One sender for the tests that do not close it: key generation is slow under -race.
var shared = sync.OnceValues(func() (*pcwebhooktest.Sender, error) { return pcwebhooktest.NewSender() })

func sharedSender(t *testing.T) *pcwebhooktest.Sender {
	t.Helper()
	s, err := shared()
	require.NoError(t, err)
	return s
}

func TestSenderCertificates(t *testing.T) {
	s := sharedSender(t)
	leaf, inter, root := s.Leaf(), s.Intermediate(), s.Root()

	assert.Equal(t, []string{"Microsoft Corporation"}, leaf.Subject.Organization)
	assert.False(t, leaf.IsCA)
	assert.True(t, inter.IsCA)
	assert.True(t, root.IsCA)
	require.NoError(t, leaf.CheckSignatureFrom(inter), "the leaf is signed by the intermediate")
	require.NoError(t, inter.CheckSignatureFrom(root), "the intermediate is signed by the root")
	assert.Error(t, leaf.CheckSignatureFrom(root), "the leaf is not signed by the root directly")
	for _, c := range []interface{ Size() int }{leaf.PublicKey.(*rsa.PublicKey), inter.PublicKey.(*rsa.PublicKey), root.PublicKey.(*rsa.PublicKey)} {
		assert.Equal(t, 256, c.Size(), "RSA 2048")
	}
	assert.True(t, time.Now().After(leaf.NotBefore) && time.Now().Before(leaf.NotAfter))

	// The certificate URL serves the leaf alone, DER; the AIA URL serves the intermediate.
	require.True(t, strings.HasPrefix(s.CertificateURL(), s.CertificateURLPrefix()))
	require.True(t, strings.HasPrefix(s.CertificateURLPrefix(), s.URL()))
	require.Len(t, leaf.IssuingCertificateURL, 1)
	require.True(t, strings.HasPrefix(leaf.IssuingCertificateURL[0], s.IssuerURLPrefix()))
	downloads, issuerDownloads := s.Downloads(), s.IssuerDownloads()
	assert.Equal(t, leaf.Raw, get(t, s.Client(), s.CertificateURL()))
	assert.Equal(t, inter.Raw, get(t, s.Client(), leaf.IssuingCertificateURL[0]))
	assert.Equal(t, downloads+1, s.Downloads())
	assert.Equal(t, issuerDownloads+1, s.IssuerDownloads())

	// RootCAs holds the root only: the leaf verifies with the intermediate, not without.
	_, err := leaf.Verify(x509VerifyOptions(s, true))
	assert.NoError(t, err)
	_, err = leaf.Verify(x509VerifyOptions(s, false))
	assert.Error(t, err)
}

func get(t *testing.T, c *http.Client, url string) []byte {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

func TestSign(t *testing.T) {
	s := sharedSender(t)
	body := pcwebhooktest.SampleEvent(pcwebhook.EventTestCreated)
	h := s.Sign(body)

	auth := h.Get("Authorization")
	require.True(t, strings.HasPrefix(auth, "Signature "))
	assert.Equal(t, s.CertificateURL(), h.Get("X-MS-Certificate-Url"))
	assert.Equal(t, "rsa-sha256", h.Get("X-MS-Signature-Algorithm"))
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	assert.Empty(t, h.Get("X-Ms-Signature"))

	// An independent check with crypto/rsa: PKCS#1 v1.5, SHA-256, raw body, standard base64.
	sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Signature "))
	require.NoError(t, err)
	sum := sha256.Sum256(body)
	require.NoError(t, rsa.VerifyPKCS1v15(s.Leaf().PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig))
	assert.Equal(t, strings.TrimPrefix(auth, "Signature "), s.Signature(body))
}

func TestSignMSSignatureHeader(t *testing.T) {
	s, err := pcwebhooktest.NewSender(pcwebhooktest.WithMSSignatureHeader())
	require.NoError(t, err)
	defer s.Close()
	body := []byte(`{"EventName":"test-created"}`)
	h := s.Sign(body)
	assert.Empty(t, h.Get("Authorization"))
	assert.Equal(t, "Signature "+s.Signature(body), h.Get("X-Ms-Signature"))
	require.NoError(t, s.Verifier().Verify(context.Background(), h, body))
}

func TestSend(t *testing.T) {
	s := sharedSender(t)
	body := pcwebhooktest.SampleEvent(pcwebhook.EventInvoiceReady)
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	resp, err := s.Send(context.Background(), srv.URL+"/webhooks", body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "/webhooks", got.URL.Path)
	assert.Equal(t, body, gotBody)
	require.NoError(t, s.Verifier().Verify(context.Background(), got.Header, gotBody), "what arrives verifies")

	_, err = s.Send(context.Background(), "://bad", body)
	assert.Error(t, err)
}

func TestSendWithClient(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	s, err := pcwebhooktest.NewSender(pcwebhooktest.WithSendClient(srv.Client()))
	require.NoError(t, err)
	defer s.Close()
	resp, err := s.Send(context.Background(), srv.URL, []byte(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestVerifierTrustsOnlyThisSender(t *testing.T) {
	a := sharedSender(t)
	b, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	defer b.Close()
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)

	va := a.Verifier()
	require.NoError(t, va.Verify(context.Background(), a.Sign(body), body))
	assert.ErrorIs(t, va.Verify(context.Background(), b.Sign(body), body), pcwebhook.ErrUntrustedCertificateURL)

	// B's signature with A's certificate URL: the key does not match.
	h := b.Sign(body)
	h.Set("X-MS-Certificate-Url", a.CertificateURL())
	assert.ErrorIs(t, va.Verify(context.Background(), h, body), pcwebhook.ErrBadSignature)

	// B's certificate pinned at A's URL: it does not chain to A's root.
	pinned := a.Verifier(pcwebhook.WithPinnedCertificate(a.CertificateURL(), b.Leaf(), b.Intermediate()))
	assert.ErrorIs(t, pinned.Verify(context.Background(), h, body), pcwebhook.ErrUntrustedCertificate)

	// The production policy does not trust the kit.
	prod, err := pcwebhook.NewVerifier()
	require.NoError(t, err)
	assert.ErrorIs(t, prod.Verify(context.Background(), a.Sign(body), body), pcwebhook.ErrUntrustedCertificateURL)
}

func TestVerifierExtraOptions(t *testing.T) {
	s := sharedSender(t)
	body := pcwebhooktest.SampleEvent(pcwebhook.EventTestCreated)
	late := s.Verifier(pcwebhook.WithClock(func() time.Time { return s.Leaf().NotAfter.Add(time.Minute) }))
	assert.ErrorIs(t, late.Verify(context.Background(), s.Sign(body), body), pcwebhook.ErrUntrustedCertificate)

	assert.Panics(t, func() { s.Verifier(pcwebhook.WithClock(nil)) })

	v, err := pcwebhook.NewVerifier(append(s.VerifierOptions(), pcwebhook.WithCacheSize(1))...)
	require.NoError(t, err)
	require.NoError(t, v.Verify(context.Background(), s.Sign(body), body))
}

func TestClose(t *testing.T) {
	s, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	v := s.Verifier()
	s.Close()
	body := []byte(`{"EventName":"test-created"}`)
	assert.ErrorIs(t, v.Verify(context.Background(), s.Sign(body), body), pcwebhook.ErrCertificateUnavailable)
}

func TestSampleEventIsDeterministic(t *testing.T) {
	a := pcwebhooktest.SampleEvent(pcwebhook.EventCreateTransfer)
	b := pcwebhooktest.SampleEvent(pcwebhook.EventCreateTransfer)
	assert.Equal(t, a, b)
	at := time.Date(2024, 2, 3, 4, 5, 6, 123456700, time.FixedZone("x", 3600))
	c := pcwebhooktest.SampleEventAt(pcwebhook.EventCreateTransfer, at)
	assert.False(t, bytes.Equal(a, c))
	assert.Contains(t, string(c), `"ResourceChangeUtcDate":"2024-02-03T03:05:06.1234567+00:00"`)
	ev, err := pcwebhook.ParseEvent(c)
	require.NoError(t, err)
	assert.True(t, at.Equal(ev.ResourceChangeUTCDate))
}
