package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// diagnoseInput is what diagnose may use besides the error. Every field is optional: listen
// passes nothing and uses only the summary.
type diagnoseInput struct {
	dev      bool        // the verifier trusted the development CA
	ca       *devCA      // with dev
	prefixes []string    // the certificate URL allow-list in force
	header   http.Header // the request's headers
	at       time.Time   // the verifier's clock, when --at was given
	body     []byte
	// reverify verifies a changed body with the same headers and verifier; nil skips the search
	// for what changed.
	reverify func(body []byte) bool
}

// diagnosis explains a verification failure in plain words.
type diagnosis struct {
	summary string   // one sentence: what is wrong
	details []string // paragraphs: why, and what to do
}

// diagnose explains err, an error of Verifier.Verify: which check failed, why in plain words,
// and the fix. There is one diagnosis per sentinel and step.
func diagnose(err error, in diagnoseInput) diagnosis {
	var ve *pcwebhook.VerificationError
	if !errors.As(err, &ve) {
		return diagnosis{summary: err.Error()}
	}
	switch {
	case errors.Is(err, pcwebhook.ErrMissingSignature):
		return diagnoseMissingSignature(ve, in)
	case errors.Is(err, pcwebhook.ErrUnsupportedAlgorithm):
		return diagnoseAlgorithm(ve, in)
	case errors.Is(err, pcwebhook.ErrMissingCertificateURL):
		return diagnoseMissingCertificateURL(ve)
	case errors.Is(err, pcwebhook.ErrUntrustedCertificateURL):
		return diagnoseCertificateURL(ve, in)
	case errors.Is(err, pcwebhook.ErrCertificateNotFound):
		return diagnoseCertificateNotFound()
	case errors.Is(err, pcwebhook.ErrSignatureUnconfirmed):
		return diagnoseUnconfirmed(ve)
	case errors.Is(err, pcwebhook.ErrCertificateUnavailable):
		return diagnoseUnavailable(ve, in)
	case errors.Is(err, pcwebhook.ErrUntrustedCertificate):
		return diagnoseCertificate(ve, in)
	case errors.Is(err, pcwebhook.ErrBadSignature) && ve.Step == pcwebhook.StepSignatureFormat:
		return diagnoseMalformedSignature(ve)
	case errors.Is(err, pcwebhook.ErrBadSignature):
		return diagnoseBadSignature(in)
	}
	return diagnosis{summary: err.Error()}
}

// diagnoseMissingCertificateURL explains ErrMissingCertificateURL.
func diagnoseMissingCertificateURL(ve *pcwebhook.VerificationError) diagnosis {
	return diagnosis{
		summary: "the X-MS-Certificate-Url header is missing or unusable (" + ve.Reason + ")",
		details: []string{
			"Partner Center names the certificate that signed the body in X-MS-Certificate-Url, on every delivery. " +
				proxyHint,
		},
	}
}

// diagnoseCertificateNotFound explains ErrCertificateNotFound.
func diagnoseCertificateNotFound() diagnosis {
	return diagnosis{
		summary: "the certificate URL names no certificate (the store answered 404), and none was ever verified there",
		details: []string{
			"Partner Center's deliveries name its published certificate (" + pcwebhook.DefaultCertificateURL + "). " +
				"A request naming another file under the allowed prefix, one that does not exist, was not signed by Partner Center.",
		},
	}
}

// diagnoseUnconfirmed explains ErrSignatureUnconfirmed with the library's fix.
func diagnoseUnconfirmed(ve *pcwebhook.VerificationError) diagnosis {
	return diagnosis{
		summary: "the signature matches no cached certificate, and the certificate could not be downloaded again yet to confirm it (" + ve.Reason + ")",
		details: []string{"A Handler answers 503, so that Partner Center retries.", capitalize(ve.Fix())},
	}
}

// diagnoseMalformedSignature explains ErrBadSignature at the signature-format step.
func diagnoseMalformedSignature(ve *pcwebhook.VerificationError) diagnosis {
	return diagnosis{
		summary: "the signature is malformed (" + ve.Reason + ")",
		details: []string{
			"The signature must be standard base64 of an RSA signature as long as the certificate's key. It was " +
				"truncated, wrapped over several lines, URL-encoded or otherwise altered on the way or in the capture.",
			"Copy the header value exactly as received, on one line.",
		},
	}
}

// proxyHint is the usual reason for a missing header.
const proxyHint = "When it is absent, the headers were stripped or rewritten on the way (a reverse proxy, an API " +
	"gateway, a load balancer or a framework), or the capture left it out: capture the request as the application " +
	"receives it, with every header."

