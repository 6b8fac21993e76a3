package pcwebhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrDisruptiveChange is wrapped (in a [*RegistrationChangeError]) by the error of
// [Client.EnsureRegistration], [Client.EnsureRegistrationChanges], [Client.EnsureRegistrationWith]
// and [Client.ApplyRegistrationPlan] when the change would move the registration to another URL
// or drop events and [AllowDisruptive] was not given. Nothing was written.
var ErrDisruptiveChange = errors.New("pcwebhook: disruptive registration change refused")

// ErrStalePlan is wrapped (in a [*RegistrationChangeError]) by the error of
// [Client.ApplyRegistrationPlan] when the registration is no longer the plan's Before: someone
// changed it after the plan was made. Nothing was written; the error's Diff is the change as it
// would be now, to show and approve again.
var ErrStalePlan = errors.New("pcwebhook: the registration changed since the plan was made")

// RegistrationChangeError is the error of a registration change the Client refused to write:
// errors.Is(err, ErrDisruptiveChange) or errors.Is(err, ErrStalePlan) tell which refusal, and
// errors.As gives the change.
type RegistrationChangeError struct {
	// Err is the sentinel: [ErrDisruptiveChange] or [ErrStalePlan].
	Err error
	// Diff is the refused change, against the registration as it was read just before the
	// refusal.
	Diff RegistrationDiff
}

// Error says what was refused, why, and what to do, on one line.
func (e *RegistrationChangeError) Error() string {
	if e == nil {
		return "pcwebhook: registration change refused <nil>"
	}
	var b strings.Builder
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("pcwebhook: registration change refused")
	}
	switch {
	case errors.Is(e.Err, ErrStalePlan) && e.Diff.Before == nil:
		b.WriteString(": there is no registration now; nothing was written: plan again")
	case errors.Is(e.Err, ErrStalePlan):
		fmt.Fprintf(&b, ": it is now %s with %d event(s); nothing was written: plan again",
			strings.TrimSpace(e.Diff.Before.WebhookURL), len(e.Diff.Before.WebhookEvents))
	case e.Diff.Disruptive():
		fmt.Fprintf(&b, ": it %s, for every program of the account; nothing was written "+
			"(to apply it, pass the AllowDisruptive option)", e.Diff.Disruption())
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *RegistrationChangeError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// PlanRegistration reads the partner's registration (GET) and returns what making it match reg
// would change: the URL, the events added and dropped, the header mode, and whether that is
// [RegistrationDiff.Disruptive]. It writes nothing. The plan's Before is nil when there is no
// registration. reg is validated as by [Client.Register] (an [ErrInvalidInput] error, before
// any call).
//
// Show the plan, ask when it is disruptive, and apply it with [Client.ApplyRegistrationPlan]:
// the apply writes only if the registration is still the one the plan was made from.
func (c *Client) PlanRegistration(ctx context.Context, reg Registration) (RegistrationDiff, error) {
	current, err := c.registrationBefore(ctx, reg)
	return DiffRegistrations(current, reg), err
}

// registrationBefore validates reg (before any call) and reads the registration it would
// replace: nil, nil when there is none.
func (c *Client) registrationBefore(ctx context.Context, reg Registration) (*Registration, error) {
	if _, err := c.registrationRequest(reg); err != nil {
		return nil, err
	}
	current, err := c.Registration(ctx)
	if errors.Is(err, ErrNotRegistered) {
		return nil, nil
	}
	return current, err
}

// ApplyRegistrationPlan makes the registration plan.After, but only as planned: it reads the
// registration again and writes (POST when plan.Before is nil, PUT otherwise) only when that
// registration still is plan.Before (the same URL, header mode and set of events). When someone
// changed it since the plan was made, it writes nothing and the error wraps [ErrStalePlan]; the
// returned diff is the change as it would be now. A disruptive plan is written only with
// [AllowDisruptive] (give it once a person approved the plan); without it the error wraps
// [ErrDisruptiveChange]. When the registration already is plan.After, nothing is written and
// there is no error.
//
// It returns the registration as the service last reported it and the change against the
// registration read by this call. Partner Center has no conditional write: a change made by
// someone else in the moment between this call's GET and its PUT is still overwritten.
func (c *Client) ApplyRegistrationPlan(ctx context.Context, plan RegistrationDiff, opts ...EnsureOption) (*Registration, RegistrationDiff, error) {
	return c.ensureRegistration(ctx, plan.After, &expectedRegistration{before: plan.Before}, opts)
}
