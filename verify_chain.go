package pcwebhook

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/certfile"
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

// verifyChain verifies leaf to the trusted roots at now, using the given intermediates and, when
// the issuer of the top of the known chain is missing, downloading it from that certificate's AIA
// "CA Issuers" URL if the URL is inside the issuer allow-list. A downloaded certificate is only
// ever an intermediate, and is cached only once the chain it completed verified (a chain that
// fails with it is remembered briefly as its failure). It returns the validity window shared by
// every certificate of the chain.
func (st *verifierState) verifyChain(ctx context.Context, leaf *x509.Certificate, inter []*x509.Certificate, now time.Time, priority bool) (notBefore, notAfter time.Time, verr *VerificationError) {
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
		certs, fresh, verr := st.issuerCertificates(ctx, &u, priority)
		if verr != nil {
			return notBefore, notAfter, verr
		}
		if fresh {
			fetched = append(fetched, issuerFetch{key: u.canonical, certs: certs})
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
func (st *verifierState) issuerURL(c *x509.Certificate) (strictURL, *VerificationError) {
	urls := c.IssuingCertificateURL
	if len(urls) == 0 {
		return strictURL{}, &VerificationError{Step: StepIssuerDownload, Reason: "issuer certificate not found, and no AIA issuer URL to download it from", Err: ErrUntrustedCertificate}
	}
	host := ""
	for i, raw := range urls {
		if i == maxAIAURLs {
			break
		}
		u, reason := matchAllowList(raw, st.cfg.issuerPrefixes, true)
		if reason == "" {
			return u, nil
		}
		if host == "" && u.host != "" {
			host = u.authority()
		}
	}
	return strictURL{}, &VerificationError{Step: StepIssuerDownload, Reason: "issuer certificate not found, and its AIA issuer URL is not in the issuer allow-list", Host: host, Err: ErrUntrustedCertificate}
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
