package pcwebhook

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

// Defaults of the production policy used by [NewVerifier] with no options.
const (
	// DefaultCertificateMaxAge is how long a verified certificate is cached at most, even when it
	// is valid for longer, so that a rotated or revoked certificate is picked up within a day.
	DefaultCertificateMaxAge = 24 * time.Hour
	// DefaultDownloadTimeout bounds one certificate or issuer download.
	DefaultDownloadTimeout = 10 * time.Second
	// DefaultMaxCertificateBytes bounds the size of one downloaded certificate file. Real
	// certificates are under 4 KiB.
	DefaultMaxCertificateBytes = 64 << 10
	// DefaultCacheSize is the number of certificate URLs (and, separately, issuer URLs) whose
	// verified keys are cached; Partner Center uses one or two at a time.
	DefaultCacheSize = 32
	// DefaultFailureCacheTTL is how long a failed download or an untrusted certificate is
	// remembered, so that a flood of requests naming it causes no flood of downloads.
	DefaultFailureCacheTTL = 10 * time.Second
	// DefaultMaxConcurrentDownloads bounds the downloads in progress at any time.
	DefaultMaxConcurrentDownloads = 4
	// DefaultMaxQueuedDownloads bounds the downloads waiting for a slot, separately for URLs that
	// verified before and for never-seen URLs; past it a download is refused at once.
	DefaultMaxQueuedDownloads = 16
	// DefaultRotationCheckInterval is the least time between two downloads of a cached
	// certificate made because a signature matched none of its keys (rotation checks).
	DefaultRotationCheckInterval = time.Minute
)

// DefaultCertificateURL is where Partner Center has published its signing certificate since
// 2019; [Verifier.Prefetch] checks it when given no URL. It is inside
// [DefaultCertificateURLPrefixes].
const DefaultCertificateURL = "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer"

// RequiredOrganization is the only accepted Subject Organization (O) of the signing
// certificate: exactly one O attribute with exactly this value. It cannot be changed.
const RequiredOrganization = "Microsoft Corporation"

// DefaultCertificateURLPrefixes returns the allow-list of certificate URLs of the production
// policy: the only location Partner Center has ever documented.
func DefaultCertificateURLPrefixes() []string { return urlpolicy.DefaultCertificatePrefixes() }

// DefaultIssuerURLPrefixes returns the allow-list of the production policy for downloading
// missing issuer certificates (Authority Information Access "CA Issuers" URLs): Microsoft's and
// DigiCert's public certificate stores.
func DefaultIssuerURLPrefixes() []string { return urlpolicy.DefaultIssuerPrefixes() }

// VerifierOption configures a [Verifier]; see [NewVerifier]. An option given an empty or
// invalid value makes NewVerifier fail: no option value ever turns a check off.
type VerifierOption func(*verifierConfig) error

// verifierConfig is what the options set.
type verifierConfig struct {
	certPrefixes     []urlpolicy.Prefix
	issuerPrefixes   []urlpolicy.Prefix
	roots            *x509.CertPool // nil: the system roots, loaded by systemRoots
	systemRoots      func() (*x509.CertPool, error)
	client           *http.Client
	now              func() time.Time
	maxAge           time.Duration
	downloadTimeout  time.Duration
	maxBytes         int64
	cacheSize        int
	failureTTL       time.Duration
	maxDownloads     int
	maxQueued        int
	rotationInterval time.Duration
	pins             []pin
	noMemo           bool // WithoutDeliveryMemo
}

// pin is one WithPinnedCertificate.
type pin struct {
	url   string
	certs []*x509.Certificate
}

// defaultConfig is the production policy.
func defaultConfig() verifierConfig {
	cfg := verifierConfig{
		now:              time.Now,
		systemRoots:      x509.SystemCertPool,
		maxAge:           DefaultCertificateMaxAge,
		downloadTimeout:  DefaultDownloadTimeout,
		maxBytes:         DefaultMaxCertificateBytes,
		cacheSize:        DefaultCacheSize,
		failureTTL:       DefaultFailureCacheTTL,
		maxDownloads:     DefaultMaxConcurrentDownloads,
		maxQueued:        DefaultMaxQueuedDownloads,
		rotationInterval: DefaultRotationCheckInterval,
	}
	for _, p := range DefaultCertificateURLPrefixes() {
		cfg.certPrefixes = append(cfg.certPrefixes, mustPrefix(p, false))
	}
	for _, p := range DefaultIssuerURLPrefixes() {
		cfg.issuerPrefixes = append(cfg.issuerPrefixes, mustPrefix(p, true))
	}
	return cfg
}

// mustPrefix parses a built-in prefix; the defaults are tested, so failure is a programming error.
func mustPrefix(s string, httpAllowed bool) urlpolicy.Prefix {
	p, err := urlpolicy.ParsePrefix(s, httpAllowed)
	if err != nil {
		panic("pcwebhook: bad built-in prefix " + s + ": " + err.Error())
	}
	return p
}