func diagnoseMissingSignature(ve *pcwebhook.VerificationError, in diagnoseInput) diagnosis {
	d := diagnosis{summary: "there is no usable signature (" + ve.Reason + ")"}
	if scheme := authorizationScheme(in.header); scheme != "" && !strings.EqualFold(scheme, "Signature") {
		d.summary = fmt.Sprintf("the Authorization header carries a %q credential, not Partner Center's \"Signature <base64>\"", scheme)
		d.details = append(d.details, "Something between Partner Center and the application replaced the Authorization "+
			"header, typically an API gateway or an authentication middleware that uses it for its own credentials.")
	}
	switch {
	case strings.HasPrefix(ve.Reason, "more than one"):
		d.details = append(d.details, "A request with two signature headers is ambiguous and refused: a proxy added "+
			"one. Make it pass the original header through, once.")
	default:
		d.details = append(d.details,
			"Partner Center signs every delivery: \"Authorization: Signature <base64>\", or an x-ms-signature header "+
				"when the registration has SignatureTokenToMsSignatureHeader set. "+proxyHint,
			"Make the proxy pass Authorization through unchanged, or register with --ms-signature-header so that "+
				"the signature travels in x-ms-signature, which proxies leave alone.")
	}
	return d
}

func diagnoseAlgorithm(ve *pcwebhook.VerificationError, in diagnoseInput) diagnosis {
	got := strings.TrimSpace(in.header.Get(pcwebhook.HeaderSignatureAlgorithm))
	if got == "" || strings.HasPrefix(ve.Reason, "no ") || strings.HasPrefix(ve.Reason, "more than one") {
		return diagnosis{
			summary: "the X-MS-Signature-Algorithm header is missing or repeated (" + ve.Reason + ")",
			details: []string{"Partner Center sends X-MS-Signature-Algorithm: rsa-sha256 with every delivery. " + proxyHint},
		}
	}
	return diagnosis{
		summary: fmt.Sprintf("X-MS-Signature-Algorithm is %q, and only rsa-sha256 is accepted", truncateText(got, 60)),
		details: []string{
			"There is deliberately no fallback to another algorithm: accepting what the request names would let a " +
				"forger pick a weak one. This request was not signed the way Partner Center signs.",
			"If Partner Center has started to use a new algorithm, upgrade pcwebhook.",
		},
	}
}

func diagnoseCertificateURL(ve *pcwebhook.VerificationError, in diagnoseInput) diagnosis {
	raw := strings.TrimSpace(in.header.Get(pcwebhook.HeaderCertificateURL))
	host := ve.Host
	if host == "" {
		host = raw
	}
	allowed := strings.Join(in.prefixes, ", ")
	if allowed == "" {
		allowed = strings.Join(pcwebhook.DefaultCertificateURLPrefixes(), ", ")
	}
	if ve.Reason != "not in the allow-list" {
		return diagnosis{
			summary: fmt.Sprintf("the certificate URL %q is not acceptable: %s", truncateText(raw, 120), ve.Reason),
			details: []string{
				"pcwebhook accepts only plain https URLs (no query, fragment, user name, percent-encoding or dot " +
					"segments), so that what it checks is exactly what it downloads. Partner Center sends plain " +
					"URLs: this one was altered or forged. It was not downloaded.",
			},
		}
	}
	d := diagnosis{
		summary: fmt.Sprintf("certificate URL host %s is not on the allow-list", host),
		details: []string{
			fmt.Sprintf("The certificate URL is %s; the allow-list is %s. The certificate was not downloaded: "+
				"a verifier that downloads whatever URL a request names can be made to fetch anything.", raw, allowed),
		},
	}
	switch {
	case !in.dev && strings.HasPrefix(raw, devCertURLPrefix):
		d.details = append(d.details, "This is a development delivery, signed by \"pcwebhook trigger\": verify it with --dev.")
	case in.dev:
		d.details = append(d.details, "With --dev only the development URL "+devCertURL+" is allowed: this delivery was "+
			"not made by \"pcwebhook trigger\". Leave --dev out to verify a Partner Center delivery.")
	case len(raw) >= 7 && strings.EqualFold(raw[:7], "http://"):
		d.details = append(d.details, "The URL is plain http. Partner Center serves its certificate over https only, and "+
			"pcwebhook never downloads a certificate over http, whatever the allow-list says: a certificate fetched in "+
			"clear can be swapped on the way. Do not try to allow it: this request was altered or forged.")
	default:
		d.details = append(d.details,
			"The request names this host itself, so the host proves nothing: anyone can put any URL in that header. "+
				"Extend the allow-list (--allow-cert-url here, pcwebhook.WithCertificateURLPrefixes in code) only with an "+
				"https prefix that Microsoft documents for your cloud, never with one taken from a request.",
			"If you do not recognize the host, the request is forged.")
	}
	return d
}

