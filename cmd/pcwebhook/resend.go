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

// resendFlags are the flags of the resend command.
type resendFlags struct {
	headers   string
	body      string
	urls      stringList
	count     int
	msHeader  bool
	configDir string
}

// resendInput is what resend sends: the exact body, the headers, and how they were obtained.
type resendInput struct {
	body   []byte
	header http.Header
	source string // for the banner: "captures/x (the capture's signature ...)"
}

// runResend posts the same bytes again: a saved delivery with its own signature, or a body file
// signed by the development CA, to one URL or several, as often as asked.
func runResend(ctx context.Context, a *app, args []string) int {
	f := &resendFlags{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "resend",
		synopsis: "pcwebhook resend (CAPTURE | --headers FILE --body FILE | --body FILE) [--url URL]... [--count N] [flags]",
		details: `Posts the same bytes again, as Partner Center does when it retries a delivery: to test that a
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

Exits 1 unless every copy got a 2xx answer.`,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&f.headers, "headers", "", "the `file` of captured headers (with --body)")
		fs.StringVar(&f.body, "body", "", "the `file` of the exact body bytes; alone, it is signed by the development CA")
		fs.Var(&f.urls, "url", "a `URL` to post to; repeat it for several replicas (default "+defaultTriggerURL+")")
		fs.IntVar(&f.count, "count", 1, "how many copies to send to each URL")
		fs.BoolVar(&f.msHeader, "ms-signature-header", false, "with --body alone: sign in x-ms-signature instead of Authorization")
		fs.StringVar(&f.configDir, "config-dir", "", "the configuration `directory` holding dev/ (default: $"+configDirEnv+", or the user's configuration directory/pcwebhook)")
	})
	if !ok {
		return code
	}
	switch {
	case cl.NArg() > 1:
		return a.usageError(cl, "give one CAPTURE at most: "+strings.Join(cl.args, " "))
	case cl.NArg() == 1 && (f.headers != "" || f.body != ""):
		return a.usageError(cl, "give a CAPTURE or --headers/--body, not both")
	case cl.NArg() == 0 && f.body == "":
		return a.usageError(cl, "give a CAPTURE saved by \"pcwebhook listen --save\", or --body FILE")
	case f.count < 1:
		return a.usageError(cl, "--count must be at least 1")
	case f.msHeader && (cl.NArg() == 1 || f.headers != ""):
		return a.usageError(cl, "--ms-signature-header signs a --body alone; a capture keeps its own signature headers")
	}
	if cl.NArg() == 1 {
		f.headers, f.body = captureFiles(cl.Arg(0))
	}
	urls := []string(f.urls)
	if len(urls) == 0 {
		urls = []string{defaultTriggerURL}
	}
	targets := make([]*url.URL, 0, len(urls))
	for _, s := range urls {
		u, ok := targetURL(s)
		if !ok {
			return a.usageError(cl, fmt.Sprintf("--url %q is not an absolute http or https URL", s))
		}
		targets = append(targets, u)
	}

	in, code, ok := a.resendInput(f)
	if !ok {
		return code
	}
	fmt.Fprintf(a.stdout, "Resending %s\n", in.source)
	fmt.Fprintf(a.stdout, "  %d bytes, %s\n", len(in.body), describeBody(in.body))
	if in.header.Get(pcwebhook.HeaderAuthorization) == "" && in.header.Get(pcwebhook.HeaderMSSignature) == "" {
		fmt.Fprintf(a.stderr, "pcwebhook: warning: there is no signature header (%s or %s): a receiver answers 401\n",
			pcwebhook.HeaderAuthorization, pcwebhook.HeaderMSSignature)
	}
	fmt.Fprintln(a.stdout)

	client := &http.Client{Timeout: 30 * time.Second}
	sent, failed := 0, 0
	refused := map[string]bool{} // hosts where nothing listens, hinted once
	for copyNo := 1; copyNo <= f.count; copyNo++ {
		for _, target := range targets {
			sent++
			status, reply, elapsed, err := postSigned(ctx, client, target.String(), in.header, in.body)
			if err != nil {
				failed++
				fmt.Fprintf(a.stdout, "POST %s  copy %d/%d  -> failed: %s\n", target, copyNo, f.count, termsafe.Text(err.Error()))
				if ctx.Err() != nil {
					fmt.Fprintf(a.stderr, "pcwebhook: stopped after %d of %d copies\n", sent, f.count*len(targets))
					return 1
				}
				if errors.Is(err, syscall.ECONNREFUSED) && !refused[target.Host] {
					refused[target.Host] = true
					fmt.Fprintf(a.stderr, "pcwebhook: nothing listens at %s\n", target.Host)
				}
				continue
			}
			if status < 200 || status > 299 {
				failed++
			}
			fmt.Fprintf(a.stdout, "POST %s  copy %d/%d  -> %d %s  %s  %q  (%s)\n", target, copyNo, f.count,
				status, http.StatusText(status), answerMeaning(status), reply, elapsed.Round(100*time.Microsecond))
		}
	}
	if failed > 0 {
		fmt.Fprintf(a.stderr, "pcwebhook: %d of %d copies were not acknowledged with 2xx\n", failed, sent)
		return 1
	}
	return 0
}

