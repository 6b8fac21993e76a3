package testpki

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The development CA of the command-line tool: "pcwebhook trigger" and "listen --forward" sign
// with it, "listen --dev" and an application's pcwebhookdev.NewVerifier trust it.
const (
	// DevCertificateURLPrefix is the certificate URL allow-list entry of the development CA. The
	// .invalid top-level domain is reserved (RFC 2606): the name never resolves, so nothing can
	// ever be downloaded from it; verifiers pin the leaf to DevCertificateURL instead.
	DevCertificateURLPrefix = "https://pcwebhook-dev.invalid/cert/"
	// DevCertificateURL is the X-MS-Certificate-Url of development deliveries.
	DevCertificateURL = DevCertificateURLPrefix + "dev.cer"

	// Files of a development CA directory, PEM.
	DevRootFile = "root-ca.pem"
	DevLeafFile = "leaf.pem"
	DevKeyFile  = "leaf-key.pem"

	devRootYears = 10
	devLeafYears = 5
)

// ErrBrokenDevCA is wrapped by the errors of LoadDevCA and LoadDevTrust for a directory that
// exists but does not hold a usable CA.
var ErrBrokenDevCA = errors.New("unusable development CA")

// DevCA is a development CA loaded from its directory: a root, and a leaf with
// O=Microsoft Corporation issued by it, with the leaf's key. The root's key is not kept: it
// signs the leaf once, when the CA is made.
type DevCA struct {
	Dir  string
	Root *x509.Certificate
	Leaf *x509.Certificate
	Key  *rsa.PrivateKey // the leaf's; nil from LoadDevTrust
}

// NewDevCAFiles makes a development root CA and leaf (RSA 2048; the root valid for ten years,
// the leaf for five, both from an hour before now) and returns the PEM files by name.
func NewDevCAFiles(now time.Time) (map[string][]byte, error) {
	now = now.Truncate(time.Second)
	ch, err := NewChain(WithoutIntermediate(),
		WithCANames("pcwebhook development root CA (local only, never trust it elsewhere)", "", "pcwebhook development"),
		WithLeafCommonName("pcwebhook development sender"),
		WithOrganizationalUnit("pcwebhook local development: not issued by Microsoft"),
		WithValidity(now.Add(-time.Hour), now.AddDate(devRootYears, 0, 0)),
		WithLeafValidity(now.Add(-time.Hour), now.AddDate(devLeafYears, 0, 0)))
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ch.LeafKey)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		DevRootFile: PEM(ch.Root),
		DevLeafFile: PEM(ch.Leaf),
		DevKeyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// WriteDevCA makes a development CA valid from an hour before now, writes its files into dir
// (created, mode 0700, if missing) and returns it loaded, as the command-line tool does on first
// use.
func WriteDevCA(dir string, now time.Time) (*DevCA, error) {
	files, err := NewDevCAFiles(now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return LoadDevCA(dir)
}

// LoadDevTrust reads the public half of the development CA in dir (its root and leaf) and checks
// that the root issued the leaf. A missing dir gives the error of os.Stat (fs.ErrNotExist);
// anything else wrong wraps ErrBrokenDevCA.
func LoadDevTrust(dir string) (*DevCA, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	ca := &DevCA{Dir: dir}
	var err error
	if ca.Root, err = readCertificate(dir, DevRootFile); err != nil {
		return nil, err
	}
	if ca.Leaf, err = readCertificate(dir, DevLeafFile); err != nil {
		return nil, err
	}
	if err := ca.Leaf.CheckSignatureFrom(ca.Root); err != nil {
		return nil, fmt.Errorf("%w: %s is not signed by %s", ErrBrokenDevCA, DevLeafFile, DevRootFile)
	}
	return ca, nil
}

// LoadDevCA is LoadDevTrust with the leaf's key, for signing.
func LoadDevCA(dir string) (*DevCA, error) {
	ca, err := LoadDevTrust(dir)
	if err != nil {
		return nil, err
	}
	der, err := readPEM(dir, DevKeyFile, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBrokenDevCA, DevKeyFile, err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok || !rsaKey.PublicKey.Equal(ca.Leaf.PublicKey) {
		return nil, fmt.Errorf("%w: %s is not the key of %s", ErrBrokenDevCA, DevKeyFile, DevLeafFile)
	}
	ca.Key = rsaKey
	return ca, nil
}

// Signer signs as the development CA's leaf, naming DevCertificateURL.
func (ca *DevCA) Signer(msHeader bool) Signer {
	return Signer{Key: ca.Key, CertificateURL: DevCertificateURL, MSSignatureHeader: msHeader}
}

// readCertificate reads the one certificate of a PEM file of dir.
func readCertificate(dir, name string) (*x509.Certificate, error) {
	der, err := readPEM(dir, name, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBrokenDevCA, name, err)
	}
	return c, nil
}

// readPEM returns the bytes of the first PEM block of a file of dir, which must be of blockType.
// A missing file is a broken CA, not a missing one.
func readPEM(dir, name, blockType string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBrokenDevCA, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != blockType {
		return nil, fmt.Errorf("%w: %s holds no %s PEM block", ErrBrokenDevCA, name, blockType)
	}
	return block.Bytes, nil
}
