package pcwebhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ValidationStatus is the delivery status of a test event
// (GET /webhooks/v1/registration/validationEvents/{correlationId}).
type ValidationStatus struct {
	// CorrelationID identifies the test event, as returned by SendTestEvent.
	CorrelationID string
	// PartnerID is the partner's tenant ID.
	PartnerID string
	// Status is the service's status, for example "completed"; see [ValidationStatus.Terminal].
	Status string
	// CallbackURL is the URL the event was sent to.
	CallbackURL string
	// Results has one entry per delivery attempt.
	Results []ValidationResult
}

// ValidationResult is one attempt to deliver a test event.
type ValidationResult struct {
	// ResponseCode is what the partner's endpoint answered, as the service names it (for example
	// "OK", or a number); a numeric code is kept in its decimal form.
	ResponseCode string
	// ResponseMessage is the service's message about the attempt; often empty.
	ResponseMessage string
	// SystemError reports a failure on Partner Center's side rather than the endpoint's.
	SystemError bool
	// DateTimeUTC is when the attempt was made, in UTC (the service writes it with or without
	// an offset; none means UTC).
	DateTimeUTC time.Time
}

// Terminal reports whether Status says the delivery is over: "completed" or "failed", in any
// letter case. Any other status, including an empty or unknown one, is taken to mean the delivery
// is still in progress; [Client.WaitForValidation] keeps polling then, until its context ends.
func (s *ValidationStatus) Terminal() bool {
	if s == nil {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(s.Status)) {
	case "completed", "failed":
		return true
	}
	return false
}

// Delivered reports whether some attempt reached the endpoint and got a 2xx answer: a result
// without SystemError whose ResponseCode is a 2xx number or the name of a 2xx status ("OK",
// "Created", "Accepted", "NoContent", ...), in any letter case.
func (s *ValidationStatus) Delivered() bool {
	if s == nil {
		return false
	}
	for _, r := range s.Results {
		if !r.SystemError && successCode(r.ResponseCode) {
			return true
		}
	}
	return false
}

// successCode reports whether a ResponseCode names a 2xx status: "200".."299", or a .NET
// HttpStatusCode name of one.
func successCode(code string) bool {
	code = strings.TrimSpace(code)
	if len(code) == 3 && code[0] == '2' && code[1] >= '0' && code[1] <= '9' && code[2] >= '0' && code[2] <= '9' {
		return true
	}
	switch strings.ToLower(code) {
	case "ok", "created", "accepted", "nonauthoritativeinformation", "nocontent", "resetcontent",
		"partialcontent", "multistatus", "alreadyreported", "imused":
		return true
	}
	return false
}

// wireValidationStatus is the delivery status body; encoding/json matches names
// case-insensitively.
type wireValidationStatus struct {
	CorrelationID apiFlexString `json:"correlationId"`
	PartnerID     apiFlexString `json:"partnerId"`
	Status        apiFlexString `json:"status"`
	CallbackURL   string        `json:"callbackUrl"`
	Results       []struct {
		ResponseCode    apiFlexString `json:"responseCode"`
		ResponseMessage apiFlexString `json:"responseMessage"`
		SystemError     bool          `json:"systemError"`
		DateTimeUTC     apiTime       `json:"dateTimeUtc"`
	} `json:"results"`
}

// SendTestEvent asks Partner Center to send a test-created event to the registered URL
// (POST /webhooks/v1/registration/validationEvents, empty body) and returns its correlation ID,
// for [Client.ValidationStatus] or [Client.WaitForValidation]. The registration must include
// test-created.
//
// The service allows 2 test events per minute. A 429 is retried after the Retry-After the
// service gives (30 s when it gives none), within the RetryPolicy; when the attempts run out the
// error wraps an [*APIError] with StatusCode 429 whose Hint says so.
func (c *Client) SendTestEvent(ctx context.Context) (correlationID string, err error) {
	res, err := c.do(ctx, apiRequest{
		method:       http.MethodPost,
		path:         pathValidationEvents,
		throttleHint: hintTestEventThrottled,
		throttleWait: testEventThrottleWait,
	})
	if err != nil {
		return "", err
	}
	var w struct {
		CorrelationID apiFlexString `json:"correlationId"`
	}
	if err := decodeJSON(res.body, &w); err != nil {
		return "", fmt.Errorf("pcwebhook: POST %s: %w", pathValidationEvents, err)
	}
	id := strings.TrimSpace(string(w.CorrelationID))
	if id == "" {
		return "", fmt.Errorf("pcwebhook: POST %s: %w: no correlationId in the response", pathValidationEvents, ErrUnexpectedResponse)
	}
	return id, nil
}

