package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/partnercenter-go/pcwebhook"
)

// The development sender: trigger signs with it, listen --dev and verify --dev trust it.
const (
	// devCertURLPrefix is the certificate URL allow-list of --dev. The .invalid top-level domain
	// is reserved (RFC 2606): the name never resolves, so nothing can ever be downloaded from it.
	devCertURLPrefix = "https://pcwebhook-dev.invalid/cert/"
	// devCertURL is the X-MS-Certificate-Url of development deliveries; --dev pins it to the
	// local leaf certificate.
	devCertURL = devCertURLPrefix + "dev.cer"

	// configDirEnv overrides the configuration directory.
	configDirEnv = "PCWEBHOOK_CONFIG_DIR"

	devSubdir    = "dev"
	devRootFile  = "root-ca.pem"
	devLeafFile  = "leaf.pem"
	devKeyFile   = "leaf-key.pem"
	devRootYears = 10
	devLeafYears = 5
)

// devCA is the local development CA: a root, and a leaf with O=Microsoft Corporation that signs.
// The root's private key is not kept: it signs the leaf once, when the CA is created.
type devCA struct {
	dir  string // the directory holding the files
	root *x509.Certificate
	leaf *x509.Certificate
	key  *rsa.PrivateKey // the leaf's key
}

// configDir returns the configuration directory: flagValue, else PCWEBHOOK_CONFIG_DIR, else
// os.UserConfigDir()/pcwebhook.
func (a *app) configDir(flagValue string) (string, error) {
	if d := strings.TrimSpace(flagValue); d != "" {
		return d, nil
	}
	if d := strings.TrimSpace(a.env.getenv(configDirEnv)); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory (%v): pass --config-dir or set %s", err, configDirEnv)
	}
	return filepath.Join(base, "pcwebhook"), nil
}

