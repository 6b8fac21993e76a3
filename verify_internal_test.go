package pcwebhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/internal/urlpolicy"
)

// TestVerifierNow: the handler reads the verifier's clock through now().
func TestVerifierNow(t *testing.T) {
	fixed := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	v, err := NewVerifier(WithClock(func() time.Time { return fixed }))
	require.NoError(t, err)
	assert.Equal(t, fixed, v.now())

	var zero Verifier
	assert.WithinDuration(t, time.Now(), zero.now(), time.Minute)
	var nilV *Verifier
	assert.WithinDuration(t, time.Now(), nilV.now(), time.Minute)
}

func TestVerificationErrorText(t *testing.T) {
	e := &VerificationError{Step: StepDownload, Reason: "HTTP status 500", Host: "h.example", Err: ErrCertificateUnavailable}
	assert.Equal(t, "pcwebhook: certificate unavailable: download: HTTP status 500 (host h.example)", e.Error())
	assert.True(t, e.Transient())
	assert.ErrorIs(t, e, ErrCertificateUnavailable)
	assert.False(t, (&VerificationError{Err: ErrBadSignature}).Transient())
}

// TestVerificationErrorTransientAndFix: the receiver's conditions are transient and name their
// fix; the sender's are not and have none.
func TestVerificationErrorTransientAndFix(t *testing.T) {
	for _, tc := range []struct {
		err       *VerificationError
		transient bool
		fix       []string
	}{
		{&VerificationError{Step: StepDownload, Host: "h.example", Err: ErrCertificateUnavailable}, true, []string{"h.example", "HTTPS_PROXY"}},
		{&VerificationError{Step: StepDownload, Reason: reasonQueueFull, Err: ErrCertificateUnavailable}, true, []string{"Partner Center retries"}},
		{&VerificationError{Step: StepConfiguration, Err: ErrCertificateUnavailable}, true, []string{"NewVerifier"}},
		{&VerificationError{Step: StepChain, Err: ErrUntrustedCertificate}, true, []string{"ca-certificates", "WithRootCAs", "golang.org/x/crypto/x509roots/fallback"}},
		{&VerificationError{Step: StepCertificateTime, Err: ErrUntrustedCertificate}, true, []string{"clock", "WithPinnedCertificate"}},
		{&VerificationError{Step: StepIssuerDownload, Err: ErrUntrustedCertificate}, true, []string{"WithIssuerURLPrefixes"}},
		{&VerificationError{Step: StepOrganization, Err: ErrUntrustedCertificate}, true, []string{"WithPinnedCertificate"}},
		{&VerificationError{Step: StepParse, Err: ErrUntrustedCertificate}, true, []string{"WithPinnedCertificate"}},
		{&VerificationError{Step: StepSignature, Err: ErrBadSignature}, false, nil},
		{&VerificationError{Step: StepCertificateURL, Err: ErrUntrustedCertificateURL}, false, nil},
		{&VerificationError{Step: StepCertificateURL, Err: ErrMissingCertificateURL}, false, nil},
		{&VerificationError{Step: StepAlgorithm, Err: ErrUnsupportedAlgorithm}, false, nil},
		{&VerificationError{Step: StepSignatureHeader, Err: ErrMissingSignature}, false, nil},
	} {
		assert.Equal(t, tc.transient, tc.err.Transient(), "%v", tc.err)
		if !tc.transient {
			assert.Empty(t, tc.err.Fix(), "%v", tc.err)
		}
		for _, w := range tc.fix {
			assert.Contains(t, tc.err.Fix(), w, "%v", tc.err)
		}
	}
	var nilErr *VerificationError
	assert.False(t, nilErr.Transient())
	assert.Empty(t, nilErr.Fix())
}

// TestNewVerifierRefusesMissingRoots: no system roots (the loader fails, or finds none), or an
// empty WithRootCAs, makes NewVerifier fail with ErrNoTrustedRoots and the three fixes. The
// system loader is replaced, so the test does not depend on this machine's CA bundle.
func TestNewVerifierRefusesMissingRoots(t *testing.T) {
	fixes := []string{"ca-certificates", "WithRootCAs", "golang.org/x/crypto/x509roots/fallback"}
	for name, loader := range map[string]func() (*x509.CertPool, error){
		"loader fails": func() (*x509.CertPool, error) {
			return nil, errors.New("open /etc/ssl/certs: no such file or directory")
		},
		"empty pool":         func() (*x509.CertPool, error) { return x509.NewCertPool(), nil },
		"nil pool, no error": func() (*x509.CertPool, error) { return nil, nil },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.systemRoots = loader
			v, err := newVerifier(cfg)
			require.ErrorIs(t, err, ErrNoTrustedRoots)
			assert.Nil(t, v)
			for _, fix := range fixes {
				assert.Contains(t, err.Error(), fix)
			}
		})
	}

	_, err := NewVerifier(WithRootCAs(x509.NewCertPool()))
	require.ErrorIs(t, err, ErrNoTrustedRoots)
	assert.Contains(t, err.Error(), "WithRootCAs was given an empty pool")

	// A loader that finds a root is used as the root pool, and the loader is not consulted at all
	// when WithRootCAs gives roots.
	key, err := testpki.NewKey()
	require.NoError(t, err)
	root, err := testpki.Issue(testpki.Template{CommonName: "root", IsCA: true}, &key.PublicKey, nil, key)
	require.NoError(t, err)
	one := x509.NewCertPool()
	one.AddCert(root)
	cfg := defaultConfig()
	cfg.systemRoots = func() (*x509.CertPool, error) { return one, nil }
	v, err := newVerifier(cfg)
	require.NoError(t, err)
	assert.True(t, v.state().cfg.roots.Equal(one))
	cfg.systemRoots = func() (*x509.CertPool, error) { t.Fatal("system roots loaded"); return nil, nil }
	cfg.roots = one
	_, err = newVerifier(cfg)
	require.NoError(t, err)
}