// ValidationStatus returns the delivery status of the test event with the given correlation ID
// (GET /webhooks/v1/registration/validationEvents/{correlationId}).
func (c *Client) ValidationStatus(ctx context.Context, correlationID string) (*ValidationStatus, error) {
	id := strings.TrimSpace(correlationID)
	if id == "" {
		return nil, fmt.Errorf("%w: empty correlation ID", ErrInvalidInput)
	}
	path := pathValidationEvents + "/" + url.PathEscape(id)
	res, err := c.do(ctx, apiRequest{method: http.MethodGet, path: path})
	if err != nil {
		return nil, err
	}
	var w *wireValidationStatus
	if err := decodeJSON(res.body, &w); err != nil {
		return nil, fmt.Errorf("pcwebhook: GET %s: %w", path, err)
	}
	if w == nil {
		return nil, fmt.Errorf("pcwebhook: GET %s: %w: empty response", path, ErrUnexpectedResponse)
	}
	s := &ValidationStatus{
		CorrelationID: strings.TrimSpace(string(w.CorrelationID)),
		PartnerID:     strings.TrimSpace(string(w.PartnerID)),
		Status:        strings.TrimSpace(string(w.Status)),
		CallbackURL:   strings.TrimSpace(w.CallbackURL),
	}
	for _, r := range w.Results {
		s.Results = append(s.Results, ValidationResult{
			ResponseCode:    strings.TrimSpace(string(r.ResponseCode)),
			ResponseMessage: strings.TrimSpace(string(r.ResponseMessage)),
			SystemError:     r.SystemError,
			DateTimeUTC:     time.Time(r.DateTimeUTC),
		})
	}
	return s, nil
}

// defaultValidationPoll is the polling interval of WaitForValidation when none is given.
const defaultValidationPoll = 5 * time.Second

// WaitForValidation polls [Client.ValidationStatus] every `every` (5 s if every <= 0), the first
// time at once, until the status is terminal ([ValidationStatus.Terminal]: "completed" or
// "failed") and returns it. Whether the endpoint accepted the event is then
// [ValidationStatus.Delivered].
//
// A 404 is taken to mean the status is not available yet, and polling goes on. Other errors end
// the wait. Unknown statuses count as "in progress", so give ctx a deadline: when ctx ends, the
// last status seen (or nil) is returned with an error that wraps ctx.Err() and says what was
// seen last.
func (c *Client) WaitForValidation(ctx context.Context, correlationID string, every time.Duration) (*ValidationStatus, error) {
	if every <= 0 {
		every = defaultValidationPoll
	}
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidInput)
	}
	var last *ValidationStatus
	var lastErr error
	for {
		s, err := c.ValidationStatus(ctx, correlationID)
		var apiErr *APIError
		switch {
		case err == nil:
			last, lastErr = s, nil
			if s.Terminal() {
				return s, nil
			}
		case ctx.Err() != nil:
			return last, waitEnded(ctx.Err(), correlationID, last, lastErr)
		case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound:
			lastErr = err
		default:
			return last, err
		}
		if err := c.wait(ctx, every); err != nil {
			return last, waitEnded(err, correlationID, last, lastErr)
		}
	}
}

// waitEnded is the error of a WaitForValidation whose context ended.
func waitEnded(ctxErr error, correlationID string, last *ValidationStatus, lastErr error) error {
	switch {
	case last != nil:
		return fmt.Errorf("pcwebhook: waiting for test event %s: %w (last status %q, %d delivery attempts)",
			correlationID, ctxErr, (*redactor)(nil).text(last.Status, 100), len(last.Results))
	case lastErr != nil:
		return fmt.Errorf("pcwebhook: waiting for test event %s: %w (no status yet; last answer: %w)", correlationID, ctxErr, lastErr)
	default:
		return fmt.Errorf("pcwebhook: waiting for test event %s: %w (no status yet)", correlationID, ctxErr)
	}
}
