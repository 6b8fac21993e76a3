package pcwebhook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/certcache"
	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

// Verifier checks that a request really comes from Partner Center. Create one with
// [NewVerifier] and share it: it is safe for concurrent use, and its certificate cache is what
// keeps verification fast. The zero value uses the production policy, like NewVerifier().
//
// Verify runs these checks, in order, and stops at the first failure:
//
//  1. a signature is present: "Authorization: Signature <base64>", or an x-ms-signature header
//     with or without the "Signature " scheme;
//  2. X-MS-Signature-Algorithm is rsa-sha256 (any letter case); nothing else is accepted;
//  3. X-MS-Certificate-Url is in canonical form and inside the allow-list; nothing is fetched
//     before this check passes;
//  4. the signature is well-formed base64;
//  5. the certificate is taken from the cache, or else downloaded (https, no redirects, a
//     timeout, a size cap; one download per URL however many requests wait for it; a bounded
//     queue for download slots, in which URLs that verified before go first), parsed (DER or
//     PEM; extra PEM certificates are intermediates), and checked: Subject Organization exactly
//     "Microsoft Corporation", an RSA key of at least 2048 bits, not a CA, digitalSignature in
//     its KeyUsage when that is present, and a chain to the trusted roots at the clock's time,
//     downloading a missing issuer from the certificate's AIA URL only when that URL is inside
//     the issuer allow-list;
//  6. the RSA PKCS#1 v1.5 SHA-256 signature matches the raw body bytes, with the certificate's
//     key or, for a while after a rotation, its previous key. When it matches no cached key,
//     the certificate is downloaded again (a rotation check: at most once per URL per rotation
//     interval, and carried to its end even if the caller leaves) and the signature checked
//     against the fresh key, so that a certificate replaced at the same URL is picked up on the
//     first delivery signed with it. A signature is refused for good ([ErrBadSignature], 401)
//     only when it fails against a key downloaded after the request arrived; when no such
//     download can be made now, the answer is [ErrSignatureUnconfirmed] (503, retried).
//
// A delivery whose signature verified is remembered (its body's SHA-256 and its signature, a
// bounded number per certificate, for as long as the certificate's cache entry lasts), so that an
// exact repeat of it (a retry, or a replay flood of one captured delivery) is answered without
// the RSA operation. Only verified deliveries are remembered; a rotation or an expiry of the
// certificate's entry forgets them. [WithoutDeliveryMemo] turns the memo off.
//
// When a rotation check replaces a key, the previous key stays accepted until its own cache
// entry would have ended (never past its chain's NotAfter): a delivery signed just before the
// rotation and retried after it still verifies, and nothing is accepted that would not have been
// before the rotation was noticed.
//
// Cached certificates are used only while the clock is inside the validity of their whole chain
// and for at most the maximum age; failures are cached briefly; issuer certificates are cached
// only once they completed a valid chain. See [VerificationError.Transient] for which failures
// are the sender's (401) and which the receiver's (503, retried).
type Verifier struct {
	once sync.Once
	st   *verifierState
}

// verifierState is the configured verifier; it is built once and never changes.
type verifierState struct {
	cfg    verifierConfig
	client *http.Client // cfg.client copied, redirects disabled
	pinned map[string][]*x509.Certificate
	broken *VerificationError // a zero Verifier whose production policy failed (no roots)
	gate   *certcache.Gate    // download slots and the bounded queue for them

	keys    *certcache.Loader[*leafEntry]          // per certificate URL
	loads   atomic.Uint64                          // numbers the loads of keys, in the order they start
	issuers *certcache.Loader[[]*x509.Certificate] // per issuer (AIA) URL

	// lastURL is the certificate URL of the last request whose certificate was found: a URL that
	// passed the policy and named a certificate that passed every check (forged names never do).
	lastURL atomic.Pointer[acceptedURL]

	// The loads of keys and issuers, made once so that a lookup served from the cache
	// allocates nothing.
	loadLeafFn, reloadLeafFn certcache.LoadFunc[*leafEntry]
	loadIssuerFn             certcache.LoadFunc[[]*x509.Certificate]

	stats verifierCounters
}

// verifierCounters are the atomic counters behind VerifierStats.
type verifierCounters struct {
	verified, rejected, cacheHits, failureCacheHits  atomic.Int64
	certDownloads, issuerDownloads, downloadFailures atomic.Int64
	bytesDownloaded, queueFull, rotationChecks       atomic.Int64
	unconfirmed, previousKeyMatches, memoHits        atomic.Int64
}