// TestZeroVerifierWithoutRoots: a zero Verifier on a host without trust roots does not panic; it
// answers every request with a transient configuration error that says why.
func TestZeroVerifierWithoutRoots(t *testing.T) {
	var v Verifier
	v.stateFrom(func() verifierConfig {
		cfg := defaultConfig()
		cfg.systemRoots = func() (*x509.CertPool, error) { return x509.NewCertPool(), nil }
		return cfg
	})
	err := v.Verify(context.Background(), nil, nil)
	var ve *VerificationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, StepConfiguration, ve.Step)
	assert.True(t, ve.Transient())
	assert.ErrorIs(t, err, ErrNoTrustedRoots)
	assert.ErrorIs(t, v.Prefetch(context.Background()), ErrNoTrustedRoots)
	assert.Equal(t, int64(1), v.Stats().Rejected)
}

// TestKnownCertificateURLs: the default certificate URL is known from the start under the
// production allow-list, and so is every URL given to Prefetch, even one whose check failed, so
// that their downloads go ahead of never-seen names from a flood.
func TestKnownCertificateURLs(t *testing.T) {
	v, err := newVerifier(defaultConfig())
	require.NoError(t, err)
	st := v.state()
	def, reason := urlpolicy.Match(DefaultCertificateURL, st.cfg.certPrefixes, false)
	require.Empty(t, reason)
	assert.True(t, st.keys.Known(def.Canonical()), "the default URL is known before any download")
	other, reason := urlpolicy.Match("https://3psostorageacct.blob.core.windows.net/cert/other.cer", st.cfg.certPrefixes, false)
	require.Empty(t, reason)
	assert.False(t, st.keys.Known(other.Canonical()))

	// Prefetch of a URL whose download fails (nothing listens there) still marks it known.
	cfg := defaultConfig()
	cfg.certPrefixes, err = parsePrefixes("test", []string{"https://127.0.0.1:1/cert/"}, false)
	require.NoError(t, err)
	v, err = newVerifier(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.Error(t, v.Prefetch(ctx, "https://127.0.0.1:1/cert/x.cer"))
	u, reason := urlpolicy.Match("https://127.0.0.1:1/cert/x.cer", cfg.certPrefixes, false)
	require.Empty(t, reason)
	assert.True(t, v.state().keys.Known(u.Canonical()))
}

// TestDefaultConfigAllowLists: the production policy uses the default allow-lists, entry for entry.
func TestDefaultConfigAllowLists(t *testing.T) {
	cfg := defaultConfig()
	for _, tc := range []struct {
		got  []urlpolicy.Prefix
		want []string
	}{
		{cfg.certPrefixes, DefaultCertificateURLPrefixes()},
		{cfg.issuerPrefixes, DefaultIssuerURLPrefixes()},
	} {
		var got []string
		for i := range tc.got {
			got = append(got, tc.got[i].String())
		}
		assert.Equal(t, tc.want, got)
	}
}

// TestVerifiedMemoBound: the memo never holds more than memoSlots deliveries however many verify,
// keeps the latest one it was given, and matches a delivery only with the very signature bytes.
func TestVerifiedMemoBound(t *testing.T) {
	var m verifiedMemo
	sig := []byte("signature")
	var last [sha256.Size]byte
	for i := 0; i < 10*memoSlots; i++ {
		last = sha256.Sum256([]byte(fmt.Sprint(i)))
		m.add(&last, sig)
	}
	held := 0
	for i := range m.slots {
		if m.slots[i].Load() != nil {
			held++
		}
	}
	assert.LessOrEqual(t, held, memoSlots)
	assert.Greater(t, held, memoSlots/2, "digests spread over the slots")
	assert.True(t, m.contains(&last, sig))
	assert.False(t, m.contains(&last, []byte("signaturf")), "same length, another signature")
	assert.False(t, m.contains(&last, sig[:4]), "a prefix of the signature")
	sig[0] = 'S'
	assert.False(t, m.contains(&last, sig), "the memo keeps its own copy of the signature")
	other := sha256.Sum256([]byte("never verified"))
	assert.False(t, m.contains(&other, []byte("signature")))

	long := bytes.Repeat([]byte{7}, 512) // a 4096-bit key's signature: kept outside the record
	m.add(&other, long)
	assert.True(t, m.contains(&other, bytes.Repeat([]byte{7}, 512)))
	assert.False(t, m.contains(&other, long[:256]))
}
