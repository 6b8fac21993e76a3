package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/partnercenter-go/pcwebhook"
)

// TestDiagnoseEverySentinel: each error Verify can return gets its own explanation, not the bare
// error text.
func TestDiagnoseEverySentinel(t *testing.T) {
	for sentinel, want := range map[error]string{
		pcwebhook.ErrCertificateNotFound:  "names no certificate",
		pcwebhook.ErrSignatureUnconfirmed: "could not be downloaded again yet",
		pcwebhook.ErrBadSignature:         "",
	} {
		ve := &pcwebhook.VerificationError{Step: pcwebhook.StepSignature, Reason: "some reason", Err: sentinel}
		d := diagnose(ve, diagnoseInput{header: http.Header{}})
		assert.NotEqual(t, ve.Error(), d.summary, "%v has its own diagnosis", sentinel)
		assert.Contains(t, d.summary, want)
		assert.NotEmpty(t, d.details, "%v says what to do", sentinel)
	}
}
