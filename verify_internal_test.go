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

// TestVerificationErrorTransientAndFix: the receiver's conditions are transient and name their
// fix; the sender's are not and have none.
func TestVerificationErrorTransientAndFix(t *testing.T) {
	for _, tc := range []struct {
		err       *VerificationError
		transient bool
		fix       []string
	}{
		{&VerificationError{Step: StepDownload, Host: "h.example", Err: ErrCertificateUnavailable}, true, []string{"h.example", "HTTPS_PROXY"}},
		{&VerificationError{Step: StepDownload, Reason: reasonQueueFull, Err: ErrCertificateUnavailable}, true, []string{"Partner Center retries"}},
		{&VerificationError{Step: StepConfiguration, Err: ErrCertificateUnavailable}, true, []string{"NewVerifier"}},
		{&VerificationError{Step: StepChain, Err: ErrUntrustedCertificate}, true, []string{"ca-certificates", "WithRootCAs", "golang.org/x/crypto/x509roots/fallback"}},
		{&VerificationError{Step: StepCertificateTime, Err: ErrUntrustedCertificate}, true, []string{"clock", "WithPinnedCertificate"}},
		{&VerificationError{Step: StepIssuerDownload, Err: ErrUntrustedCertificate}, true, []string{"WithIssuerURLPrefixes"}},
		{&VerificationError{Step: StepOrganization, Err: ErrUntrustedCertificate}, true, []string{"WithPinnedCertificate"}},
		{&VerificationError{Step: StepParse, Err: ErrUntrustedCertificate}, true, []string{"WithPinnedCertificate"}},
		{&VerificationError{Step: StepSignature, Err: ErrBadSignature}, false, nil},
		{&VerificationError{Step: StepCertificateURL, Err: ErrUntrustedCertificateURL}, false, nil},
		{&VerificationError{Step: StepCertificateURL, Err: ErrMissingCertificateURL}, false, nil},
		{&VerificationError{Step: StepAlgorithm, Err: ErrUnsupportedAlgorithm}, false, nil},
		{&VerificationError{Step: StepSignatureHeader, Err: ErrMissingSignature}, false, nil},
	} {
		assert.Equal(t, tc.transient, tc.err.Transient(), "%v", tc.err)
		if !tc.transient {
			assert.Empty(t, tc.err.Fix(), "%v", tc.err)
		}
		for _, w := range tc.fix {
			assert.Contains(t, tc.err.Fix(), w, "%v", tc.err)
		}
	}
	var nilErr *VerificationError
	assert.False(t, nilErr.Transient())
	assert.Empty(t, nilErr.Fix())
	assert.Equal(t, StepValidity, StepCertificateTime, "the deprecated name keeps its value")
}
