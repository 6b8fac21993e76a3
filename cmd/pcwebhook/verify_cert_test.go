package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// verify --cert checks a captured delivery offline: the certificate comes from the file, nothing
// is downloaded (neither the leaf nor an issuer), and every other check still applies.
func TestVerifyCertOffline(t *testing.T) {
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	defer sender.Close()
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventInvoiceReady, time.Now())
	h := sender.Sign(body)

	dir := t.TempDir()
	chain := filepath.Join(dir, "chain.pem")
	var pemData []byte
	for _, c := range [][]byte{sender.Leaf().Raw, sender.Intermediate().Raw} {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	require.NoError(t, os.WriteFile(chain, pemData, 0o600))
	leafDER := filepath.Join(dir, "leaf.cer")
	require.NoError(t, os.WriteFile(leafDER, sender.Leaf().Raw, 0o600))

	e := testEnv(nil)
	e.roots = sender.RootCAs() // stands in for the system roots that hold Microsoft's

	code, stdout, stderr := verifyCapture(t, e, h, body, "--cert", chain, "--allow-cert-url", sender.CertificateURLPrefix())
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "and the certificate in "+chain+" (offline: nothing is downloaded)")
	assert.Contains(t, stdout, "OK: the signature is valid")
	assert.Zero(t, sender.Downloads(), "the certificate is not downloaded")
	assert.Zero(t, sender.IssuerDownloads(), "nor its issuer")

	// A leaf alone: the issuer would have to be downloaded, and --cert downloads nothing.
	code, stdout, _ = verifyCapture(t, e, h, body, "--cert", leafDER, "--allow-cert-url", sender.CertificateURLPrefix())
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "FAILED")
	assert.Zero(t, sender.Downloads()+sender.IssuerDownloads())

	// The allow-list still applies: the file does not make the request's URL acceptable.
	code, stdout, _ = verifyCapture(t, e, h, body, "--cert", chain)
	assert.Equal(t, 1, code)
	assert.Contains(t, oneLine(stdout), "is not on the allow-list")
	assert.Zero(t, sender.Downloads())

	// The signature still counts.
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] ^= 1
	code, stdout, _ = verifyCapture(t, e, h, tampered, "--cert", chain, "--allow-cert-url", sender.CertificateURLPrefix())
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "FAILED")
}

func TestVerifyCertUsage(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.cer")
	require.NoError(t, os.WriteFile(junk, []byte("not a certificate"), 0o600))
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventInvoiceReady, time.Now())
	code, _, stderr := verifyCapture(t, testEnv(nil), devDelivery(t, body), body, "--cert", junk)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "not a DER or PEM certificate")

	code, _, stderr = verifyCapture(t, testEnv(nil), devDelivery(t, body), body, "--cert", junk, "--dev")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "give --cert or --dev, not both")
}

// An http certificate URL is never offered for the allow-list.
func TestVerifyHTTPCertificateURLNotSuggested(t *testing.T) {
	body := pcwebhooktest.SampleEventAt(pcwebhook.EventInvoiceReady, time.Now())
	h := devDelivery(t, body)
	h.Set(pcwebhook.HeaderCertificateURL, "http://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer")
	code, stdout, _ := verifyCapture(t, testEnv(nil), h, body)
	assert.Equal(t, 1, code)
	out := oneLine(stdout)
	assert.NotContains(t, out, "--allow-cert-url http")
	assert.NotContains(t, out, "add it with")
	assert.Contains(t, out, "plain http")
}
