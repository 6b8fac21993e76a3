package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/capread"
	"github.com/partnercenter-go/pcwebhook/internal/certfile"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// verifyOptions are the parsed flags of the verify command.
type verifyOptions struct {
	trust   trustFlags
	headers string // the file of captured headers
	body    string // the file of the captured body
	cert    string // the certificate file of --cert, or ""
	atText  string // --at as given
	at      time.Time
}

// verifyTimeout bounds the certificate downloads of one verify.
const verifyTimeout = 30 * time.Second

// verifyDetails is the --help text of verify.
const verifyDetails = `Verifies a captured delivery exactly as the Handler would, and when it fails, says which check
failed, why in plain words, and what to do. When it verifies it prints the decoded event and
exits 0; otherwise it exits 1.

--headers is a text file of "Name: value" lines, as saved by curl -D, copied from a log, or from
curl -v; a request or status line may come first, CRLF line endings are fine. --body is the
exact body bytes: one added newline breaks the signature (verify notices that, and says so).

By default it verifies like production (downloading Partner Center's certificate); --dev
verifies a delivery made by "pcwebhook trigger". --at verifies as of that time (RFC 3339, for
example 2025-01-31T12:00:00Z), for captures older than the certificate's validity.

--cert FILE verifies offline: it uses the certificate in FILE (DER, or PEM with the leaf first
and any intermediates after it) as the one X-MS-Certificate-Url names, and downloads nothing,
not even issuers. Everything else is checked as usual: the URL must be on the allow-list, and the
leaf must chain to this system's roots and belong to Microsoft Corporation.`

// runVerify verifies a captured delivery and explains a failure.
func runVerify(ctx context.Context, a *app, args []string) int {
	o, code, ok := a.parseVerify(args)
	if !ok {
		return code
	}
	in, code, ok := a.readCapture(o)
	if !ok {
		return code
	}
	tr, code, ok := a.verifyTrust(o, in.header)
	if !ok {
		return code
	}
	printVerifyPlan(a.stdout, o, in, tr)
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	verr := tr.verifier.Verify(ctx, in.header, in.body)
	if verr != nil {
		printVerifyFailure(a.stdout, verr, diagnose(verr, diagnoseInput{
			dev:      o.trust.dev,
			ca:       tr.ca,
			prefixes: tr.prefixes,
			header:   in.header,
			at:       o.at,
			body:     in.body,
			reverify: func(b []byte) bool { return tr.verifier.Verify(ctx, in.header, b) == nil },
		}))
		return 1
	}
	return printVerified(a.stdout, in.body)
}

// parseVerify parses the flags of verify.
func (a *app) parseVerify(args []string) (*verifyOptions, int, bool) {
	o := &verifyOptions{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "verify",
		synopsis: "pcwebhook verify --headers FILE --body FILE [--cert FILE] [--dev] [--allow-cert-url PREFIX]... [--at TIME] [flags]",
		details:  verifyDetails,
		noArgs:   true,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.headers, "headers", "", "the `file` of captured headers (required)")
		fs.StringVar(&o.body, "body", "", "the `file` of the captured body, exact bytes (required)")
		fs.StringVar(&o.atText, "at", "", "verify as of this `time` (RFC 3339) instead of now")
		fs.StringVar(&o.cert, "cert", "", "verify offline with the certificate in this `file` instead of downloading it")
		o.trust.define(fs)
	})
	switch {
	case !ok:
		return nil, code, false
	case o.headers == "" || o.body == "":
		return nil, a.usageError(cl, "--headers and --body are required"), false
	case o.cert != "" && o.trust.dev:
		return nil, a.usageError(cl, "give --cert or --dev, not both (--dev never downloads anyway)"), false
	}
	if o.atText != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(o.atText))
		if err != nil {
			return nil, a.usageError(cl, fmt.Sprintf("--at %q is not an RFC 3339 time such as 2025-01-31T12:00:00Z", o.atText)), false
		}
		o.at = t
	}
	return o, 0, true
}

// capture is a delivery read from files.
type capture struct {
	header http.Header
	notes  []string // what reading the headers skipped
	body   []byte
}

// readCapture reads the captured headers and body. On failure it prints why and returns the exit
// status: 1 for a body no Handler accepts, 2 for files it cannot use.
func (a *app) readCapture(o *verifyOptions) (*capture, int, bool) {
	headerData, err := readFile(o.headers, maxHeaderFile)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: --headers: %v\n", err)
		return nil, 2, false
	}
	in := &capture{}
	if in.header, in.notes, err = parseHeaderFile(headerData); err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: --headers %s: %v\n", o.headers, err)
		return nil, 2, false
	}
	in.body, err = readFile(o.body, pcwebhook.DefaultMaxBodyBytes)
	switch {
	case capread.IsTooLarge(err):
		fmt.Fprintf(a.stderr, "pcwebhook: --body %s is larger than %d bytes: it is not a Partner Center event (a Handler answers 413)\n",
			o.body, pcwebhook.DefaultMaxBodyBytes)
		return nil, 1, false
	case err != nil:
		fmt.Fprintf(a.stderr, "pcwebhook: --body: %v\n", err)
		return nil, 2, false
	}
	return in, 0, true
}