func diagnoseUnavailable(ve *pcwebhook.VerificationError, in diagnoseInput) diagnosis {
	what := "the certificate"
	if ve.Step == pcwebhook.StepIssuerDownload {
		what = "the missing issuer certificate"
	}
	cause := ve.Reason
	if ve.Cause != nil {
		cause += ": " + ve.Cause.Error()
	}
	d := diagnosis{
		summary: fmt.Sprintf("could not download %s from %s (%s)", what, orDash(ve.Host), cause),
		details: []string{
			"This is a problem of the receiving side, not of the delivery: a Handler answers 503 and Partner Center " +
				"retries later.",
		},
	}
	if strings.HasSuffix(strings.ToLower(hostOnly(ve.Host)), ".invalid") {
		d.details = append(d.details, "Hosts under .invalid never resolve: this is a development delivery, signed by "+
			"\"pcwebhook trigger\". Verify it with --dev.")
		return d
	}
	d.details = append(d.details, capitalize(ve.Fix()))
	if ve.Step == pcwebhook.StepIssuerDownload {
		d.details = append(d.details, "Issuer certificates come from Microsoft's and DigiCert's public certificate "+
			"stores (www.microsoft.com/pkiops/certs/, cacerts.digicert.com): allow those too.")
	}
	return d
}

// diagnoseCertificate explains ErrUntrustedCertificate: the certificate at an allowed URL fails
// the policy.
func diagnoseCertificate(ve *pcwebhook.VerificationError, in diagnoseInput) diagnosis {
	cause := ""
	if ve.Cause != nil {
		cause = " (" + ve.Cause.Error() + ")"
	}
	switch ve.Step {
	case pcwebhook.StepParse:
		return diagnosis{
			summary: "the certificate URL did not serve a certificate" + cause,
			details: []string{"It answered with something that is neither a DER nor a PEM certificate: an error page, " +
				"or a captive portal or proxy answering in its place. Open the URL from this machine to see what it serves."},
		}
	case pcwebhook.StepOrganization:
		return diagnosis{
			summary: "the signing certificate is not Microsoft's: its Subject Organization is not exactly \"Microsoft Corporation\"",
			details: []string{"Partner Center's certificate belongs to O=Microsoft Corporation. This delivery was signed " +
				"with someone else's certificate: it is forged."},
		}
	case pcwebhook.StepPublicKey:
		return diagnosis{
			summary: "the signing certificate is not usable: " + ve.Reason,
			details: []string{"Partner Center signs with an RSA key of at least 2048 bits held by an end-entity " +
				"certificate. This is not Partner Center's certificate."},
		}
	case pcwebhook.StepCertificateTime:
		return diagnoseCertificateTime(ve, in, cause)
	case pcwebhook.StepIssuerDownload:
		if strings.Contains(ve.Reason, "allow-list") {
			return diagnoseIssuerNotAllowed(ve)
		}
		// No issuer URL to follow: the chain ends at an issuer nobody here knows.
	}
	return diagnoseUnchained(in, cause)
}

