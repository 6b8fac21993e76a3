package pcwebhook

import (
	"errors"
	"strings"
)

// The errors of [Verifier.Verify]. Every error it returns wraps exactly one of them (use
// errors.Is) and is a [*VerificationError] (use errors.As) that says which step failed and why.
//
// Who is at fault decides the answer, and [VerificationError.Transient] says which it is:
//
//   - The sender controls the headers and the body: a missing or garbled header
//     ([ErrMissingSignature], [ErrMissingCertificateURL]), an algorithm other than rsa-sha256
//     ([ErrUnsupportedAlgorithm]), a certificate URL outside the allow-list
//     ([ErrUntrustedCertificateURL]), a malformed signature, or one that does not match the body
//     with a key downloaded after the request arrived ([ErrBadSignature]), a certificate URL that
//     names no certificate and was never seen ([ErrCertificateNotFound]). Not transient: answer
//     401.
//   - Neither side is known to be at fault when a signature matches no cached key and the
//     certificate cannot be downloaded again now to tell a forgery from a certificate replaced
//     at its URL ([ErrSignatureUnconfirmed]). Transient: answer 503, so that a genuine delivery
//     is retried; nothing for the operator to fix.
//   - The receiver is at fault when the certificate cannot be downloaded now
//     ([ErrCertificateUnavailable]) and when the certificate served from an allow-listed URL fails
//     this verifier's policy ([ErrUntrustedCertificate]): only Microsoft can put a file there, so a
//     failure means missing trust roots, a wrong clock, or a policy that needs updating. Transient:
//     answer 5xx so that Partner Center retries once it is fixed, and log
//     [VerificationError.Fix].
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
	// downloaded now: network error, timeout, non-200 answer, redirect, too large, or too many
	// downloads already waiting. Also a nil or unusable Verifier. Transient; retry later.
	ErrCertificateUnavailable = errors.New("pcwebhook: certificate unavailable")
	// ErrUntrustedCertificate: the certificate downloaded from an allow-listed URL (or pinned)
	// could not be parsed, does not chain to a trusted root at the verifier's time, is not valid
	// now, does not belong to O=Microsoft Corporation, has no usable RSA key or a key usage that
	// excludes signatures, or its missing issuer could not be obtained. Only the certificate
	// store's owner can put a file at an allow-listed URL, so this is the receiver's condition
	// (trust roots, clock, policy): transient, see [VerificationError.Fix].
	ErrUntrustedCertificate = errors.New("pcwebhook: untrusted certificate")
	// ErrBadSignature: the signature is malformed, or does not match the body with a key of the
	// certificate downloaded after the request arrived (a signature that does not match a cached
	// key is checked against a fresh download first, so that a certificate replaced at the same
	// URL is picked up at once; see [ErrSignatureUnconfirmed] when that cannot be done).
	ErrBadSignature = errors.New("pcwebhook: bad signature")
	// ErrSignatureUnconfirmed: the signature matches no cached key of the certificate URL, and the
	// certificate could not be downloaded again now to tell a forged signature from one made with
	// a certificate replaced at the same URL (a rotation check was made less than the rotation
	// check interval ago, the download slots are busy, the download failed, or the request ended
	// first). Transient: answer 503, so that a genuine delivery is retried and verified once the
	// new certificate is cached; a forged one fails again. Only a signature checked against a
	// key downloaded after the request arrived is refused for good ([ErrBadSignature]).
	ErrSignatureUnconfirmed = errors.New("pcwebhook: signature unconfirmed")
	// ErrCertificateNotFound: the certificate URL is inside the allow-list but the certificate
	// store answered 404 (no such file), and no certificate was ever verified at that URL (nor is
	// it DefaultCertificateURL, pinned, or given to Prefetch). The request names a certificate
	// that does not exist: the sender's fault, 401. A known URL answering 404 is
	// [ErrCertificateUnavailable] instead.
	ErrCertificateNotFound = errors.New("pcwebhook: certificate not found")
)

// ErrNoTrustedRoots: [NewVerifier] found no trusted root certificate: the system has no CA bundle
// (slim container images such as scratch or distroless), or [WithRootCAs] was given an empty
// pool. Every genuine delivery would fail the chain check, so the Verifier is refused at start-up
// instead. Fixes: install the ca-certificates package (or copy its bundle into the image), pass
// the roots with WithRootCAs, or blank-import golang.org/x/crypto/x509roots/fallback, which
// embeds Mozilla's roots as a fallback.
var ErrNoTrustedRoots = errors.New("pcwebhook: no trusted root certificates")

