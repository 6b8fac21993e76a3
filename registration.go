package pcwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Paths of the webhook registration API, below the API root.
const (
	pathRegistration     = "/webhooks/v1/registration"
	pathSupportedEvents  = pathRegistration + "/events"
	pathValidationEvents = pathRegistration + "/validationEvents"
)

// ErrNotRegistered is returned (wrapped) by [Client.Registration] when the partner has no webhook
// registration: the service answers 404 (the error then also wraps the [*APIError]), or a 2xx
// without a WebhookUrl. Test it with errors.Is.
var ErrNotRegistered = errors.New("pcwebhook: no webhook registration")

// Registration is a partner's webhook registration: where Partner Center sends events, and which.
type Registration struct {
	// SubscriberID is assigned by Partner Center; it is ignored when registering or updating.
	SubscriberID string
	// WebhookURL is where events are POSTed.
	WebhookURL string
	// WebhookEvents are the events sent. In responses they carry the library's canonical
	// spelling (the Event* constants) whatever the service's letter case.
	WebhookEvents []EventName
	// SignatureTokenToMsSignatureHeader makes Partner Center send the signature in an
	// x-ms-signature header instead of Authorization.
	SignatureTokenToMsSignatureHeader bool

	// LastModified is when the registration last changed (from lastModifiedTimestamp), in UTC;
	// zero when the service does not say. Read-only.
	LastModified time.Time
	// Properties are the registration's extra properties as the service reports them; nil when
	// none. Read-only: they are not sent when registering or updating.
	Properties map[string]any
}

// wireRegistrationRequest is the documented body of POST and PUT.
type wireRegistrationRequest struct {
	WebhookURL                        string      `json:"WebhookUrl"`
	WebhookEvents                     []EventName `json:"WebhookEvents"`
	SignatureTokenToMsSignatureHeader bool        `json:"SignatureTokenToMsSignatureHeader"`
}

// wireRegistration is the registration object in responses. encoding/json matches the names
// case-insensitively: the examples write PascalCase, the REST reference camelCase.
type wireRegistration struct {
	SubscriberID                      apiFlexString  `json:"SubscriberId"`
	WebhookURL                        string         `json:"WebhookUrl"`
	WebhookEvents                     []string       `json:"WebhookEvents"`
	SignatureTokenToMsSignatureHeader bool           `json:"SignatureTokenToMsSignatureHeader"`
	Properties                        map[string]any `json:"Properties"`
	LastModifiedTimestamp             apiTime        `json:"LastModifiedTimestamp"`
}

// apiTime decodes a date-time string with or without offset (no offset means UTC) and 0 to 7
// fractional digits, as the API writes them, into UTC; null or "" is the zero time.
type apiTime time.Time

// UnmarshalJSON implements json.Unmarshaler.
func (t *apiTime) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*t = apiTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a date-time must be a JSON string")
	}
	v, err := parseChangeDate(s)
	if err != nil {
		return err
	}
	*t = apiTime(v)
	return nil
}

// SupportedEvents returns the event names the partner can register for
// (GET /webhooks/v1/registration/events), in the service's order, with the canonical spelling of
// the names this library knows.
func (c *Client) SupportedEvents(ctx context.Context) ([]EventName, error) {
	res, err := c.do(ctx, apiRequest{method: http.MethodGet, path: pathSupportedEvents})
	if err != nil {
		return nil, err
	}
	var names []string
	if err := decodeJSON(res.body, &names); err != nil {
		return nil, fmt.Errorf("pcwebhook: GET %s: %w", pathSupportedEvents, err)
	}
	out := make([]EventName, 0, len(names))
	for _, n := range names {
		if name := canonicalEventName(n); name != "" {
			out = append(out, name)
		}
	}
	return out, nil
}

// Register creates the partner's registration (POST /webhooks/v1/registration) and returns it as
// the service reports it (or, if the service answers without a body, as sent). A partner account
// has one registration, shared by every program of the account. reg.WebhookURL must be an
// absolute https URL (plain http only for loopback hosts, or with [WithInsecureWebhookURL]);
// event names are sent in their canonical spelling, without
// duplicates. When a registration exists already the service refuses (an [*APIError], typically
// 409): use [Client.UpdateRegistration] or [Client.EnsureRegistration].
func (c *Client) Register(ctx context.Context, reg Registration) (*Registration, error) {
	return c.writeRegistration(ctx, http.MethodPost, reg)
}

// UpdateRegistration replaces the partner's registration (PUT /webhooks/v1/registration) and
// returns it as the service reports it (or, if the service answers without a body, as sent). The
// input rules are those of [Client.Register].
func (c *Client) UpdateRegistration(ctx context.Context, reg Registration) (*Registration, error) {
	return c.writeRegistration(ctx, http.MethodPut, reg)
}

