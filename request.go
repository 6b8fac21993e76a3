package pcwebhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

var (
	// ErrBodyTooLarge: the request body is larger than the limit (HTTP 413).
	ErrBodyTooLarge = errors.New("pcwebhook: request body too large")
	// ErrBodyUnreadable: the request body could not be read, for example because the client went
	// away (HTTP 400).
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

// HTTPStatus returns the status Handler answers for an error of ParseRequest, Verify or
// ParseEvent: 413, 400, 503 (certificate unavailable: retry), 401 (any other verification
// failure), and 500 for anything else, so that Partner Center retries what may succeed later.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBodyUnreadable), errors.Is(err, ErrMalformedEvent):
		return http.StatusBadRequest
	case errors.Is(err, ErrCertificateUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrMissingSignature), errors.Is(err, ErrMissingCertificateURL),
		errors.Is(err, ErrUnsupportedAlgorithm), errors.Is(err, ErrUntrustedCertificateURL),
		errors.Is(err, ErrUntrustedCertificate), errors.Is(err, ErrBadSignature):
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// readBody reads at most max bytes of the body: io.LimitReader(max+1), then a length check. When
// the Content-Length is known the buffer is allocated once, at its size.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrBodyTooLarge, r.ContentLength, max)
	}
	size := 512
	if r.ContentLength >= 0 {
		size = int(r.ContentLength) + 1 // +1 so that a body longer than announced is seen
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(r.Body, max+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, fmt.Errorf("%w: %v", ErrBodyTooLarge, err)
			}
			return nil, fmt.Errorf("%w: %v", ErrBodyUnreadable, err)
		}
	}
	if int64(len(buf)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, max)
	}
	return buf, nil
}
