// Package testpki is the one place that issues test certificates and signs deliveries in
// Partner Center's header format. pcwebhooktest, the command-line tool's development CA, the
// load test and the tests all use it, so a change to the format or to the certificate policy
// is made once.
//
// It does not import pcwebhook, so that the library's own internal tests can use it too; the
// header names it writes are checked against pcwebhook's constants in its tests.
package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// The wire format of a signed delivery.
const (
	HeaderAuthorization      = "Authorization"
	HeaderMSSignature        = "X-Ms-Signature"
	HeaderCertificateURL     = "X-Ms-Certificate-Url"
	HeaderSignatureAlgorithm = "X-Ms-Signature-Algorithm"
	Algorithm                = "rsa-sha256"
	// Scheme is what precedes the base64 signature in the signature header.
	Scheme = "Signature "
	// Organization is the Subject Organization Partner Center's signing certificate carries.
	Organization = "Microsoft Corporation"
	// LeafCommonName is the common name of Partner Center's signing certificate.
	LeafCommonName = "pcnotifications-dispatch.microsoft.com"
)

// Template describes one certificate to issue.
type Template struct {
	CommonName         string
	Organization       []string
	OrganizationalUnit []string
	ExtraNames         []pkix.AttributeTypeAndValue // appended after the other subject attributes
	IsCA               bool
	MaxPathLenZero     bool
	MaxPathLen         int
	// NotBefore and NotAfter bound the validity. A zero NotBefore is an hour before now, a zero
	// NotAfter a day after now: set both when a test fixes a clock.
	NotBefore, NotAfter time.Time
	// AIA lists the Authority Information Access "CA Issuers" URLs.
	AIA []string
	// KeyUsage is the key usage extension; zero means digitalSignature for a leaf and
	// certSign|CRLSign for a CA. NoKeyUsage leaves the extension out.
	KeyUsage   x509.KeyUsage
	NoKeyUsage bool
}