// verifyTrust builds the verifier of the trust flags; with --cert, one that downloads nothing and
// takes the certificate the captured header names from the file.
func (a *app) verifyTrust(o *verifyOptions, header http.Header) (*trust, int, bool) {
	if o.cert != "" {
		certs, err := readCertificates(o.cert)
		if err != nil {
			fmt.Fprintf(a.stderr, "pcwebhook: --cert %s: %v\n", o.cert, err)
			return nil, 2, false
		}
		o.trust.extra = append(o.trust.extra, pcwebhook.WithoutIssuerDownloads(),
			pcwebhook.WithHTTPClient(&http.Client{Transport: offlineTransport{}}))
		if u := strings.TrimSpace(header.Get(pcwebhook.HeaderCertificateURL)); u != "" && certURLAllowed(u, o.trust.allow.certPrefixes()) {
			o.trust.extra = append(o.trust.extra, pcwebhook.WithPinnedCertificate(u, certs...))
		}
	}
	tr, err := a.buildVerifier(&o.trust, false, o.at)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return nil, 2, false
	}
	return tr, 0, true
}

// printVerifyPlan prints what is verified and how: the signature headers, the body's size, and
// what the verifier trusts.
func printVerifyPlan(out io.Writer, o *verifyOptions, in *capture, tr *trust) {
	fmt.Fprintf(out, "Headers (%s):\n", o.headers)
	for _, note := range in.notes {
		fmt.Fprintf(out, "  (%s)\n", note)
	}
	printSignatureHeaders(out, in.header)
	fmt.Fprintf(out, "Body (%s): %d bytes\n", o.body, len(in.body))
	fmt.Fprintf(out, "Verifying with %s", tr.policy)
	if o.cert != "" {
		fmt.Fprintf(out, " and the certificate in %s (offline: nothing is downloaded)", o.cert)
	}
	if !o.at.IsZero() {
		fmt.Fprintf(out, ", at %s", o.at.UTC().Format(time.RFC3339))
	}
	fmt.Fprint(out, "\n\n")
}

// printVerified prints the event of a genuine delivery and returns the exit status: 1 when the
// body is not a usable event.
func printVerified(out io.Writer, body []byte) int {
	ev, err := pcwebhook.ParseEvent(body)
	if err != nil {
		fmt.Fprintf(out, "The signature is valid, but the body is not a usable event: %s\n", termsafe.Text(err.Error()))
		fmt.Fprintln(out, "A Handler answers 400, and Partner Center does not retry.")
		return 1
	}
	fmt.Fprintln(out, "OK: the signature is valid, and the certificate is trusted: this delivery is genuine.")
	fmt.Fprintf(out, "\nEvent %s\n", termsafe.Text(string(ev.Name)))
	writeEventFields(out, ev, "  ")
	return 0
}

// printVerifyFailure prints the failed check, the error and its diagnosis. The error and the
// diagnosis quote the captured headers and body: escaped before wrap, which would otherwise fold
// their white-space controls into spaces and pass the others through.
func printVerifyFailure(out io.Writer, verr error, d diagnosis) {
	step := ""
	var ve *pcwebhook.VerificationError
	if errors.As(verr, &ve) {
		step = string(ve.Step)
	}
	fmt.Fprintf(out, "FAILED at the %q check: %s\n", step, termsafe.Text(verr.Error()))
	fmt.Fprintf(out, "\n%s\n", wrap(termsafe.Text(capitalize(d.summary)+"."), 96, ""))
	for _, p := range d.details {
		fmt.Fprintf(out, "\n%s\n", wrap(termsafe.Text(p), 96, "  "))
	}
}

// printSignatureHeaders prints the headers verification reads, the signature shortened, the
// values through termsafe.Text.
func printSignatureHeaders(w io.Writer, h http.Header) {
	for _, k := range []string{pcwebhook.HeaderAuthorization, pcwebhook.HeaderMSSignature, pcwebhook.HeaderCertificateURL, pcwebhook.HeaderSignatureAlgorithm} {
		vs := h.Values(k)
		if len(vs) == 0 {
			fmt.Fprintf(w, "  %-25s (absent)\n", k+":")
			continue
		}
		for _, v := range vs {
			if k == pcwebhook.HeaderAuthorization || k == pcwebhook.HeaderMSSignature {
				v = shortenSignature(v)
			}
			fmt.Fprintf(w, "  %-25s %s\n", k+":", termsafe.Text(v))
		}
	}
}

// shortenSignature shows the start and end of a long signature value, and its length.
func shortenSignature(v string) string {
	if len(v) <= 40 {
		return v
	}
	return fmt.Sprintf("%s...%s (%d characters)", v[:20], v[len(v)-8:], len(v))
}

// readFile reads a file of at most max bytes; a larger one is an error wrapping a
// *capread.TooLargeError that names the file, never a silent cut.
func readFile(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := capread.Read(f, max, -1)
	if capread.IsTooLarge(err) {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", name, max, err)
	}
	return data, err
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// wrap breaks text into lines of at most width characters (longer words stay whole), each
// starting with indent.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

// readCertificates reads a certificate file: DER, or PEM with one or more CERTIFICATE blocks.
func readCertificates(name string) ([]*x509.Certificate, error) {
	data, err := readFile(name, 1<<20)
	if err != nil {
		return nil, err
	}
	return certfile.Parse(data, 0)
}

// certURLAllowed reports whether a certificate URL is below one of prefixes, as the Verifier will
// check it; a URL outside is left to the Verifier, which refuses it and says why.
func certURLAllowed(u string, prefixes []string) bool {
	_, err := pcwebhook.NewVerifier(
		pcwebhook.WithCertificateURLPrefixes(prefixes...),
		pcwebhook.WithPinnedCertificate(u, &x509.Certificate{}))
	return err == nil
}

// offlineTransport refuses every request: verify --cert downloads nothing.
type offlineTransport struct{}

// RoundTrip implements http.RoundTripper.
func (offlineTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("offline (--cert): %s was not downloaded", r.URL.Redacted())
}
