package pcwebhook

import (
	"errors"
	"strings"
)

// The errors of [Verifier.Verify]. Every error it returns wraps exactly one of them (use
// errors.Is) and is a [*VerificationError] (use errors.As) that says which step failed and why.
//
// [ErrCertificateUnavailable] is the receiver's problem and is transient: answer 5xx so that
// Partner Center retries. Every other one is the sender's problem: answer 401.
var (
	// ErrMissingSignature: neither an Authorization header with the Signature scheme nor an
	// x-ms-signature header carries a signature.
	ErrMissingSignature = errors.New("pcwebhook: missing signature")
	// ErrMissingCertificateURL: the X-MS-Certificate-Url header is absent or empty.
	ErrMissingCertificateURL = errors.New("pcwebhook: missing certificate URL")
	// ErrUnsupportedAlgorithm: X-MS-Signature-Algorithm is absent or is not an allowed algorithm
	// (only rsa-sha256 is).
	ErrUnsupportedAlgorithm = errors.New("pcwebhook: unsupported signature algorithm")
	// ErrUntrustedCertificateURL: the certificate URL is outside the allow-list or is not in
	// canonical form. It was never fetched.
	ErrUntrustedCertificateURL = errors.New("pcwebhook: untrusted certificate URL")
	// ErrCertificateUnavailable: the certificate (or a missing issuer certificate) could not be
	// downloaded now: network error, timeout, non-200 answer, redirect, or too large. Transient;
	// retry later.
	ErrCertificateUnavailable = errors.New("pcwebhook: certificate unavailable")
	// ErrUntrustedCertificate: the certificate could not be parsed, does not chain to a trusted
	// root at the verifier's time, is not valid now, does not belong to O=Microsoft Corporation,
	// or has no usable RSA key.
	ErrUntrustedCertificate = errors.New("pcwebhook: untrusted certificate")
	// ErrBadSignature: the signature is malformed or does not match the body.
	ErrBadSignature = errors.New("pcwebhook: bad signature")
)

// VerificationStep names the check of [Verifier.Verify] that failed, for logs and metrics.
type VerificationStep string

// The steps of [Verifier.Verify], in the order they run.
const (
	StepConfiguration   VerificationStep = "configuration"     // the Verifier itself is unusable (nil)
	StepSignatureHeader VerificationStep = "signature-header"  // ErrMissingSignature
	StepAlgorithm       VerificationStep = "algorithm"         // ErrUnsupportedAlgorithm
	StepCertificateURL  VerificationStep = "certificate-url"   // ErrMissingCertificateURL, ErrUntrustedCertificateURL
	StepSignatureFormat VerificationStep = "signature-format"  // ErrBadSignature (not base64, wrong size)
	StepDownload        VerificationStep = "download"          // ErrCertificateUnavailable
	StepIssuerDownload  VerificationStep = "issuer-download"   // ErrCertificateUnavailable, ErrUntrustedCertificate
	StepParse           VerificationStep = "certificate-parse" // ErrUntrustedCertificate
	StepChain           VerificationStep = "certificate-chain" // ErrUntrustedCertificate
	StepValidity        VerificationStep = "certificate-time"  // ErrUntrustedCertificate
	StepOrganization    VerificationStep = "organization"      // ErrUntrustedCertificate
	StepPublicKey       VerificationStep = "public-key"        // ErrUntrustedCertificate
	StepSignature       VerificationStep = "signature"         // ErrBadSignature
)

// VerificationError is the concrete type of every error returned by [Verifier.Verify]. It is
// meant for logs: it never holds the signature, the body, or any value an attacker could use as an
// oracle; the certificate URL's host may appear.
type VerificationError struct {
	// Step is the check that failed.
	Step VerificationStep
	// Reason says, in a few words, what was wrong.
	Reason string
	// Host is the host (and port, when not the default) of the certificate or issuer URL
	// concerned, when the failure is about one.
	Host string
	// Err is the sentinel: one of the Err* variables of this package.
	Err error
	// Cause is the underlying error (network, x509), when there is one. It is never a
	// cryptographic comparison result.
	Cause error
}

// Error returns "<sentinel>: <step>: <reason>[: <cause>][ (host <host>)]".
func (e *VerificationError) Error() string {
	var b strings.Builder
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("pcwebhook: verification failed")
	}
	if e.Step != "" {
		b.WriteString(": ")
		b.WriteString(string(e.Step))
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	if e.Host != "" {
		b.WriteString(" (host ")
		b.WriteString(e.Host)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel and, when there is one, the cause, so that both errors.Is(err,
// ErrCertificateUnavailable) and errors.Is(err, context.DeadlineExceeded) work.
func (e *VerificationError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Transient reports whether retrying the same request later may succeed: true only for
// [ErrCertificateUnavailable]. A handler answers 5xx when it is true and 401 otherwise.
func (e *VerificationError) Transient() bool { return errors.Is(e.Err, ErrCertificateUnavailable) }

// clone returns a copy, so that an error shared through the failure cache or a single flight is
// never mutated by one of its receivers.
func (e *VerificationError) clone() *VerificationError {
	c := *e
	return &c
}

// verificationError builds a *VerificationError; it is on the failure path only.
func verificationError(sentinel error, step VerificationStep, reason string) *VerificationError {
	return &VerificationError{Step: step, Reason: reason, Err: sentinel}
}