// noRootsFix is the sentence that names the fixes for ErrNoTrustedRoots.
const noRootsFix = "install the ca-certificates package (or copy /etc/ssl/certs/ca-certificates.crt into the image), " +
	"pass the roots with pcwebhook.WithRootCAs, or blank-import golang.org/x/crypto/x509roots/fallback"

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
	StepCertificateTime VerificationStep = "certificate-time"  // ErrUntrustedCertificate: expired or not yet valid at the clock's time
	StepOrganization    VerificationStep = "organization"      // ErrUntrustedCertificate
	StepPublicKey       VerificationStep = "public-key"        // ErrUntrustedCertificate (also key usage)
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
	if e == nil {
		return "pcwebhook: verification error <nil>"
	}
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
	if e == nil {
		return nil
	}
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Transient reports whether the same request may succeed later: true for
// [ErrCertificateUnavailable] (download failed, queue full, a nil Verifier), for
// [ErrUntrustedCertificate] (the certificate from an allow-listed URL fails the policy: trust
// roots, clock, policy) and for [ErrSignatureUnconfirmed] (the signature could not be checked
// against a fresh download yet). A handler answers 5xx when it is true, so that Partner Center
// retries, and 401 otherwise; [VerificationError.Fix] says what to do about it.
func (e *VerificationError) Transient() bool {
	return e != nil && (errors.Is(e.Err, ErrCertificateUnavailable) || errors.Is(e.Err, ErrUntrustedCertificate) ||
		errors.Is(e.Err, ErrSignatureUnconfirmed))
}

// Fix returns, for a transient failure, one or two sentences for the operator saying how to fix
// it (install trust roots, [WithRootCAs], the clock, [WithPinnedCertificate], the network), meant
// for a log line at ERROR. It returns "" when the failure is the sender's (not transient): there
// is nothing to fix on the receiving side.
func (e *VerificationError) Fix() string {
	if !e.Transient() {
		return ""
	}
	if errors.Is(e.Err, ErrSignatureUnconfirmed) {
		return "nothing to change unless it lasts: a signature matched no cached certificate, which is checked again at most once per " +
			"WithRotationCheckInterval; Partner Center retries, and a certificate replaced at its URL is picked up by that check. " +
			"Forged requests naming Partner Center's certificate URL end here too."
	}
	if errors.Is(e.Err, ErrCertificateUnavailable) {
		switch {
		case e.Step == StepConfiguration:
			return "create the Verifier with pcwebhook.NewVerifier and check its error."
		case e.Reason == reasonQueueFull:
			return "too many certificate downloads are waiting (a flood of requests naming unknown certificate URLs); " +
				"nothing to change unless it lasts: Partner Center retries, and known certificates are served first."
		}
		where := "the certificate host"
		if e.Host != "" {
			where = e.Host
		}
		return "let this host reach " + where + " over HTTPS: DNS, outbound firewall rules, the HTTPS proxy " +
			"(HTTPS_PROXY); Partner Center retries meanwhile. Where downloads are impossible, use WithPinnedCertificate."
	}
	switch e.Step {
	case StepChain:
		return "the certificate does not chain to a root this process trusts: install the system CA bundle " +
			"(the ca-certificates package; slim images such as scratch or distroless lack it), or pass the roots with " +
			"WithRootCAs, or blank-import golang.org/x/crypto/x509roots/fallback. If Microsoft moved to a new CA, " +
			"update the CA bundle."
	case StepCertificateTime:
		return "the certificate is expired or not yet valid at this host's time: check the system clock (NTP). " +
			"If the certificate really expired, WithPinnedCertificate with its replacement bridges the gap."
	case StepIssuerDownload:
		return "the certificate's issuer is missing and may not be downloaded: allow its AIA URL with " +
			"WithIssuerURLPrefixes, or add the intermediate with WithPinnedCertificate or WithRootCAs."
	}
	return "the certificate served at the allow-listed URL no longer meets this verifier's policy (Microsoft changed " +
		"it?): upgrade pcwebhook, and until then pin a certificate you checked with WithPinnedCertificate."
}

// clone returns a copy, so that an error shared through the failure cache or a single flight is
// never mutated by one of its receivers.
func (e *VerificationError) clone() *VerificationError {
	c := *e
	return &c
}

// Reasons of failures that are about the moment, not the URL: never remembered by the failure
// cache.
const (
	// reasonQueueFull: every download slot is taken and the queue is full; answered at once.
	reasonQueueFull = "too many certificate downloads waiting"
	// reasonSlotWait: no download slot freed within the download timeout.
	reasonSlotWait = "too many downloads in progress"
	// reasonAbandoned: every caller stopped waiting before the download started.
	reasonAbandoned = "every caller gave up before the download started"
	// reasonCheckedRecently: a rotation check of the URL was made less than the rotation
	// interval ago, before the request arrived.
	reasonCheckedRecently = "the certificate was checked for a rotation less than the rotation check interval ago"
)

// verificationError builds a *VerificationError; it is on the failure path only.
func verificationError(sentinel error, step VerificationStep, reason string) *VerificationError {
	return &VerificationError{Step: step, Reason: reason, Err: sentinel}
}
