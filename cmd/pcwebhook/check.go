package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/capread"
	"github.com/partnercenter-go/pcwebhook/internal/certfile"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// checkOptions are the parsed flags of the check command.
type checkOptions struct {
	url     string
	roots   string
	allow   allowFlags
	maxSkew time.Duration
	timeout time.Duration
}

// defaultMaxSkew is the clock difference check tolerates before it fails.
const defaultMaxSkew = time.Minute

// checkDetails is the --help text of check.
const checkDetails = `Checks, before Partner Center's first delivery does, that this host can verify deliveries:

  trust roots   the system has CA certificates (slim images such as scratch or distroless do not)
  reachable     the certificate host answers over HTTPS (DNS, firewall, proxy)
  certificate   the certificate chains to a trusted root, belongs to O=Microsoft Corporation,
                has an RSA key and is valid now
  clock         this host's clock agrees with the certificate server's (its Date header)

Each check prints OK or FAIL with what to do. Exit status 0 when every check passed, 1 when one
failed, 2 for bad usage. It downloads what a Verifier downloads, with the same rules.`

// runCheck checks that this host can verify Partner Center's deliveries: trust roots, the
// certificate host, the chain and organization, and the clock.
func runCheck(ctx context.Context, a *app, args []string) int {
	o, code, ok := a.parseCheck(args)
	if !ok {
		return code
	}
	c := &checker{out: a.stdout}
	fmt.Fprintf(c.out, "Checking that this host can verify Partner Center's deliveries, with the certificate at\n  %s\n\n", o.url)
	rec := a.recordingTransport()
	v, code, ok := a.checkTrustRoots(c, o, rec)
	if !ok {
		return code
	}
	// One download does the rest: reachable, certificate, clock.
	d := fetchCertificate(ctx, v, o, rec)
	if !c.reachable(o.url, d) {
		return c.finish()
	}
	clockWrong := c.clock(d.first, o.maxSkew) // first: it explains a certificate that looks expired
	c.certificate(d, clockWrong)
	return c.finish()
}

// parseCheck parses the flags of check.
func (a *app) parseCheck(args []string) (*checkOptions, int, bool) {
	o := &checkOptions{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "check",
		synopsis: "pcwebhook check [--url URL] [--roots FILE] [--allow-cert-url PREFIX]... [flags]",
		details:  checkDetails,
		noArgs:   true,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.url, "url", pcwebhook.DefaultCertificateURL, "the certificate `URL` to check")
		fs.StringVar(&o.roots, "roots", "", "trust the root certificates in this PEM `file` instead of the system's (like WithRootCAs)")
		o.allow.define(fs)
		fs.DurationVar(&o.maxSkew, "max-skew", defaultMaxSkew, "the clock difference from the certificate server that fails the clock check")
		fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up the download after this `duration`")
	})
	switch {
	case !ok:
		return nil, code, false
	case o.maxSkew <= 0 || o.timeout <= 0:
		return nil, a.usageError(cl, "--max-skew and --timeout must be positive"), false
	}
	return o, 0, true
}

// recordingTransport records the downloads of the check's verifier, made through the
// environment's transport when it has one.
func (a *app) recordingTransport() *recordingTransport {
	rec := &recordingTransport{base: http.DefaultTransport}
	if a.env.downloads != nil && a.env.downloads.Transport != nil {
		rec.base = a.env.downloads.Transport
	}
	return rec
}

// checkTrustRoots builds the verifier, downloading through rt, and reports on its trust roots:
// --roots, or the system's. When the check cannot go on it returns the exit status.
func (a *app) checkTrustRoots(c *checker, o *checkOptions, rt http.RoundTripper) (*pcwebhook.Verifier, int, bool) {
	opts := append([]pcwebhook.VerifierOption{pcwebhook.WithHTTPClient(&http.Client{Transport: rt})}, o.allow.options()...)
	what := "the system's CA certificates are present"
	if o.roots != "" {
		pool, n, err := readRoots(o.roots)
		if err != nil {
			c.fail("trust roots", err.Error(), "give a PEM file of root certificates, or leave --roots out to use the system's")
			return nil, c.finish(), false
		}
		opts = append(opts, pcwebhook.WithRootCAs(pool))
		what = fmt.Sprintf("%d root certificate(s) from %s", n, o.roots)
	}
	v, err := pcwebhook.NewVerifier(opts...)
	switch {
	case errors.Is(err, pcwebhook.ErrNoTrustedRoots):
		// The library's error says what is missing and names the fixes.
		c.fail("trust roots", err.Error(), "the error names the fixes; to check with other roots, give --roots a PEM file of them")
		c.skip("reachable", "certificate", "clock")
		return nil, c.finish(), false
	case err != nil:
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return nil, 2, false
	}
	c.ok("trust roots", what)
	return v, 0, true
}

