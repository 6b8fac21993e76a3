// Package pcwebhookdev makes an application's pcwebhook.Verifier accept what the pcwebhook
// command-line tool sends, for the local development loop only: "pcwebhook trigger",
// "pcwebhook resend" and "pcwebhook listen --dev --forward" sign with a development CA that the
// tool creates once on the developer's machine (in os.UserConfigDir()/pcwebhook/dev by default,
// and prints the directory).
//
// What it trusts: everything the production policy trusts (Partner Center's certificate URL and
// the system roots, so Partner Center's own deliveries still verify), and besides that the root
// certificate of that one directory, with its signing certificate pinned to [CertificateURL], a
// URL under the reserved .invalid top-level domain that never resolves, so nothing is ever
// downloaded for it. Only the public files (root-ca.pem, leaf.pem) are read. A development CA is
// as secret as the machine it was made on: never name its directory in a deployed configuration.
//
// It is a package apart from the test kit (pcwebhooktest) so that an application binary that
// offers a development switch links neither package testing nor net/http/httptest nor the
// kit's throwaway certificate authority. Keep the call behind your own development flag:
//
//	verifier, err := pcwebhook.NewVerifier()
//	if dir := os.Getenv("MYAPP_PCWEBHOOK_DEV_CA"); dir != "" { // local development only
//		verifier, err = pcwebhookdev.NewVerifier(dir)
//	}
package pcwebhookdev

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// CertificateURL is the X-MS-Certificate-Url of what the pcwebhook command-line tool sends
// ("pcwebhook trigger", "pcwebhook resend" of a body, "pcwebhook listen --dev --forward"). Its
// host, under the reserved .invalid top-level domain, never resolves: a development verifier has
// the certificate pinned instead.
const CertificateURL = testpki.DevCertificateURL

// ErrNoDirectory is returned by [VerifierOptions] and [NewVerifier] when the directory is empty:
// there is no default, so a build that never names the folder cannot trust it by accident.
var ErrNoDirectory = errors.New("pcwebhookdev: no development CA directory given")

// VerifierOptions returns the options that make a pcwebhook.Verifier trust, besides everything
// the production policy trusts, the development CA of the pcwebhook command-line tool whose
// directory is dir (the tool prints it; by default the dev folder of
// os.UserConfigDir()/pcwebhook). With them an application's Handler accepts what the tool sends,
// and still Partner Center's own deliveries.
//
// dir must be given (else [ErrNoDirectory]), and a directory that does not exist gives an error
// wrapping fs.ErrNotExist. Only the public files root-ca.pem and leaf.pem are read; the leaf is
// pinned to [CertificateURL], and the root is added to the system roots.
func VerifierOptions(dir string) ([]pcwebhook.VerifierOption, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, ErrNoDirectory
	}
	ca, err := testpki.LoadDevTrust(dir)
	if err != nil {
		return nil, fmt.Errorf("pcwebhookdev: the development CA in %s: %w (\"pcwebhook trigger\" creates it)", dir, err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	roots.AddCert(ca.Root)
	return []pcwebhook.VerifierOption{
		pcwebhook.WithCertificateURLPrefixes(append(pcwebhook.DefaultCertificateURLPrefixes(), testpki.DevCertificateURLPrefix)...),
		pcwebhook.WithRootCAs(roots),
		pcwebhook.WithPinnedCertificate(testpki.DevCertificateURL, ca.Leaf),
	}, nil
}

// NewVerifier returns a verifier made with [VerifierOptions](dir) and then opts: the one line an
// application adds, in local development only, to accept what the pcwebhook command-line tool
// sends:
//
//	v, err := pcwebhookdev.NewVerifier("/home/me/.config/pcwebhook/dev") // local development only
//	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v))
func NewVerifier(dir string, opts ...pcwebhook.VerifierOption) (*pcwebhook.Verifier, error) {
	base, err := VerifierOptions(dir)
	if err != nil {
		return nil, err
	}
	return pcwebhook.NewVerifier(append(base, opts...)...)
}