// captureFiles returns the headers and body files of a capture of "listen --save", named by its
// common path or by either file.
func captureFiles(name string) (headers, body string) {
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".headers"), ".body")
	return base + ".headers", base + ".body"
}

// resendInput reads the body, and the captured headers or a development signature.
func (a *app) resendInput(f *resendFlags) (*resendInput, int, bool) {
	body, err := readFile(f.body, maxResendBody)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: the body: %v\n", err)
		return nil, 2, false
	}
	if f.headers != "" {
		data, err := readFile(f.headers, maxHeaderFile)
		if err != nil {
			fmt.Fprintf(a.stderr, "pcwebhook: the headers: %v\n", err)
			return nil, 2, false
		}
		captured, _, err := parseHeaderFile(data)
		if err != nil {
			fmt.Fprintf(a.stderr, "pcwebhook: the headers %s: %v\n", f.headers, err)
			return nil, 2, false
		}
		header := capturedSignature(captured)
		source := fmt.Sprintf("%s and %s, with the captured signature", f.headers, f.body)
		if u := header.Get(pcwebhook.HeaderCertificateURL); u != "" {
			source += " (certificate " + termsafe.Text(u) + ")"
		}
		return &resendInput{body: body, header: header, source: source}, 0, true
	}
	ca, code, ok := a.signingCA(f.configDir)
	if !ok {
		return nil, code, false
	}
	header, err := ca.sign(body, f.msHeader)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return nil, 1, false
	}
	header.Set("User-Agent", "pcwebhook-resend/"+pcwebhook.Version)
	return &resendInput{body: body, header: header,
		source: fmt.Sprintf("%s, signed by the development CA in %s", f.body, ca.dir)}, 0, true
}

// capturedSignature returns the headers of a capture that resend sends again: Content-Type
// (application/json when the capture has none) and the signature headers, as listen --forward
// passes them on.
func capturedSignature(captured http.Header) http.Header {
	h := http.Header{}
	ct := captured.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	for _, k := range forwardedHeaders() {
		if vs := captured.Values(k); len(vs) > 0 {
			h[k] = append([]string(nil), vs...)
		}
	}
	h.Set("User-Agent", "pcwebhook-resend/"+pcwebhook.Version)
	return h
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

// answerMeaning says what Partner Center makes of an answer's status.
func answerMeaning(status int) string {
	switch {
	case status >= 200 && status <= 299:
		return "acknowledged"
	case status >= 500:
		return "failed, Partner Center retries"
	default:
		return "refused, Partner Center does not retry"
	}
}

// targetURL parses s, which must be an absolute http or https URL.
func targetURL(s string) (*url.URL, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return u, true
}
