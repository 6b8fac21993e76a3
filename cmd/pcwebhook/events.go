package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// eventsOptions are the parsed flags of the events command.
type eventsOptions struct {
	api     apiFlags
	offline bool
}

// eventsDetails is the --help text of events.
const eventsDetails = `Lists the event names Partner Center offers for registration, asking the API, and marks
each one this version of pcwebhook knows (with its typed struct) or does not know (it still
arrives, as a plain pcwebhook.Event, to Handler.OnUnknown). With --offline it lists the built-in
table of documented events instead, with no token and no network.

` + apiDetails

// runEvents lists event names: those Partner Center offers (GET /webhooks/v1/registration/events),
// or with --offline the library's built-in table.
func runEvents(ctx context.Context, a *app, args []string) int {
	o, code, ok := a.parseEvents(args)
	if !ok {
		return code
	}
	if o.offline {
		known := pcwebhook.KnownEventNames()
		fmt.Fprintf(a.stdout, "%d event names documented by Partner Center and known to pcwebhook %s:\n\n", len(known), pcwebhook.Version)
		printEventTable(a, known)
		return 0
	}
	client, code, ok := a.client(&o.api, nil)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	names, err := client.SupportedEvents(ctx)
	if err != nil {
		return a.apiFailure("listing the supported events", err)
	}
	fmt.Fprintf(a.stdout, "%d event names offered by Partner Center:\n\n", len(names))
	printEventTable(a, names)
	if missing := notOffered(names); len(missing) > 0 {
		fmt.Fprintf(a.stdout, "\nDocumented but not offered to this account (%d): %s\n", len(missing), joinNames(missing))
	}
	return 0
}

// parseEvents parses the flags of events.
func (a *app) parseEvents(args []string) (*eventsOptions, int, bool) {
	o := &eventsOptions{}
	_, code, ok := a.parse(&usageSpec{
		name:     "events",
		synopsis: "pcwebhook events [--offline] [flags]",
		details:  eventsDetails,
		noArgs:   true,
	}, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.offline, "offline", false, "list the built-in table instead of asking the API")
		o.api.define(fs)
	})
	if !ok {
		return nil, code, false
	}
	return o, 0, true
}

// notOffered returns the documented event names that are not among offered.
func notOffered(offered []pcwebhook.EventName) []pcwebhook.EventName {
	var missing []pcwebhook.EventName
	for _, k := range pcwebhook.KnownEventNames() {
		if !slices.Contains(offered, k) {
			missing = append(missing, k)
		}
	}
	return missing
}

// printEventTable prints one line per name: the name, and the typed struct with its IDs, or a
// note that the library does not know it. A name the API sent that is unknown is printed through
// terminalText (a known name is one of the library's constants).
func printEventTable(a *app, names []pcwebhook.EventName) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  EVENT\tTYPED STRUCT\tIDS")
	unknown := 0
	for _, n := range names {
		if !n.Known() {
			unknown++
			fmt.Fprintf(tw, "  %s\t(unknown to pcwebhook %s)\tarrives as pcwebhook.Event, via OnUnknown\n", termsafe.Text(string(n)), pcwebhook.Version)
			continue
		}
		typeName, ids := describe(&pcwebhook.Event{Name: n}) // the IDs listed depend on the name only
		idNames := make([]string, len(ids))
		for i, id := range ids {
			idNames[i] = id.Name
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", n, typeName, orDash(strings.Join(idNames, ", ")))
	}
	_ = tw.Flush()
	if unknown > 0 {
		fmt.Fprintf(a.stdout, "\n%d of them unknown to this version of pcwebhook: upgrade it for typed structs and On<Event> callbacks.\n", unknown)
	}
}
