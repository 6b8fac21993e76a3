package pcwebhook

import (
	"context"
	"errors"
	"net/http"
)

// EnsureRegistration makes the partner's registration match reg with as few writes as possible:
// it reads the registration (GET), creates it (POST) when there is none, replaces it (PUT) when it
// differs, and makes no write when it already matches. It returns the registration as the service
// last reported it.
//
// It refuses a disruptive change (see [RegistrationDiff.Disruptive]): when the registration it
// reads sends deliveries to another URL, or gets events that reg drops, it writes nothing and
// returns the registration as it is with an error wrapping [ErrDisruptiveChange]. The account
// has one registration, shared by every program of the account, so such a change cuts off
// whoever relied on it. To make that change, pass [AllowDisruptive] to
// [Client.EnsureRegistrationWith], or show the plan ([Client.PlanRegistration]) and apply it
// once approved ([Client.ApplyRegistrationPlan]).
//
// Two registrations match when their WebhookURL is identical (after trimming surrounding spaces),
// their SignatureTokenToMsSignatureHeader is equal, and their WebhookEvents hold the same set of
// names, whatever the order, duplicates or letter case. If the POST is refused with 409 Conflict
// (a registration was created meanwhile), the registration is read again and the same rules
// apply to it. [Client.EnsureRegistrationChanges] does the same and also reports the change.
func (c *Client) EnsureRegistration(ctx context.Context, reg Registration) (*Registration, error) {
	got, _, err := c.EnsureRegistrationWith(ctx, reg)
	return got, err
}

// EnsureRegistrationChanges is [Client.EnsureRegistration] that also reports the change: the
// diff between the registration it found and reg. When nothing differed, the diff's Changed is
// false and nothing was written. A disruptive change is refused, as by EnsureRegistration: the
// error wraps [ErrDisruptiveChange] and the diff is the change that was refused. On another
// error, the diff says what was attempted (its Before is nil when the registration could not be
// read). It is [Client.EnsureRegistrationWith] without options.
func (c *Client) EnsureRegistrationChanges(ctx context.Context, reg Registration) (*Registration, RegistrationDiff, error) {
	return c.EnsureRegistrationWith(ctx, reg)
}

// EnsureOption configures [Client.EnsureRegistrationWith] and [Client.ApplyRegistrationPlan].
type EnsureOption func(*ensureOptions)

// ensureOptions is what EnsureOptions set.
type ensureOptions struct {
	allowDisruptive bool
}

// AllowDisruptive lets [Client.EnsureRegistrationWith] and [Client.ApplyRegistrationPlan] write a
// disruptive change: move the registration to another URL or drop events, for every program of
// the account. Without it they refuse such a change with [ErrDisruptiveChange].
func AllowDisruptive() EnsureOption {
	return func(o *ensureOptions) { o.allowDisruptive = true }
}

// EnsureRegistrationWith is [Client.EnsureRegistrationChanges] with options: with
// [AllowDisruptive] it also writes a disruptive change. The diff is always computed against the
// registration read by this call, just before it writes (and read again after a 409 Conflict).
//
// Partner Center has no conditional write, so a change made by someone else between this call's
// GET and its PUT is overwritten; to apply exactly the change a person approved, use
// [Client.PlanRegistration] and [Client.ApplyRegistrationPlan].
func (c *Client) EnsureRegistrationWith(ctx context.Context, reg Registration, opts ...EnsureOption) (*Registration, RegistrationDiff, error) {
	return c.ensureRegistration(ctx, reg, nil, opts)
}

// expectedRegistration pins the registration an apply expects to find: Before of an approved
// plan (nil: none).
type expectedRegistration struct {
	before *Registration
}

// ensureRegistration is every ensure and apply: read, diff, refuse or write. With expect, it
// writes only when the registration it reads still is expect.before (ErrStalePlan otherwise);
// a disruptive change is written only with AllowDisruptive (ErrDisruptiveChange otherwise).
// When the registration already matches reg, nothing is written and nothing is refused.
func (c *Client) ensureRegistration(ctx context.Context, reg Registration, expect *expectedRegistration, opts []EnsureOption) (*Registration, RegistrationDiff, error) {
	var o ensureOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	current, err := c.registrationBefore(ctx, reg)
	if err != nil {
		return nil, DiffRegistrations(nil, reg), err
	}
	for conflicts := 0; ; conflicts++ {
		diff := DiffRegistrations(current, reg)
		if !diff.Changed() {
			return current, diff, nil
		}
		if expect != nil && !sameRegistration(expect.before, current) {
			return current, diff, &RegistrationChangeError{Err: ErrStalePlan, Diff: diff}
		}
		if diff.Disruptive() && !o.allowDisruptive {
			return current, diff, &RegistrationChangeError{Err: ErrDisruptiveChange, Diff: diff}
		}
		if current != nil {
			updated, err := c.UpdateRegistration(ctx, reg)
			return updated, diff, err
		}
		created, err := c.Register(ctx, reg)
		var apiErr *APIError
		if conflicts > 0 || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
			return created, diff, err
		}
		// Created meanwhile: decide again against the registration that is there now.
		if current, err = c.Registration(ctx); err != nil {
			return nil, diff, err
		}
	}
}

// sameRegistration reports whether a and b (nil: none) are the same registration: the same
// URL, header mode and set of events, as [DiffRegistrations] compares them.
func sameRegistration(a, b *Registration) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return !DiffRegistrations(a, *b).Changed()
}
