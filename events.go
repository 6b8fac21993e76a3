package pcwebhook

//go:generate go run ./internal/cmd/eventgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// EventName is the name of a Partner Center webhook event, in the form {resource}-{action},
// for example "subscription-updated". The documented names are the Event* constants; Partner
// Center adds names over time, so any other value may arrive too (see [EventName.Known]).
type EventName string

// KnownEventNames returns every documented event name, in the order of the Partner Center
// documents. The caller may modify the returned slice.
func KnownEventNames() []EventName {
	out := make([]EventName, len(knownEventNames))
	copy(out, knownEventNames[:])
	return out
}

// Known reports whether n is one of the documented event names (an Event* constant).
// Decoded events always carry the canonical spelling, so this is an exact comparison.
func (n EventName) Known() bool {
	c, ok := eventNameLookup[string(n)]
	return ok && c == n
}

// String returns the name as it appears on the wire.
func (n EventName) String() string { return string(n) }

// canonicalEventName maps a received name to its constant: matched case-insensitively, surrounding
// white space ignored, aliases such as "fail-transfer" mapped. Unknown names are returned trimmed.
func canonicalEventName(s string) EventName {
	s = strings.TrimSpace(s)
	if c, ok := eventNameLookup[s]; ok {
		return c
	}
	if c, ok := eventNameLookup[strings.ToLower(s)]; ok {
		return c
	}
	return EventName(s)
}

// ErrMalformedEvent is wrapped by every error of [ParseEvent]: the body is not a JSON object, or
// it has no usable EventName, or a field has the wrong type. Such a request is the sender's
// fault; retrying it cannot succeed.
var ErrMalformedEvent = errors.New("pcwebhook: malformed event")

// Event is one delivery, decoded. Names are canonical (matched case-insensitively on input,
// aliases mapped); strings are trimmed; absent or null fields are empty. Use [Event.Typed], or a
// typed callback of the Handler, to get the IDs carried by the ResourceUri.
type Event struct {
	// Name is the event name; Name.Known() tells whether it is a documented one.
	Name EventName
	// ResourceURI is where to GET the changed resource; empty for DAP events.
	ResourceURI string
	// ResourceName is the type of the resource, as sent (for example "subscription" or "Transfer").
	ResourceName string
	// AuditURI is the audit record of the change, when Partner Center sends one (the field is
	// accepted as "AuditUri" or "AuditUrl").
	AuditURI string
	// ResourceChangeUTCDate is when the change happened, always in UTC; zero when absent.
	ResourceChangeUTCDate time.Time
	// Raw holds the exact bytes received. ParseEvent does not copy them: Raw shares the memory of
	// the body it was given.
	Raw []byte
}

// ResourceID is one ID carried by an event's ResourceUri, as listed by [Event.IDs].
type ResourceID struct {
	// Name is the name of the ID's field in the family's typed struct, such as "CustomerID".
	Name string
	// Value is the ID parsed from the ResourceUri; empty when the URI does not carry it.
	Value string
}

// Key returns Name in snake case ("CustomerID" is "customer_id"), the attribute key that log
// lines and traces use for the ID.
func (id ResourceID) Key() string {
	b := make([]byte, 0, len(id.Name)+3)
	for i := 0; i < len(id.Name); i++ {
		c := id.Name[i]
		if 'A' <= c && c <= 'Z' {
			if i > 0 && id.Name[i-1] >= 'a' && id.Name[i-1] <= 'z' {
				b = append(b, '_')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// wireEvent is the JSON body. encoding/json matches field names case-insensitively, which covers
// the PascalCase of the documents and the camelCase of the REST reference.
type wireEvent struct {
	EventName             *string `json:"EventName"`
	ResourceURI           string  `json:"ResourceUri"`
	ResourceName          string  `json:"ResourceName"`
	AuditURI              string  `json:"AuditUri"`
	AuditURL              string  `json:"AuditUrl"`
	ResourceChangeUtcDate string  `json:"ResourceChangeUtcDate"`
}

// ParseEvent decodes a body without verifying it. Use it for input that is already trusted, such
// as a queue fed by a verifying receiver; for HTTP requests use [Handler] or [ParseRequest].
//
// Invalid JSON, a body that is not an object, a missing, empty or non-string EventName, a field
// of the wrong type, or an unreadable ResourceChangeUtcDate give an error that wraps
// [ErrMalformedEvent] and says what was wrong. Unknown event names are not an error.
func ParseEvent(body []byte) (*Event, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformedEvent)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrMalformedEvent)
	}
	var w wireEvent
	if !parseWireFast(body, &w) {
		w = wireEvent{}
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, malformedJSON(err)
		}
	}
	if w.EventName == nil {
		return nil, fmt.Errorf("%w: EventName is missing or null", ErrMalformedEvent)
	}
	name := canonicalEventName(*w.EventName)
	if name == "" {
		return nil, fmt.Errorf("%w: EventName is empty", ErrMalformedEvent)
	}
	when, err := parseChangeDate(w.ResourceChangeUtcDate)
	if err != nil {
		return nil, fmt.Errorf("%w: ResourceChangeUtcDate: %v", ErrMalformedEvent, err)
	}
	audit := w.AuditURI
	if strings.TrimSpace(audit) == "" {
		audit = w.AuditURL
	}
	return &Event{
		Name:                  name,
		ResourceURI:           strings.TrimSpace(w.ResourceURI),
		ResourceName:          strings.TrimSpace(w.ResourceName),
		AuditURI:              strings.TrimSpace(audit),
		ResourceChangeUTCDate: when,
		Raw:                   body,
	}, nil
}

