package pcwebhook_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

var testBody = []byte(`{"EventName":"test-created","ResourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/c0bfd694-3075-4ec5-9a3c-733d3a890a1f","ResourceName":"test","AuditUri":null,"ResourceChangeUtcDate":"2017-11-16T16:19:06.3520276+00:00"}`)

// TestVerifyAccepts covers every way a genuine delivery may arrive.
func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	k := testKeys()
	sig := sign(t, k.leaf, testBody)
	leafAlone := f.pki.leaf(t, certSpec{aia: []string{f.cs.url(interPath)}})
	f.cs.serve("/cert/leaf.pem", pemEncode(leafAlone))
	f.cs.serve("/cert/bundle.pem", pemEncode(leafAlone, f.pki.inter))
	f.cs.serve("/cert/bundle.der", derConcat(leafAlone, f.pki.inter))
	// A PEM file with something else before the certificate, and CRLF line ends.
	noise := append(pem.EncodeToMemory(&pem.Block{Type: "COMMENT", Bytes: []byte("x")}), pemEncode(leafAlone, f.pki.inter)...)
	f.cs.serve("/cert/noise.pem", []byte(strings.ReplaceAll(string(noise), "\n", "\r\n")))
	underRoot := issueCert(t, certSpec{cn: "direct", org: []string{pcwebhook.RequiredOrganization}}, f.pki.root, k.root)
	f.cs.serve("/cert/direct.cer", underRoot.Raw)

	type tc struct {
		name            string
		header          func() http.Header
		opts            []pcwebhook.VerifierOption
		certDownloads   int64
		issuerDownloads int64
	}
	h := func(kv ...string) func() http.Header {
		return func() http.Header {
			out := http.Header{}
			for i := 0; i < len(kv); i += 2 {
				out.Add(kv[i], kv[i+1])
			}
			return out
		}
	}
	std := func(certURL string, sigHeader, sigValue string) func() http.Header {
		return h(sigHeader, sigValue, "X-MS-Certificate-Url", certURL, "X-MS-Signature-Algorithm", "rsa-sha256")
	}
	leafURL := f.cs.url(leafPath)
	cases := []tc{
		{name: "Authorization, leaf-only DER, issuer via AIA", header: std(leafURL, "Authorization", "Signature "+sig), certDownloads: 1, issuerDownloads: 1},
		{name: "scheme in lower case", header: std(leafURL, "Authorization", "signature "+sig), certDownloads: 1, issuerDownloads: 1},
		{name: "scheme in upper case, extra blanks", header: std(leafURL, "Authorization", " SIGNATURE \t "+sig+" "), certDownloads: 1, issuerDownloads: 1},
		{name: "x-ms-signature with scheme", header: std(leafURL, "x-ms-signature", "Signature "+sig), certDownloads: 1, issuerDownloads: 1},
		{name: "x-ms-signature bare", header: std(leafURL, "x-ms-signature", sig), certDownloads: 1, issuerDownloads: 1},
		{name: "other Authorization scheme beside x-ms-signature",
			header:        h("Authorization", "Bearer abc", "X-Ms-Signature", sig, "X-MS-Certificate-Url", leafURL, "X-MS-Signature-Algorithm", "rsa-sha256"),
			certDownloads: 1, issuerDownloads: 1},
		{name: "algorithm in upper case", header: h("Authorization", "Signature "+sig, "X-MS-Certificate-Url", leafURL, "X-MS-Signature-Algorithm", "RSA-SHA256"), certDownloads: 1, issuerDownloads: 1},
		{name: "unpadded base64", header: std(leafURL, "Authorization", "Signature "+strings.TrimRight(sig, "=")), certDownloads: 1, issuerDownloads: 1},
		{name: "header map with non-canonical keys", header: func() http.Header {
			return http.Header{"authorization": {"Signature " + sig}, "x-ms-certificate-url": {leafURL}, "x-ms-signature-algorithm": {"rsa-sha256"}}
		}, certDownloads: 1, issuerDownloads: 1},
		{name: "upper-case scheme in the URL", header: std("HTTPS"+strings.TrimPrefix(leafURL, "https"), "Authorization", "Signature "+sig), certDownloads: 1, issuerDownloads: 1},
		{name: "PEM leaf only, issuer via AIA", header: std(f.cs.url("/cert/leaf.pem"), "Authorization", "Signature "+sig), certDownloads: 1, issuerDownloads: 1},
		{name: "PEM bundle with intermediate", header: std(f.cs.url("/cert/bundle.pem"), "Authorization", "Signature "+sig), certDownloads: 1},
		{name: "PEM bundle with other blocks and CRLF", header: std(f.cs.url("/cert/noise.pem"), "Authorization", "Signature "+sig), certDownloads: 1},
		{name: "concatenated DER with intermediate", header: std(f.cs.url("/cert/bundle.der"), "Authorization", "Signature "+sig), certDownloads: 1},
		{name: "leaf issued by the root", header: std(f.cs.url("/cert/direct.cer"), "Authorization", "Signature "+sig), certDownloads: 1},
		{name: "pinned leaf, issuer via AIA", header: std(f.cs.url("/cert/not-served.cer"), "Authorization", "Signature "+sig),
			opts: []pcwebhook.VerifierOption{pcwebhook.WithPinnedCertificate(f.cs.url("/cert/not-served.cer"), leafAlone)}, issuerDownloads: 1},
		{name: "pinned leaf and intermediate, no issuer downloads allowed", header: std(f.cs.url("/cert/not-served.cer"), "Authorization", "Signature "+sig),
			opts: []pcwebhook.VerifierOption{pcwebhook.WithPinnedCertificate(f.cs.url("/cert/not-served.cer"), leafAlone, f.pki.inter), pcwebhook.WithoutIssuerDownloads()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := f.verifier(t, c.opts...)
			require.NoError(t, v.Verify(context.Background(), c.header(), testBody))
			// The second delivery is served from the cache.
			require.NoError(t, v.Verify(context.Background(), c.header(), testBody))
			st := v.Stats()
			assert.Equal(t, c.certDownloads, st.CertificateDownloads, "certificate downloads")
			assert.Equal(t, c.issuerDownloads, st.IssuerDownloads, "issuer downloads")
			assert.Equal(t, int64(2), st.Verified)
			assert.Equal(t, int64(1), st.CacheHits)
			// The cached key still checks the signature against the body.
			assert.ErrorIs(t, v.Verify(context.Background(), c.header(), append([]byte{' '}, testBody...)), pcwebhook.ErrBadSignature)
		})
	}
	assert.Zero(t, f.cs.hitsFor("/cert/not-served.cer"), "a pinned URL is never downloaded")
	assert.Zero(t, f.canary.conns.Load())
}

