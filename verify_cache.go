package pcwebhook

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"time"
)

// leafKey returns the verified RSA key for the certificate URL u: from the cache when an entry
// is valid at the clock's time, else from the failure cache, else by loading it once for all
// concurrent callers. The caller waits at most until ctx ends.
func (st *verifierState) leafKey(ctx context.Context, u *strictURL) (*rsa.PublicKey, error) {
	now := st.cfg.now()
	if key, ok := st.keys.Get(u.canonical, now); ok {
		st.stats.cacheHits.Add(1)
		return key, nil
	}
	if verr, ok := st.keyFailures.Get(u.canonical, now); ok {
		st.stats.failureCacheHits.Add(1)
		return nil, verr.clone()
	}
	loadCtx := context.WithoutCancel(ctx)
	target := *u
	call, _ := st.keyFlights.Do(u.canonical, func() (*rsa.PublicKey, error) {
		key, verr := st.loadLeaf(loadCtx, &target)
		if verr != nil {
			return nil, verr
		}
		return key, nil
	})
	key, err := call.Wait(ctx)
	if err != nil {
		return nil, errorFromWait(err, StepDownload, u.authority())
	}
	return key, nil
}

// loadLeaf gets, checks and caches the certificate of u. It runs inside the single flight of u;
// it looks at the caches again first, because a flight that finished between the caller's cache
// miss and its joining has already stored its result there.
func (st *verifierState) loadLeaf(ctx context.Context, u *strictURL) (*rsa.PublicKey, *VerificationError) {
	now := st.cfg.now()
	if key, ok := st.keys.Get(u.canonical, now); ok {
		return key, nil
	}
	if verr, ok := st.keyFailures.Get(u.canonical, now); ok {
		return nil, verr
	}
	key, notBefore, expires, verr := st.fetchAndCheckLeaf(ctx, u, now)
	if verr != nil {
		if verr.Host == "" {
			verr.Host = u.authority()
		}
		// No lower bound: a failure applies to every caller until it expires.
		st.keyFailures.Add(u.canonical, verr, time.Time{}, now.Add(st.cfg.failureTTL))
		return nil, verr
	}
	st.keys.Add(u.canonical, key, notBefore, expires)
	return key, nil
}

// fetchAndCheckLeaf downloads (or takes the pinned) certificate of u and runs every certificate
// check. It returns the key and the window in which it may be used from the cache: inside the
// validity of every certificate of the chain and no longer than the maximum age.
func (st *verifierState) fetchAndCheckLeaf(ctx context.Context, u *strictURL, now time.Time) (*rsa.PublicKey, time.Time, time.Time, *VerificationError) {
	var zero time.Time
	certs, pinned := st.pinned[u.canonical]
	if !pinned {
		data, verr := st.download(ctx, u, StepDownload, &st.stats.certDownloads)
		if verr != nil {
			return nil, zero, zero, verr
		}
		if certs, verr = parseCertificates(data, StepParse); verr != nil {
			return nil, zero, zero, verr
		}
	}
	leaf := certs[0]
	if verr := checkLeaf(leaf); verr != nil {
		return nil, zero, zero, verr
	}
	notBefore, notAfter, verr := st.verifyChain(ctx, leaf, certs[1:], now)
	if verr != nil {
		return nil, zero, zero, verr
	}
	expires := now.Add(st.cfg.maxAge)
	if notAfter.Before(expires) {
		expires = notAfter
	}
	return leaf.PublicKey.(*rsa.PublicKey), notBefore, expires, nil
}

// issuerCertificates returns the certificates found at the issuer URL u, cached like leaves:
// until the earliest NotAfter among them or the maximum age, failures for the failure TTL.
func (st *verifierState) issuerCertificates(ctx context.Context, u *strictURL) ([]*x509.Certificate, *VerificationError) {
	now := st.cfg.now()
	if certs, ok := st.issuers.Get(u.canonical, now); ok {
		return certs, nil
	}
	if verr, ok := st.issuerFailure.Get(u.canonical, now); ok {
		return nil, verr.clone()
	}
	target := *u
	call, _ := st.issuerFlights.Do(u.canonical, func() ([]*x509.Certificate, error) {
		certs, verr := st.loadIssuer(ctx, &target)
		if verr != nil {
			return nil, verr
		}
		return certs, nil
	})
	certs, err := call.Wait(ctx)
	if err != nil {
		return nil, errorFromWait(err, StepIssuerDownload, u.authority())
	}
	return certs, nil
}

// loadIssuer downloads and parses the issuer file at u and caches the outcome.
func (st *verifierState) loadIssuer(ctx context.Context, u *strictURL) ([]*x509.Certificate, *VerificationError) {
	now := st.cfg.now()
	if certs, ok := st.issuers.Get(u.canonical, now); ok {
		return certs, nil
	}
	if verr, ok := st.issuerFailure.Get(u.canonical, now); ok {
		return nil, verr
	}
	certs, verr := st.fetchIssuer(ctx, u)
	if verr != nil {
		verr.Host = u.authority()
		st.issuerFailure.Add(u.canonical, verr, time.Time{}, now.Add(st.cfg.failureTTL))
		return nil, verr
	}
	notBefore, notAfter := chainWindow(certs)
	expires := now.Add(st.cfg.maxAge)
	if notAfter.Before(expires) {
		expires = notAfter
	}
	st.issuers.Add(u.canonical, certs, notBefore, expires)
	return certs, nil
}

func (st *verifierState) fetchIssuer(ctx context.Context, u *strictURL) ([]*x509.Certificate, *VerificationError) {
	data, verr := st.download(ctx, u, StepIssuerDownload, &st.stats.issuerDownloads)
	if verr != nil {
		return nil, verr
	}
	return parseCertificates(data, StepIssuerDownload)
}
