package certfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

func newCert(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c, err := testpki.Issue(testpki.Template{CommonName: cn, IsCA: true}, &key.PublicKey, nil, key)
	require.NoError(t, err)
	return c.Raw
}

func pemOf(der ...[]byte) []byte {
	var b bytes.Buffer
	for _, d := range der {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	return b.Bytes()
}

func names(certs []*x509.Certificate) []string {
	var n []string
	for _, c := range certs {
		n = append(n, c.Subject.CommonName)
	}
	return n
}

func TestParse(t *testing.T) {
	a, b, c := newCert(t, "a"), newCert(t, "b"), newCert(t, "c")
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")})

	certs, err := Parse(a, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names(certs), "one DER certificate")
	certs, err = Parse(append(append([]byte{}, a...), b...), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, names(certs), "concatenated DER, in order")
	certs, err = Parse(append(append([]byte("\n  "), pemOf(a, b)...), key...), 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, names(certs), "PEM after white space; other blocks ignored")

	_, err = Parse(pemOf(a, b, c), 2)
	assert.ErrorIs(t, err, ErrTooMany)
	_, err = Parse(append(append([]byte{}, a...), append(b, c...)...), 2)
	assert.ErrorIs(t, err, ErrTooMany)
	_, err = Parse(key, 0)
	assert.ErrorIs(t, err, ErrNoCertificate)
	_, err = Parse(nil, 0)
	assert.ErrorIs(t, err, ErrNoCertificate)
	_, err = Parse([]byte("garbage"), 0)
	assert.ErrorIs(t, err, ErrNotCertificate)
	_, err = Parse(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("bad")}), 0)
	assert.ErrorIs(t, err, ErrNotCertificate)
}