// TestVerifyAcceptsSenderKit checks the public test kit end to end, both header forms, every
// sample event.
func TestVerifyAcceptsSenderKit(t *testing.T) {
	for _, opts := range [][]pcwebhooktest.SenderOption{nil, {pcwebhooktest.WithMSSignatureHeader()}} {
		s := pcwebhooktest.New(t, opts...)
		v := s.Verifier()
		for _, name := range pcwebhook.KnownEventNames() {
			body := pcwebhooktest.SampleEvent(name)
			require.NoError(t, v.Verify(context.Background(), s.Sign(body), body), name)
		}
		assert.Equal(t, int64(1), s.Downloads())
		assert.Equal(t, int64(1), s.IssuerDownloads())
	}
}

// hostileCase is one request that must be refused.
type hostileCase struct {
	name   string
	header http.Header
	body   []byte
	opts   []pcwebhook.VerifierOption
	ctx    func() (context.Context, context.CancelFunc)
	want   error
	step   pcwebhook.VerificationStep
	check  func(t *testing.T, v *pcwebhook.Verifier, err error, elapsed time.Duration)
	// offline: refused before any network call.
	offline bool
}

// TestVerifyRejects runs every hostile case against a fresh verifier. A canary server, which
// some cases try to reach through redirects, userinfo, other ports and AIA URLs, must see no
// connection at all.
func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	cases := hostileCases(t, f)
	require.GreaterOrEqual(t, len(cases), 25)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if body == nil {
				body = testBody
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if c.ctx != nil {
				ctx, cancel = c.ctx()
			}
			defer cancel()
			v := f.verifier(t, c.opts...)
			requestsBefore, connsBefore := f.cs.requests.Load(), f.cs.conns.Load()
			start := time.Now()
			err := v.Verify(ctx, c.header, body)
			elapsed := time.Since(start)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.want)
			for _, other := range []error{pcwebhook.ErrMissingSignature, pcwebhook.ErrMissingCertificateURL, pcwebhook.ErrUnsupportedAlgorithm,
				pcwebhook.ErrUntrustedCertificateURL, pcwebhook.ErrCertificateUnavailable, pcwebhook.ErrUntrustedCertificate, pcwebhook.ErrBadSignature,
				pcwebhook.ErrSignatureUnconfirmed, pcwebhook.ErrCertificateNotFound} {
				if other != c.want {
					assert.NotErrorIs(t, err, other, "exactly one sentinel")
				}
			}
			var ve *pcwebhook.VerificationError
			require.True(t, errors.As(err, &ve))
			if c.step != "" {
				assert.Equal(t, c.step, ve.Step)
			}
			assert.NotEmpty(t, ve.Reason)
			// The receiver's conditions are transient (503, retried); the sender's are not (401).
			transient := errors.Is(c.want, pcwebhook.ErrCertificateUnavailable) || errors.Is(c.want, pcwebhook.ErrUntrustedCertificate)
			assert.Equal(t, transient, ve.Transient())
			assert.Equal(t, transient, ve.Fix() != "", "a transient failure says how to fix it: %q", ve.Fix())
			// No signature, no body, in the message.
			msg := err.Error()
			for _, vs := range c.header {
				for _, hv := range vs {
					if tok := strings.TrimSpace(strings.TrimPrefix(hv, "Signature ")); len(tok) > 40 && !strings.Contains(tok, "://") {
						assert.NotContains(t, msg, tok[:40], "the signature must not appear in the error")
					}
				}
			}
			assert.NotContains(t, msg, "EventName")
			assert.NotContains(t, msg, string(body[:min(len(body), 30)]))
			assert.Equal(t, int64(1), v.Stats().Rejected)
			if c.offline {
				assert.Zero(t, v.Stats().CertificateDownloads+v.Stats().IssuerDownloads, "nothing may be downloaded")
				assert.Equal(t, requestsBefore, f.cs.requests.Load(), "the certificate server got a request")
				assert.Equal(t, connsBefore, f.cs.conns.Load(), "the certificate server got a connection")
			}
			if c.check != nil {
				c.check(t, v, err, elapsed)
			}
		})
	}
	assert.Zero(t, f.canary.conns.Load(), "no connection may ever reach a host outside the allow-lists")
	f.canary.mu.Lock()
	defer f.canary.mu.Unlock()
	assert.Empty(t, f.canary.hits, "canary requests")
}

