package pcwebhooktest_test

import (
	"crypto/x509"

	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// Keys come from a shared pool of primes (testpki.SharePrimes): RSA key generation would be
// most of what these tests spend their time on.
func init() { testpki.SharePrimes() }

// x509VerifyOptions trusts the sender's root, with or without its intermediate.
func x509VerifyOptions(s *pcwebhooktest.Sender, withIntermediate bool) x509.VerifyOptions {
	opts := x509.VerifyOptions{Roots: s.RootCAs(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if withIntermediate {
		opts.Intermediates = x509.NewCertPool()
		opts.Intermediates.AddCert(s.Intermediate())
	}
	return opts
}
