package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/approve"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// registrationFlags are the flags of register and update.
type registrationFlags struct {
	api          apiFlags
	url          string
	events       string
	all          bool
	msHeader     bool
	dryRun       bool
	yes          bool
	allowHTTP    bool
	allowUnknown bool
}

// registrationDetails is the --help text shared by register and update.
const registrationDetails = `A partner account has ONE webhook registration, shared by every program of the account:
registering or updating replaces it whole. So both commands first read it and print the change
(URL, added and removed events, signature header), and then:
  - with --dry-run, stop there;
  - when the URL changes or events would be dropped, ask for confirmation on a terminal
    (--yes applies the change without asking; without a terminal they refuse unless --yes);
  - write it only if the registration is still the one shown: when someone changed it
    meanwhile, they write nothing and show the change as it would now be.

--events takes a comma-separated list of event names (see "pcwebhook events"); a name that
pcwebhook does not know is refused with a suggestion, unless --allow-unknown. --all registers
every event the account's API offers (GET /webhooks/v1/registration/events), and says which
documented ones it left out. Include test-created if you want to use "pcwebhook test".

The URL must be https: Partner Center would send every event in clear to an http URL.
--allow-http allows one anyway (loopback URLs are always accepted).

` + apiDetails

// parseRegistration parses the flags of register or update and returns the registration to send
// (without events when --all: they come from the API).
func (a *app) parseRegistration(spec *usageSpec, args []string) (*registrationFlags, pcwebhook.Registration, int, bool) {
	f := &registrationFlags{}
	spec.noArgs = true
	cl, code, ok := a.parse(spec, args, f.define)
	if !ok {
		return nil, pcwebhook.Registration{}, code, false
	}
	if msg := f.usageProblem(); msg != "" {
		return nil, pcwebhook.Registration{}, a.usageError(cl, msg), false
	}
	names, msg := f.eventNames(a.stderr)
	if msg != "" {
		return nil, pcwebhook.Registration{}, a.usageError(cl, msg), false
	}
	reg := pcwebhook.Registration{
		WebhookURL:                        strings.TrimSpace(f.url),
		WebhookEvents:                     names,
		SignatureTokenToMsSignatureHeader: f.msHeader,
	}
	return f, reg, 0, true
}

// define adds the flags of register and update to fs.
func (f *registrationFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "the https `URL` Partner Center sends events to (required)")
	fs.StringVar(&f.events, "events", "", "comma-separated event `names`")
	fs.BoolVar(&f.all, "all", false, "every event the account's API offers, instead of --events")
	fs.BoolVar(&f.msHeader, "ms-signature-header", false, "have the signature sent in an x-ms-signature header instead of Authorization")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the change and stop: write nothing")
	fs.BoolVar(&f.yes, "yes", false, "apply a change of URL or dropped events without asking")
	fs.BoolVar(&f.allowHTTP, "allow-http", false, "accept a plain http --url (events then travel in clear)")
	fs.BoolVar(&f.allowUnknown, "allow-unknown", false, "send event names pcwebhook does not know (newer events)")
	f.api.define(fs)
}

// usageProblem says what is wrong with --url, --events and --all, or returns "".
func (f *registrationFlags) usageProblem() string {
	raw := strings.TrimSpace(f.url)
	switch {
	case raw == "":
		return "--url is required"
	case f.all && strings.TrimSpace(f.events) != "":
		return "give --events or --all, not both"
	case !f.all && strings.TrimSpace(f.events) == "":
		return "give --events NAMES or --all"
	}
	u, err := url.Parse(raw)
	if err != nil || (!strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http")) || u.Host == "" {
		return fmt.Sprintf("--url %q is not an absolute https URL", raw)
	}
	if strings.EqualFold(u.Scheme, "http") && !f.allowHTTP && !isLoopback(u.Hostname()) {
		return fmt.Sprintf("--url %q is plain http: Partner Center would send every event, and its signature, "+
			"across the network in clear. Use an https URL (a tunnel gives you one), or pass --allow-http", raw)
	}
	return ""
}

