package pcwebhookdev_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/pcwebhookdev"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// Keys come from a shared pool of primes (testpki.SharePrimes): RSA key generation would be
// most of what these tests spend their time on.
func init() { testpki.SharePrimes() }

// writeDevCA writes a development CA into a new directory, as "pcwebhook trigger" does, and
// returns the directory.
func writeDevCA(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dev")
	_, err := testpki.WriteDevCA(dir, time.Now())
	require.NoError(t, err)
	return dir
}

// devSign signs body with the development CA of dir.
func devSign(t testing.TB, dir string, body []byte, msHeader bool) http.Header {
	t.Helper()
	ca, err := testpki.LoadDevCA(dir)
	require.NoError(t, err)
	h, err := ca.Signer(msHeader).Sign(body)
	require.NoError(t, err)
	return h
}

// failingTransport fails every download at once, without a network.
type failingTransport struct{ calls int }

func (f *failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.calls++
	return nil, errors.New("no network in this test")
}

func serve(h http.Handler, body []byte, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
	req.Header = header
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestNewVerifierTrustsTheDevelopmentCA(t *testing.T) {
	dir := writeDevCA(t)
	tr := &failingTransport{}
	v, err := pcwebhookdev.NewVerifier(dir, pcwebhook.WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v))
	var got []string
	h.OnSubscriptionUpdated(func(_ context.Context, e *pcwebhook.SubscriptionEvent) error {
		got = append(got, e.SubscriptionID)
		return nil
	})
	for _, ms := range []bool{false, true} {
		body := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated, IDs: []string{"c", "s"}}.Body()
		rec := serve(h, body, devSign(t, dir, body, ms))
		assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	assert.Equal(t, []string{"s", "s"}, got)
	assert.Zero(t, tr.calls, "the development certificate is pinned: nothing is downloaded")
	assert.Equal(t, testpki.DevCertificateURL, pcwebhookdev.CertificateURL)

	// Another development CA (another machine's) is refused.
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()
	assert.Equal(t, http.StatusUnauthorized, serve(h, body, devSign(t, writeDevCA(t), body, false)).Code)

	// The production allow-list still holds: Partner Center's URL is downloaded (here it fails
	// at once), not refused as foreign.
	prod := devSign(t, dir, body, false)
	prod.Set(pcwebhook.HeaderCertificateURL, pcwebhook.DefaultCertificateURLPrefixes()[0]+"pcnotifications-dispatch.microsoft.com.cer")
	err = v.Verify(context.Background(), prod, body)
	assert.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable)
	assert.Equal(t, 1, tr.calls)
	other := devSign(t, dir, body, false)
	other.Set(pcwebhook.HeaderCertificateURL, "https://pcwebhook-dev.example/cert/dev.cer")
	assert.ErrorIs(t, v.Verify(context.Background(), other, body), pcwebhook.ErrUntrustedCertificateURL)
}

func TestNewVerifierNeedsTheDirectory(t *testing.T) {
	_, err := pcwebhookdev.NewVerifier("")
	assert.ErrorIs(t, err, pcwebhookdev.ErrNoDirectory)
	_, err = pcwebhookdev.VerifierOptions("  ")
	assert.ErrorIs(t, err, pcwebhookdev.ErrNoDirectory)
	_, err = pcwebhookdev.NewVerifier(filepath.Join(t.TempDir(), "nothing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "\"pcwebhook trigger\" creates it")
	dir := writeDevCA(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, testpki.DevRootFile), []byte("junk"), 0o600))
	_, err = pcwebhookdev.VerifierOptions(dir)
	assert.ErrorIs(t, err, testpki.ErrBrokenDevCA)
	// Only the public files are needed.
	dir = writeDevCA(t)
	require.NoError(t, os.Remove(filepath.Join(dir, testpki.DevKeyFile)))
	_, err = pcwebhookdev.VerifierOptions(dir)
	assert.NoError(t, err)
}
