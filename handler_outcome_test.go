package pcwebhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The Handler's own stage errors are read before the sentinels they may wrap: a failure of ours
// is never answered as the sender's (4xx drops the event).
func TestClassifyReadsTheHandlersStagesFirst(t *testing.T) {
	untrusted := &VerificationError{Step: StepChain, Reason: "no roots", Err: ErrUntrustedCertificate}
	for _, tc := range []struct {
		err     error
		status  int
		outcome Outcome
	}{
		{fmt.Errorf("%w: %w", errMisconfigured, untrusted), 500, OutcomeMisconfigured},
		{fmt.Errorf("%w: %w", errDedupeStore, fmt.Errorf("decoding the record: %w", ErrMalformedEvent)), 503, OutcomeDedupeStoreError},
		{fmt.Errorf("%w: %w", errDedupeStore, context.DeadlineExceeded), 503, OutcomeDedupeStoreError},
		{&callbackError{event: EventTestCreated, err: untrusted}, 500, OutcomeCallbackError},
		{&callbackError{event: EventTestCreated, err: ErrBodyTooLarge, panicked: true}, 500, OutcomeCallbackPanic},
		{fmt.Errorf("%w: x", errEventAge), 400, OutcomeEventTooOld},
		{errors.New("anything else"), 500, OutcomeCallbackError},
	} {
		v := classify(tc.err)
		assert.Equal(t, tc.status, v.status, "%v", tc.err)
		assert.Equal(t, tc.outcome, v.outcome, "%v", tc.err)
		assert.Equal(t, tc.status, HTTPStatus(tc.err))
		if tc.status >= 500 && tc.outcome != OutcomeDuplicateInProgress {
			assert.Equal(t, slog.LevelError, v.level, "%v", tc.err)
		}
	}
}

// The fix logged for a transient verification failure is the VerificationError's own Fix: the
// remedies are written once, beside the checks.
func TestClassifyLogsTheVerificationFix(t *testing.T) {
	for _, verr := range []*VerificationError{
		{Step: StepDownload, Reason: "timeout", Host: "example.net", Err: ErrCertificateUnavailable},
		{Step: StepChain, Reason: "no roots", Err: ErrUntrustedCertificate},
		{Step: StepCertificateTime, Reason: "expired", Err: ErrUntrustedCertificate},
		{Step: StepOrganization, Reason: "changed", Err: ErrUntrustedCertificate},
	} {
		v := classify(fmt.Errorf("verify: %w", verr))
		assert.Equal(t, 503, v.status, "%v", verr)
		assert.Equal(t, slog.LevelError, v.level)
		assert.NotEmpty(t, v.fix)
		assert.Equal(t, verr.Fix(), v.fix, "%v", verr)
	}
}
