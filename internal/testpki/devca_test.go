package testpki_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

func writeDevCA(t *testing.T, now time.Time) string {
	t.Helper()
	dir := t.TempDir()
	files, err := testpki.NewDevCAFiles(now)
	require.NoError(t, err)
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	return dir
}

func TestDevCARoundTrip(t *testing.T) {
	now := time.Now()
	dir := writeDevCA(t, now)
	ca, err := testpki.LoadDevCA(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{testpki.Organization}, ca.Leaf.Subject.Organization)
	assert.True(t, ca.Root.IsCA)
	assert.Empty(t, ca.Leaf.IssuingCertificateURL)
	assert.True(t, ca.Leaf.NotAfter.After(now.AddDate(4, 11, 0)), "the leaf lasts five years")
	assert.True(t, ca.Root.NotAfter.After(now.AddDate(9, 11, 0)), "the root ten")

	// What it signs verifies with the root and the pinned leaf, and names the development URL.
	body := []byte(`{"EventName":"test-created"}`)
	h, err := ca.Signer(false).Sign(body)
	require.NoError(t, err)
	assert.Equal(t, testpki.DevCertificateURL, h.Get("X-MS-Certificate-Url"))
	v, err := pcwebhook.NewVerifier(pcwebhook.WithCertificateURLPrefixes(testpki.DevCertificateURLPrefix),
		pcwebhook.WithRootCAs(testpki.Pool(ca.Root)), pcwebhook.WithoutIssuerDownloads(),
		pcwebhook.WithPinnedCertificate(testpki.DevCertificateURL, ca.Leaf))
	require.NoError(t, err)
	require.NoError(t, v.Verify(context.Background(), h, body))

	trust, err := testpki.LoadDevTrust(dir)
	require.NoError(t, err)
	assert.Nil(t, trust.Key, "the public half only")
	assert.True(t, trust.Leaf.Equal(ca.Leaf))
}

func TestDevCABroken(t *testing.T) {
	_, err := testpki.LoadDevCA(filepath.Join(t.TempDir(), "none"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.NotErrorIs(t, err, testpki.ErrBrokenDevCA)

	other := writeDevCA(t, time.Now())
	copyFile := func(dst, src string) {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, data, 0o600))
	}
	for name, breakIt := range map[string]func(dir string){
		"missing key": func(dir string) { require.NoError(t, os.Remove(filepath.Join(dir, testpki.DevKeyFile))) },
		"not PEM": func(dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, testpki.DevRootFile), []byte("x"), 0o600))
		},
		"key of another leaf": func(dir string) {
			copyFile(filepath.Join(dir, testpki.DevKeyFile), filepath.Join(other, testpki.DevKeyFile))
		},
		"leaf of another root": func(dir string) {
			copyFile(filepath.Join(dir, testpki.DevLeafFile), filepath.Join(other, testpki.DevLeafFile))
		},
	} {
		dir := writeDevCA(t, time.Now())
		breakIt(dir)
		_, err := testpki.LoadDevCA(dir)
		assert.ErrorIs(t, err, testpki.ErrBrokenDevCA, name)
		assert.NotErrorIs(t, err, fs.ErrNotExist, name)
	}
}