// Registration returns the partner's registration (GET /webhooks/v1/registration). When there is
// none the error wraps [ErrNotRegistered].
func (c *Client) Registration(ctx context.Context) (*Registration, error) {
	res, err := c.do(ctx, apiRequest{method: http.MethodGet, path: pathRegistration})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %w", ErrNotRegistered, err)
		}
		return nil, err
	}
	reg, err := decodeRegistration(res.body)
	if err != nil {
		return nil, fmt.Errorf("pcwebhook: GET %s: %w", pathRegistration, err)
	}
	if reg == nil || strings.TrimSpace(reg.WebhookURL) == "" {
		return nil, fmt.Errorf("%w: the service answered %d without a WebhookUrl", ErrNotRegistered, res.status)
	}
	return reg, nil
}

// writeRegistration sends reg with POST or PUT.
func (c *Client) writeRegistration(ctx context.Context, method string, reg Registration) (*Registration, error) {
	wire, err := c.registrationRequest(reg)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(wire)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	res, err := c.do(ctx, apiRequest{method: method, path: pathRegistration, body: body})
	if err != nil {
		return nil, err
	}
	got, err := decodeRegistration(res.body)
	if err != nil {
		return nil, fmt.Errorf("pcwebhook: %s %s: %w", method, pathRegistration, err)
	}
	if got == nil { // no body: report what was sent
		got = &Registration{
			WebhookURL:                        wire.WebhookURL,
			WebhookEvents:                     append([]EventName(nil), wire.WebhookEvents...),
			SignatureTokenToMsSignatureHeader: wire.SignatureTokenToMsSignatureHeader,
		}
	}
	return got, nil
}

// registrationRequest validates reg and returns the body to send: the URL trimmed, the event names
// canonical and without duplicates (compared case-insensitively), never null. A plain http
// WebhookURL is refused unless its host is loopback or the Client has WithInsecureWebhookURL.
func (c *Client) registrationRequest(reg Registration) (wireRegistrationRequest, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: Registration: "+format, append([]any{ErrInvalidInput}, args...)...)
	}
	raw := strings.TrimSpace(reg.WebhookURL)
	if raw == "" {
		return wireRegistrationRequest{}, bad("WebhookURL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return wireRegistrationRequest{}, bad("WebhookURL %q is not a URL", truncate(raw, 100))
	}
	if scheme := strings.ToLower(u.Scheme); (scheme != "https" && scheme != "http") || u.Host == "" {
		return wireRegistrationRequest{}, bad("WebhookURL %q is not an absolute http(s) URL", truncate(raw, 100))
	}
	if strings.EqualFold(u.Scheme, "http") && !isLoopbackHost(u.Hostname()) && (c == nil || !c.insecureWebhookURL) {
		return wireRegistrationRequest{}, bad("WebhookURL %q uses plain http: events (and their signatures) would "+
			"cross the network in clear; use https, or allow it explicitly with WithInsecureWebhookURL", truncate(raw, 100))
	}
	events := make([]EventName, 0, len(reg.WebhookEvents))
	seen := make(map[string]bool, len(reg.WebhookEvents))
	for i, e := range reg.WebhookEvents {
		name := canonicalEventName(string(e))
		if name == "" {
			return wireRegistrationRequest{}, bad("WebhookEvents[%d] is empty", i)
		}
		key := strings.ToLower(string(name))
		if seen[key] {
			continue
		}
		seen[key] = true
		events = append(events, name)
	}
	return wireRegistrationRequest{
		WebhookURL:                        raw,
		WebhookEvents:                     events,
		SignatureTokenToMsSignatureHeader: reg.SignatureTokenToMsSignatureHeader,
	}, nil
}

// decodeRegistration decodes a registration response; an empty or null body gives nil, nil.
func decodeRegistration(body []byte) (*Registration, error) {
	var w *wireRegistration
	if err := decodeJSON(body, &w); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, nil
	}
	reg := &Registration{
		SubscriberID:                      strings.TrimSpace(string(w.SubscriberID)),
		WebhookURL:                        strings.TrimSpace(w.WebhookURL),
		SignatureTokenToMsSignatureHeader: w.SignatureTokenToMsSignatureHeader,
		LastModified:                      time.Time(w.LastModifiedTimestamp),
		Properties:                        w.Properties,
	}
	for _, e := range w.WebhookEvents {
		if name := canonicalEventName(e); name != "" {
			reg.WebhookEvents = append(reg.WebhookEvents, name)
		}
	}
	return reg, nil
}

// decodeJSON decodes a 2xx body into v; an empty body leaves v untouched. Errors wrap
// ErrUnexpectedResponse and do not echo the body.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return fmt.Errorf("%w: field %s has the wrong type (a JSON %s)", ErrUnexpectedResponse, typeErr.Field, typeErr.Value)
		}
		return fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
	}
	return nil
}
