package pcwebhook_test

// Test fixtures shared by the verifier tests: a throwaway PKI (keys generated once per test
// binary), a loopback TLS certificate server that counts connections and hits, and a canary
// server that must never be contacted.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// The test binary's RSA keys come from a shared pool of primes (testpki.SharePrimes): making a
// key for every sender and chain was most of what the tests spent their time on.
func init() { testpki.SharePrimes() }

// testKeys are generated once per test binary: RSA key generation is slow under -race.
var testKeys = sync.OnceValue(func() (k struct {
	root, inter, leaf, other, otherRoot *rsa.PrivateKey
	small                               *rsa.PrivateKey // 1024 bits
	ec                                  *ecdsa.PrivateKey
}) {
	gen := func() *rsa.PrivateKey {
		key, err := testpki.NewKey()
		if err != nil {
			panic(err)
		}
		return key
	}
	k.root, k.inter, k.leaf, k.other, k.otherRoot = gen(), gen(), gen(), gen(), gen()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	k.small = small
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	k.ec = ec
	return k
})

// certSpec describes a certificate to issue.
type certSpec struct {
	cn          string
	org         []string
	ou          []string
	extraNames  []pkix.AttributeTypeAndValue // appended after the other subject attributes
	isCA        bool
	notBefore   time.Time
	notAfter    time.Time
	aia         []string
	pub         crypto.PublicKey // default: the leaf key
	maxPathZero bool
}

// issueCert signs spec with parentKey (through internal/testpki); parent nil means self-signed.
func issueCert(t testing.TB, spec certSpec, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if spec.pub == nil {
		spec.pub = &testKeys().leaf.PublicKey
	}
	cert, err := testpki.Issue(testpki.Template{
		CommonName: spec.cn, Organization: spec.org, OrganizationalUnit: spec.ou, ExtraNames: spec.extraNames,
		IsCA: spec.isCA, MaxPathLenZero: spec.maxPathZero, NotBefore: spec.notBefore, NotAfter: spec.notAfter, AIA: spec.aia,
	}, spec.pub, parent, parentKey)
	require.NoError(t, err)
	return cert
}

// testPKI is a root and an intermediate. The intermediate carries O=Microsoft Corporation, as
// Microsoft's real issuing CAs do, so that a check of the wrong certificate would be caught.
type testPKI struct {
	root, inter *x509.Certificate
	pool        *x509.CertPool
}

func newTestPKI(t testing.TB) *testPKI {
	k := testKeys()
	root := issueCert(t, certSpec{cn: "Test Root", org: []string{"Test"}, isCA: true, pub: &k.root.PublicKey,
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().AddDate(5, 0, 0)}, nil, k.root)
	inter := issueCert(t, certSpec{cn: "Test Issuing CA", org: []string{pcwebhook.RequiredOrganization}, isCA: true,
		maxPathZero: true, pub: &k.inter.PublicKey,
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().AddDate(1, 0, 0)}, root, k.root)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &testPKI{root: root, inter: inter, pool: pool}
}

// leaf issues a signing certificate under the intermediate: O=Microsoft Corporation and the
// given AIA URLs unless spec says otherwise.
func (p *testPKI) leaf(t testing.TB, spec certSpec) *x509.Certificate {
	if spec.cn == "" {
		spec.cn = "pcnotifications-dispatch.microsoft.com"
	}
	if spec.org == nil {
		spec.org = []string{pcwebhook.RequiredOrganization}
	}
	return issueCert(t, spec, p.inter, testKeys().inter)
}

// testServer is a loopback TLS server with routes that can be added while it runs; it counts
// TCP connections (so that even a request that failed before HTTP is seen) and hits per path.
type testServer struct {
	srv      *httptest.Server
	conns    atomic.Int64 // TCP connections accepted
	requests atomic.Int64 // HTTP requests received
	mu       sync.Mutex
	routes   map[string]http.HandlerFunc
	hits     map[string]int
}

func newTestServer(t testing.TB) *testServer {
	s := &testServer{routes: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		s.hits[r.URL.Path]++
		h := s.routes[r.URL.Path]
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *testServer) handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[path] = h
}

func (s *testServer) serve(path string, body []byte) {
	s.handle(path, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
}

func (s *testServer) hitsFor(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *testServer) url(path string) string { return s.srv.URL + path }

func (s *testServer) port() string {
	_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	return port
}

// fixture is a PKI, a certificate server holding the intermediate at /pki/inter.crt and a
// leaf-only DER certificate at /cert/leaf.cer, and a canary server.
type fixture struct {
	pki    *testPKI
	cs     *testServer
	canary *testServer
	leaf   *x509.Certificate
}

const (
	leafPath  = "/cert/leaf.cer"
	interPath = "/pki/inter.crt"
)

func newFixture(t testing.TB) *fixture {
	f := &fixture{pki: newTestPKI(t), cs: newTestServer(t), canary: newTestServer(t)}
	f.cs.serve(interPath, f.pki.inter.Raw)
	f.leaf = f.pki.leaf(t, certSpec{aia: []string{f.cs.url(interPath)}})
	f.cs.serve(leafPath, f.leaf.Raw)
	return f
}

// options trust the fixture: its certificate and issuer prefixes, its root, its TLS client.
func (f *fixture) options(extra ...pcwebhook.VerifierOption) []pcwebhook.VerifierOption {
	return append([]pcwebhook.VerifierOption{
		pcwebhook.WithCertificateURLPrefixes(f.cs.url("/cert/")),
		pcwebhook.WithIssuerURLPrefixes(f.cs.url("/pki/")),
		pcwebhook.WithRootCAs(f.pki.pool),
		pcwebhook.WithHTTPClient(f.cs.srv.Client()),
	}, extra...)
}

func (f *fixture) verifier(t testing.TB, extra ...pcwebhook.VerifierOption) *pcwebhook.Verifier {
	t.Helper()
	v, err := pcwebhook.NewVerifier(f.options(extra...)...)
	require.NoError(t, err)
	return v
}

// sign returns the standard padded base64 RSA PKCS#1 v1.5 SHA-256 signature of body.
func sign(t testing.TB, key *rsa.PrivateKey, body []byte) string {
	t.Helper()
	sig, err := testpki.Signature(key, body)
	require.NoError(t, err)
	return sig
}

// signedHeader returns the headers of a delivery of body signed by the leaf key, naming certURL.
func signedHeader(t testing.TB, certURL string, body []byte) http.Header {
	t.Helper()
	h, err := testpki.Signer{Key: testKeys().leaf, CertificateURL: certURL}.Sign(body)
	require.NoError(t, err)
	h.Del("Content-Type")
	return h
}

func pemEncode(certs ...*x509.Certificate) []byte { return testpki.PEM(certs...) }

func derConcat(certs ...*x509.Certificate) []byte { return testpki.DER(certs...) }

// testClock is a settable clock for WithClock.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}

func (c *testClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }
