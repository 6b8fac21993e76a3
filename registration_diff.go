package pcwebhook

import (
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
