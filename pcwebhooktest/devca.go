package pcwebhooktest

import (
	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookdev"
)

// DevelopmentCertificateURL is the X-MS-Certificate-Url of what "pcwebhook trigger" and
// "pcwebhook listen --dev --forward" send.
//
// Deprecated: use pcwebhookdev.CertificateURL, the same value, from a package that does not
// link package testing into the application.
const DevelopmentCertificateURL = pcwebhookdev.CertificateURL

// DevelopmentVerifierOptions returns the options that make a pcwebhook.Verifier trust the
// development CA of the pcwebhook command-line tool in dir, besides the production policy.
//
// Deprecated: use pcwebhookdev.VerifierOptions, which does the same from a package that does not
// link package testing, net/http/httptest and the kit's certificate authority into the
// application.
func DevelopmentVerifierOptions(dir string) ([]pcwebhook.VerifierOption, error) {
	return pcwebhookdev.VerifierOptions(dir)
}

// DevelopmentVerifier returns a verifier that trusts the development CA of the pcwebhook
// command-line tool in dir, besides the production policy, and then applies opts.
//
// Deprecated: use pcwebhookdev.NewVerifier, which does the same from a package that does not
// link package testing, net/http/httptest and the kit's certificate authority into the
// application.
func DevelopmentVerifier(dir string, opts ...pcwebhook.VerifierOption) (*pcwebhook.Verifier, error) {
	return pcwebhookdev.NewVerifier(dir, opts...)
}
