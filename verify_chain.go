package pcwebhook

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/certcache"
	"github.com/partnercenter-go/pcwebhook/internal/certfile"
	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

const (
	// maxCertificatesPerFile bounds the certificates read from one file (leaf and intermediates).
	maxCertificatesPerFile = 8
	// maxIssuerDownloads bounds the issuer downloads made to complete one chain.
	maxIssuerDownloads = 3
	// maxAIAURLs bounds the AIA URLs of one certificate that are considered.
	maxAIAURLs = 4
	// minRSABits is the smallest RSA key accepted for the signing certificate.
	minRSABits = 2048
)

// parseCertificates reads a certificate file: PEM (every CERTIFICATE block, other blocks
// ignored) or DER (one or more concatenated certificates), at most maxCertificatesPerFile. The
// first certificate is the leaf.
func parseCertificates(data []byte, step VerificationStep) ([]*x509.Certificate, *VerificationError) {
	certs, err := certfile.Parse(data, maxCertificatesPerFile)
	if err != nil {
		reason := "not a DER or PEM certificate"
		switch {
		case errors.Is(err, certfile.ErrTooMany):
			reason = "too many certificates in the file"
		case errors.Is(err, certfile.ErrNoCertificate):
			reason = "no certificate in the file"
		}
		return nil, &VerificationError{Step: step, Reason: reason, Err: ErrUntrustedCertificate, Cause: err}
	}
	return certs, nil
}

// checkLeaf applies the checks that need no network: exactly one Subject Organization equal to
// RequiredOrganization (the published samples matched a substring of the issuer instead), an RSA
// key of at least minRSABits, not a CA certificate, and, when the KeyUsage extension is present,
// digitalSignature among its bits. It runs before chain building so that an
// obviously wrong certificate causes no issuer download.
func checkLeaf(leaf *x509.Certificate) *VerificationError {
	org := leaf.Subject.Organization
	if len(org) != 1 || org[0] != RequiredOrganization {
		return &VerificationError{Step: StepOrganization, Reason: `leaf Subject Organization is not exactly "` + RequiredOrganization + `"`, Err: ErrUntrustedCertificate}
	}
	key, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return &VerificationError{Step: StepPublicKey, Reason: "leaf key is not RSA", Err: ErrUntrustedCertificate}
	}
	if key.N.BitLen() < minRSABits {
		return &VerificationError{Step: StepPublicKey, Reason: "leaf RSA key is shorter than 2048 bits", Err: ErrUntrustedCertificate}
	}
	if leaf.IsCA {
		return &VerificationError{Step: StepPublicKey, Reason: "leaf is a CA certificate", Err: ErrUntrustedCertificate}
	}
	if hasExtension(leaf, oidKeyUsage) && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return &VerificationError{Step: StepPublicKey, Reason: "leaf KeyUsage does not include digitalSignature", Err: ErrUntrustedCertificate}
	}
	return nil
}

// oidKeyUsage is the X.509 KeyUsage extension (RFC 5280, 4.2.1.3).
var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// hasExtension reports whether c carries the extension oid, whatever its value.
func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// checkCertificate checks a signing certificate: the file data as downloaded (or, when data is
// nil, the pinned certs), parsed, the leaf's own checks, then its chain to the trusted roots at
// now. It returns the leaf's key and the validity window shared by the chain.
func (st *verifierState) checkCertificate(ctx context.Context, data []byte, certs []*x509.Certificate, now time.Time) (*rsa.PublicKey, time.Time, time.Time, *VerificationError) {
	var zero time.Time
	if data != nil {
		var verr *VerificationError
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
	return leaf.PublicKey.(*rsa.PublicKey), notBefore, notAfter, nil
}

// verifyChain verifies leaf to the trusted roots at now, using the given intermediates and, when
// the issuer of the top of the known chain is missing, downloading it from that certificate's AIA
// "CA Issuers" URL if the URL is inside the issuer allow-list. A downloaded certificate is only
// ever an intermediate, and is cached only once the chain it completed verified; a chain that
// fails with it is the leaf's verdict, not the issuer file's. It returns the validity window
// shared by every certificate of the chain.
func (st *verifierState) verifyChain(ctx context.Context, leaf *x509.Certificate, inter []*x509.Certificate, now time.Time) (notBefore, notAfter time.Time, verr *VerificationError) {
	var fetched []issuerFetch
	defer func() { st.issuerCommit(fetched, now, verr) }()
	pool := x509.NewCertPool()
	known := append([]*x509.Certificate{leaf}, inter...)
	for _, c := range inter {
		pool.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots:         st.cfg.roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for downloads := 0; ; downloads++ {
		chains, err := leaf.Verify(opts)
		if err == nil {
			nb, na := chainWindow(chains[0])
			return nb, na, nil
		}
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			step := StepChain
			var invalid x509.CertificateInvalidError
			if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
				step = StepCertificateTime
			}
			return notBefore, notAfter, &VerificationError{Step: step, Reason: "certificate chain is not valid", Err: ErrUntrustedCertificate, Cause: err}
		}
		top := topOfChain(leaf, known)
		if bytes.Equal(top.RawSubject, top.RawIssuer) || downloads == maxIssuerDownloads {
			return notBefore, notAfter, &VerificationError{Step: StepChain, Reason: "certificate does not chain to a trusted root", Err: ErrUntrustedCertificate, Cause: err}
		}
		if len(st.cfg.issuerPrefixes) == 0 {
			return notBefore, notAfter, &VerificationError{Step: StepChain, Reason: "issuer certificate not found, and issuer downloads are disabled", Err: ErrUntrustedCertificate, Cause: err}
		}
		if downloads > 0 && len(top.IssuingCertificateURL) == 0 {
			// What was downloaded ends at an issuer that is neither known nor downloadable: the
			// chain leads to a root this process does not trust.
			return notBefore, notAfter, &VerificationError{Step: StepChain, Reason: "certificate does not chain to a trusted root", Err: ErrUntrustedCertificate, Cause: err}
		}
		u, verr := st.issuerURL(top)
		if verr != nil {
			verr.Cause = err
			return notBefore, notAfter, verr
		}
		certs, fresh, verr := st.issuerCertificates(ctx, &u)
		if verr != nil {
			return notBefore, notAfter, verr
		}
		if fresh {
			fetched = append(fetched, issuerFetch{key: u.Canonical(), certs: certs})
		}
		for _, c := range certs {
			pool.AddCert(c)
			known = append(known, c)
		}
	}
}