// VerifierStats is a snapshot of a Verifier's counters, for metrics and tests.
type VerifierStats struct {
	// Verified counts Verify calls that returned nil.
	Verified int64
	// Rejected counts Verify calls that returned an error.
	Rejected int64
	// CacheHits counts Verify calls that found the certificate's key in the cache.
	CacheHits int64
	// FailureCacheHits counts Verify calls answered from the failure cache, without a download.
	FailureCacheHits int64
	// CertificateDownloads counts HTTP requests made for certificate URLs.
	CertificateDownloads int64
	// IssuerDownloads counts HTTP requests made for issuer (AIA) URLs.
	IssuerDownloads int64
	// DownloadFailures counts downloads that failed: network error, timeout, status other than
	// 200, redirect, or too large.
	DownloadFailures int64
	// BytesDownloaded counts the body bytes read by all downloads.
	BytesDownloaded int64
	// QueueFull counts downloads refused at once because every slot was taken and the queue of
	// their class was full (see [WithMaxQueuedDownloads]).
	QueueFull int64
	// RotationChecks counts certificate downloads made because a signature did not match a cached
	// key (see [WithRotationCheckInterval]).
	RotationChecks int64
	// UnconfirmedSignatures counts Verify calls that returned [ErrSignatureUnconfirmed]: the
	// signature matched no cached key and no fresh download could be made to confirm it.
	UnconfirmedSignatures int64
	// PreviousKeyMatches counts signatures that matched the previous key of a certificate URL,
	// kept through a rotation (deliveries signed before the certificate was replaced).
	PreviousKeyMatches int64
	// MemoHits counts Verify calls that found their delivery (the same body, signature and
	// certificate URL) among the deliveries verified before against the same cached key, and so
	// skipped the RSA operation: replays and retries. The memo holds a bounded number of
	// deliveries per certificate and starts empty when the certificate is downloaded again.
	MemoHits int64
	// CachedCertificates is the number of certificate keys in the cache now, including any that
	// expired but were not looked up since.
	CachedCertificates int
}

// NewVerifier returns a Verifier. With no options it applies the production policy: certificate
// URLs from [DefaultCertificateURLPrefixes], issuers from [DefaultIssuerURLPrefixes], the system
// roots, and the Default* limits. It fails when an option is given an empty or invalid value,
// when a pinned URL is outside the certificate URL allow-list, and when there is no trusted root
// at all ([ErrNoTrustedRoots]: the system has no CA bundle, or WithRootCAs got an empty pool); the
// error then names the fixes. To also check the network and the clock at start-up, call
// [Verifier.Prefetch].
func NewVerifier(opts ...VerifierOption) (*Verifier, error) {
	cfg := defaultConfig()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("pcwebhook: NewVerifier: option %d is nil", i)
		}
		if err := opt(&cfg); err != nil {
			return nil, fmt.Errorf("pcwebhook: NewVerifier: %w", err)
		}
	}
	return newVerifier(cfg)
}

// newVerifier builds a Verifier from a configuration; tests use it to replace the system root
// loader.
func newVerifier(cfg verifierConfig) (*Verifier, error) {
	st, err := newVerifierState(cfg)
	if err != nil {
		return nil, fmt.Errorf("pcwebhook: NewVerifier: %w", err)
	}
	v := &Verifier{}
	v.once.Do(func() { v.st = st })
	return v, nil
}

func newVerifierState(cfg verifierConfig) (*verifierState, error) {
	roots, err := trustedRoots(&cfg)
	if err != nil {
		return nil, err
	}
	cfg.roots = roots
	st := &verifierState{
		cfg:     cfg,
		client:  downloadClient(cfg.client),
		pinned:  make(map[string][]*x509.Certificate, len(cfg.pins)),
		gate:    certcache.NewGate(cfg.maxDownloads, cfg.maxQueued),
		keys:    newKeyLoader(&cfg),
		issuers: newIssuerLoader(&cfg),
	}
	st.loadLeafFn = func(ctx context.Context, key string) (*leafEntry, time.Time, time.Time, error) {
		return st.loadLeaf(ctx, key, false)
	}
	st.reloadLeafFn = func(ctx context.Context, key string) (*leafEntry, time.Time, time.Time, error) {
		return st.loadLeaf(ctx, key, true)
	}
	st.loadIssuerFn = st.loadIssuer
	for _, p := range cfg.pins {
		u, reason := urlpolicy.Match(p.url, cfg.certPrefixes, false)
		if reason != "" {
			return nil, fmt.Errorf("WithPinnedCertificate %q: %s", p.url, reason)
		}
		if _, dup := st.pinned[u.Canonical()]; dup {
			return nil, fmt.Errorf("WithPinnedCertificate %q: URL pinned twice", p.url)
		}
		st.pinned[u.Canonical()] = p.certs
	}
	// Partner Center's own certificate URL, when this allow-list admits it, is known from the
	// start: its download goes ahead of never-seen URLs even before its first success (a flood of
	// fresh names under the prefix must not starve it when the start-up check was skipped or failed).
	if u, reason := urlpolicy.Match(DefaultCertificateURL, cfg.certPrefixes, false); reason == "" {
		st.keys.MarkKnown(u.Canonical())
	}
	return st, nil
}

