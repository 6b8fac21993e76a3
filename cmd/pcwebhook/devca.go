package main

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// The development sender: trigger signs with it, listen --dev and verify --dev trust it, and an
// application trusts it with pcwebhookdev.NewVerifier. Its files and format are
// internal/testpki's.
const (
	// devCertURLPrefix is the certificate URL allow-list of --dev: a reserved name that never
	// resolves, so nothing can ever be downloaded from it.
	devCertURLPrefix = testpki.DevCertificateURLPrefix
	// devCertURL is the X-MS-Certificate-Url of development deliveries; --dev pins it to the
	// local leaf certificate.
	devCertURL = testpki.DevCertificateURL

	// configDirEnv overrides the configuration directory.
	configDirEnv = "PCWEBHOOK_CONFIG_DIR"

	devSubdir   = "dev"
	devRootFile = testpki.DevRootFile
	devLeafFile = testpki.DevLeafFile
	devKeyFile  = testpki.DevKeyFile
)

// devCA is the local development CA: a root, and a leaf with O=Microsoft Corporation that signs.
// The root's private key is not kept: it signs the leaf once, when the CA is created.
type devCA struct {
	dir  string // the directory holding the files
	root *x509.Certificate
	leaf *x509.Certificate
	key  *rsa.PrivateKey // the leaf's key
}

// defineConfigDir adds --config-dir, the configuration directory a.configDir resolves, to a
// flag set.
func defineConfigDir(set *flag.FlagSet, p *string) {
	set.StringVar(p, "config-dir", "", "the configuration `directory` holding dev/ (default: $"+configDirEnv+", or the user's configuration directory/pcwebhook)")
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
	ca, err := testpki.LoadDevCA(dir)
	if errors.Is(err, testpki.ErrBrokenDevCA) {
		reason := strings.TrimPrefix(err.Error(), testpki.ErrBrokenDevCA.Error()+": ")
		return nil, fmt.Errorf("the development CA in %s is unusable: %s; delete the directory and run "+
			"\"pcwebhook trigger\" or \"pcwebhook listen --dev\" to create a new one", dir, reason)
	}
	if err != nil {
		return nil, err
	}
	return &devCA{dir: dir, root: ca.Root, leaf: ca.Leaf, key: ca.Key}, nil
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
	files, err := testpki.NewDevCAFiles(time.Now())
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
	return testpki.Signer{Key: ca.key, CertificateURL: devCertURL, MSSignatureHeader: msHeader}.Sign(body)
}

// appTrustLine is the line of Go that makes an application trust the development CA in dir.
func appTrustLine(dir string) string {
	return fmt.Sprintf("pcwebhookdev.NewVerifier(%q)", dir)
}
