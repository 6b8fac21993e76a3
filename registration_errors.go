package pcwebhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// APIError is returned (possibly wrapped) for any non-2xx answer of the Partner Center API; use
// errors.As to get it. Partner Center error bodies look like
// {"code":600008,"description":"...","errorName":"...","isRetryable":false}.
type APIError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the service's error code ("code" in the body, a number or a string), or "".
	Code string
	// Message is the service's description of the error; when the body is not the documented
	// JSON, it is the body itself, on one line and truncated.
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

// Limits on what an APIError keeps of a response body.
const (
	apiMaxErrorMessage = 1000 // description from a JSON body
	apiMaxErrorBody    = 300  // a body that is not JSON
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
func newAPIError(status int, header http.Header, body []byte, sentCorrelationID, sentRequestID string) *APIError {
	e := &APIError{
		StatusCode:    status,
		CorrelationID: strings.TrimSpace(header.Get(headerCorrelationID)),
		RequestID:     strings.TrimSpace(header.Get(headerRequestID)),
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
		e.Code = oneLine(string(w.Code), 100)
		e.ErrorName = oneLine(string(w.ErrorName), 200)
		msg := string(w.Description)
		if msg == "" {
			msg = string(w.Message)
		}
		if w.Error != nil {
			if e.Code == "" {
				e.Code = oneLine(string(w.Error.Code), 100)
			}
			if msg == "" {
				msg = string(w.Error.Message)
			}
		}
		e.Message = oneLine(msg, apiMaxErrorMessage)
		return e
	}
	e.Message = oneLine(string(trimmed), apiMaxErrorBody)
	return e
}

// oneLine collapses white space runs (newlines included) into single spaces, replaces invalid
// UTF-8, and truncates the result to about n bytes without splitting a character.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
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