// diagnoseCertificateTime explains a certificate that is not valid at the verifier's time.
func diagnoseCertificateTime(ve *pcwebhook.VerificationError, in diagnoseInput, cause string) diagnosis {
	d := diagnosis{summary: "the signing certificate is expired or not yet valid at the verifier's time" + cause}
	when := "now (" + time.Now().UTC().Format(time.RFC3339) + ")"
	if !in.at.IsZero() {
		when = in.at.UTC().Format(time.RFC3339) + " (from --at)"
	}
	d.details = append(d.details, "The verifier's time is "+when+".")
	if in.ca != nil {
		d.details = append(d.details, fmt.Sprintf("The development certificate is valid from %s to %s.",
			in.ca.leaf.NotBefore.UTC().Format(time.RFC3339), in.ca.leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	d.details = append(d.details,
		"If the capture is old, verify it at the time it was received, for example --at 2025-01-31T12:00:00Z: "+
			"Partner Center rotates its certificate. Otherwise "+ve.Fix())
	return d
}

// diagnoseIssuerNotAllowed explains a missing issuer whose URL is outside the issuer allow-list.
func diagnoseIssuerNotAllowed(ve *pcwebhook.VerificationError) diagnosis {
	return diagnosis{
		summary: "the certificate's issuer is missing, and it may not be downloaded (" + ve.Reason + ")",
		details: []string{
			"The certificate file holds only the leaf; the issuer is downloaded from the URL the leaf names (AIA), " +
				"but only from Microsoft's and DigiCert's public certificate stores.",
			"If you trust the issuer's host " + orDash(ve.Host) + ", add it with --allow-issuer-url.",
		},
	}
}

// diagnoseUnchained explains a certificate that does not chain to a trusted root, with the
// library's fix for that.
func diagnoseUnchained(in diagnoseInput, cause string) diagnosis {
	d := diagnosis{summary: "the signing certificate does not chain to a root this machine trusts" + cause}
	if in.dev {
		d.details = append(d.details, "With --dev the only root is the development CA's: its files do not belong "+
			"together. Delete the directory "+devDirName(in)+" and run \"pcwebhook trigger\" again to create a new CA.")
		return d
	}
	unchained := &pcwebhook.VerificationError{Err: pcwebhook.ErrUntrustedCertificate, Step: pcwebhook.StepChain}
	d.details = append(d.details,
		"Partner Center's certificate chains to Microsoft's public roots. "+capitalize(unchained.Fix()),
		"A delivery signed by a test sender (pcwebhooktest) or by anyone else does not chain to them: it is not "+
			"Partner Center's.")
	return d
}

// devDirName names the development CA's directory, for messages.
func devDirName(in diagnoseInput) string {
	if in.ca != nil {
		return in.ca.dir
	}
	return "<config dir>/dev"
}

func diagnoseBadSignature(in diagnoseInput) diagnosis {
	d := diagnosis{
		summary: "the signature does not match the body: the body bytes differ from what was signed",
	}
	if in.reverify != nil {
		for _, v := range bodyVariants(in.body) {
			if in.reverify(v.body) {
				d.details = append(d.details, "Found it: the body verifies "+v.name+". "+v.explain)
				return d
			}
		}
	}
	d.details = append(d.details,
		"The signature covers the exact bytes Partner Center sent. Common causes: the JSON was re-serialized "+
			"(parsed and written back: key order, spaces, escapes change), line endings were changed (CRLF or LF), "+
			"a trailing newline was added or removed, the text was re-encoded (a byte order mark, another charset), "+
			"or a proxy or framework rewrote the body before your code read it.",
		"Verify the raw request body, read before anything parses it; save captures as bytes (for example "+
			"io.Copy to a file, or curl --data-binary @file to replay).")
	if in.dev {
		d.details = append(d.details, "With --dev: or the delivery was signed by another development CA (another "+
			"--config-dir, or another machine).")
	} else {
		d.details = append(d.details, "If the body is intact, the request is forged.")
	}
	return d
}

// bodyVariant is a plausible accidental change to undo when looking for what changed a body.
type bodyVariant struct {
	name, explain string
	body          []byte
}

// bodyVariants returns the bodies that differ from body by one common accident.
func bodyVariants(body []byte) []bodyVariant {
	var out []bodyVariant
	add := func(name, explain string, b []byte) {
		if !bytes.Equal(b, body) {
			out = append(out, bodyVariant{name: name, explain: explain, body: b})
		}
	}
	add("once its trailing newline is removed",
		"The file gained a newline after the capture (an editor, echo, or a logging tool adds one). Use the bytes as received.",
		bytes.TrimRight(body, "\r\n"))
	add("with a trailing newline added",
		"The capture dropped the newline the body ended with. Use the bytes as received.",
		append(bytes.Clone(body), '\n'))
	add("with CRLF line endings turned into LF",
		"Line endings were converted to CRLF after the capture (Windows editors, git autocrlf).",
		bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))
	if !bytes.Contains(body, []byte("\r\n")) {
		add("with LF line endings turned into CRLF",
			"Line endings were converted to LF after the capture (an editor, git, or copying from a terminal).",
			bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n")))
	}
	add("without its UTF-8 byte order mark",
		"A byte order mark was added when the file was saved (some Windows editors do).",
		bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		add("as compact JSON",
			"The JSON was pretty-printed or re-formatted after it arrived (a log viewer, jq, an editor). Capture the raw bytes.",
			compact.Bytes())
	}
	return out
}

// authorizationScheme returns the scheme of the Authorization header, or "".
func authorizationScheme(h http.Header) string {
	v := strings.TrimSpace(h.Get(pcwebhook.HeaderAuthorization))
	scheme, _, _ := strings.Cut(v, " ")
	return scheme
}

// hostOnly removes the port from host:port.
func hostOnly(hostport string) string {
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
		return hostport[:i]
	}
	return hostport
}
