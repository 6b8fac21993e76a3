package pcwebhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RegistrationDiff is what replacing a registration changes. A partner account has one webhook
// registration: registering or updating replaces it whole, for every program of the account, so a
// change of URL or a dropped event cuts off whoever relied on it. Make one with
// [DiffRegistrations], or read one from the service with [Client.PlanRegistration] (a plan, which
// [Client.ApplyRegistrationPlan] applies); [Client.EnsureRegistrationChanges] returns the one it
// applied or refused.
type RegistrationDiff struct {
	// Before is the registration as it was; nil when there was none (the change creates it).
	Before *Registration
	// After is the registration as it is sent: URL trimmed, event names canonical and without
	// duplicates.
	After Registration

	// URLChanged reports whether the WebhookURL changes (always true when Before is nil).
	URLChanged bool
	// AddedEvents are the events After has and Before has not, in After's order.
	AddedEvents []EventName
	// RemovedEvents are the events Before has and After has not, in Before's order.
	RemovedEvents []EventName
	// HeaderModeChanged reports whether SignatureTokenToMsSignatureHeader changes: the signature
	// moves between the Authorization and x-ms-signature headers.
	HeaderModeChanged bool
}

// DiffRegistrations compares the registration before (nil: none) with after. Event names compare
// as the service treats them: without letter case, order or duplicates. Nothing is validated:
// Register and UpdateRegistration do that.
func DiffRegistrations(before *Registration, after Registration) RegistrationDiff {
	d := RegistrationDiff{After: normalizedRegistration(after)}
	if before != nil {
		b := *before
		b.WebhookEvents = slices.Clone(b.WebhookEvents)
		d.Before = &b
	}
	var beforeEvents []EventName
	if before != nil {
		beforeEvents = before.WebhookEvents
		d.URLChanged = strings.TrimSpace(before.WebhookURL) != d.After.WebhookURL
		d.HeaderModeChanged = before.SignatureTokenToMsSignatureHeader != d.After.SignatureTokenToMsSignatureHeader
	} else {
		d.URLChanged = true
		d.HeaderModeChanged = d.After.SignatureTokenToMsSignatureHeader
	}
	d.AddedEvents = eventsMissingFrom(d.After.WebhookEvents, beforeEvents)
	d.RemovedEvents = eventsMissingFrom(beforeEvents, d.After.WebhookEvents)
	return d
}

// Changed reports whether applying the diff writes anything: there is no registration yet, or
// the URL, the events or the header mode differ.
func (d RegistrationDiff) Changed() bool {
	return d.Before == nil || d.URLChanged || d.HeaderModeChanged || len(d.AddedEvents) > 0 || len(d.RemovedEvents) > 0
}

// Disruptive reports whether the change can cut off deliveries that the current registration
// gets: it moves them to another URL, or drops events. Creating a registration is not
// disruptive, and neither are added events nor a new header mode (the Handler reads the
// signature from either header). The Client writes a disruptive change only when allowed by name
// ([AllowDisruptive]); the command-line tool asks for confirmation first.
func (d RegistrationDiff) Disruptive() bool {
	return d.Before != nil && (d.URLChanged || len(d.RemovedEvents) > 0)
}

// Disruption says in one phrase how the change cuts deliveries off, for people, for example
// "moves every delivery from https://old.example/hook to https://new.example/hook, and stops
// 1 event(s): invoice-ready"; it is "" when the change is not [RegistrationDiff.Disruptive].
func (d RegistrationDiff) Disruption() string {
	if !d.Disruptive() {
		return ""
	}
	var why []string
	if d.URLChanged {
		why = append(why, "moves every delivery from "+strings.TrimSpace(d.Before.WebhookURL)+" to "+d.After.WebhookURL)
	}
	if n := len(d.RemovedEvents); n > 0 {
		names := make([]string, n)
		for i, e := range d.RemovedEvents {
			names[i] = string(e)
		}
		why = append(why, fmt.Sprintf("stops %d event(s): %s", n, strings.Join(names, ", ")))
	}
	return strings.Join(why, ", and ")
}

// String describes the change on a few lines, for people, for example
//
//	url:    https://old.example/hook -> https://new.example/hook
//	events: + invoice-ready
//	        - subscription-updated
//	header: Authorization (unchanged)
//
// or "no change".
func (d RegistrationDiff) String() string {
	if !d.Changed() {
		return "no change"
	}
	var b strings.Builder
	if d.Before == nil {
		fmt.Fprintf(&b, "url:    (no registration) -> %s\n", d.After.WebhookURL)
	} else if d.URLChanged {
		fmt.Fprintf(&b, "url:    %s -> %s\n", d.Before.WebhookURL, d.After.WebhookURL)
	} else {
		fmt.Fprintf(&b, "url:    %s (unchanged)\n", d.After.WebhookURL)
	}
	prefix := "events: "
	line := func(s string) {
		b.WriteString(prefix + s + "\n")
		prefix = "        "
	}
	for _, e := range d.AddedEvents {
		line("+ " + string(e))
	}
	for _, e := range d.RemovedEvents {
		line("- " + string(e))
	}
	if len(d.AddedEvents) == 0 && len(d.RemovedEvents) == 0 {
		line(fmt.Sprintf("%d (unchanged)", len(d.After.WebhookEvents)))
	}
	after := headerModeName(d.After.SignatureTokenToMsSignatureHeader)
	switch {
	case d.Before != nil && d.HeaderModeChanged:
		fmt.Fprintf(&b, "header: %s -> %s\n", headerModeName(d.Before.SignatureTokenToMsSignatureHeader), after)
	case d.Before != nil:
		fmt.Fprintf(&b, "header: %s (unchanged)\n", after)
	default:
		fmt.Fprintf(&b, "header: %s\n", after)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// headerModeName names where Partner Center puts the signature.
func headerModeName(msHeader bool) string {
	if msHeader {
		return "x-ms-signature"
	}
	return "Authorization"
}

// normalizedRegistration returns reg as it is sent: the URL trimmed, the events canonical and
// without duplicates. The read-only fields are dropped.
func normalizedRegistration(reg Registration) Registration {
	out := Registration{
		WebhookURL:                        strings.TrimSpace(reg.WebhookURL),
		SignatureTokenToMsSignatureHeader: reg.SignatureTokenToMsSignatureHeader,
		WebhookEvents:                     make([]EventName, 0, len(reg.WebhookEvents)),
	}
	seen := make(map[string]bool, len(reg.WebhookEvents))
	for _, e := range reg.WebhookEvents {
		name := canonicalEventName(string(e))
		key := strings.ToLower(string(name))
		if name == "" || seen[key] {
			continue
		}
		seen[key] = true
		out.WebhookEvents = append(out.WebhookEvents, name)
	}
	return out
}

// eventsMissingFrom returns the names of a that are not in b (compared case-insensitively after
// canonicalization), in a's order, without duplicates.
func eventsMissingFrom(a, b []EventName) []EventName {
	in := make(map[string]bool, len(b))
	for _, n := range b {
		in[strings.ToLower(string(canonicalEventName(string(n))))] = true
	}
	var out []EventName
	for _, n := range a {
		c := canonicalEventName(string(n))
		key := strings.ToLower(string(c))
		if c == "" || in[key] {
			continue
		}
		in[key] = true
		out = append(out, c)
	}
	return out
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
