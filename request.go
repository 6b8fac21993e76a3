package pcwebhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/partnercenter-go/pcwebhook/internal/capread"
)

var (
	// ErrBodyTooLarge: the request body is larger than the limit, or announces more.
	ErrBodyTooLarge = errors.New("pcwebhook: request body too large")
	// ErrBodyUnreadable: the request body could not be read, for example because the client went
	// away.
	ErrBodyUnreadable = errors.New("pcwebhook: request body unreadable")
	// ErrNoVerifier: ParseRequest was given a nil Verifier; nothing is accepted unverified.
	ErrNoVerifier = errors.New("pcwebhook: no Verifier given")
)

// ParseRequest reads one request's body (at most DefaultMaxBodyBytes), verifies it with v and
// decodes it, for code that does not use [Handler]. It does not deduplicate. Its errors wrap
// ErrBodyTooLarge, ErrBodyUnreadable, a verification error (ErrBadSignature, ...), or
// ErrMalformedEvent; [HTTPStatus] maps them to the status Handler would answer.
func ParseRequest(r *http.Request, v *Verifier) (*Event, error) {
	if v == nil {
		return nil, ErrNoVerifier
	}
	body, err := readBody(r, DefaultMaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if err := v.Verify(r.Context(), r.Header, body); err != nil {
		return nil, err
	}
	return ParseEvent(body)
}

// The package's bounded reads go through internal/capread, the one capped reader of the module:
// it reads one byte past the cap to tell "exactly the cap" from "more", and grows its buffer
// with the data, so an announced size is never allocated ahead of the bytes.

// readCapped reads r up to max bytes, for certificate downloads and API responses. tooLarge
// reports that r had more; the first max bytes are returned then.
func readCapped(r io.Reader, max int64) (data []byte, tooLarge bool, err error) {
	data, err = capread.Read(r, max, -1)
	if capread.IsTooLarge(err) {
		return data, true, nil
	}
	return data, false, err
}

// readBody reads the request body, at most max bytes: ErrBodyTooLarge when it is longer (or
// announces more, or a user's http.MaxBytesReader stops it), ErrBodyUnreadable when reading
// fails. Content-Length only sizes the first buffer, capped at a few KiB.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrBodyTooLarge, r.ContentLength, max)
	}
	body, err := capread.Read(r.Body, max, r.ContentLength)
	if err != nil {
		return nil, bodyError(err)
	}
	return body, nil
}

// bodyError is the error of a failed body read; apart from readBody so that its errors.As
// target is allocated on the failure path only.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if capread.IsTooLarge(err) || errors.As(err, &mbe) {
		return fmt.Errorf("%w: %v", ErrBodyTooLarge, err)
	}
	return fmt.Errorf("%w: %v", ErrBodyUnreadable, err)
}
