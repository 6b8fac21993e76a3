package pcwebhook

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/certcache"
	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

// Both certificate paths use one certcache.Loader: positive cache with per-entry windows, failure
// cache, single flight, forced reloads at most once per interval. What differs is a parameter:
//
//   - leaf keys are stored when the whole check passed, and may be reloaded when a signature
//     matches no cached key (a rotation check);
//   - issuer files are Deferred: stored only once they built a valid chain (see verify_chain.go);
//     a chain that fails with them is the leaf's verdict, not theirs.
//
// A lookup goes one way: Verify -> leafKey -> Loader.Load (cache, failure cache, or one load) ->
// loadLeaf -> download -> checkCertificate (verify_chain.go: parse, leaf checks, chain, issuers).
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
	// memo holds deliveries whose signature matched key, so that an exact repeat skips the RSA
	// operation. It lives and dies with the entry: a rotation or an expiry starts a new one.
	memo verifiedMemo
}

// previous returns the previous key while it is still accepted at now, else nil.
func (e *leafEntry) previous(now time.Time) *rsa.PublicKey {
	if e.prev != nil && now.Before(e.prevUntil) {
		return e.prev
	}
	return nil
}

// memoSlots is the number of deliveries a leafEntry's memo holds (a power of two).
const memoSlots = 256

// verifiedMemo remembers deliveries (body digest and signature) verified against one key. It is
// filled only by successful RSA verifications and is direct-mapped: a delivery takes the slot its
// digest names, replacing what was there, so it never holds more than memoSlots deliveries. Slots
// are swapped atomically: lookups take no lock. The zero value is an empty memo.
type verifiedMemo struct {
	slots [memoSlots]atomic.Pointer[memoRecord]
}

// memoRecord is one verified delivery: the SHA-256 of its body and its signature (in buf for
// 2048-bit keys, Partner Center's, so that such a record is one allocation).
type memoRecord struct {
	digest [sha256.Size]byte
	sig    []byte
	buf    [256]byte
}

func (m *verifiedMemo) slot(digest *[sha256.Size]byte) *atomic.Pointer[memoRecord] {
	return &m.slots[binary.LittleEndian.Uint64(digest[:8])%memoSlots]
}

// contains reports whether the delivery with this body digest and signature was verified before.
// RSA PKCS#1 v1.5 signatures are deterministic, so the signature must be the very bytes that
// verified.
func (m *verifiedMemo) contains(digest *[sha256.Size]byte, sig []byte) bool {
	r := m.slot(digest).Load()
	return r != nil && r.digest == *digest && bytes.Equal(r.sig, sig)
}

// add records a delivery whose signature has just verified.
func (m *verifiedMemo) add(digest *[sha256.Size]byte, sig []byte) {
	r := &memoRecord{digest: *digest}
	if len(sig) <= len(r.buf) {
		r.sig = r.buf[:copy(r.buf[:], sig)]
	} else {
		r.sig = bytes.Clone(sig)
	}
	m.slot(digest).Store(r)
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
// valid at the clock's time, else the remembered failure, else loaded once for all concurrent
// callers. The caller waits at most until ctx ends.
func (st *verifierState) leafKey(ctx context.Context, u *urlpolicy.URL) (*leafEntry, error) {
	e, src, err := st.keys.Load(ctx, u.Canonical(), st.loadLeafFn)
	switch src {
	case certcache.Cached:
		st.stats.cacheHits.Add(1)
	case certcache.CachedFailure:
		st.stats.failureCacheHits.Add(1)
	}
	if err != nil {
		return nil, errorFromWait(err, StepDownload, u.Authority())
	}
	return e, nil
}

// rotationCheck is called when a signature matches neither key of the cached entry of u. It
// downloads the certificate again, unless a rotation check of u was made less than the rotation
// interval ago; the download runs to its end even when the caller stops waiting. It returns the
// entry cached after the check (which another caller's check may have replaced), or the check's
// failure.
func (st *verifierState) rotationCheck(ctx context.Context, u *urlpolicy.URL) (*leafEntry, error) {
	e, _, err := st.keys.Reload(ctx, u.Canonical(), st.reloadLeafFn)
	if err != nil {
		return nil, errorFromWait(err, StepDownload, u.Authority())
	}
	if e == nil {
		// Inside the interval, and the cached entry expired meanwhile.
		return nil, &VerificationError{Step: StepDownload, Reason: reasonCheckedRecently, Host: u.Authority(), Err: ErrCertificateUnavailable}
	}
	return e, nil
}

// loadLeaf is the load of the certificate at the canonical URL key: download (or pin), parse,
// check, chain. A rotation check's load keeps the key it replaces as the previous key of the new
// entry. URLs that verified before (or that the operator vouched for) are downloaded first.
func (st *verifierState) loadLeaf(ctx context.Context, key string, rotation bool) (*leafEntry, time.Time, time.Time, error) {
	var zero time.Time
	seq := st.loads.Add(1)
	if rotation {
		st.stats.rotationChecks.Add(1)
	}
	u, reason := urlpolicy.Match(key, st.cfg.certPrefixes, false) // key is canonical: this repeats a check that passed
	if reason != "" {
		return nil, zero, zero, verificationError(ErrUntrustedCertificateURL, StepCertificateURL, reason)
	}
	now := st.cfg.now()
	pub, notBefore, expires, verr := st.fetchAndCheckLeaf(ctx, &u, now, st.keys.Known(u.Canonical()))
	if verr != nil {
		return nil, notBefore, expires, withHost(verr, &u)
	}
	e := &leafEntry{key: pub, seq: seq, expires: expires}
	if old, ok := st.keys.Get(u.Canonical(), now); ok && rotation {
		switch {
		case !old.key.Equal(pub):
			e.prev, e.prevUntil = old.key, old.expires
		case old.previous(now) != nil:
			e.prev, e.prevUntil = old.prev, old.prevUntil
		}
	}
	return e, notBefore, expires, nil
}

// withHost is the one rule for the Host of a load's failure: the URL loaded, unless the failure
// already names the host it is about (an issuer's).
func withHost(verr *VerificationError, u *urlpolicy.URL) *VerificationError {
	if verr.Host == "" {
		verr.Host = u.Authority()
	}
	return verr
}

// fetchAndCheckLeaf downloads (or takes the pinned) certificate of u and runs every certificate
// check. It returns the key and the window in which it may be used from the cache: inside the
// validity of every certificate of the chain and no longer than the maximum age. ctx ends when
// nobody waits any more: it may stop a download from starting, never one in progress.
func (st *verifierState) fetchAndCheckLeaf(ctx context.Context, u *urlpolicy.URL, now time.Time, priority bool) (*rsa.PublicKey, time.Time, time.Time, *VerificationError) {
	var zero time.Time
	certs, pinned := st.pinned[u.Canonical()]
	var data []byte
	if !pinned {
		var verr *VerificationError
		if data, verr = st.download(ctx, u, StepDownload, &st.stats.certDownloads, priority); verr != nil {
			return nil, zero, zero, verr
		}
		// The download is done: what follows finishes for the cache even if nobody waits.
		ctx = context.WithoutCancel(ctx)
	}
	key, notBefore, notAfter, verr := st.checkCertificate(ctx, data, certs, now)
	if verr != nil {
		return nil, zero, zero, verr
	}
	expires := now.Add(st.cfg.maxAge)
	if notAfter.Before(expires) {
		expires = notAfter
	}
	return key, notBefore, expires, nil
}
