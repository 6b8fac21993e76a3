package pcwebhooktest

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// Paths served by a Sender's TLS server.
const (
	certificatePath = "/cert/pcnotifications-dispatch.microsoft.com.cer"
	issuerPath      = "/pki/certs/pcwebhooktest-issuing-ca.crt"
)

// Sender plays Partner Center. It owns a throwaway root CA, an intermediate CA, and a leaf
// certificate with O=Microsoft Corporation signed by the intermediate, all with RSA 2048 keys.
// A loopback TLS server serves the leaf alone (DER) at [Sender.CertificateURL] and the
// intermediate (DER) at the URL named by the leaf's Authority Information Access field, so that
// every verification through the kit builds the chain by downloading the missing issuer, as it
// must in production.
//
// Create one with [NewSender] and release it with [Sender.Close]. A Sender is safe for
// concurrent use.
type Sender struct {
	srv          *httptest.Server
	root         *x509.Certificate
	intermediate *x509.Certificate
	leaf         *x509.Certificate
	leafKey      *rsa.PrivateKey
	msHeader     bool
	sendClient   *http.Client
	validity     *[2]time.Time // WithValidity

	downloads       atomic.Int64
	issuerDownloads atomic.Int64
}

// SenderOption configures a [Sender].
type SenderOption func(*Sender)

// WithMSSignatureHeader makes the Sender put its signature ("Signature <base64>") in the
// x-ms-signature header instead of Authorization, as Partner Center does for registrations with
// SignatureTokenToMsSignatureHeader set.
func WithMSSignatureHeader() SenderOption {
	return func(s *Sender) { s.msHeader = true }
}

// WithSendClient sets the client [Sender.Send] posts with (default: a new http.Client). Use it
// to reach a TLS test server, for example with the client of an httptest.NewTLSServer.
func WithSendClient(c *http.Client) SenderOption {
	return func(s *Sender) {
		if c != nil {
			s.sendClient = c
		}
	}
}

// WithValidity sets NotBefore and NotAfter of the root, the intermediate and the leaf (default:
// the leaf from an hour ago for 30 days, the CAs from two hours ago for 10 years). A test that
// fixes a verifier's clock (pcwebhook.WithClock) derives both from that clock, so that it passes
// on any day. NewSender fails when notAfter is not after notBefore.
func WithValidity(notBefore, notAfter time.Time) SenderOption {
	return func(s *Sender) { s.validity = &[2]time.Time{notBefore, notAfter} }
}

// NewSender creates the certificates and starts the certificate server. The leaf is valid from
// an hour ago for 30 days; the CAs for 10 years (see [WithValidity]). In a test, [New] does the
// same and also handles the error and the Close.
func NewSender(opts ...SenderOption) (*Sender, error) {
	s := &Sender{sendClient: &http.Client{}}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	// The listener exists before the server starts, so the leaf can name the AIA URL before
	// any request can be served.
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	base := "https://" + s.srv.Listener.Addr().String()
	if err := s.createCertificates(base + issuerPath); err != nil {
		s.srv.Close()
		return nil, fmt.Errorf("pcwebhooktest: NewSender: %w", err)
	}
	s.srv.StartTLS()
	return s, nil
}

// createCertificates makes the root, the intermediate and the leaf.
func (s *Sender) createCertificates(aiaURL string) error {
	opts := []testpki.Option{testpki.WithAIA(aiaURL)}
	if s.validity != nil {
		opts = append(opts, testpki.WithValidity(s.validity[0], s.validity[1]))
	}
	ch, err := testpki.NewChain(opts...)
	if err != nil {
		return err
	}
	s.root, s.intermediate, s.leaf, s.leafKey = ch.Root, ch.Intermediate, ch.Leaf, ch.LeafKey
	return nil
}

// serve answers the certificate and issuer downloads.
func (s *Sender) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var der []byte
	switch r.URL.Path {
	case certificatePath:
		s.downloads.Add(1)
		der = s.leaf.Raw
	case issuerPath:
		s.issuerDownloads.Add(1)
		der = s.intermediate.Raw
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	_, _ = w.Write(der)
}

// Close shuts the certificate server down. Verifiers that still need to download from it fail
// with pcwebhook.ErrCertificateUnavailable.
func (s *Sender) Close() { s.srv.Close() }

// URL returns the base URL of the certificate server, such as "https://127.0.0.1:41234".
func (s *Sender) URL() string { return s.srv.URL }

// CertificateURL returns the URL the signing certificate is served at: the value of the
// X-MS-Certificate-Url header of every signed request.
func (s *Sender) CertificateURL() string { return s.srv.URL + certificatePath }

