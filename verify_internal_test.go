package pcwebhook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifierNow: the handler reads the verifier's clock through now().
func TestVerifierNow(t *testing.T) {
	fixed := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	v, err := NewVerifier(WithClock(func() time.Time { return fixed }))
	require.NoError(t, err)
	assert.Equal(t, fixed, v.now())

	var zero Verifier
	assert.WithinDuration(t, time.Now(), zero.now(), time.Minute)
	var nilV *Verifier
	assert.WithinDuration(t, time.Now(), nilV.now(), time.Minute)
}

func TestVerificationErrorText(t *testing.T) {
	e := &VerificationError{Step: StepDownload, Reason: "HTTP status 500", Host: "h.example", Err: ErrCertificateUnavailable}
	assert.Equal(t, "pcwebhook: certificate unavailable: download: HTTP status 500 (host h.example)", e.Error())
	assert.True(t, e.Transient())
	assert.ErrorIs(t, e, ErrCertificateUnavailable)
	assert.False(t, (&VerificationError{Err: ErrBadSignature}).Transient())
}
