package pcwebhook

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/certcache"
)

// Both certificate paths use one certcache.Loader: positive cache with per-entry windows, failure
// cache, single flight, forced reloads at most once per interval. What differs is a parameter:
//
//   - leaf keys are stored when the whole check passed, and may be reloaded when a signature
//     fails with a cached key (key rotation in place);
//   - issuer files are Deferred: stored only once they built a valid chain (issuerCommit), and a
//     chain that fails with them is remembered as their failure.
//
// Conditions of the moment (the download queue full, every caller gone) are never remembered.

// leafEntry is the cached state of one certificate URL: the key its certificate holds, and,
// after a rotation check replaced that key, the previous one, still accepted until its own entry
// would have expired (a retry of a delivery signed before the rotation verifies).
type leafEntry struct {
	key *rsa.PublicKey
	// seq is the number of the load that downloaded key: loads are numbered in the order they
	// start, so a key whose seq is above a request's arrival number was fetched after the request
	// arrived (see verifierState.verify).
	seq uint64
	// expires is when this entry's cache window ends (the earliest NotAfter of the chain, or the
	// maximum age).
	expires time.Time
	// prev is the key that a rotation check replaced, accepted until prevUntil; nil when none.
	prev      *rsa.PublicKey
	prevUntil time.Time
}

// previous returns the previous key while it is still accepted at now, else nil.
func (e *leafEntry) previous(now time.Time) *rsa.PublicKey {
	if e.prev != nil && now.Before(e.prevUntil) {
		return e.prev
	}
	return nil
}

// newKeyLoader returns the loader of signing keys, per certificate URL.
func newKeyLoader(cfg *verifierConfig) *certcache.Loader[*leafEntry] {
	return certcache.NewLoader[*leafEntry](certcache.LoaderOptions{
		Size: cfg.cacheSize, Now: cfg.now, FailureTTL: cfg.failureTTL, Cacheable: cacheableFailure,
		RefreshInterval: cfg.rotationInterval,
	})
}

// newIssuerLoader returns the loader of issuer certificates, per AIA URL.
func newIssuerLoader(cfg *verifierConfig) *certcache.Loader[[]*x509.Certificate] {
	return certcache.NewLoader[[]*x509.Certificate](certcache.LoaderOptions{
		Size: cfg.cacheSize, Now: cfg.now, FailureTTL: cfg.failureTTL, Cacheable: cacheableFailure,
		Deferred: true, RefreshInterval: cfg.rotationInterval,
	})
}

// cacheableFailure says whether a load's failure is about the URL (remembered for the failure
// TTL) rather than about the moment: a full download queue, a wait for a slot that timed out, or
// nobody waiting any more.
func cacheableFailure(err error) bool {
	var ve *VerificationError
	if errors.As(err, &ve) {
		switch ve.Reason {
		case reasonQueueFull, reasonSlotWait, reasonAbandoned:
			return false
		}
	}
	return true
}

// leafKey returns the verified entry of the certificate URL u: from the cache when an entry is
// valid at the clock's time, else from the failure cache, else by loading it once for all
// concurrent callers. The caller waits at most until ctx ends. A URL that verified before gets
// its download ahead of never-seen URLs.
func (st *verifierState) leafKey(ctx context.Context, u *strictURL) (*leafEntry, error) {
	now := st.cfg.now()
	if e, ok := st.keys.Get(u.canonical, now); ok {
		st.stats.cacheHits.Add(1)
		return e, nil
	}
	if err, ok := st.keys.Failure(u.canonical, now); ok {
		st.stats.failureCacheHits.Add(1)
		return nil, errorFromWait(err, StepDownload, u.authority())
	}
	e, err := st.keys.Load(ctx, u.canonical, st.leafLoad(u, false))
	if err != nil {
		return nil, errorFromWait(err, StepDownload, u.authority())
	}
	return e, nil
}

// rotationCheck is called when a signature matches neither key of the cached entry of u. It
// downloads the certificate again, unless a rotation check of u was made less than the rotation
// interval ago; the download runs to its end even when the caller stops waiting. It returns the
// entry cached after the check (which another caller's check may have replaced), or the check's
// failure.
func (st *verifierState) rotationCheck(ctx context.Context, u *strictURL) (*leafEntry, error) {
	e, _, err := st.keys.Reload(ctx, u.canonical, st.leafLoad(u, true))
	if err != nil {
		return nil, errorFromWait(err, StepDownload, u.authority())
	}
	if e == nil {
		// Inside the interval, and the cached entry expired meanwhile.
		return nil, &VerificationError{Step: StepDownload, Reason: reasonCheckedRecently, Host: u.authority(), Err: ErrCertificateUnavailable}
	}
	return e, nil
}

