package pcwebhook

import (
	"errors"
	"net/http"
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
