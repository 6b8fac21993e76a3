package pcwebhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// EnsureRegistration makes the partner's registration match reg with as few writes as possible:
// it reads the registration (GET), creates it (POST) when there is none, replaces it (PUT) when it
// differs, and makes no write when it already matches. It returns the registration as the service
// last reported it.
//
// Two registrations match when their WebhookURL is identical (after trimming surrounding spaces),
// their SignatureTokenToMsSignatureHeader is equal, and their WebhookEvents hold the same set of
// names, whatever the order, duplicates or letter case. If the POST is refused with 409 Conflict
// (a registration was created meanwhile), the registration is replaced with PUT instead.
func (c *Client) EnsureRegistration(ctx context.Context, reg Registration) (*Registration, error) {
	want, err := registrationRequest(reg) // invalid input: fail before any call
	if err != nil {
		return nil, err
	}
	current, err := c.Registration(ctx)
	switch {
	case errors.Is(err, ErrNotRegistered):
		created, err := c.Register(ctx, reg)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict {
			return c.UpdateRegistration(ctx, reg)
		}
		return created, err
	case err != nil:
		return nil, err
	}
	if registrationMatches(current, want) {
		return current, nil
	}
	return c.UpdateRegistration(ctx, reg)
}

// registrationMatches reports whether the service's registration has want's URL, header flag and
// set of events (compared case-insensitively after canonicalization).
func registrationMatches(have *Registration, want wireRegistrationRequest) bool {
	if have.WebhookURL != want.WebhookURL ||
		have.SignatureTokenToMsSignatureHeader != want.SignatureTokenToMsSignatureHeader {
		return false
	}
	return sameEventSet(have.WebhookEvents, want.WebhookEvents)
}

// sameEventSet reports whether a and b hold the same names, ignoring order, duplicates and letter
// case.
func sameEventSet(a, b []EventName) bool {
	set := func(names []EventName) map[string]bool {
		m := make(map[string]bool, len(names))
		for _, n := range names {
			if c := canonicalEventName(string(n)); c != "" {
				m[strings.ToLower(string(c))] = true
			}
		}
		return m
	}
	sa, sb := set(a), set(b)
	if len(sa) != len(sb) {
		return false
	}
	for k := range sa {
		if !sb[k] {
			return false
		}
	}
	return true
}