// trustedRoots returns the root pool of cfg (WithRootCAs, or else the system roots), or an error
// wrapping ErrNoTrustedRoots, naming the fixes, when it holds no certificate.
func trustedRoots(cfg *verifierConfig) (*x509.CertPool, error) {
	if cfg.roots != nil {
		if emptyPool(cfg.roots) {
			return nil, fmt.Errorf("%w: WithRootCAs was given an empty pool: add the roots to trust (or leave WithRootCAs out to use the system's)", ErrNoTrustedRoots)
		}
		return cfg.roots, nil
	}
	pool, err := cfg.systemRoots()
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: the system roots cannot be loaded (%v): %s", ErrNoTrustedRoots, err, noRootsFix)
	case pool == nil || emptyPool(pool):
		return nil, fmt.Errorf("%w: this system has no CA certificates (a slim image such as scratch or distroless?): %s", ErrNoTrustedRoots, noRootsFix)
	}
	return pool, nil
}

// emptyPool reports whether pool holds no certificate. A platform pool (macOS, Windows: verified
// by the operating system) is never empty.
func emptyPool(pool *x509.CertPool) bool { return pool.Equal(x509.NewCertPool()) }

// state returns the configured state, building the production policy for a zero Verifier. When
// that fails (no trusted roots), every Verify answers the configuration error, transient.
func (v *Verifier) state() *verifierState { return v.stateFrom(defaultConfig) }

// stateFrom is state with the configuration a zero Verifier uses; tests replace it.
func (v *Verifier) stateFrom(config func() verifierConfig) *verifierState {
	v.once.Do(func() {
		st, err := newVerifierState(config())
		if err != nil {
			cfg := config()
			cfg.roots = x509.NewCertPool()
			st = &verifierState{
				cfg:    cfg,
				broken: &VerificationError{Step: StepConfiguration, Reason: "zero Verifier: production policy unusable", Err: ErrCertificateUnavailable, Cause: err},
				keys:   newKeyLoader(&cfg),
			}
		}
		v.st = st
	})
	return v.st
}

// Verify checks the signature of one request: header is the request's header and body its raw,
// unmodified bytes. It returns nil only when every check passed (see [Verifier]); otherwise a
// [*VerificationError] that wraps one of the Err* sentinels. ctx bounds the wait for a
// certificate download; a download abandoned by one caller completes for the others.
//
// A nil *Verifier returns an error wrapping [ErrCertificateUnavailable]: a server-side
// misconfiguration, so that Partner Center retries once it is fixed.
func (v *Verifier) Verify(ctx context.Context, header http.Header, body []byte) error {
	var digest [sha256.Size]byte
	return v.verify(ctx, header, body, &digest)
}

