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

// checkFlags are the flags of the check command.
type checkFlags struct {
	url         string
	roots       string
	allowCert   stringList
	allowIssuer stringList
	maxSkew     time.Duration
	timeout     time.Duration
}

// defaultMaxSkew is the clock difference check tolerates before it fails.
const defaultMaxSkew = time.Minute

// runCheck checks that this host can verify Partner Center's deliveries: trust roots, the
// certificate host, the chain and organization, and the clock.
func runCheck(ctx context.Context, a *app, args []string) int {
	f := &checkFlags{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "check",
		synopsis: "pcwebhook check [--url URL] [--roots FILE] [--allow-cert-url PREFIX]... [flags]",
		details: `Checks, before Partner Center's first delivery does, that this host can verify deliveries:

  trust roots   the system has CA certificates (slim images such as scratch or distroless do not)
  reachable     the certificate host answers over HTTPS (DNS, firewall, proxy)
  certificate   the certificate chains to a trusted root, belongs to O=Microsoft Corporation,
                has an RSA key and is valid now
  clock         this host's clock agrees with the certificate server's (its Date header)

Each check prints OK or FAIL with what to do. Exit status 0 when every check passed, 1 when one
failed, 2 for bad usage. It downloads what a Verifier downloads, with the same rules.`,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&f.url, "url", pcwebhook.DefaultCertificateURL, "the certificate `URL` to check")
		fs.StringVar(&f.roots, "roots", "", "trust the root certificates in this PEM `file` instead of the system's (like WithRootCAs)")
		fs.Var(&f.allowCert, "allow-cert-url", "also allow certificate URLs below this https `prefix` (repeatable), e.g. for a sovereign cloud")
		fs.Var(&f.allowIssuer, "allow-issuer-url", "also allow downloading missing issuer certificates below this `prefix` (repeatable)")
		fs.DurationVar(&f.maxSkew, "max-skew", defaultMaxSkew, "the clock difference from the certificate server that fails the clock check")
		fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up the download after this `duration`")
	})
	if !ok {
		return code
	}
	if cl.NArg() > 0 {
		return a.usageError(cl, "unexpected arguments: "+strings.Join(cl.args, " "))
	}
	if f.maxSkew <= 0 || f.timeout <= 0 {
		return a.usageError(cl, "--max-skew and --timeout must be positive")
	}
	c := &checker{out: a.stdout}
	fmt.Fprintf(c.out, "Checking that this host can verify Partner Center's deliveries, with the certificate at\n  %s\n\n", f.url)

	rec := &recordingTransport{base: http.DefaultTransport}
	if a.env.downloads != nil && a.env.downloads.Transport != nil {
		rec.base = a.env.downloads.Transport
	}
	opts := []pcwebhook.VerifierOption{pcwebhook.WithHTTPClient(&http.Client{Transport: rec})}
	if len(f.allowCert) > 0 {
		opts = append(opts, pcwebhook.WithCertificateURLPrefixes(append(pcwebhook.DefaultCertificateURLPrefixes(), f.allowCert...)...))
	}
	if len(f.allowIssuer) > 0 {
		opts = append(opts, pcwebhook.WithIssuerURLPrefixes(append(pcwebhook.DefaultIssuerURLPrefixes(), f.allowIssuer...)...))
	}

	// 1. Trust roots.
	rootsWhat := "the system's CA certificates are present"
	if f.roots != "" {
		pool, n, err := readRoots(f.roots)
		if err != nil {
			c.fail("trust roots", err.Error(), "give a PEM file of root certificates, or leave --roots out to use the system's")
			return c.finish()
		}
		opts = append(opts, pcwebhook.WithRootCAs(pool))
		rootsWhat = fmt.Sprintf("%d root certificate(s) from %s", n, f.roots)
	}
	v, err := pcwebhook.NewVerifier(opts...)
	switch {
	case errors.Is(err, pcwebhook.ErrNoTrustedRoots):
		c.fail("trust roots", "this system has no CA certificates, so no certificate can be trusted ("+err.Error()+")",
			"install the ca-certificates package (in a scratch or distroless image, copy /etc/ssl/certs/ca-certificates.crt), "+
				"or give the roots to pcwebhook.WithRootCAs, or blank-import golang.org/x/crypto/x509roots/fallback in your program")
		c.skip("reachable", "certificate", "clock")
		return c.finish()
	case err != nil:
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return 2
	}
	c.ok("trust roots", rootsWhat)

	// 2-4. One download does the rest: reachable, certificate, clock.
	pctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	perr := v.Prefetch(pctx, f.url)
	var ve *pcwebhook.VerificationError
	errors.As(perr, &ve)
	first := rec.first()

	switch {
	case errors.Is(perr, pcwebhook.ErrUntrustedCertificateURL):
		c.fail("reachable", "the URL is not allowed, so it was not downloaded ("+ve.Reason+")",
			"check the URL; for a sovereign cloud or a mirror you trust, add --allow-cert-url with its prefix (WithCertificateURLPrefixes)")
		c.skip("certificate", "clock")
		return c.finish()
	case first == nil || first.err != nil || (ve != nil && ve.Step == pcwebhook.StepDownload):
		reason := "no answer"
		if ve != nil {
			reason = ve.Error()
		}
		c.fail("reachable", "cannot download the certificate: "+reason,
			"let this host reach "+hostOf(f.url)+" over HTTPS: DNS, the firewall's outbound rules, the HTTPS proxy (HTTPS_PROXY). "+
				"Until then deliveries are answered 503 and Partner Center retries; where downloads are impossible, use WithPinnedCertificate")
	default:
		c.ok("reachable", fmt.Sprintf("downloaded from %s (HTTP %d, %d bytes) in %s", hostOf(f.url), first.status, len(first.body), first.took.Round(time.Millisecond)))
	}

	// The clock first: it explains a certificate that looks expired.
	skewBad := false
	switch {
	case first == nil || first.err != nil:
		c.skip("clock")
	case first.date.IsZero():
		c.warn("clock", "the certificate server sent no Date header, so the clock could not be compared")
	default:
		skew := first.date.Sub(first.at)
		abs := skew
		if abs < 0 {
			abs = -abs
		}
		if abs > f.maxSkew+time.Second { // Date has a resolution of one second
			skewBad = true
			dir := "behind"
			if skew < 0 {
				dir = "ahead of"
			}
			c.fail("clock", fmt.Sprintf("this host's clock is %s %s the certificate server's (it says %s)", abs.Round(time.Second), dir, first.date.UTC().Format(time.RFC1123)),
				"synchronize the clock (NTP, for example systemd-timesyncd or chrony): certificates are checked at this host's time")
		} else {
			c.ok("clock", fmt.Sprintf("within %s of the certificate server's", abs.Round(time.Second)))
		}
	}

	switch {
	case perr == nil:
		c.ok("certificate", "trusted: "+describeLeaf(first))
	case errors.Is(perr, pcwebhook.ErrUntrustedCertificate):
		fix := ve.Fix()
		if skewBad && ve.Step == pcwebhook.StepCertificateTime {
			fix = "fix the clock first (see above): " + fix
		}
		c.fail("certificate", "not trusted at the "+string(ve.Step)+" check: "+ve.Error(), fix)
	case ve != nil && ve.Step == pcwebhook.StepIssuerDownload:
		c.fail("certificate", "its issuer could not be downloaded: "+ve.Error(), ve.Fix())
	default:
		c.skip("certificate")
	}
	return c.finish()
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
