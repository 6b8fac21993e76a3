package pcwebhooktest

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// DevelopmentCertificateURL is the X-MS-Certificate-Url of what "pcwebhook trigger" and
// "pcwebhook listen --dev --forward" send. Its host, under the reserved .invalid top-level
// domain, never resolves: a development verifier has the certificate pinned instead.
const DevelopmentCertificateURL = testpki.DevCertificateURL

// DevelopmentVerifierOptions returns the options that make a pcwebhook.Verifier trust, besides
// everything the production policy trusts, the development CA of the pcwebhook command-line
// tool whose directory is dir (the CLI prints it; by default the dev folder of
// os.UserConfigDir()/pcwebhook). With them an application's Handler accepts what
// "pcwebhook trigger" and "pcwebhook listen --forward" send, and still Partner Center's own
// deliveries.
//
// dir must be given: there is no default, so a production build that never names the folder
// cannot trust it by accident, and a machine without the folder gets an error. Only the public
// files root-ca.pem and leaf.pem are read; the leaf is pinned to
// [DevelopmentCertificateURL], and the root is added to the system roots.
func DevelopmentVerifierOptions(dir string) ([]pcwebhook.VerifierOption, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, errors.New("pcwebhooktest: DevelopmentVerifierOptions: no development CA directory given")
	}
	ca, err := testpki.LoadDevTrust(dir)
	if err != nil {
		return nil, fmt.Errorf("pcwebhooktest: the development CA in %s: %w (\"pcwebhook trigger\" creates it)", dir, err)
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

// DevelopmentVerifier returns a verifier made with [DevelopmentVerifierOptions](dir) and then
// opts: the one line an application adds, in local development only, to accept what the
// pcwebhook command-line tool sends:
//
//	v, err := pcwebhooktest.DevelopmentVerifier("/home/me/.config/pcwebhook/dev") // local development only
//	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v))
func DevelopmentVerifier(dir string, opts ...pcwebhook.VerifierOption) (*pcwebhook.Verifier, error) {
	base, err := DevelopmentVerifierOptions(dir)
	if err != nil {
		return nil, err
	}
	return pcwebhook.NewVerifier(append(base, opts...)...)
}