// verify is Verify, which also leaves the SHA-256 of body in digest when it returns nil, for the
// Handler's delivery key.
func (v *Verifier) verify(ctx context.Context, header http.Header, body []byte, digest *[sha256.Size]byte) error {
	if v == nil {
		return &VerificationError{Step: StepConfiguration, Reason: "nil *Verifier", Err: ErrCertificateUnavailable}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st := v.state()
	if st.broken != nil {
		st.stats.rejected.Add(1)
		return st.broken.clone()
	}
	if err := st.verify(ctx, header, body, digest); err != nil {
		st.stats.rejected.Add(1)
		return err
	}
	st.stats.verified.Add(1)
	return nil
}

// verify is Verify without the bookkeeping; it fills digest once the signature is well-formed.
// The success path allocates nothing beyond what the RSA verification itself needs and, for a
// delivery new to the memo, its record there.
func (st *verifierState) verify(ctx context.Context, header http.Header, body []byte, digest *[sha256.Size]byte) error {
	spellings := otherSpellings(header)
	tok, reason := signatureToken(header, spellings)
	if reason != "" {
		return verificationError(ErrMissingSignature, StepSignatureHeader, reason)
	}
	hash, reason := signatureHash(header, spellings)
	if reason != "" {
		return verificationError(ErrUnsupportedAlgorithm, StepAlgorithm, reason)
	}
	rawURL, reason := certificateURLHeader(header, spellings)
	if reason != "" {
		return verificationError(ErrMissingCertificateURL, StepCertificateURL, reason)
	}
	u, reason := st.certificateURL(rawURL)
	if reason != "" {
		e := verificationError(ErrUntrustedCertificateURL, StepCertificateURL, reason)
		e.Host = u.Authority()
		return e
	}
	var buf [512]byte
	sig, ok := decodeSignature(tok, buf[:])
	if !ok {
		return verificationError(ErrBadSignature, StepSignatureFormat, "signature is not valid base64")
	}
	*digest = sha256.Sum256(body)
	arrival := st.loads.Load() // loads numbered above this one start after the request arrived
	e, err := st.leafKey(ctx, &u)
	if err != nil {
		return err
	}
	if last := st.lastURL.Load(); last == nil || last.raw != rawURL {
		st.lastURL.Store(&acceptedURL{raw: rawURL, u: u})
	}
	if !st.cfg.noMemo && e.memo.contains(digest, sig) {
		st.stats.memoHits.Add(1) // this very delivery verified against this very key before
		return nil
	}
	if st.matches(e, hash, digest, sig) {
		return nil
	}
	if e.seq <= arrival {
		// The key was fetched before the request arrived: the certificate may have been replaced
		// at the same URL since. Check again with a fresh download (at most one per URL per
		// rotation interval) before refusing.
		fresh, cerr := st.rotationCheck(ctx, &u)
		var verr *VerificationError
		if cerr != nil && errors.As(cerr, &verr) && errors.Is(verr.Err, ErrUntrustedCertificate) {
			return verr // the certificate now served fails the policy: the receiver's to fix
		}
		if cerr == nil && fresh != e && st.matches(fresh, hash, digest, sig) {
			return nil
		}
		if cerr != nil || fresh.seq <= arrival {
			// No key fetched since the request arrived: whether the signature is forged or made
			// with a certificate this verifier has not seen yet cannot be told now. A retry can.
			st.stats.unconfirmed.Add(1)
			return unconfirmed(cerr, u.Authority())
		}
		e = fresh
	}
	// The signature was checked against a key downloaded after the request arrived: forged.
	if len(sig) != e.key.Size() {
		return verificationError(ErrBadSignature, StepSignatureFormat, "signature length does not match the key size")
	}
	return verificationError(ErrBadSignature, StepSignature, "signature does not match the body")
}

// acceptedURL is a certificate URL as sent and as the URL policy parsed it.
type acceptedURL struct {
	raw string
	u   urlpolicy.URL
}

// certificateURL checks raw against the certificate URL policy. The URL of the last delivery whose
// certificate was found (nearly every delivery names the same one) is answered without parsing
// it again: the policy's verdict on a string never changes.
func (st *verifierState) certificateURL(raw string) (urlpolicy.URL, string) {
	if last := st.lastURL.Load(); last != nil && last.raw == raw {
		return last.u, ""
	}
	return urlpolicy.Match(raw, st.cfg.certPrefixes, false)
}

// matches reports whether sig is the signature of the body whose SHA-256 is digest by the key of
// e, or by its previous key while that is still accepted. A match with the key itself is
// remembered in e's memo; one with the previous key is not, since that key's acceptance ends
// before the entry does.
func (st *verifierState) matches(e *leafEntry, hash crypto.Hash, digest *[sha256.Size]byte, sig []byte) bool {
	if len(sig) == e.key.Size() && rsa.VerifyPKCS1v15(e.key, hash, digest[:], sig) == nil {
		if !st.cfg.noMemo {
			e.memo.add(digest, sig)
		}
		return true
	}
	if prev := e.previous(st.cfg.now()); prev != nil && len(sig) == prev.Size() && rsa.VerifyPKCS1v15(prev, hash, digest[:], sig) == nil {
		st.stats.previousKeyMatches.Add(1)
		return true
	}
	return false
}

// unconfirmed is the error of a signature that matches no cached key of the certificate at host
// and could not be checked against a fresh download: checkErr is why (nil: a rotation check was
// made recently, before the request arrived). It wraps ErrSignatureUnconfirmed and no other
// sentinel: the download's own failure is told in the reason and the network cause.
func unconfirmed(checkErr error, host string) *VerificationError {
	e := &VerificationError{Step: StepSignature, Host: host, Err: ErrSignatureUnconfirmed}
	const prefix = "signature does not match the cached certificate"
	var verr *VerificationError
	switch {
	case checkErr == nil:
		e.Reason = prefix + ", which was checked for a rotation less than the rotation check interval ago"
	case errors.As(checkErr, &verr):
		e.Reason, e.Cause = prefix+"; checking it again: "+verr.Reason, verr.Cause
	default: // the caller's context ended
		e.Reason, e.Cause = prefix+", and the request ended before the certificate was downloaded again", checkErr
	}
	return e
}

// Prefetch downloads and checks certificates now (with no arguments: [DefaultCertificateURL],
// under a Verifier whose allow-list admits it), so that a start-up check finds missing trust
// roots, a blocked network or a wrong clock before Partner Center's first delivery does. It runs
// every check of [Verifier.Verify] but the signature; keys that pass are cached as by Verify, and
// the URLs it is given count as known from then on, also when their check failed (their
// downloads go ahead of unknown URLs' downloads). A URL already in the cache is not downloaded
// again.
//
// It returns nil when every URL passed, otherwise the [*VerificationError] of the first URL that
// failed, whose [VerificationError.Fix] says what to do. A server should log it and keep serving:
// deliveries meanwhile are answered 503 and retried by Partner Center.
func (v *Verifier) Prefetch(ctx context.Context, certificateURLs ...string) error {
	if v == nil {
		return &VerificationError{Step: StepConfiguration, Reason: "nil *Verifier", Err: ErrCertificateUnavailable}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st := v.state()
	if st.broken != nil {
		return st.broken.clone()
	}
	if len(certificateURLs) == 0 {
		certificateURLs = []string{DefaultCertificateURL}
	}
	var first error
	for _, raw := range certificateURLs {
		u, reason := urlpolicy.Match(raw, st.cfg.certPrefixes, false)
		var err error
		if reason != "" {
			e := verificationError(ErrUntrustedCertificateURL, StepCertificateURL, reason)
			e.Host = u.Authority()
			err = e
		} else {
			st.keys.MarkKnown(u.Canonical()) // the operator vouches for it: first in the queue from now on
			if _, err = st.leafKey(ctx, &u); err == nil {
				continue
			}
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// Stats returns a snapshot of the verifier's counters. A nil Verifier returns zero stats.
func (v *Verifier) Stats() VerifierStats {
	if v == nil {
		return VerifierStats{}
	}
	st := v.state()
	return VerifierStats{
		Verified:              st.stats.verified.Load(),
		Rejected:              st.stats.rejected.Load(),
		CacheHits:             st.stats.cacheHits.Load(),
		FailureCacheHits:      st.stats.failureCacheHits.Load(),
		CertificateDownloads:  st.stats.certDownloads.Load(),
		IssuerDownloads:       st.stats.issuerDownloads.Load(),
		DownloadFailures:      st.stats.downloadFailures.Load(),
		BytesDownloaded:       st.stats.bytesDownloaded.Load(),
		QueueFull:             st.stats.queueFull.Load(),
		RotationChecks:        st.stats.rotationChecks.Load(),
		UnconfirmedSignatures: st.stats.unconfirmed.Load(),
		PreviousKeyMatches:    st.stats.previousKeyMatches.Load(),
		MemoHits:              st.stats.memoHits.Load(),
		CachedCertificates:    st.keys.Len(),
	}
}

// now returns the time on the verifier's clock (see WithClock). The handler uses it so that
// a test clock governs everything.
func (v *Verifier) now() time.Time {
	if v == nil {
		return time.Now()
	}
	return v.state().cfg.now()
}

// errorFromWait turns the error of waiting on a download into a *VerificationError: the
// download's own error as is, or the caller's context ending.
func errorFromWait(err error, step VerificationStep, host string) *VerificationError {
	var ve *VerificationError
	if errors.As(err, &ve) {
		return ve.clone()
	}
	return &VerificationError{Step: step, Reason: "gave up waiting for the download", Host: host, Err: ErrCertificateUnavailable, Cause: err}
}