// certificateDownload is what the check learnt from the verifier's download of the certificate.
type certificateDownload struct {
	err   error                        // what Prefetch returned
	ve    *pcwebhook.VerificationError // err, when it is one
	first *recorded                    // the first request: the certificate's, or nil
}

// fetchCertificate has the verifier download and check the certificate at o.url, as it does
// before a delivery, and returns what happened.
func fetchCertificate(ctx context.Context, v *pcwebhook.Verifier, o *checkOptions, rec *recordingTransport) certificateDownload {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	d := certificateDownload{err: v.Prefetch(ctx, o.url)}
	errors.As(d.err, &d.ve)
	d.first = rec.first()
	return d
}

// reachable reports on the download itself, and whether the other checks can be made.
func (c *checker) reachable(certURL string, d certificateDownload) bool {
	switch {
	case errors.Is(d.err, pcwebhook.ErrUntrustedCertificateURL):
		c.fail("reachable", "the URL is not allowed, so it was not downloaded ("+d.ve.Reason+")",
			"check the URL; for a sovereign cloud or a mirror you trust, add --allow-cert-url with its prefix (WithCertificateURLPrefixes)")
		c.skip("certificate", "clock")
		return false
	case d.first == nil || d.first.err != nil || (d.ve != nil && d.ve.Step == pcwebhook.StepDownload):
		reason := "no answer"
		if d.ve != nil {
			reason = d.ve.Error()
		}
		c.fail("reachable", "cannot download the certificate: "+reason, downloadFix(certURL, d.ve))
	default:
		c.ok("reachable", fmt.Sprintf("downloaded from %s (HTTP %d, %d bytes) in %s", hostOf(certURL), d.first.status, len(d.first.body), d.first.took.Round(time.Millisecond)))
	}
	return true
}

// downloadFix is the library's fix for a certificate that could not be downloaded from certURL:
// ve's own, or when it has none (no VerificationError, or not the receiver's), the one of
// ErrCertificateUnavailable.
func downloadFix(certURL string, ve *pcwebhook.VerificationError) string {
	if fix := ve.Fix(); fix != "" {
		return fix
	}
	unavailable := &pcwebhook.VerificationError{Err: pcwebhook.ErrCertificateUnavailable, Step: pcwebhook.StepDownload, Host: hostOf(certURL)}
	return unavailable.Fix()
}

// clock compares this host's clock with the Date of the certificate server's answer, and
// reports whether it is off by more than maxSkew.
func (c *checker) clock(first *recorded, maxSkew time.Duration) bool {
	switch {
	case first == nil || first.err != nil:
		c.skip("clock")
	case first.date.IsZero():
		c.warn("clock", "the certificate server sent no Date header, so the clock could not be compared")
	default:
		return c.clockSkew(first, maxSkew)
	}
	return false
}

// clockSkew reports on the difference between this host's clock and the server's Date, and
// whether it is more than maxSkew.
func (c *checker) clockSkew(first *recorded, maxSkew time.Duration) bool {
	skew := first.date.Sub(first.at)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	if abs <= maxSkew+time.Second { // Date has a resolution of one second
		c.ok("clock", fmt.Sprintf("within %s of the certificate server's", abs.Round(time.Second)))
		return false
	}
	dir := "behind"
	if skew < 0 {
		dir = "ahead of"
	}
	c.fail("clock", fmt.Sprintf("this host's clock is %s %s the certificate server's (it says %s)", abs.Round(time.Second), dir, first.date.UTC().Format(time.RFC1123)),
		"synchronize the clock (NTP, for example systemd-timesyncd or chrony): certificates are checked at this host's time")
	return true
}