// CertificateURLPrefix returns the certificate URL allow-list entry that admits this sender,
// for pcwebhook.WithCertificateURLPrefixes.
func (s *Sender) CertificateURLPrefix() string { return s.srv.URL + "/cert/" }

// IssuerURLPrefix returns the issuer URL allow-list entry that admits this sender's
// intermediate, for pcwebhook.WithIssuerURLPrefixes.
func (s *Sender) IssuerURLPrefix() string { return s.srv.URL + "/pki/" }

// RootCAs returns a new pool holding only this sender's root certificate.
func (s *Sender) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.root)
	return pool
}

// Root returns the sender's root CA certificate.
func (s *Sender) Root() *x509.Certificate { return s.root }

// Intermediate returns the sender's intermediate CA certificate, the one served at the leaf's
// AIA URL.
func (s *Sender) Intermediate() *x509.Certificate { return s.intermediate }

// Leaf returns the signing certificate (O=Microsoft Corporation). Its NotBefore and NotAfter
// are what a test moves a verifier's clock around (pcwebhook.WithClock).
func (s *Sender) Leaf() *x509.Certificate { return s.leaf }

// Client returns an http.Client that trusts the certificate server's TLS certificate; it is the
// client the sender's verifiers download with.
func (s *Sender) Client() *http.Client { return s.srv.Client() }

// Downloads returns how many times the signing certificate has been served.
func (s *Sender) Downloads() int64 { return s.downloads.Load() }

// IssuerDownloads returns how many times the intermediate certificate has been served.
func (s *Sender) IssuerDownloads() int64 { return s.issuerDownloads.Load() }

// VerifierOptions returns the options that make a pcwebhook.Verifier trust this sender and
// nothing else: its certificate URL prefix, its issuer URL prefix, its root as the only root,
// and its TLS client.
func (s *Sender) VerifierOptions() []pcwebhook.VerifierOption {
	return []pcwebhook.VerifierOption{
		pcwebhook.WithCertificateURLPrefixes(s.CertificateURLPrefix()),
		pcwebhook.WithIssuerURLPrefixes(s.IssuerURLPrefix()),
		pcwebhook.WithRootCAs(s.RootCAs()),
		pcwebhook.WithHTTPClient(s.Client()),
	}
}

// Verifier returns a new verifier that trusts only this sender (see [Sender.VerifierOptions]);
// opts are applied after those, for example pcwebhook.WithClock. Each call returns a verifier
// with its own, empty, cache. It panics if an option is invalid, as httptest does on setup
// errors; use VerifierOptions with pcwebhook.NewVerifier to get the error instead.
func (s *Sender) Verifier(opts ...pcwebhook.VerifierOption) *pcwebhook.Verifier {
	v, err := pcwebhook.NewVerifier(append(s.VerifierOptions(), opts...)...)
	if err != nil {
		panic("pcwebhooktest: Sender.Verifier: " + err.Error())
	}
	return v
}

// Signature returns the base64 (standard, padded) RSA PKCS#1 v1.5 SHA-256 signature of body
// made with the leaf's key: what follows "Signature " in the headers.
func (s *Sender) Signature(body []byte) string {
	sig, err := testpki.Signature(s.leafKey, body)
	if err != nil { // only on a broken random source
		panic("pcwebhooktest: " + err.Error())
	}
	return sig
}

// Sign returns the headers Partner Center sends with body: "Authorization: Signature <base64>"
// (or x-ms-signature with WithMSSignatureHeader), X-MS-Certificate-Url, X-MS-Signature-Algorithm
// "rsa-sha256", and Content-Type "application/json".
func (s *Sender) Sign(body []byte) http.Header {
	h, err := s.signer().Sign(body)
	if err != nil { // only on a broken random source
		panic("pcwebhooktest: " + err.Error())
	}
	return h
}

// signer signs as this sender.
func (s *Sender) signer() testpki.Signer {
	return testpki.Signer{Key: s.leafKey, CertificateURL: s.CertificateURL(), MSSignatureHeader: s.msHeader}
}

// Send POSTs body to url with the headers of [Sender.Sign], as Partner Center delivers an
// event, with the client of [WithSendClient]. Signatures are deterministic (RSA PKCS#1 v1.5):
// sending the same body again sends the same bytes and headers, as Partner Center's retry does;
// [Sender.Delivery] keeps them in a value. The caller must close the response body.
func (s *Sender) Send(ctx context.Context, url string, body []byte) (*http.Response, error) {
	return s.Delivery(body).Send(ctx, s.sendClient, url)
}