// eventNames returns the names of --events (none with --all). A name pcwebhook does not know is
// refused, with the message to print, or with --allow-unknown sent with a warning on stderr.
func (f *registrationFlags) eventNames(stderr io.Writer) ([]pcwebhook.EventName, string) {
	if f.all {
		return nil, ""
	}
	names, unknown := parseEventList(f.events)
	for _, n := range unknown {
		if !f.allowUnknown {
			return nil, unknownEventMessage(n)
		}
		fmt.Fprintf(stderr, "pcwebhook: warning: %q is not an event name pcwebhook %s knows; sending it anyway "+
			"(Partner Center refuses names it does not offer: see \"pcwebhook events\")\n", n, pcwebhook.Version)
	}
	return names, ""
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runRegister makes the registration match the flags: it creates it when there is none,
// replaces it when it differs, and changes nothing when it already matches.
func runRegister(ctx context.Context, a *app, args []string) int {
	f, reg, code, ok := a.parseRegistration(&usageSpec{
		name:     "register",
		synopsis: "pcwebhook register --url URL (--events NAMES | --all) [--dry-run] [--yes] [--ms-signature-header] [flags]",
		details: `Makes the webhook registration send the given events to URL: it reads the registration,
creates it when there is none, replaces it when it differs, and changes nothing when it already
matches. It prints the change, then "created", "updated" or "unchanged".

` + registrationDetails,
	}, args)
	if !ok {
		return code
	}
	return a.changeRegistration(ctx, f, reg, false)
}

// runUpdate replaces an existing registration.
func runUpdate(ctx context.Context, a *app, args []string) int {
	f, reg, code, ok := a.parseRegistration(&usageSpec{
		name:     "update",
		synopsis: "pcwebhook update --url URL (--events NAMES | --all) [--dry-run] [--yes] [--ms-signature-header] [flags]",
		details: `Replaces the webhook registration with the given URL and events (PUT). Unlike "pcwebhook
register", it never creates one: when the account has none it fails.

` + registrationDetails,
	}, args)
	if !ok {
		return code
	}
	return a.changeRegistration(ctx, f, reg, true)
}

// changeRegistration is register and update: plan (read and diff), print, approve a disruptive
// change, apply the plan (written only while the registration is still the one planned from).
// With mustExist (update) it fails when there is no registration, and never creates one.
func (a *app) changeRegistration(ctx context.Context, f *registrationFlags, reg pcwebhook.Registration, mustExist bool) int {
	var opts []pcwebhook.ClientOption
	if f.allowHTTP {
		opts = append(opts, pcwebhook.WithInsecureWebhookURL())
	}
	client, code, ok := a.client(&f.api, nil, opts...)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	plan, code, ok := a.planRegistration(ctx, client, f.all, reg, mustExist)
	if !ok {
		return code
	}
	if !plan.Changed() {
		fmt.Fprintln(a.stdout, "Registration unchanged (it already matched).")
		printRegistration(a.stdout, plan.Before)
		noteTestCreated(a.stdout, plan.Before)
		return 0
	}
	what := "Change to the registration (this account has only one)"
	if plan.Before == nil {
		what = "New registration (this account has none yet)"
	}
	fmt.Fprintf(a.stdout, "%s:\n  %s\n", what, approve.Indented(plan))
	if f.dryRun {
		fmt.Fprintln(a.stdout, "Dry run: nothing was changed.")
		return 0
	}
	return a.applyRegistration(ctx, client, plan, f.yes)
}

// planRegistration reads the registration and plans the change to reg; with all, reg's events
// are those the account's API offers. On failure it prints why and returns the exit status.
func (a *app) planRegistration(ctx context.Context, client *pcwebhook.Client, all bool, reg pcwebhook.Registration, mustExist bool) (pcwebhook.RegistrationDiff, int, bool) {
	if all {
		offered, err := client.SupportedEvents(ctx)
		if err != nil {
			return pcwebhook.RegistrationDiff{}, a.apiFailure("reading the events the account's API offers", err), false
		}
		reg.WebhookEvents = offered
		a.reportAll(offered)
	}
	plan, err := client.PlanRegistration(ctx, reg)
	if err != nil {
		return plan, a.apiFailure("reading the registration", err), false
	}
	if plan.Before == nil && mustExist {
		fmt.Fprintln(a.stderr, "pcwebhook: this account has no webhook registration to update: create it with \"pcwebhook register\".")
		return plan, 1, false
	}
	return plan, 0, true
}

// applyRegistration writes the planned change once approved (yes, or on the terminal) and
// prints the registration as written.
func (a *app) applyRegistration(ctx context.Context, client *pcwebhook.Client, plan pcwebhook.RegistrationDiff, yes bool) int {
	got, now, err := a.asker().Apply(ctx, client, plan, yes)
	if errors.Is(err, approve.ErrNotChanged) {
		return 1
	}
	if err != nil {
		return a.apiFailure("writing the registration", err)
	}
	verdict := "Registration updated."
	switch {
	case !now.Changed():
		verdict = "Registration unchanged (it matched by the time it was written)."
	case plan.Before == nil:
		verdict = "Registration created."
	}
	fmt.Fprintln(a.stdout, verdict)
	printRegistration(a.stdout, got)
	noteTestCreated(a.stdout, got)
	return 0
}

// reportAll says, for --all, which documented events the account's API does not offer (left
// out) and which offered ones this version does not know (registered anyway).
func (a *app) reportAll(offered []pcwebhook.EventName) {
	var unknown []pcwebhook.EventName
	for _, n := range offered {
		if !n.Known() {
			unknown = append(unknown, n)
		}
	}
	left := notOffered(offered)
	fmt.Fprintf(a.stdout, "--all: the %d events the account's API offers.\n", len(offered))
	if len(left) > 0 {
		fmt.Fprintf(a.stdout, "Left out, documented but not offered to this account (%d): %s\n", len(left), joinNames(left))
	}
	if len(unknown) > 0 {
		fmt.Fprintf(a.stdout, "Included, unknown to pcwebhook %s (they arrive via OnUnknown) (%d): %s\n", pcwebhook.Version, len(unknown), joinNames(unknown))
	}
}

// asker asks on the terminal whether to apply a disruptive change; without one (standard input
// and standard error both terminals) it refuses and names --yes.
func (a *app) asker() approve.Asker {
	var interactive bool
	if a.env.stdinTerminal != nil {
		interactive = a.env.stdinTerminal()
	} else {
		interactive = approve.Interactive(a.env.stdin, a.stderr)
	}
	return approve.Asker{Program: "pcwebhook", In: a.env.stdin, Out: a.stderr, Interactive: interactive}
}

// printRegistration prints a registration, one field a line.
func printRegistration(w io.Writer, reg *pcwebhook.Registration) {
	fmt.Fprintf(w, "  url:          %s\n", termsafe.Text(reg.WebhookURL))
	header := "Authorization: Signature <base64>"
	if reg.SignatureTokenToMsSignatureHeader {
		header = "x-ms-signature"
	}
	fmt.Fprintf(w, "  signature in: %s\n", header)
	if reg.SubscriberID != "" {
		fmt.Fprintf(w, "  subscriber:   %s\n", termsafe.Text(reg.SubscriberID))
	}
	if !reg.LastModified.IsZero() {
		fmt.Fprintf(w, "  modified:     %s\n", reg.LastModified.Format("2006-01-02T15:04:05Z07:00"))
	}
	fmt.Fprintf(w, "  events (%d):\n", len(reg.WebhookEvents))
	for _, n := range reg.WebhookEvents {
		if n.Known() {
			fmt.Fprintf(w, "    %s\n", n)
		} else {
			fmt.Fprintf(w, "    %s  (unknown to pcwebhook %s: arrives via OnUnknown)\n", termsafe.Text(string(n)), pcwebhook.Version)
		}
	}
}

// noteTestCreated says that "pcwebhook test" needs test-created when the registration lacks it.
func noteTestCreated(w io.Writer, reg *pcwebhook.Registration) {
	if !slices.Contains(reg.WebhookEvents, pcwebhook.EventTestCreated) {
		fmt.Fprintln(w, "Note: test-created is not among the events: Partner Center sends test events (\"pcwebhook test\") only to registrations that include it.")
	}
}