// certificate reports on the downloaded certificate, with the library's fix; a wrong clock is
// named first when it explains the failure.
func (c *checker) certificate(d certificateDownload, clockWrong bool) {
	switch {
	case d.err == nil:
		c.ok("certificate", "trusted: "+describeLeaf(d.first))
	case errors.Is(d.err, pcwebhook.ErrUntrustedCertificate):
		fix := d.ve.Fix()
		if clockWrong && d.ve.Step == pcwebhook.StepCertificateTime {
			fix = "fix the clock first (see above): " + fix
		}
		c.fail("certificate", "not trusted at the "+string(d.ve.Step)+" check: "+d.ve.Error(), fix)
	case d.ve != nil && d.ve.Step == pcwebhook.StepIssuerDownload:
		c.fail("certificate", "its issuer could not be downloaded: "+d.ve.Error(), d.ve.Fix())
	default:
		c.skip("certificate")
	}
}

// checker prints the verdicts and counts the failures. What a verdict says can quote the
// downloaded certificate and the server's errors, so it is printed through termsafe.Text.
type checker struct {
	out      io.Writer
	failures int
}

func (c *checker) ok(name, what string) { c.line("OK", name, what) }

func (c *checker) warn(name, what string) { c.line("WARN", name, what) }

func (c *checker) fail(name, what, fix string) {
	c.failures++
	c.line("FAIL", name, what)
	if fix != "" {
		fmt.Fprintf(c.out, "%s\n", wrap(termsafe.Text("fix: "+fix), 96, "                      "))
	}
}

func (c *checker) skip(names ...string) {
	for _, n := range names {
		c.line("SKIP", n, "not checked (see above)")
	}
}

func (c *checker) line(verdict, name, what string) {
	text := wrap(termsafe.Text(what), 96, "                      ")
	fmt.Fprintf(c.out, "  %-5s %-14s %s\n", verdict, name, strings.TrimLeft(text, " "))
}

// finish prints the summary and returns the exit status.
func (c *checker) finish() int {
	if c.failures > 0 {
		fmt.Fprintf(c.out, "\n%d check(s) failed: until fixed, Partner Center's deliveries cannot be verified here.\n", c.failures)
		return 1
	}
	fmt.Fprintln(c.out, "\nAll checks passed: this host can verify Partner Center's deliveries.")
	return 0
}

// readRoots reads a file of root certificates (PEM, or DER).
func readRoots(name string) (*x509.CertPool, int, error) {
	data, err := readFile(name, 16<<20)
	if err != nil {
		return nil, 0, err
	}
	certs, err := certfile.Parse(data, 0)
	if errors.Is(err, certfile.ErrNoCertificate) {
		return nil, 0, fmt.Errorf("%s holds no certificate", name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, len(certs), nil
}

// hostOf returns the host[:port] of a URL, or the URL itself.
func hostOf(u string) string {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		return u
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// describeLeaf names the downloaded certificate in a few words.
func describeLeaf(r *recorded) string {
	if r == nil {
		return "O=" + pcwebhook.RequiredOrganization
	}
	certs, err := certfile.Parse(r.body, 0)
	if err != nil {
		return "O=" + pcwebhook.RequiredOrganization
	}
	c := certs[0]
	return fmt.Sprintf("CN=%s, O=%s, chains to a trusted root, valid until %s", c.Subject.CommonName,
		pcwebhook.RequiredOrganization, c.NotAfter.UTC().Format("2006-01-02"))
}

// recorded is one request the verifier made, as the check saw it.
type recorded struct {
	status int
	date   time.Time // the server's Date header
	at     time.Time // local time halfway through the request
	took   time.Duration
	body   []byte
	err    error
}

// recordingTransport passes requests on and records each one (body capped), so that the check can
// report on the download the verifier made.
type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []*recorded
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	r := &recorded{err: err, took: time.Since(start), at: start.Add(time.Since(start) / 2)}
	if err == nil {
		r.status = resp.StatusCode
		if d, derr := http.ParseTime(resp.Header.Get("Date")); derr == nil {
			r.date = d
		}
		// One byte past the Verifier's cap, so that it still sees (and reports) a file too large.
		body, rerr := capread.Read(resp.Body, int64(pcwebhook.DefaultMaxCertificateBytes)+1, resp.ContentLength)
		if capread.IsTooLarge(rerr) {
			rerr = nil
		}
		resp.Body.Close()
		r.body = body
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
	}
	t.mu.Lock()
	t.reqs = append(t.reqs, r)
	t.mu.Unlock()
	return resp, err
}

// first returns the first request recorded (the certificate itself), or nil.
func (t *recordingTransport) first() *recorded {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.reqs) == 0 {
		return nil
	}
	return t.reqs[0]
}

// errReader returns err (or io.EOF) on every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}