// leafLoad returns the load of u's certificate: download (or pin), parse, check, chain. A
// rotation check's load keeps the key it replaces as the previous key of the new entry.
func (st *verifierState) leafLoad(u *strictURL, rotation bool) certcache.LoadFunc[*leafEntry] {
	target := *u
	priority := st.keys.Known(u.canonical)
	return func(ctx context.Context) (*leafEntry, time.Time, time.Time, error) {
		seq := st.loads.Add(1)
		if rotation {
			st.stats.rotationChecks.Add(1)
		}
		now := st.cfg.now()
		key, notBefore, expires, verr := st.fetchAndCheckLeaf(ctx, &target, now, priority)
		if verr != nil {
			if verr.Host == "" {
				verr.Host = target.authority()
			}
			return nil, notBefore, expires, verr
		}
		e := &leafEntry{key: key, seq: seq, expires: expires}
		if old, ok := st.keys.Get(target.canonical, now); ok && rotation {
			switch {
			case !old.key.Equal(key):
				e.prev, e.prevUntil = old.key, old.expires
			case old.previous(now) != nil:
				e.prev, e.prevUntil = old.prev, old.prevUntil
			}
		}
		return e, notBefore, expires, nil
	}
}

// fetchAndCheckLeaf downloads (or takes the pinned) certificate of u and runs every certificate
// check. It returns the key and the window in which it may be used from the cache: inside the
// validity of every certificate of the chain and no longer than the maximum age. ctx ends when
// nobody waits any more: it may stop a download from starting, never one in progress.
func (st *verifierState) fetchAndCheckLeaf(ctx context.Context, u *strictURL, now time.Time, priority bool) (*rsa.PublicKey, time.Time, time.Time, *VerificationError) {
	var zero time.Time
	certs, pinned := st.pinned[u.canonical]
	if !pinned {
		data, verr := st.download(ctx, u, StepDownload, &st.stats.certDownloads, priority)
		if verr != nil {
			return nil, zero, zero, verr
		}
		// The download is done: what follows finishes for the cache even if nobody waits.
		ctx = context.WithoutCancel(ctx)
		if certs, verr = parseCertificates(data, StepParse); verr != nil {
			return nil, zero, zero, verr
		}
	}
	leaf := certs[0]
	if verr := checkLeaf(leaf); verr != nil {
		return nil, zero, zero, verr
	}
	notBefore, notAfter, verr := st.verifyChain(ctx, leaf, certs[1:], now, priority)
	if verr != nil {
		return nil, zero, zero, verr
	}
	expires := now.Add(st.cfg.maxAge)
	if notAfter.Before(expires) {
		expires = notAfter
	}
	return leaf.PublicKey.(*rsa.PublicKey), notBefore, expires, nil
}

// issuerFetch is an issuer file downloaded (not taken from the cache) while building one chain.
type issuerFetch struct {
	key   string
	certs []*x509.Certificate
}

// issuerCertificates returns the certificates found at the issuer URL u: from the cache (fresh is
// false), else the remembered failure, else downloaded once for all concurrent callers (fresh is
// true: the caller stores them with issuerCommit once they built a valid chain).
func (st *verifierState) issuerCertificates(ctx context.Context, u *strictURL, priority bool) (certs []*x509.Certificate, fresh bool, _ *VerificationError) {
	now := st.cfg.now()
	if certs, ok := st.issuers.Get(u.canonical, now); ok {
		return certs, false, nil
	}
	if err, ok := st.issuers.Failure(u.canonical, now); ok {
		return nil, false, errorFromWait(err, StepIssuerDownload, u.authority())
	}
	target := *u
	certs, err := st.issuers.Load(ctx, u.canonical, func(ctx context.Context) ([]*x509.Certificate, time.Time, time.Time, error) {
		certs, verr := st.fetchIssuer(ctx, &target, priority)
		if verr != nil {
			verr.Host = target.authority()
			return nil, time.Time{}, time.Time{}, verr
		}
		return certs, time.Time{}, time.Time{}, nil
	})
	if err != nil {
		return nil, false, errorFromWait(err, StepIssuerDownload, u.authority())
	}
	return certs, true, nil
}

// issuerCommit stores the issuer files downloaded for a chain: until the earliest NotAfter among
// each file's certificates or the maximum age when the chain verified (verr nil), or else as a
// failure for the failure TTL.
func (st *verifierState) issuerCommit(fetched []issuerFetch, now time.Time, verr *VerificationError) {
	for _, f := range fetched {
		if verr != nil {
			continue // a chain verdict is the leaf's, not the issuer file's
		}
		notBefore, notAfter := chainWindow(f.certs)
		expires := now.Add(st.cfg.maxAge)
		if notAfter.Before(expires) {
			expires = notAfter
		}
		st.issuers.Add(f.key, f.certs, notBefore, expires)
	}
}

func (st *verifierState) fetchIssuer(ctx context.Context, u *strictURL, priority bool) ([]*x509.Certificate, *VerificationError) {
	data, verr := st.download(ctx, u, StepIssuerDownload, &st.stats.issuerDownloads, priority)
	if verr != nil {
		return nil, verr
	}
	return parseCertificates(data, StepIssuerDownload)
}
