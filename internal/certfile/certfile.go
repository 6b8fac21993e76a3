// Package certfile reads certificate files, the one way the library and the command-line tool
// do: PEM (every CERTIFICATE block, other blocks ignored) or DER (one or more concatenated
// certificates), with a bound on how many.
package certfile

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// The reasons Parse fails; its errors wrap exactly one of them.
var (
	// ErrNotCertificate: the data is neither DER nor PEM, or a certificate in it does not parse.
	ErrNotCertificate = errors.New("not a DER or PEM certificate")
	// ErrNoCertificate: PEM without a CERTIFICATE block, or no DER certificate.
	ErrNoCertificate = errors.New("no certificate in the file")
	// ErrTooMany: more certificates than the caller allows.
	ErrTooMany = errors.New("too many certificates in the file")
)

// Parse returns the certificates of data, in file order, at most max of them (max < 1: no bound).
// Data that starts (after white space) with "-----BEGIN" is read as PEM, anything else as DER.
func Parse(data []byte, max int) ([]*x509.Certificate, error) {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		certs, err := x509.ParseCertificates(data) // DER is binary: never trimmed
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrNotCertificate, err)
		case len(certs) == 0:
			return nil, ErrNoCertificate
		case max > 0 && len(certs) > max:
			return nil, fmt.Errorf("%w (more than %d)", ErrTooMany, max)
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	for rest := trimmed; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if max > 0 && len(certs) == max {
			return nil, fmt.Errorf("%w (more than %d)", ErrTooMany, max)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: a PEM CERTIFICATE block: %w", ErrNotCertificate, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block in the PEM data", ErrNoCertificate)
	}
	return certs, nil
}
