package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// maxResendBody bounds the body resend reads: well above what a Handler accepts by default
// (pcwebhook.DefaultMaxBodyBytes), so that a receiver's size limit can be tested too.
const maxResendBody = 1 << 20

// resendOptions are the parsed flags and arguments of the resend command.
type resendOptions struct {
	headers   string
	body      string
	urls      stringList
	count     int
	msHeader  bool
	configDir string

	targets []*url.URL // the parsed --url values, or listen's default
}

// resendInput is what resend sends: the exact body, the headers, and how they were obtained.
type resendInput struct {
	body   []byte
	header http.Header
	source string // for the banner: "captures/x (the capture's signature ...)"
}

// resendDetails is the --help text of resend.
const resendDetails = `Posts the same bytes again, as Partner Center does when it retries a delivery: to test that a
receiver acknowledges a retry without running its callbacks twice ("already handled"), also
across replicas that share a deduplication store.

CAPTURE is a delivery saved by "pcwebhook listen --save DIR": DIR/NAME, or either of its files
NAME.headers and NAME.body. --headers FILE --body FILE name the two files otherwise (the
formats "pcwebhook verify" reads). A capture is sent as it was received: the body byte for byte
with its Content-Type and its signature headers (Authorization or x-ms-signature,
X-MS-Certificate-Url, X-MS-Signature-Algorithm), signed by whoever signed it: Partner Center's
signature verifies anywhere while its certificate is valid, the development CA's where it is
trusted.

--body FILE alone sends that file's exact bytes signed now by the local development CA, as
"pcwebhook trigger" signs (the same bytes give the same signature).

Every --url (repeat it for several replicas; default: where "pcwebhook listen" receives) gets
each of --count copies, in turn: copy 1 to every URL, then copy 2... Each answer is printed with
its status, what Partner Center would make of it (acknowledged; refused, not retried; failed,
retried) and the start of its body, quoted.

Exits 1 unless every copy got a 2xx answer.`

// runResend posts the same bytes again: a saved delivery with its own signature, or a body file
// signed by the development CA, to one URL or several, as often as asked.
func runResend(ctx context.Context, a *app, args []string) int {
	o, code, ok := a.parseResend(args)
	if !ok {
		return code
	}
	in, code, ok := a.resendInput(o)
	if !ok {
		return code
	}
	a.printResendInput(in)
	return a.resendCopies(ctx, o, in)
}

// parseResend parses the flags and the CAPTURE of resend.
func (a *app) parseResend(args []string) (*resendOptions, int, bool) {
	o := &resendOptions{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "resend",
		synopsis: "pcwebhook resend (CAPTURE | --headers FILE --body FILE | --body FILE) [--url URL]... [--count N] [flags]",
		details:  resendDetails,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.headers, "headers", "", "the `file` of captured headers (with --body)")
		fs.StringVar(&o.body, "body", "", "the `file` of the exact body bytes; alone, it is signed by the development CA")
		fs.Var(&o.urls, "url", "a `URL` to post to; repeat it for several replicas (default "+defaultTriggerURL+")")
		fs.IntVar(&o.count, "count", 1, "how many copies to send to each URL")
		fs.BoolVar(&o.msHeader, "ms-signature-header", false, "with --body alone: sign in x-ms-signature instead of Authorization")
		defineConfigDir(fs, &o.configDir)
	})
	if !ok {
		return nil, code, false
	}
	if msg := o.usageProblem(cl); msg != "" {
		return nil, a.usageError(cl, msg), false
	}
	if cl.NArg() == 1 {
		o.headers, o.body = captureFiles(cl.Arg(0))
	}
	urls := []string(o.urls)
	if len(urls) == 0 {
		urls = []string{defaultTriggerURL}
	}
	for _, s := range urls {
		u, problem := targetURL("--url", s)
		if problem != "" {
			return nil, a.usageError(cl, problem), false
		}
		o.targets = append(o.targets, u)
	}
	return o, 0, true
}

// usageProblem says what is wrong with the combination of flags and arguments, or "".
func (o *resendOptions) usageProblem(cl *cmdLine) string {
	switch {
	case cl.NArg() > 1:
		return "give one CAPTURE at most: " + strings.Join(cl.args, " ")
	case cl.NArg() == 1 && (o.headers != "" || o.body != ""):
		return "give a CAPTURE or --headers/--body, not both"
	case cl.NArg() == 0 && o.body == "":
		return "give a CAPTURE saved by \"pcwebhook listen --save\", or --body FILE"
	case o.count < 1:
		return "--count must be at least 1"
	case o.msHeader && (cl.NArg() == 1 || o.headers != ""):
		return "--ms-signature-header signs a --body alone; a capture keeps its own signature headers"
	}
	return ""
}

// captureFiles returns the headers and body files of a capture of "listen --save", named by its
// common path or by either file.
func captureFiles(name string) (headers, body string) {
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".headers"), ".body")
	return base + ".headers", base + ".body"
}

// resendInput reads the body, and the captured headers or a development signature.
func (a *app) resendInput(o *resendOptions) (*resendInput, int, bool) {
	body, err := readFile(o.body, maxResendBody)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: the body: %v\n", err)
		return nil, 2, false
	}
	if o.headers != "" {
		return a.capturedInput(o, body)
	}
	return a.devSignedInput(o, body)
}