// parsePrefixes validates a list of allow-list entries.
func parsePrefixes(option string, prefixes []string, httpAllowed bool) ([]urlpolicy.Prefix, error) {
	if len(prefixes) == 0 {
		return nil, fmt.Errorf("%s: no prefixes given (an empty allow-list is refused)", option)
	}
	out := make([]urlpolicy.Prefix, 0, len(prefixes))
	for _, s := range prefixes {
		p, err := urlpolicy.ParsePrefix(s, httpAllowed)
		if err != nil {
			return nil, fmt.Errorf("%s: prefix %q: %v", option, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// WithCertificateURLPrefixes replaces the allow-list of certificate URLs (default:
// [DefaultCertificateURLPrefixes]). Use it for sovereign clouds or a mirror. Each prefix is an
// https URL with a host, an optional port and a path: a path ending in "/" admits every URL
// below it, any other path admits exactly that URL. Host and port must match exactly (a missing
// port means 443). A prefix with userinfo, a query, a fragment, percent-encoding, "." or ".."
// segments, or plain http is refused, as is an empty list.
func WithCertificateURLPrefixes(prefixes ...string) VerifierOption {
	return func(c *verifierConfig) error {
		p, err := parsePrefixes("WithCertificateURLPrefixes", prefixes, false)
		if err != nil {
			return err
		}
		c.certPrefixes = p
		return nil
	}
}

// WithIssuerURLPrefixes replaces the allow-list of URLs from which a missing issuer (intermediate)
// certificate may be downloaded, as named by a certificate's Authority Information Access "CA
// Issuers" field (default: [DefaultIssuerURLPrefixes]). The rules are those of
// [WithCertificateURLPrefixes], except that a prefix may use http, as the public certificate
// stores do (a downloaded issuer is only ever used as an intermediate: it must still chain to a
// trusted root). An empty list is refused; to never download issuers use
// [WithoutIssuerDownloads].
func WithIssuerURLPrefixes(prefixes ...string) VerifierOption {
	return func(c *verifierConfig) error {
		p, err := parsePrefixes("WithIssuerURLPrefixes", prefixes, true)
		if err != nil {
			return err
		}
		c.issuerPrefixes = p
		return nil
	}
}

// WithoutIssuerDownloads never downloads missing issuer certificates: the certificate file, the
// pinned certificates and the root pool must then hold the whole chain. Use it on hosts that
// cannot reach the public certificate stores.
func WithoutIssuerDownloads() VerifierOption {
	return func(c *verifierConfig) error {
		c.issuerPrefixes = nil
		return nil
	}
}

// WithRootCAs sets the trusted roots (default: the system roots). A nil pool is refused, and
// [NewVerifier] refuses an empty one ([ErrNoTrustedRoots]): nothing would ever verify.
func WithRootCAs(pool *x509.CertPool) VerifierOption {
	return func(c *verifierConfig) error {
		if pool == nil {
			return errors.New("WithRootCAs: nil pool")
		}
		c.roots = pool
		return nil
	}
}

// WithHTTPClient sets the client used for certificate and issuer downloads (default: a client
// with a copy of http.DefaultTransport). The verifier works on a copy of the client that never
// follows redirects and has no cookie jar; the client's Transport is used as is.
func WithHTTPClient(client *http.Client) VerifierOption {
	return func(c *verifierConfig) error {
		if client == nil {
			return errors.New("WithHTTPClient: nil client")
		}
		c.client = client
		return nil
	}
}

// WithClock sets the clock used for certificate validity and cache expiry (default: time.Now).
// It is meant for tests.
func WithClock(now func() time.Time) VerifierOption {
	return func(c *verifierConfig) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithCertificateMaxAge bounds how long a verified certificate is cached (default
// [DefaultCertificateMaxAge]); an entry never outlives the earliest NotAfter of its chain either.
func WithCertificateMaxAge(d time.Duration) VerifierOption {
	return func(c *verifierConfig) error {
		if d <= 0 {
			return errors.New("WithCertificateMaxAge: duration must be positive")
		}
		c.maxAge = d
		return nil
	}
}

// WithDownloadTimeout bounds each certificate or issuer download (default
// [DefaultDownloadTimeout]). A caller's context that ends sooner stops the caller's wait.
func WithDownloadTimeout(d time.Duration) VerifierOption {
	return func(c *verifierConfig) error {
		if d <= 0 {
			return errors.New("WithDownloadTimeout: duration must be positive")
		}
		c.downloadTimeout = d
		return nil
	}
}

// WithMaxCertificateBytes bounds the size of each downloaded certificate or issuer file
// (default [DefaultMaxCertificateBytes]); a larger answer is not read past the bound and counts
// as [ErrCertificateUnavailable].
func WithMaxCertificateBytes(n int64) VerifierOption {
	return func(c *verifierConfig) error {
		if n <= 0 {
			return errors.New("WithMaxCertificateBytes: size must be positive")
		}
		c.maxBytes = n
		return nil
	}
}

// WithCacheSize sets how many certificate URLs (and, separately, issuer URLs and failures) are
// cached (default [DefaultCacheSize]); the least recently used entry is evicted first.
func WithCacheSize(n int) VerifierOption {
	return func(c *verifierConfig) error {
		if n < 1 {
			return errors.New("WithCacheSize: size must be at least 1")
		}
		c.cacheSize = n
		return nil
	}
}

// WithFailureCacheTTL sets how long a failed download or an untrusted certificate is remembered
// per URL (default [DefaultFailureCacheTTL]). Requests naming that URL meanwhile fail at once,
// without a download.
func WithFailureCacheTTL(d time.Duration) VerifierOption {
	return func(c *verifierConfig) error {
		if d <= 0 {
			return errors.New("WithFailureCacheTTL: duration must be positive")
		}
		c.failureTTL = d
		return nil
	}
}

// WithMaxConcurrentDownloads bounds the downloads in progress at once, across all URLs (default
// [DefaultMaxConcurrentDownloads]). A download waits for a free slot within its timeout, in a
// bounded queue (see [WithMaxQueuedDownloads]).
func WithMaxConcurrentDownloads(n int) VerifierOption {
	return func(c *verifierConfig) error {
		if n < 1 {
			return errors.New("WithMaxConcurrentDownloads: must be at least 1")
		}
		c.maxDownloads = n
		return nil
	}
}

// WithMaxQueuedDownloads bounds the downloads waiting for a free slot (default
// [DefaultMaxQueuedDownloads]), separately for two classes: URLs whose certificate verified
// before, which are served first, and never-seen URLs. When its class's queue is full a download
// is refused at once with [ErrCertificateUnavailable] (the request is answered 503 and retried),
// so that a flood of requests naming fresh file names under the allowed prefix neither piles up
// waiting goroutines nor delays the genuine certificate's refresh. 0 means no waiting at all.
func WithMaxQueuedDownloads(n int) VerifierOption {
	return func(c *verifierConfig) error {
		if n < 0 {
			return errors.New("WithMaxQueuedDownloads: must not be negative")
		}
		c.maxQueued = n
		return nil
	}
}

// WithRotationCheckInterval sets the least time between two rotation checks of a cached
// certificate: downloads made because a signature matched none of its keys (default
// [DefaultRotationCheckInterval]). Other downloads (the first, Prefetch, the refresh when the
// cached entry ends) do not count. A rotation check picks up a certificate replaced at the same
// URL on the first delivery signed with it; the interval bounds what a flood of forged signatures
// costs: one download per URL per interval. Inside the interval, a signature that matches no
// cached key and was not checked against a download made after it arrived is answered
// [ErrSignatureUnconfirmed] (503, retried), never refused for good.
func WithRotationCheckInterval(d time.Duration) VerifierOption {
	return func(c *verifierConfig) error {
		if d <= 0 {
			return errors.New("WithRotationCheckInterval: duration must be positive")
		}
		c.rotationInterval = d
		return nil
	}
}

// WithoutDeliveryMemo turns off the memo of verified deliveries (see [Verifier]): every request's
// signature is then checked with RSA, also an exact repeat of a delivery that verified a moment
// ago. The memo accepts nothing the RSA check would refuse, so this costs speed and buys nothing
// in security; it is for measuring the RSA path and for a policy that requires one RSA check per
// request.
func WithoutDeliveryMemo() VerifierOption {
	return func(c *verifierConfig) error {
		c.noMemo = true
		return nil
	}
}

// WithPinnedCertificate makes the verifier use certs instead of downloading url, for hosts that
// cannot reach the certificate store (air-gapped networks) and for local development. certs[0]
// is the leaf; any others serve as intermediates. The pinned leaf is checked exactly like a
// downloaded one: chain to the trusted roots at the clock's time, Organization, RSA key. url
// must be inside the certificate URL allow-list (NewVerifier fails otherwise) and is matched
// after canonicalization; requests naming any other URL are handled as usual. The option may be
// repeated for different URLs.
func WithPinnedCertificate(url string, certs ...*x509.Certificate) VerifierOption {
	return func(c *verifierConfig) error {
		if len(certs) == 0 {
			return fmt.Errorf("WithPinnedCertificate %q: no certificate given", url)
		}
		for _, cert := range certs {
			if cert == nil {
				return fmt.Errorf("WithPinnedCertificate %q: nil certificate", url)
			}
		}
		c.pins = append(c.pins, pin{url: url, certs: append([]*x509.Certificate(nil), certs...)})
		return nil
	}
}
