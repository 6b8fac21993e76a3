package pcwebhook_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// TestVerifyAcceptsSenderKit checks the public test kit end to end, both header forms, every
// sample event.
func TestVerifyAcceptsSenderKit(t *testing.T) {
	for _, opts := range [][]pcwebhooktest.SenderOption{nil, {pcwebhooktest.WithMSSignatureHeader()}} {
		s := pcwebhooktest.New(t, opts...)
		v := s.Verifier()
		for _, name := range pcwebhook.KnownEventNames() {
			body := pcwebhooktest.SampleEvent(name)
			require.NoError(t, v.Verify(context.Background(), s.Sign(body), body), name)
		}
		assert.Equal(t, int64(1), s.Downloads())
		assert.Equal(t, int64(1), s.IssuerDownloads())
	}
}

// TestOneDownloadThroughTheKit is the same through pcwebhooktest, whose server counts what it
// served.
func TestOneDownloadThroughTheKit(t *testing.T) {
	s := pcwebhooktest.New(t)
	v := s.Verifier()
	body := pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated)
	h := s.Sign(body)
	for _, err := range concurrently(1000, func() error { return v.Verify(context.Background(), h, body) }) {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), s.Downloads())
	assert.Equal(t, int64(1), s.IssuerDownloads())
	assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
}