// capturedInput is body with the signature of the captured headers.
func (a *app) capturedInput(o *resendOptions, body []byte) (*resendInput, int, bool) {
	data, err := readFile(o.headers, maxHeaderFile)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: the headers: %v\n", err)
		return nil, 2, false
	}
	captured, _, err := parseHeaderFile(data)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: the headers %s: %v\n", o.headers, err)
		return nil, 2, false
	}
	header := signatureHeaders(captured, "pcwebhook-resend/"+pcwebhook.Version)
	source := fmt.Sprintf("%s and %s, with the captured signature", o.headers, o.body)
	if u := header.Get(pcwebhook.HeaderCertificateURL); u != "" {
		source += " (certificate " + termsafe.Text(u) + ")"
	}
	return &resendInput{body: body, header: header, source: source}, 0, true
}

// devSignedInput is body signed now by the development CA.
func (a *app) devSignedInput(o *resendOptions, body []byte) (*resendInput, int, bool) {
	ca, code, ok := a.signingCA(o.configDir)
	if !ok {
		return nil, code, false
	}
	header, err := ca.sign(body, o.msHeader)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return nil, 1, false
	}
	header.Set("User-Agent", "pcwebhook-resend/"+pcwebhook.Version)
	return &resendInput{body: body, header: header,
		source: fmt.Sprintf("%s, signed by the development CA in %s", o.body, ca.dir)}, 0, true
}

// signatureHeaders returns the headers of a delivery that listen --forward and resend pass on:
// Content-Type (application/json when there is none), the signature headers, and User-Agent.
func signatureHeaders(delivery http.Header, userAgent string) http.Header {
	h := http.Header{}
	ct := delivery.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	for _, k := range []string{pcwebhook.HeaderAuthorization, pcwebhook.HeaderMSSignature, pcwebhook.HeaderCertificateURL, pcwebhook.HeaderSignatureAlgorithm} {
		if vs := delivery.Values(k); len(vs) > 0 {
			h[k] = append([]string(nil), vs...)
		}
	}
	h.Set("User-Agent", userAgent)
	return h
}

// printResendInput says what is sent, and warns when it carries no signature.
func (a *app) printResendInput(in *resendInput) {
	fmt.Fprintf(a.stdout, "Resending %s\n", in.source)
	fmt.Fprintf(a.stdout, "  %d bytes, %s\n", len(in.body), describeBody(in.body))
	if in.header.Get(pcwebhook.HeaderAuthorization) == "" && in.header.Get(pcwebhook.HeaderMSSignature) == "" {
		fmt.Fprintf(a.stderr, "pcwebhook: warning: there is no signature header (%s or %s): a receiver answers 401\n",
			pcwebhook.HeaderAuthorization, pcwebhook.HeaderMSSignature)
	}
	fmt.Fprintln(a.stdout)
}

// resendTally counts the copies sent and those not acknowledged, and remembers the hosts where
// nothing listens (named once).
type resendTally struct {
	sent, failed int
	refused      map[string]bool
}

// resendCopies sends every copy to every target, in turn, and returns the exit status.
func (a *app) resendCopies(ctx context.Context, o *resendOptions, in *resendInput) int {
	client := &http.Client{Timeout: postTimeout}
	t := &resendTally{refused: map[string]bool{}}
	for copyNo := 1; copyNo <= o.count; copyNo++ {
		for _, target := range o.targets {
			if !a.resendCopy(ctx, client, target, fmt.Sprintf("copy %d/%d", copyNo, o.count), in, t) {
				fmt.Fprintf(a.stderr, "pcwebhook: stopped after %d of %d copies\n", t.sent, o.count*len(o.targets))
				return 1
			}
		}
	}
	if t.failed > 0 {
		fmt.Fprintf(a.stderr, "pcwebhook: %d of %d copies were not acknowledged with 2xx\n", t.failed, t.sent)
		return 1
	}
	return 0
}

// resendCopy posts one copy (named by which) to target and prints the answer; it returns false
// when ctx ended, and nothing more is to be sent.
func (a *app) resendCopy(ctx context.Context, client *http.Client, target *url.URL, which string, in *resendInput, t *resendTally) bool {
	t.sent++
	ans := answerOf(postSigned(ctx, client, target.String(), in.header, in.body))
	a.printPost(target, which, ans, true)
	if !acknowledged(ans.status) {
		t.failed++
	}
	if ans.err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(ans.err, syscall.ECONNREFUSED) && !t.refused[target.Host] {
		t.refused[target.Host] = true
		fmt.Fprintf(a.stderr, "pcwebhook: nothing listens at %s\n", target.Host)
	}
	return true
}

// describeBody names the event a body holds, or says why it holds none.
func describeBody(body []byte) string {
	ev, err := pcwebhook.ParseEvent(body)
	if err != nil {
		return "not a valid event (" + termsafe.Text(strings.TrimPrefix(err.Error(), pcwebhook.ErrMalformedEvent.Error()+": ")) + "): sent anyway"
	}
	if ev.ResourceChangeUTCDate.IsZero() {
		return fmt.Sprintf("event %q", ev.Name)
	}
	return fmt.Sprintf("event %q of %s", ev.Name, ev.ResourceChangeUTCDate.Format(time.RFC3339Nano))
}

// acknowledged reports whether Partner Center takes an answer's status as delivered: a 2xx.
func acknowledged(status int) bool { return status >= 200 && status <= 299 }

// answerMeaning says what Partner Center makes of an answer's status.
func answerMeaning(status int) string {
	switch {
	case acknowledged(status):
		return "acknowledged"
	case status >= 500:
		return "failed, Partner Center retries"
	default:
		return "refused, Partner Center does not retry"
	}
}

// targetURL parses s, the value of flagName (--url, --forward), which must be an absolute http or
// https URL; otherwise it says so in problem.
func targetURL(flagName, s string) (u *url.URL, problem string) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Sprintf("%s %q is not an absolute http or https URL", flagName, s)
	}
	return u, ""
}