// topOfChain follows issuer names from leaf through the known certificates and returns the last
// certificate reached: the one whose issuer is missing.
func topOfChain(leaf *x509.Certificate, known []*x509.Certificate) *x509.Certificate {
	cur := leaf
	for steps := 0; steps < len(known); steps++ {
		var next *x509.Certificate
		for _, c := range known {
			if c != cur && bytes.Equal(c.RawSubject, cur.RawIssuer) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		cur = next
	}
	return cur
}

// issuerURL picks the first AIA "CA Issuers" URL of c that is inside the issuer allow-list.
func (st *verifierState) issuerURL(c *x509.Certificate) (urlpolicy.URL, *VerificationError) {
	urls := c.IssuingCertificateURL
	if len(urls) == 0 {
		return urlpolicy.URL{}, &VerificationError{Step: StepIssuerDownload, Reason: "issuer certificate not found, and no AIA issuer URL to download it from", Err: ErrUntrustedCertificate}
	}
	host := ""
	for i, raw := range urls {
		if i == maxAIAURLs {
			break
		}
		u, reason := urlpolicy.Match(raw, st.cfg.issuerPrefixes, true)
		if reason == "" {
			return u, nil
		}
		if host == "" {
			host = u.Authority()
		}
	}
	return urlpolicy.URL{}, &VerificationError{Step: StepIssuerDownload, Reason: "issuer certificate not found, and its AIA issuer URL is not in the issuer allow-list", Host: host, Err: ErrUntrustedCertificate}
}

// chainWindow returns the latest NotBefore and the earliest NotAfter of a chain (or of any set of
// certificates).
func chainWindow(chain []*x509.Certificate) (notBefore, notAfter time.Time) {
	for i, c := range chain {
		if i == 0 || c.NotBefore.After(notBefore) {
			notBefore = c.NotBefore
		}
		if i == 0 || c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	return notBefore, notAfter
}

// issuerFetch is an issuer file downloaded (not taken from the cache) while building one chain.
type issuerFetch struct {
	key   string
	certs []*x509.Certificate
}

// issuerCertificates returns the certificates found at the issuer URL u: from the cache (fresh is
// false), else the remembered failure, else downloaded once for all concurrent callers (fresh is
// true: verifyChain stores them with issuerCommit once they built a valid chain).
func (st *verifierState) issuerCertificates(ctx context.Context, u *urlpolicy.URL) (certs []*x509.Certificate, fresh bool, _ *VerificationError) {
	certs, src, err := st.issuers.Load(ctx, u.Canonical(), st.loadIssuerFn)
	if err != nil {
		return nil, false, errorFromWait(err, StepIssuerDownload, u.Authority())
	}
	return certs, src == certcache.Loaded, nil
}

// loadIssuer downloads and parses the issuer file at the canonical URL key. Issuer downloads go
// ahead of never-seen certificate URLs: they are made only for a certificate served at an
// allow-listed URL that passed the leaf's own checks.
func (st *verifierState) loadIssuer(ctx context.Context, key string) ([]*x509.Certificate, time.Time, time.Time, error) {
	var zero time.Time
	u, reason := urlpolicy.Match(key, st.cfg.issuerPrefixes, true) // key is canonical: this repeats a check that passed
	if reason != "" {
		return nil, zero, zero, &VerificationError{Step: StepIssuerDownload, Reason: reason, Err: ErrUntrustedCertificate}
	}
	data, verr := st.download(ctx, &u, StepIssuerDownload, &st.stats.issuerDownloads, true)
	if verr != nil {
		return nil, zero, zero, withHost(verr, &u)
	}
	certs, verr := parseCertificates(data, StepIssuerDownload)
	if verr != nil {
		return nil, zero, zero, withHost(verr, &u)
	}
	return certs, zero, zero, nil
}

// issuerCommit stores the issuer files downloaded for a chain that verified (verr nil): until the
// earliest NotAfter among each file's certificates, or the maximum age.
func (st *verifierState) issuerCommit(fetched []issuerFetch, now time.Time, verr *VerificationError) {
	if verr != nil {
		return // a chain verdict is the leaf's, not the issuer file's
	}
	for _, f := range fetched {
		notBefore, notAfter := chainWindow(f.certs)
		expires := now.Add(st.cfg.maxAge)
		if notAfter.Before(expires) {
			expires = notAfter
		}
		st.issuers.Add(f.key, f.certs, notBefore, expires)
	}
}