// malformedJSON turns a decoding error into an ErrMalformedEvent that names the problem without
// echoing the input.
func malformedJSON(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Errorf("%w: field %s must be a string, got a JSON %s", ErrMalformedEvent, typeErr.Field, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("%w: invalid JSON at byte %d: %v", ErrMalformedEvent, syntaxErr.Offset, err)
	default:
		return fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
}

// changeDateLayouts are the accepted forms of ResourceChangeUtcDate. Fractional seconds of any
// length are accepted by time.Parse after the seconds field even though the layouts omit them.
var changeDateLayouts = [...]string{
	time.RFC3339,          // 2017-11-16T16:19:06.3520276+00:00 or ...Z
	"2006-01-02T15:04:05", // no offset: UTC, as the API also writes it
}

// parseChangeDate parses a ResourceChangeUtcDate and returns it in UTC; "" is the zero time.
func parseChangeDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range changeDateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time", truncate(s, 40))
}

// truncate shortens s to at most n bytes for use in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// appendPathSegments appends the decoded path segments of a ResourceUri to dst, whatever its
// scheme, host and version prefix: "https://host/webhooks/v1/customers/a" and "/v1/customers/a"
// both give [..., "customers", "a"]. It never fails: an undecodable segment is kept as sent.
func appendPathSegments(dst []string, uri string) []string {
	path := strings.TrimSpace(uri)
	for i := 0; i < len(path); i++ {
		if path[i] == '?' || path[i] == '#' {
			path = path[:i]
			break
		}
	}
	if i := strings.Index(path, "://"); i >= 0 {
		path = path[i+3:]
		j := strings.IndexByte(path, '/')
		if j < 0 {
			return dst
		}
		path = path[j:]
	}
	for path != "" {
		var s string
		s, path, _ = strings.Cut(path, "/")
		if s == "" {
			continue
		}
		if strings.IndexByte(s, '%') >= 0 {
			if u, err := url.PathUnescape(s); err == nil {
				s = u
			}
		}
		dst = append(dst, strings.TrimSpace(s))
	}
	return dst
}

// matchResourcePath finds pattern in the path of uri and stores the segments that stand where the
// pattern has "" into ids, in order. Fixed segments match case-insensitively. The first place where
// the pattern's first segment occurs is used; matching stops at the first fixed segment that
// differs, at a segment that is a collection name (resourceKeywords) where an ID should be, or at
// the end of the path, so IDs the URI does not carry stay empty.
func matchResourcePath(uri string, pattern []string, ids ...*string) {
	var buf [16]string // ResourceUris have fewer segments: no allocation
	segs := appendPathSegments(buf[:0], uri)
	start := -1
	for i, s := range segs {
		if strings.EqualFold(s, pattern[0]) {
			start = i
			break
		}
	}
	if start < 0 {
		return
	}
	next := 0
	for j, p := range pattern {
		k := start + j
		if k >= len(segs) {
			return
		}
		if p != "" {
			if !strings.EqualFold(segs[k], p) {
				return
			}
			continue
		}
		if isResourceKeyword(segs[k]) {
			return // e.g. ".../newcommerce/schedules/x" carries no migration ID
		}
		*ids[next] = segs[k]
		next++
	}
}

// isResourceKeyword reports whether a path segment is a collection name rather than an ID.
func isResourceKeyword(seg string) bool {
	if len(seg) > 32 { // longer than every keyword: no need to lower-case it
		return false
	}
	if resourceKeywords[seg] {
		return true
	}
	var buf [32]byte
	return resourceKeywords[string(toLowerASCII(buf[:0], seg))]
}

func toLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// resourceQueryValue returns the value of the query parameter key (matched case-insensitively) of
// uri, or "" when there is none, as in "/v1/fraudEvents?SubscriptionId=...&EventStatus=...".
func resourceQueryValue(uri, key string) string {
	uri = strings.TrimSpace(uri)
	i := strings.IndexByte(uri, '?')
	if i < 0 {
		return ""
	}
	query := uri[i+1:]
	if j := strings.IndexByte(query, '#'); j >= 0 {
		query = query[:j]
	}
	for _, pair := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if !strings.EqualFold(strings.TrimSpace(k), key) {
			continue
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		return strings.TrimSpace(v)
	}
	return ""
}
