package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/partnercenter-go/pcwebhook"
)

// registrationFlags are the flags of register and update.
type registrationFlags struct {
	api      apiFlags
	url      string
	events   string
	all      bool
	msHeader bool
}

// registrationDetails is the --help text shared by register and update.
const registrationDetails = `--events takes a comma-separated list of event names (see "pcwebhook events"); names that
pcwebhook does not know are sent anyway, with a warning. --all registers every event name
pcwebhook knows. Include test-created if you want to use "pcwebhook test".

` + apiDetails

// parseRegistration parses the flags of register or update and returns the registration to send.
func (a *app) parseRegistration(spec *usageSpec, args []string) (*registrationFlags, pcwebhook.Registration, int, bool) {
	f := &registrationFlags{}
	spec.hidden = hiddenAPIFlags()
	cl, code, ok := a.parse(spec, args, func(fs *flag.FlagSet) {
		fs.StringVar(&f.url, "url", "", "the https `URL` Partner Center sends events to (required)")
		fs.StringVar(&f.events, "events", "", "comma-separated event `names`")
		fs.BoolVar(&f.all, "all", false, "every event name pcwebhook knows, instead of --events")
		fs.BoolVar(&f.msHeader, "ms-signature-header", false, "have the signature sent in an x-ms-signature header instead of Authorization")
		f.api.define(fs)
	})
	if !ok {
		return nil, pcwebhook.Registration{}, code, false
	}
	switch {
	case cl.NArg() > 0:
		return nil, pcwebhook.Registration{}, a.usageError(cl, "unexpected arguments: "+strings.Join(cl.args, " ")), false
	case strings.TrimSpace(f.url) == "":
		return nil, pcwebhook.Registration{}, a.usageError(cl, "--url is required"), false
	case f.all && strings.TrimSpace(f.events) != "":
		return nil, pcwebhook.Registration{}, a.usageError(cl, "give --events or --all, not both"), false
	case !f.all && strings.TrimSpace(f.events) == "":
		return nil, pcwebhook.Registration{}, a.usageError(cl, "give --events NAMES or --all"), false
	}
	names := pcwebhook.KnownEventNames()
	if !f.all {
		var unknown []pcwebhook.EventName
		names, unknown = parseEventList(f.events)
		for _, n := range unknown {
			fmt.Fprintf(a.stderr, "pcwebhook: warning: %q is not an event name pcwebhook %s knows; sending it anyway "+
				"(Partner Center refuses names it does not offer: see \"pcwebhook events\")\n", n, libraryVersion())
		}
	}
	reg := pcwebhook.Registration{
		WebhookURL:                        strings.TrimSpace(f.url),
		WebhookEvents:                     names,
		SignatureTokenToMsSignatureHeader: f.msHeader,
	}
	return f, reg, 0, true
}

// runRegister makes the registration match the flags with EnsureRegistration and says whether it
// was created, updated or already as wanted.
func runRegister(ctx context.Context, a *app, args []string) int {
	f, reg, code, ok := a.parseRegistration(&usageSpec{
		name:     "register",
		synopsis: "pcwebhook register --url URL (--events NAMES | --all) [--ms-signature-header] [flags]",
		details: `Makes the webhook registration send the given events to URL: it reads the registration,
creates it when there is none, replaces it when it differs, and changes nothing when it already
matches. It prints "created", "updated" or "unchanged".

` + registrationDetails,
	}, args)
	if !ok {
		return code
	}
	writes := &writeRecorder{}
	client, code, ok := a.client(&f.api, func(rt http.RoundTripper) http.RoundTripper {
		writes.base = rt
		return writes
	})
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	got, err := client.EnsureRegistration(ctx, reg)
	if err != nil {
		return a.apiFailure("registering", err)
	}
	verdict := "unchanged (it already matched)"
	switch writes.last() {
	case http.MethodPost:
		verdict = "created"
	case http.MethodPut:
		verdict = "updated"
	}
	fmt.Fprintf(a.stdout, "Registration %s.\n", verdict)
	printRegistration(a.stdout, got)
	noteTestCreated(a.stdout, got)
	return 0
}

// runUpdate replaces the registration with UpdateRegistration.
func runUpdate(ctx context.Context, a *app, args []string) int {
	f, reg, code, ok := a.parseRegistration(&usageSpec{
		name:     "update",
		synopsis: "pcwebhook update --url URL (--events NAMES | --all) [--ms-signature-header] [flags]",
		details: `Replaces the webhook registration with the given URL and events (PUT), whatever it was.
"pcwebhook register" does the same only when something differs, and creates the registration
when there is none.

` + registrationDetails,
	}, args)
	if !ok {
		return code
	}
	client, code, ok := a.client(&f.api, nil)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	got, err := client.UpdateRegistration(ctx, reg)
	if err != nil {
		var apiErr *pcwebhook.APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
			fmt.Fprintln(a.stderr, "pcwebhook: there seems to be no registration to update yet: create it with \"pcwebhook register\".")
		}
		return a.apiFailure("updating the registration", err)
	}
	fmt.Fprintln(a.stdout, "Registration updated.")
	printRegistration(a.stdout, got)
	noteTestCreated(a.stdout, got)
	return 0
}

// printRegistration prints a registration, one field a line.
func printRegistration(w io.Writer, reg *pcwebhook.Registration) {
	fmt.Fprintf(w, "  url:          %s\n", reg.WebhookURL)
	header := "Authorization: Signature <base64>"
	if reg.SignatureTokenToMsSignatureHeader {
		header = "x-ms-signature"
	}
	fmt.Fprintf(w, "  signature in: %s\n", header)
	if reg.SubscriberID != "" {
		fmt.Fprintf(w, "  subscriber:   %s\n", reg.SubscriberID)
	}
	if !reg.LastModified.IsZero() {
		fmt.Fprintf(w, "  modified:     %s\n", reg.LastModified.Format("2006-01-02T15:04:05Z07:00"))
	}
	fmt.Fprintf(w, "  events (%d):\n", len(reg.WebhookEvents))
	for _, n := range reg.WebhookEvents {
		if n.Known() {
			fmt.Fprintf(w, "    %s\n", n)
		} else {
			fmt.Fprintf(w, "    %s  (unknown to pcwebhook %s: arrives via OnUnknown)\n", n, libraryVersion())
		}
	}
}

// noteTestCreated says that "pcwebhook test" needs test-created when the registration lacks it.
func noteTestCreated(w io.Writer, reg *pcwebhook.Registration) {
	if !slices.Contains(reg.WebhookEvents, pcwebhook.EventTestCreated) {
		fmt.Fprintln(w, "Note: test-created is not among the events: Partner Center sends test events (\"pcwebhook test\") only to registrations that include it.")
	}
}

// writeRecorder is an http.RoundTripper that remembers the method of the last write (POST or PUT)
// that Partner Center accepted, so register can tell what EnsureRegistration did.
type writeRecorder struct {
	base http.RoundTripper

	mu     sync.Mutex
	method string
}

// RoundTrip implements http.RoundTripper.
func (w *writeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(req)
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 &&
		(req.Method == http.MethodPost || req.Method == http.MethodPut) {
		w.mu.Lock()
		w.method = req.Method
		w.mu.Unlock()
	}
	return resp, err
}

// last returns the method of the last accepted write, or "" when there was none.
func (w *writeRecorder) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.method
}
