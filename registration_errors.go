package pcwebhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIError is returned (possibly wrapped) for any non-2xx answer of the Partner Center API; use
// errors.As to get it. Partner Center error bodies look like
// {"code":600008,"description":"...","errorName":"...","isRetryable":false}.
//
// An APIError never holds the access token, so it can be logged and printed: gateways and proxies
// that echo the request's headers in their error bodies cannot put "Authorization: Bearer <token>"
// in a log. Every field taken from the response (Code, Message, ErrorName, CorrelationID,
// RequestID) is redacted when the APIError is built, before it is cut to length: "[REDACTED]"
// replaces the token the request carried (in any letter case, whole or any piece of 16 characters
// or more, as written or JSON-, URL- or HTML-escaped; a token shorter than 8 characters only where
// it stands as a word of its own) and whatever looks like a credential: the value after an
// Authorization header name, a word of 16 characters or more after "Bearer", a JWT. The other
// errors of the Client are redacted the same way: an error of the
// transport or of the TokenSource whose message holds a credential is replaced by one with the
// credential redacted, which still matches what it wrapped with errors.Is, but does not unwrap to
// it (errors.As cannot reach the original, which would print the credential).
type APIError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the service's error code ("code" in the body, a number or a string), or "".
	Code string
	// Message is the service's description of the error; when the body is not the documented
	// JSON, it is the body itself, on one line, redacted and truncated.
	Message string
	// CorrelationID is the MS-CorrelationId of the response (or of the request, when the
	// response has none). Quote it, with RequestID, when asking Microsoft for support.
	CorrelationID string
	// RequestID is the MS-RequestId of the response (or of the request, when the response has
	// none).
	RequestID string

	// ErrorName is the service's "errorName", or "".
	ErrorName string
	// Hint is advice from this library, not from the service, about what to do: set for 401 and
	// 403 (the token) and 429 (throttling).
	Hint string
	// RetryAfter is the wait the service asked for in a Retry-After header; zero when absent.
	RetryAfter time.Duration
	// Attempts is how many requests the call made, this failed one included.
	Attempts int
}

// Error describes the error on one line, for example
// "partner center: 404 Not Found (code 600008): description (correlation id ..., request id ...)".
func (e *APIError) Error() string {
	if e == nil {
		return "partner center: <nil>"
	}
	var b strings.Builder
	b.WriteString("partner center: ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" ")
		b.WriteString(text)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (code %s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	var ids []string
	if e.CorrelationID != "" {
		ids = append(ids, "correlation id "+e.CorrelationID)
	}
	if e.RequestID != "" {
		ids = append(ids, "request id "+e.RequestID)
	}
	if e.Attempts > 1 {
		ids = append(ids, fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if len(ids) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(ids, ", "))
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Limits on what an APIError keeps of a response.
const (
	apiMaxErrorMessage = 1000 // description from a JSON body
	apiMaxErrorBody    = 300  // a body that is not JSON
	apiMaxErrorCode    = 100  // code
	apiMaxErrorName    = 200  // errorName
	apiMaxErrorID      = 200  // MS-CorrelationId, MS-RequestId
)

// apiFlexString decodes a JSON string, number or boolean into a string (numbers keep their
// literal form, so 600008 gives "600008"); null gives "". Objects and arrays are kept as compact
// JSON text.
type apiFlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *apiFlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = apiFlexString(v)
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*s = apiFlexString(buf.String())
	}
	return nil
}

// wireAPIError is a Partner Center error body. The "error" object and "message" are the shape of
// other Microsoft APIs and gateways, accepted as a fallback.
type wireAPIError struct {
	Code        apiFlexString `json:"code"`
	Description apiFlexString `json:"description"`
	Message     apiFlexString `json:"message"`
	ErrorName   apiFlexString `json:"errorName"`
	Error       *struct {
		Code    apiFlexString `json:"code"`
		Message apiFlexString `json:"message"`
	} `json:"error"`
}

// newAPIError builds the APIError of a non-2xx response from its status, headers and (possibly
// truncated) body. sentCorrelationID and sentRequestID are used when the response echoes none.
// Every text taken from the response goes through red (see APIError): on one line, credentials
// redacted, then cut to its limit.
func newAPIError(status int, header http.Header, body []byte, sentCorrelationID, sentRequestID string, red *redactor) *APIError {
	e := &APIError{
		StatusCode:    status,
		CorrelationID: red.text(header.Get(headerCorrelationID), apiMaxErrorID),
		RequestID:     red.text(header.Get(headerRequestID), apiMaxErrorID),
	}
	if e.CorrelationID == "" {
		e.CorrelationID = sentCorrelationID
	}
	if e.RequestID == "" {
		e.RequestID = sentRequestID
	}
	trimmed := bytes.TrimSpace(body)
	var w wireAPIError
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &w) == nil {
		e.Code = red.text(string(w.Code), apiMaxErrorCode)
		e.ErrorName = red.text(string(w.ErrorName), apiMaxErrorName)
		msg := string(w.Description)
		if msg == "" {
			msg = string(w.Message)
		}
		if w.Error != nil {
			if e.Code == "" {
				e.Code = red.text(string(w.Error.Code), apiMaxErrorCode)
			}
			if msg == "" {
				msg = string(w.Error.Message)
			}
		}
		e.Message = red.text(msg, apiMaxErrorMessage)
		return e
	}
	e.Message = red.text(string(trimmed), apiMaxErrorBody)
	return e
}

// Hints that APIError.Hint carries.
const (
	hintUnauthorized = "the access token was rejected: it must be a valid, unexpired token issued for the resource " +
		tokenResource + " (for example from: az account get-access-token --resource " + tokenResource +
		" --query accessToken -o tsv)"
	hintForbidden = "the access token is valid but not allowed to manage webhooks: the user needs an admin role " +
		"in the Partner Center account, or the app (App-only) must be registered in Partner Center; the token " +
		"must be issued for the resource " + tokenResource
	hintThrottled          = "Partner Center is throttling requests; try again later"
	hintTestEventThrottled = "throttled: Partner Center allows only 2 test events per minute; wait a minute and try again"
)

// hintFor returns the APIError.Hint for a status; throttleHint overrides the generic 429 hint.
func hintFor(status int, throttleHint string, retryAfter time.Duration) string {
	switch status {
	case http.StatusUnauthorized:
		return hintUnauthorized
	case http.StatusForbidden:
		return hintForbidden
	case http.StatusTooManyRequests:
		h := hintThrottled
		if throttleHint != "" {
			h = throttleHint
		}
		if retryAfter > 0 {
			h += fmt.Sprintf(" (the service asked to wait %s)", retryAfter.Round(time.Second))
		}
		return h
	}
	return ""
}
