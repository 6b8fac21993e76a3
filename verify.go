package pcwebhook

// TEMPORARY STUB so the handler compiles before the verify branch lands; replaced by the merge.

import (
	"context"
	"errors"
	"net/http"
	"time"
)

type Verifier struct{ clock func() time.Time }
type VerifierOption func(*Verifier)

func NewVerifier(opts ...VerifierOption) (*Verifier, error) { return &Verifier{}, nil }
func (v *Verifier) Verify(ctx context.Context, header http.Header, body []byte) error {
	return nil
}
func (v *Verifier) now() time.Time {
	if v.clock != nil {
		return v.clock()
	}
	return time.Now()
}
func WithClock(now func() time.Time) VerifierOption { return func(v *Verifier) { v.clock = now } }

var (
	ErrMissingSignature        = errors.New("x")
	ErrMissingCertificateURL   = errors.New("x")
	ErrUnsupportedAlgorithm    = errors.New("x")
	ErrUntrustedCertificateURL = errors.New("x")
	ErrCertificateUnavailable  = errors.New("x")
	ErrUntrustedCertificate    = errors.New("x")
	ErrBadSignature            = errors.New("x")
)