// Issue signs tmpl for pub with parentKey and returns the parsed certificate. A nil parent
// makes it self-signed (parentKey is then the key of pub).
func Issue(tmpl Template, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, error) {
	now := time.Now().Truncate(time.Second)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(24 * time.Hour)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	c := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         tmpl.CommonName,
			Organization:       tmpl.Organization,
			OrganizationalUnit: tmpl.OrganizationalUnit,
			ExtraNames:         tmpl.ExtraNames,
		},
		NotBefore:             tmpl.NotBefore,
		NotAfter:              tmpl.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  tmpl.IsCA,
		MaxPathLen:            tmpl.MaxPathLen,
		MaxPathLenZero:        tmpl.MaxPathLenZero,
		IssuingCertificateURL: tmpl.AIA,
		KeyUsage:              tmpl.KeyUsage,
	}
	switch {
	case tmpl.NoKeyUsage:
		c.KeyUsage = 0
	case c.KeyUsage != 0:
	case tmpl.IsCA:
		c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	default:
		c.KeyUsage = x509.KeyUsageDigitalSignature
	}
	if parent == nil {
		parent = c
	}
	der, err := x509.CreateCertificate(rand.Reader, c, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Chain is a root CA, an optional intermediate CA, and a signing leaf, with their keys.
type Chain struct {
	Root, Intermediate, Leaf          *x509.Certificate // Intermediate is nil with WithoutIntermediate
	RootKey, IntermediateKey, LeafKey *rsa.PrivateKey
}

// chainConfig is what the options set.
type chainConfig struct {
	notBefore, notAfter         time.Time // all three certificates
	leafNotBefore, leafNotAfter time.Time
	org                         []string
	leafCN                      string
	ou                          []string
	keyUsage                    x509.KeyUsage
	noKeyUsage                  bool
	aia                         []string
	noIntermediate              bool
	rootKey, interKey, leafKey  *rsa.PrivateKey
	rootName, interName         string
	rootOrg                     []string
}

// Option configures [NewChain].
type Option func(*chainConfig)

// WithValidity sets NotBefore and NotAfter of the root, the intermediate and the leaf.
func WithValidity(notBefore, notAfter time.Time) Option {
	return func(c *chainConfig) { c.notBefore, c.notAfter = notBefore, notAfter }
}

// WithLeafValidity sets NotBefore and NotAfter of the leaf alone (after WithValidity).
func WithLeafValidity(notBefore, notAfter time.Time) Option {
	return func(c *chainConfig) { c.leafNotBefore, c.leafNotAfter = notBefore, notAfter }
}

// WithOrganization sets the leaf's Subject Organization (default: Microsoft Corporation).
func WithOrganization(org ...string) Option {
	return func(c *chainConfig) { c.org = org }
}

// WithOrganizationalUnit sets the leaf's Subject Organizational Unit.
func WithOrganizationalUnit(ou ...string) Option {
	return func(c *chainConfig) { c.ou = ou }
}

// WithLeafCommonName sets the leaf's common name (default: LeafCommonName).
func WithLeafCommonName(cn string) Option {
	return func(c *chainConfig) { c.leafCN = cn }
}

// WithCANames sets the common names of the root and the intermediate and the root's
// organization (which the intermediate shares).
func WithCANames(root, intermediate string, org ...string) Option {
	return func(c *chainConfig) { c.rootName, c.interName, c.rootOrg = root, intermediate, org }
}

// WithLeafKeyUsage sets the leaf's key usage extension; zero leaves the extension out.
func WithLeafKeyUsage(ku x509.KeyUsage) Option {
	return func(c *chainConfig) { c.keyUsage, c.noKeyUsage = ku, ku == 0 }
}

// WithAIA sets the leaf's Authority Information Access "CA Issuers" URLs.
func WithAIA(urls ...string) Option {
	return func(c *chainConfig) { c.aia = urls }
}

// WithoutIntermediate has the root issue the leaf directly.
func WithoutIntermediate() Option {
	return func(c *chainConfig) { c.noIntermediate = true }
}

// WithKeys uses the given keys instead of generating new ones (nil ones are generated): RSA
// key generation is slow under the race detector.
func WithKeys(root, intermediate, leaf *rsa.PrivateKey) Option {
	return func(c *chainConfig) { c.rootKey, c.interKey, c.leafKey = root, intermediate, leaf }
}

// NewChain issues a root CA, an intermediate CA (unless WithoutIntermediate) and a leaf with
// O=Microsoft Corporation and digitalSignature, all RSA 2048. By default the CAs are valid
// from two hours ago for ten years and the leaf from an hour ago for thirty days.
func NewChain(opts ...Option) (*Chain, error) {
	cfg := chainConfig{
		org:       []string{Organization},
		leafCN:    LeafCommonName,
		keyUsage:  x509.KeyUsageDigitalSignature,
		rootName:  "pcwebhooktest Root CA",
		interName: "pcwebhooktest Issuing CA",
		rootOrg:   []string{"pcwebhooktest"},
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	now := time.Now().Truncate(time.Second)
	caFrom, caTo := now.Add(-2*time.Hour), now.AddDate(10, 0, 0)
	leafFrom, leafTo := now.Add(-time.Hour), now.AddDate(0, 0, 30)
	if !cfg.notBefore.IsZero() || !cfg.notAfter.IsZero() {
		if !cfg.notAfter.After(cfg.notBefore) {
			return nil, fmt.Errorf("testpki: validity from %s to %s is empty", cfg.notBefore, cfg.notAfter)
		}
		caFrom, caTo, leafFrom, leafTo = cfg.notBefore, cfg.notAfter, cfg.notBefore, cfg.notAfter
	}
	if !cfg.leafNotBefore.IsZero() || !cfg.leafNotAfter.IsZero() {
		leafFrom, leafTo = cfg.leafNotBefore, cfg.leafNotAfter
	}
	var err error
	ch := &Chain{}
	if ch.RootKey, err = keyOr(cfg.rootKey); err != nil {
		return nil, err
	}
	if ch.LeafKey, err = keyOr(cfg.leafKey); err != nil {
		return nil, err
	}
	root := Template{CommonName: cfg.rootName, Organization: cfg.rootOrg, IsCA: true, NotBefore: caFrom, NotAfter: caTo}
	if cfg.noIntermediate {
		root.MaxPathLenZero = true
	} else {
		root.MaxPathLen = 1
	}
	if ch.Root, err = Issue(root, &ch.RootKey.PublicKey, nil, ch.RootKey); err != nil {
		return nil, err
	}
	parent, parentKey := ch.Root, ch.RootKey
	if !cfg.noIntermediate {
		if ch.IntermediateKey, err = keyOr(cfg.interKey); err != nil {
			return nil, err
		}
		inter := Template{CommonName: cfg.interName, Organization: cfg.rootOrg, IsCA: true, MaxPathLenZero: true,
			NotBefore: caFrom, NotAfter: caTo}
		if ch.Intermediate, err = Issue(inter, &ch.IntermediateKey.PublicKey, ch.Root, ch.RootKey); err != nil {
			return nil, err
		}
		parent, parentKey = ch.Intermediate, ch.IntermediateKey
	}
	leaf := Template{
		CommonName: cfg.leafCN, Organization: cfg.org, OrganizationalUnit: cfg.ou,
		NotBefore: leafFrom, NotAfter: leafTo, AIA: cfg.aia, KeyUsage: cfg.keyUsage, NoKeyUsage: cfg.noKeyUsage,
	}
	if ch.Leaf, err = Issue(leaf, &ch.LeafKey.PublicKey, parent, parentKey); err != nil {
		return nil, err
	}
	return ch, nil
}

// keyOr returns key, or a new RSA 2048 key when key is nil (see [SharePrimes]).
func keyOr(key *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if key != nil {
		return key, nil
	}
	return NewKey()
}

// Pool returns a new pool holding certs.
func Pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// PEM encodes certs as concatenated CERTIFICATE blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// DER concatenates the DER encodings of certs.
func DER(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, c.Raw...)
	}
	return out
}

// Signature returns the standard padded base64 RSA PKCS#1 v1.5 SHA-256 signature of body: what
// follows "Signature " in Partner Center's signature header.
func Signature(key *rsa.PrivateKey, body []byte) (string, error) {
	if key == nil {
		return "", errors.New("testpki: no signing key")
	}
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("testpki: signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Signer signs deliveries the way Partner Center does.
type Signer struct {
	Key            *rsa.PrivateKey
	CertificateURL string
	// MSSignatureHeader puts the signature in x-ms-signature instead of Authorization, as for
	// registrations with SignatureTokenToMsSignatureHeader set.
	MSSignatureHeader bool
}

// Sign returns the headers Partner Center sends with body: "Authorization: Signature <base64>"
// (or x-ms-signature), X-MS-Certificate-Url, X-MS-Signature-Algorithm "rsa-sha256", and
// Content-Type "application/json".
func (s Signer) Sign(body []byte) (http.Header, error) {
	sig, err := Signature(s.Key, body)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 4)
	if s.MSSignatureHeader {
		h.Set(HeaderMSSignature, Scheme+sig)
	} else {
		h.Set(HeaderAuthorization, Scheme+sig)
	}
	h.Set(HeaderCertificateURL, s.CertificateURL)
	h.Set(HeaderSignatureAlgorithm, Algorithm)
	h.Set("Content-Type", "application/json")
	return h, nil
}