func hostileCases(t *testing.T, f *fixture) []hostileCase {
	k := testKeys()
	leafURL := f.cs.url(leafPath)
	sig := sign(t, k.leaf, testBody)
	hdr := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	signedFor := func(certURL string) http.Header {
		return hdr("Authorization", "Signature "+sig, "X-MS-Certificate-Url", certURL, "X-MS-Signature-Algorithm", "rsa-sha256")
	}
	withAlg := func(alg string) http.Header {
		return hdr("Authorization", "Signature "+sig, "X-MS-Certificate-Url", leafURL, "X-MS-Signature-Algorithm", alg)
	}
	withSig := func(value string) http.Header {
		return hdr("Authorization", value, "X-MS-Certificate-Url", leafURL, "X-MS-Signature-Algorithm", "rsa-sha256")
	}
	// serveLeaf serves a certificate at a fresh path and returns its URL.
	n := 0
	serveAt := func(body []byte) string {
		n++
		path := "/cert/case" + string(rune('a'+n/26)) + string(rune('a'+n%26)) + ".cer"
		f.cs.serve(path, body)
		return f.cs.url(path)
	}
	leafWith := func(spec certSpec) string {
		if spec.aia == nil {
			spec.aia = []string{f.cs.url(interPath)}
		}
		return serveAt(f.pki.leaf(t, spec).Raw)
	}
	noIssuerDownload := func(t *testing.T, v *pcwebhook.Verifier, _ error, _ time.Duration) {
		assert.Equal(t, int64(1), v.Stats().CertificateDownloads)
		assert.Zero(t, v.Stats().IssuerDownloads, "a leaf failing local checks causes no issuer download")
	}

	// Other signatures over the same body.
	sha1Sum := sha1.Sum(testBody)
	sha1Sig, err := rsa.SignPKCS1v15(rand.Reader, k.leaf, crypto.SHA1, sha1Sum[:])
	require.NoError(t, err)
	rawSig, err := base64.StdEncoding.DecodeString(sig)
	require.NoError(t, err)

	// Certificates that must not be trusted.
	selfSigned := issueCert(t, certSpec{cn: "pcnotifications-dispatch.microsoft.com", org: []string{pcwebhook.RequiredOrganization}}, nil, k.leaf)
	otherRoot := issueCert(t, certSpec{cn: "Test Issuing CA", org: []string{pcwebhook.RequiredOrganization}, isCA: true, pub: &k.otherRoot.PublicKey}, nil, k.otherRoot)
	foreignLeaf := issueCert(t, certSpec{cn: "x", org: []string{pcwebhook.RequiredOrganization}, aia: []string{f.cs.url("/pki/other-root.crt")}}, otherRoot, k.otherRoot)
	f.cs.serve("/pki/other-root.crt", otherRoot.Raw)
	notCA := issueCert(t, certSpec{cn: "Not a CA", org: []string{pcwebhook.RequiredOrganization}, pub: &k.other.PublicKey}, f.pki.root, k.root)
	f.cs.serve("/pki/not-ca.crt", notCA.Raw)
	underNotCA := issueCert(t, certSpec{cn: "x", org: []string{pcwebhook.RequiredOrganization}, aia: []string{f.cs.url("/pki/not-ca.crt")}}, notCA, k.other)
	expiredInter := issueCert(t, certSpec{cn: "Expired CA", isCA: true, pub: &k.other.PublicKey,
		notBefore: time.Now().Add(-72 * time.Hour), notAfter: time.Now().Add(-48 * time.Hour)}, f.pki.root, k.root)
	f.cs.serve("/pki/expired.crt", expiredInter.Raw)
	underExpired := issueCert(t, certSpec{cn: "x", org: []string{pcwebhook.RequiredOrganization}, aia: []string{f.cs.url("/pki/expired.crt")},
		notBefore: time.Now().Add(-60 * time.Hour)}, expiredInter, k.other)
	wrongInterURL := f.cs.url("/pki/impostor.crt")
	impostorInter := issueCert(t, certSpec{cn: "Test Issuing CA", org: []string{pcwebhook.RequiredOrganization}, isCA: true, pub: &k.other.PublicKey}, nil, k.other)
	f.cs.serve("/pki/impostor.crt", impostorInter.Raw)
	ecLeaf := issueCert(t, certSpec{cn: "ec", org: []string{pcwebhook.RequiredOrganization}, pub: &k.ec.PublicKey, aia: []string{f.cs.url(interPath)}}, f.pki.inter, k.inter)
	smallLeaf := issueCert(t, certSpec{cn: "small", org: []string{pcwebhook.RequiredOrganization}, pub: &k.small.PublicKey, aia: []string{f.cs.url(interPath)}}, f.pki.inter, k.inter)

	// Download behaviours.
	canaryURL := f.canary.url("/cert/x.cer")
	f.cs.handle("/cert/redirect.cer", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, canaryURL, http.StatusFound)
	})
	f.cs.handle("/cert/500.cer", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.cs.handle("/cert/slow.cer", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		// Never answer: under load net/http may still deliver a response written after the
		// request context ended, which would turn "slow" into "empty".
		panic(http.ErrAbortHandler)
	})
	var hugeWritten atomic.Int64
	hugeDone := make(chan struct{})
	f.cs.handle("/cert/huge.cer", func(w http.ResponseWriter, r *http.Request) {
		defer close(hugeDone)
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1024; i++ { // 64 MiB
			n, err := w.Write(chunk)
			hugeWritten.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	f.cs.handle("/cert/declared-huge.cer", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "67108864")
		w.WriteHeader(http.StatusOK)
	})
	followingClient := *f.cs.srv.Client()
	followingClient.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }

	fpcsPort := f.cs.port()
	canaryPort := f.canary.port()

	return []hostileCase{
		// The signature and the body.
		{name: "tampered body", header: signedFor(leafURL), body: []byte(strings.Replace(string(testBody), "test-created", "test-Created", 1)), want: pcwebhook.ErrBadSignature, step: pcwebhook.StepSignature},
		{name: "body with one extra byte", header: signedFor(leafURL), body: append(append([]byte{}, testBody...), '\n'), want: pcwebhook.ErrBadSignature},
		{name: "signed by another key", header: withSig("Signature " + sign(t, k.other, testBody)), want: pcwebhook.ErrBadSignature, step: pcwebhook.StepSignature},
		{name: "signed with SHA-1", header: withSig("Signature " + base64.StdEncoding.EncodeToString(sha1Sig)), want: pcwebhook.ErrBadSignature},
		{name: "bad base64", header: withSig("Signature !!!not-base64!!!"), want: pcwebhook.ErrBadSignature, step: pcwebhook.StepSignatureFormat, offline: true},
		{name: "URL-safe base64 alphabet", header: withSig("Signature " + base64.URLEncoding.EncodeToString(append([]byte{0xfb, 0xff}, rawSig[2:]...))), want: pcwebhook.ErrBadSignature},
		{name: "truncated signature", header: withSig("Signature " + base64.StdEncoding.EncodeToString(rawSig[:128])), want: pcwebhook.ErrBadSignature, step: pcwebhook.StepSignatureFormat},
		{name: "oversized signature", header: withSig("Signature " + strings.Repeat("A", 4096)), want: pcwebhook.ErrBadSignature, offline: true},

		// Missing headers.
		{name: "no signature header", header: hdr("X-MS-Certificate-Url", leafURL, "X-MS-Signature-Algorithm", "rsa-sha256"), want: pcwebhook.ErrMissingSignature, step: pcwebhook.StepSignatureHeader},
		{name: "Authorization with another scheme only", header: withSig("Bearer " + sig), want: pcwebhook.ErrMissingSignature},
		{name: "Signature scheme without token", header: withSig("Signature "), want: pcwebhook.ErrMissingSignature},
		{name: "scheme glued to token", header: withSig("Signature" + sig), want: pcwebhook.ErrMissingSignature},
		{name: "two Authorization headers", header: func() http.Header {
			h := withSig("Signature " + sig)
			h.Add("Authorization", "Signature "+sig)
			return h
		}(), want: pcwebhook.ErrMissingSignature},
		{name: "no certificate URL", header: hdr("Authorization", "Signature "+sig, "X-MS-Signature-Algorithm", "rsa-sha256"), want: pcwebhook.ErrMissingCertificateURL, step: pcwebhook.StepCertificateURL},
		{name: "empty certificate URL", header: signedFor(""), want: pcwebhook.ErrMissingCertificateURL},
		{name: "no algorithm", header: hdr("Authorization", "Signature "+sig, "X-MS-Certificate-Url", leafURL), want: pcwebhook.ErrUnsupportedAlgorithm, step: pcwebhook.StepAlgorithm},

		// Algorithms: only rsa-sha256.
		{name: "algorithm rsa-sha1", header: withAlg("rsa-sha1"), want: pcwebhook.ErrUnsupportedAlgorithm, offline: true},
		{name: "algorithm RS256", header: withAlg("RS256"), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "algorithm rsa-sha512", header: withAlg("rsa-sha512"), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "algorithm hmac-sha256", header: withAlg("hmac-sha256"), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "algorithm none", header: withAlg("none"), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "algorithm empty", header: withAlg(""), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "algorithm with suffix", header: withAlg(" rsa-sha256x"), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "algorithm list", header: withAlg("rsa-sha256, rsa-sha1"), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "algorithm underscore", header: withAlg("rsa_sha256"), want: pcwebhook.ErrUnsupportedAlgorithm},
		{name: "two algorithm headers", header: func() http.Header {
			h := withAlg("rsa-sha256")
			h.Add("X-MS-Signature-Algorithm", "rsa-sha1")
			return h
		}(), want: pcwebhook.ErrUnsupportedAlgorithm},

		// Certificate URLs: refused before any connection.
		{name: "foreign host", header: signedFor("https://localhost:" + canaryPort + "/cert/x.cer"), want: pcwebhook.ErrUntrustedCertificateURL, step: pcwebhook.StepCertificateURL, offline: true},
		{name: "other port", header: signedFor(canaryURL), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "userinfo: allowed host as user name", header: signedFor("https://127.0.0.1:" + fpcsPort + "@localhost:" + canaryPort + "/cert/x.cer"), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "userinfo before allowed host", header: signedFor("https://evil@127.0.0.1:" + fpcsPort + leafPath), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "http scheme", header: signedFor("http://127.0.0.1:" + fpcsPort + leafPath), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "dot dot", header: signedFor(f.cs.url("/cert/../pki/inter.crt")), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "encoded dot dot", header: signedFor(f.cs.url("/cert/%2e%2e/pki/inter.crt")), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "encoded slash", header: signedFor(f.cs.url("/cert/..%2Fpki%2Finter.crt")), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "query", header: signedFor(leafURL + "?v=1"), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "bare query", header: signedFor(leafURL + "?"), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "fragment", header: signedFor(leafURL + "#x"), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "backslash", header: signedFor(f.cs.url("/cert\\leaf.cer")), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "double slash", header: signedFor(f.cs.url("/cert//leaf.cer")), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "path outside the prefix", header: signedFor(f.cs.url(interPath)), want: pcwebhook.ErrUntrustedCertificateURL, offline: true},
		{name: "two certificate URLs", header: func() http.Header { h := signedFor(leafURL); h.Add("X-MS-Certificate-Url", canaryURL); return h }(), want: pcwebhook.ErrMissingCertificateURL, offline: true},

		// Downloads.
		{name: "redirect to another host", header: signedFor(f.cs.url("/cert/redirect.cer")), want: pcwebhook.ErrCertificateUnavailable, step: pcwebhook.StepDownload},
		{name: "redirect with a client that follows redirects", header: signedFor(f.cs.url("/cert/redirect.cer")), opts: []pcwebhook.VerifierOption{pcwebhook.WithHTTPClient(&followingClient)}, want: pcwebhook.ErrCertificateUnavailable},
		{name: "server error", header: signedFor(f.cs.url("/cert/500.cer")), want: pcwebhook.ErrCertificateUnavailable, step: pcwebhook.StepDownload},
		{name: "not found, never seen", header: signedFor(f.cs.url("/cert/missing.cer")), want: pcwebhook.ErrCertificateNotFound, step: pcwebhook.StepDownload},
		{name: "slow server, short context", header: signedFor(f.cs.url("/cert/slow.cer")),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			want: pcwebhook.ErrCertificateUnavailable,
			check: func(t *testing.T, _ *pcwebhook.Verifier, err error, d time.Duration) {
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Less(t, d, 3*time.Second, "the caller's context bounds the wait")
			}},
		{name: "slow server, download timeout", header: signedFor(f.cs.url("/cert/slow.cer")),
			opts: []pcwebhook.VerifierOption{pcwebhook.WithDownloadTimeout(50 * time.Millisecond)},
			want: pcwebhook.ErrCertificateUnavailable,
			check: func(t *testing.T, _ *pcwebhook.Verifier, err error, d time.Duration) {
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Less(t, d, 3*time.Second)
			}},
		{name: "64 MiB answer", header: signedFor(f.cs.url("/cert/huge.cer")), want: pcwebhook.ErrCertificateUnavailable,
			check: func(t *testing.T, v *pcwebhook.Verifier, _ error, _ time.Duration) {
				assert.LessOrEqual(t, v.Stats().BytesDownloaded, int64(pcwebhook.DefaultMaxCertificateBytes+1), "read past the cap")
				select {
				case <-hugeDone:
				case <-time.After(10 * time.Second):
					t.Fatal("the server is still sending: the client did not hang up")
				}
				assert.Less(t, hugeWritten.Load(), int64(64<<20), "the server could write the whole answer")
			}},
		{name: "declared 64 MiB", header: signedFor(f.cs.url("/cert/declared-huge.cer")), want: pcwebhook.ErrCertificateUnavailable,
			check: func(t *testing.T, v *pcwebhook.Verifier, _ error, _ time.Duration) {
				assert.Zero(t, v.Stats().BytesDownloaded)
			}},
		{name: "small size cap", header: signedFor(leafURL), opts: []pcwebhook.VerifierOption{pcwebhook.WithMaxCertificateBytes(100)}, want: pcwebhook.ErrCertificateUnavailable},

		// Certificates.
		{name: "garbage certificate", header: signedFor(serveAt([]byte("this is not a certificate"))), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepParse},
		{name: "empty certificate file", header: signedFor(serveAt(nil)), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepParse},
		{name: "PEM without certificate", header: signedFor(serveAt(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}))), want: pcwebhook.ErrUntrustedCertificate},
		{name: "truncated DER", header: signedFor(serveAt(f.leaf.Raw[:len(f.leaf.Raw)/2])), want: pcwebhook.ErrUntrustedCertificate},
		{name: "wrong organization", header: signedFor(leafWith(certSpec{org: []string{"Contoso"}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization, check: noIssuerDownload},
		{name: "organization with suffix", header: signedFor(leafWith(certSpec{org: []string{"Microsoft Corporation Ltd"}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization},
		{name: "organization in lower case", header: signedFor(leafWith(certSpec{org: []string{"microsoft corporation"}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization},
		{name: "organization with prefix", header: signedFor(leafWith(certSpec{org: []string{"Not Microsoft Corporation"}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization},
		{name: "organization with trailing space", header: signedFor(leafWith(certSpec{org: []string{"Microsoft Corporation "}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization},
		{name: "two organizations", header: signedFor(leafWith(certSpec{org: []string{"Microsoft Corporation", "Evil"}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization},
		{name: "second organization attribute after the right one", header: signedFor(leafWith(certSpec{extraNames: []pkix.AttributeTypeAndValue{
			// Two O attributes in separate RDNs, the right one first (a SET would sort them).
			{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: pcwebhook.RequiredOrganization}, {Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Evil"}}})),
			want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization},
		{name: "organization only in OU, issuer has it", header: signedFor(leafWith(certSpec{org: []string{}, ou: []string{"Microsoft Corporation"}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepOrganization},
		{name: "self-signed leaf", header: signedFor(serveAt(selfSigned.Raw)), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepChain,
			check: func(t *testing.T, v *pcwebhook.Verifier, _ error, _ time.Duration) {
				assert.Zero(t, v.Stats().IssuerDownloads)
			}},
		{name: "chain to an untrusted root via AIA", header: signedFor(serveAt(foreignLeaf.Raw)), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepChain},
		{name: "issuer that is not a CA", header: signedFor(serveAt(underNotCA.Raw)), want: pcwebhook.ErrUntrustedCertificate},
		{name: "expired intermediate", header: signedFor(serveAt(underExpired.Raw)), want: pcwebhook.ErrUntrustedCertificate},
		{name: "AIA serves an impostor with the issuer's name", header: signedFor(leafWith(certSpec{aia: []string{wrongInterURL}})), want: pcwebhook.ErrUntrustedCertificate},
		{name: "expired leaf", header: signedFor(leafURL), opts: []pcwebhook.VerifierOption{pcwebhook.WithClock(func() time.Time { return f.leaf.NotAfter.Add(time.Second) })},
			want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepCertificateTime},
		{name: "leaf not yet valid", header: signedFor(leafURL), opts: []pcwebhook.VerifierOption{pcwebhook.WithClock(func() time.Time { return f.leaf.NotBefore.Add(-time.Second) })},
			want: pcwebhook.ErrUntrustedCertificate},
		{name: "ECDSA leaf", header: signedFor(serveAt(ecLeaf.Raw)), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepPublicKey},
		{name: "1024-bit RSA leaf", header: signedFor(serveAt(smallLeaf.Raw)), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepPublicKey},
		{name: "CA certificate as leaf", header: signedFor(leafWith(certSpec{isCA: true})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepPublicKey},
		{name: "AIA outside the issuer allow-list", header: signedFor(leafWith(certSpec{aia: []string{f.canary.url(interPath)}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepIssuerDownload,
			check: func(t *testing.T, v *pcwebhook.Verifier, _ error, _ time.Duration) {
				assert.Zero(t, v.Stats().IssuerDownloads)
			}},
		{name: "AIA with userinfo", header: signedFor(leafWith(certSpec{aia: []string{"https://127.0.0.1:" + fpcsPort + "@localhost:" + canaryPort + interPath}})), want: pcwebhook.ErrUntrustedCertificate},
		{name: "AIA with dot dot", header: signedFor(leafWith(certSpec{aia: []string{f.cs.url("/pki/../cert/leaf.cer")}})), want: pcwebhook.ErrUntrustedCertificate},
		{name: "no AIA and no intermediate", header: signedFor(leafWith(certSpec{aia: []string{}})), want: pcwebhook.ErrUntrustedCertificate, step: pcwebhook.StepIssuerDownload},
		{name: "issuer downloads disabled", header: signedFor(leafURL), opts: []pcwebhook.VerifierOption{pcwebhook.WithoutIssuerDownloads()}, want: pcwebhook.ErrUntrustedCertificate,
			check: func(t *testing.T, v *pcwebhook.Verifier, _ error, _ time.Duration) {
				assert.Zero(t, v.Stats().IssuerDownloads)
			}},
		{name: "AIA answers 404", header: signedFor(leafWith(certSpec{aia: []string{f.cs.url("/pki/missing.crt")}})), want: pcwebhook.ErrCertificateUnavailable, step: pcwebhook.StepIssuerDownload},
		{name: "other trusted roots only", header: signedFor(leafURL), opts: []pcwebhook.VerifierOption{pcwebhook.WithRootCAs(func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(otherRoot); return p }())},
			want: pcwebhook.ErrUntrustedCertificate},
	}
}

// TestProductionPolicyNeverLeavesTheAllowList uses the default policy with a transport that
// records every request: hostile URLs cause none, the documented URL causes exactly one, to the
// exact canonical URL.
func TestProductionPolicyNeverLeavesTheAllowList(t *testing.T) {
	rt := &recordingTransport{}
	v, err := pcwebhook.NewVerifier(pcwebhook.WithHTTPClient(&http.Client{Transport: rt}))
	require.NoError(t, err)
	sig := base64.StdEncoding.EncodeToString(make([]byte, 256))
	verify := func(certURL string) error {
		h := http.Header{}
		h.Set("Authorization", "Signature "+sig)
		h.Set("X-MS-Certificate-Url", certURL)
		h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
		return v.Verify(context.Background(), h, testBody)
	}
	for _, u := range []string{
		"https://3psostorageacct.blob.core.windows.net@evil.example/cert/x.cer",
		"https://evil@3psostorageacct.blob.core.windows.net/cert/x.cer",
		"http://3psostorageacct.blob.core.windows.net/cert/x.cer",
		"https://3psostorageacct.blob.core.windows.net:8443/cert/x.cer",
		"https://3psostorageacct.blob.core.windows.net.evil.example/cert/x.cer",
		"https://evilacct.blob.core.windows.net/cert/x.cer",
		"https://3psostorageacct.blob.core.windows.net/cert/../x.cer",
		"https://3psostorageacct.blob.core.windows.net/cert/%2e%2e/x.cer",
		"https://3psostorageacct.blob.core.windows.net/cert/..%2Fx.cer",
		"https://3psostorageacct.blob.core.windows.net/cert/x.cer?sig=1",
		"https://3psostorageacct.blob.core.windows.net/cert/x.cer#a",
		"https://3psostorageacct.blob.core.windows.net/other/x.cer",
		"https://169.254.169.254/metadata/instance",
		"file:///etc/passwd",
	} {
		err := verify(u)
		assert.ErrorIs(t, err, pcwebhook.ErrUntrustedCertificateURL, u)
	}
	assert.Empty(t, rt.urls(), "no request for a URL outside the allow-list")

	err = verify("HTTPS://3PSOSTORAGEACCT.blob.core.windows.net:443/cert/pcnotifications-dispatch.microsoft.com.cer")
	assert.ErrorIs(t, err, pcwebhook.ErrCertificateUnavailable)
	assert.Equal(t, []string{"https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer"}, rt.urls())
}

type recordingTransport struct {
	mu atomic.Pointer[[]string]
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	for {
		old := rt.mu.Load()
		var next []string
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, r.URL.String())
		if rt.mu.CompareAndSwap(old, &next) {
			break
		}
	}
	return nil, errors.New("recordingTransport: no network in tests")
}

func (rt *recordingTransport) urls() []string {
	if p := rt.mu.Load(); p != nil {
		return *p
	}
	return nil
}
