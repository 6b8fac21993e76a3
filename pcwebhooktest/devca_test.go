package pcwebhooktest_test

import (
	"bytes"
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

// TestDeprecatedDevelopmentVerifierForwards: the names that moved to pcwebhookdev still work,
// with the same trust and the same errors.
func TestDeprecatedDevelopmentVerifierForwards(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	ca, err := testpki.WriteDevCA(dir, time.Now())
	require.NoError(t, err)

	v, err := pcwebhooktest.DevelopmentVerifier(dir)
	require.NoError(t, err)
	opts, err := pcwebhooktest.DevelopmentVerifierOptions(dir)
	require.NoError(t, err)
	fromOpts, err := pcwebhook.NewVerifier(opts...)
	require.NoError(t, err)
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()
	for _, v := range []*pcwebhook.Verifier{v, fromOpts} {
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v))
		header, err := ca.Signer(false).Sign(body)
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header = header
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	assert.Equal(t, pcwebhookdev.CertificateURL, pcwebhooktest.DevelopmentCertificateURL)

	_, err = pcwebhooktest.DevelopmentVerifier("")
	assert.ErrorIs(t, err, pcwebhookdev.ErrNoDirectory)
	_, err = pcwebhooktest.DevelopmentVerifierOptions(filepath.Join(t.TempDir(), "nothing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