// ensureDevCA loads the development CA from configDir/dev, creating it when there is none. It
// fails when the CA is unreadable or its leaf is not valid at now, saying how to start over.
func ensureDevCA(configDir string, now time.Time) (ca *devCA, created bool, err error) {
	dir := filepath.Join(configDir, devSubdir)
	ca, err = loadDevCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		ca, created, err = createDevCA(configDir, dir)
	}
	if err != nil {
		return nil, false, err
	}
	if now.Before(ca.leaf.NotBefore) || now.After(ca.leaf.NotAfter) {
		return nil, false, fmt.Errorf("the development certificate in %s is valid from %s to %s, not now: "+
			"delete that directory and run again to create a new CA", dir,
			ca.leaf.NotBefore.UTC().Format(time.RFC3339), ca.leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return ca, created, nil
}

// loadDevCA reads the CA files of dir and checks that they belong together. A missing directory
// gives an error wrapping fs.ErrNotExist.
func loadDevCA(dir string) (*devCA, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	broken := func(format string, args ...any) error {
		return fmt.Errorf("the development CA in %s is unusable: %s; delete the directory and run "+
			"\"pcwebhook trigger\" or \"pcwebhook listen --dev\" to create a new one", dir, fmt.Sprintf(format, args...))
	}
	read := func(name, blockType string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, broken("%v", err)
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != blockType {
			return nil, broken("%s holds no %s PEM block", name, blockType)
		}
		return block.Bytes, nil
	}
	ca := &devCA{dir: dir}
	der, err := read(devRootFile, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	if ca.root, err = x509.ParseCertificate(der); err != nil {
		return nil, broken("%s: %v", devRootFile, err)
	}
	if der, err = read(devLeafFile, "CERTIFICATE"); err != nil {
		return nil, err
	}
	if ca.leaf, err = x509.ParseCertificate(der); err != nil {
		return nil, broken("%s: %v", devLeafFile, err)
	}
	if der, err = read(devKeyFile, "PRIVATE KEY"); err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, broken("%s: %v", devKeyFile, err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok || !rsaKey.PublicKey.Equal(ca.leaf.PublicKey) {
		return nil, broken("%s is not the key of %s", devKeyFile, devLeafFile)
	}
	ca.key = rsaKey
	if err := ca.leaf.CheckSignatureFrom(ca.root); err != nil {
		return nil, broken("%s is not signed by %s", devLeafFile, devRootFile)
	}
	return ca, nil
}

// createDevCA creates a CA in a new directory next to dir and renames it into place, so that two
// processes creating it at once cannot mix their files: the loser uses the winner's CA.
func createDevCA(configDir, dir string) (*devCA, bool, error) {
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating the development CA: %w", err)
	}
	tmp, err := os.MkdirTemp(configDir, ".dev-new-*") // mode 0700
	if err != nil {
		return nil, false, fmt.Errorf("creating the development CA: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	files, err := newDevCAFiles(time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("creating the development CA: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
			return nil, false, fmt.Errorf("creating the development CA: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if ca, lerr := loadDevCA(dir); lerr == nil { // created meanwhile by another process
			return ca, false, nil
		}
		return nil, false, fmt.Errorf("creating the development CA: %w", err)
	}
	ca, err := loadDevCA(dir)
	return ca, err == nil, err
}

// newDevCAFiles makes a root CA and a leaf with O=Microsoft Corporation, RSA 2048, and returns
// the PEM files by name.
func newDevCAFiles(now time.Time) (map[string][]byte, error) {
	now = now.Truncate(time.Second)
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:   "pcwebhook development root CA (local only, never trust it elsewhere)",
			Organization: []string{"pcwebhook development"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(devRootYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	rootDER, err := createCertificate(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         "pcwebhook development sender",
			Organization:       []string{pcwebhook.RequiredOrganization}, // what the verifier requires
			OrganizationalUnit: []string{"pcwebhook local development: not issued by Microsoft"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(devLeafYears, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	leafDER, err := createCertificate(leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		devRootFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		devLeafFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		devKeyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// createCertificate signs tmpl, with a random serial number, and returns the DER.
func createCertificate(tmpl, parent *x509.Certificate, pub *rsa.PublicKey, parentKey *rsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
}

// verifierOptions are the options of a verifier that trusts this CA and nothing else: the
// development certificate URL (plus extra allowed prefixes, which are then downloaded as usual),
// the CA's root as the only root, the leaf pinned to the development URL, and no issuer downloads.
func (ca *devCA) verifierOptions(extraPrefixes []string) []pcwebhook.VerifierOption {
	roots := x509.NewCertPool()
	roots.AddCert(ca.root)
	return []pcwebhook.VerifierOption{
		pcwebhook.WithCertificateURLPrefixes(append([]string{devCertURLPrefix}, extraPrefixes...)...),
		pcwebhook.WithRootCAs(roots),
		pcwebhook.WithPinnedCertificate(devCertURL, ca.leaf),
		pcwebhook.WithoutIssuerDownloads(),
	}
}

// sign returns the headers Partner Center sends with body, signed by the development leaf:
// "Authorization: Signature <base64>" (or x-ms-signature with msHeader), X-MS-Certificate-Url
// naming the development URL, X-MS-Signature-Algorithm rsa-sha256, and Content-Type.
func (ca *devCA) sign(body []byte, msHeader bool) (http.Header, error) {
	sig, err := jwt.SigningMethodRS256.Sign(string(body), ca.key)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	h := make(http.Header, 4)
	token := "Signature " + base64.StdEncoding.EncodeToString(sig)
	if msHeader {
		h.Set(pcwebhook.HeaderMSSignature, token)
	} else {
		h.Set(pcwebhook.HeaderAuthorization, token)
	}
	h.Set(pcwebhook.HeaderCertificateURL, devCertURL)
	h.Set(pcwebhook.HeaderSignatureAlgorithm, "rsa-sha256")
	h.Set("Content-Type", "application/json")
	return h, nil
}
