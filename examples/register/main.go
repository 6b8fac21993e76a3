// Command register manages a Partner Center webhook registration from the command line: it
// registers a URL for a set of events (creating or updating the registration only when needed)
// and, with -test, sends a test event and waits for its delivery status.
//
//	export PARTNER_CENTER_TOKEN=$(az account get-access-token \
//	    --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv)
//	go run ./examples/register -url https://partner.example/webhooks \
//	    -events subscription-updated,invoice-ready -test
//
// A partner account has one registration, shared by every program of the account, so it plans
// first (Client.PlanRegistration) and prints the change. A change that moves the URL or drops
// events is applied only with -yes or a "y" typed on a terminal; without a terminal and without
// -yes it is refused. The change is then written with Client.ApplyRegistrationPlan (with
// AllowDisruptive once a disruptive change is approved), only if the registration is still the
// one shown. -dry-run prints the change and writes nothing. (Asking and applying are in this
// module's internal/approve, shared with the command-line tool; in a copy of this program, ask
// your own way, as ExampleClient_PlanRegistration shows.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/approve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// tokenEnv is the environment variable that holds the access token.
const tokenEnv = "PARTNER_CENTER_TOKEN"

// getTokenCommand prints a token for the Partner Center API with the Azure CLI.
const getTokenCommand = "az account get-access-token --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv"

const missingTokenHelp = `register: no access token: set ` + tokenEnv + ` to an access token for the
Partner Center API (resource https://api.partnercenter.microsoft.com), for example with the Azure CLI,
signed in as a user of your Partner Center account (an admin agent) or as an app registered in it:

    export ` + tokenEnv + `=$(` + getTokenCommand + `)

For the China (21Vianet) or US Government cloud, first run "az cloud set --name AzureChinaCloud"
(or AzureUSGovernment) and "az login".
`

// run is the whole program; it returns the exit status: 0 success, 1 failure (or a change
// refused), 2 bad usage. A question is asked only when stdin and stderr are terminals.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	webhookURL := fs.String("url", "", "the `URL` Partner Center sends events to (required)")
	eventList := fs.String("events", "", "comma-separated event `names` to register for")
	all := fs.Bool("all", false, "register for every documented event instead of -events")
	msHeader := fs.Bool("ms-signature-header", false, "have the signature sent in an x-ms-signature header instead of Authorization")
	cloud := fs.String("cloud", "global", "`global` or china (21Vianet); the US Government cloud uses global with a token from its own authority")
	yes := fs.Bool("yes", false, "apply a change of URL or dropped events without asking (the account has one registration)")
	dryRun := fs.Bool("dry-run", false, "print the change and stop: write nothing")
	test := fs.Bool("test", false, "send a test event and wait for its delivery status")
	poll := fs.Duration("poll", 5*time.Second, "how often to ask for the test event's delivery status")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for the test event's delivery status")
	apiRoot := fs.String("api-root", "", "override the API root `URL` given by -cloud (for a proxy or tests)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: register -url URL (-events a,b,... | -all) [-dry-run] [-yes] [flags]\n\n"+
			"The access token is read from %s. The account has one registration: a change that moves\n"+
			"its URL or drops events is applied only with -yes or when confirmed on a terminal.\n\nflags:\n", tokenEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "register: %s\n", msg)
		fs.Usage()
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected arguments: " + strings.Join(fs.Args(), " "))
	case strings.TrimSpace(*webhookURL) == "":
		return usage("-url is required")
	case *all == (strings.TrimSpace(*eventList) != ""):
		return usage("give either -events or -all")
	}
	root, ok := apiRootFor(*cloud)
	if !ok {
		return usage(fmt.Sprintf("-cloud %q: want global or china", *cloud))
	}
	if *apiRoot != "" {
		root = *apiRoot
	}
	token := strings.TrimSpace(getenv(tokenEnv))
	if token == "" {
		fmt.Fprint(stderr, missingTokenHelp)
		return 2
	}

	events := pcwebhook.KnownEventNames()
	if !*all {
		events = parseEvents(*eventList, stderr)
	}
	if *test && !contains(events, pcwebhook.EventTestCreated) {
		fmt.Fprintln(stdout, "Adding test-created to the events: Partner Center sends test events only to registrations that include it.")
		events = append(events, pcwebhook.EventTestCreated)
	}

	client := pcwebhook.NewClient(pcwebhook.StaticToken(token), pcwebhook.WithAPIRoot(root))
	fmt.Fprintf(stdout, "Making sure %s is registered for %d events (%s)...\n", *webhookURL, len(events), root)
	plan, err := client.PlanRegistration(ctx, pcwebhook.Registration{
		WebhookURL:                        *webhookURL,
		WebhookEvents:                     events,
		SignatureTokenToMsSignatureHeader: *msHeader,
	})
	if err != nil {
		return fail(stderr, "reading the registration", err)
	}
	reg := plan.Before
	if !plan.Changed() {
		fmt.Fprintln(stdout, "Already registered as wanted: nothing changed.")
	} else {
		fmt.Fprintf(stdout, "Change (the account has one registration):\n  %s\n", approve.Indented(plan))
		if *dryRun {
			fmt.Fprintln(stdout, "Dry run: nothing was changed.")
			return 0
		}
		asker := approve.Asker{Program: "register", In: stdin, Out: stderr, Interactive: approve.Interactive(stdin, stderr)}
		reg, _, err = asker.Apply(ctx, client, plan, *yes)
		if errors.Is(err, approve.ErrNotChanged) {
			return 1
		}
		if err != nil {
			return fail(stderr, "registering", err)
		}
	}
	fmt.Fprintf(stdout, "Registered: %s\n  events: %s\n  signature in x-ms-signature header: %t\n",
		reg.WebhookURL, joinEvents(reg.WebhookEvents), reg.SignatureTokenToMsSignatureHeader)
	if !*test {
		return 0
	}

	fmt.Fprintln(stdout, "Sending a test event (Partner Center allows 2 a minute; a throttled request is retried)...")
	id, err := client.SendTestEvent(ctx)
	if err != nil {
		return fail(stderr, "sending a test event", err)
	}
	fmt.Fprintf(stdout, "Test event %s sent; waiting up to %s for its delivery status...\n", id, *timeout)
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	status, err := client.WaitForValidation(wctx, id, *poll)
	if err != nil {
		return fail(stderr, "waiting for the test event", err)
	}
	fmt.Fprintf(stdout, "Status: %s\n", status.Status)
	for _, r := range status.Results {
		fmt.Fprintf(stdout, "  %s  %s %s (system error: %t)\n", r.DateTimeUTC.Format(time.RFC3339), r.ResponseCode, r.ResponseMessage, r.SystemError)
	}
	if !status.Delivered() {
		fmt.Fprintf(stderr, "register: the test event was not delivered to %s: make sure the URL is reachable from the internet over https and answers 2xx\n", status.CallbackURL)
		return 1
	}
	fmt.Fprintln(stdout, "The test event was delivered.")
	return 0
}

// apiRootFor maps a -cloud value to its API root.
func apiRootFor(cloud string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(cloud)) {
	case "global", "":
		return pcwebhook.GlobalAPIRoot, true
	case "china":
		return pcwebhook.ChinaAPIRoot, true
	}
	return "", false
}

// parseEvents splits a comma-separated list, warning about names this library does not know (they
// are sent anyway: Partner Center adds events over time).
func parseEvents(list string, stderr io.Writer) []pcwebhook.EventName {
	var out []pcwebhook.EventName
	for _, s := range strings.Split(list, ",") {
		name := pcwebhook.EventName(strings.TrimSpace(s))
		if name == "" {
			continue
		}
		if !knownFold(name) {
			fmt.Fprintf(stderr, "register: warning: %q is not a documented event name; sending it anyway\n", name)
		}
		out = append(out, name)
	}
	return out
}

// knownFold reports whether name is a documented event name in any letter case.
func knownFold(name pcwebhook.EventName) bool {
	for _, k := range pcwebhook.KnownEventNames() {
		if strings.EqualFold(string(k), string(name)) {
			return true
		}
	}
	return name == "fail-transfer"
}

// contains reports whether names holds name, in any letter case.
func contains(names []pcwebhook.EventName, name pcwebhook.EventName) bool {
	for _, n := range names {
		if strings.EqualFold(string(n), string(name)) {
			return true
		}
	}
	return false
}

// joinEvents lists names for printing.
func joinEvents(names []pcwebhook.EventName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// fail reports err, with what to do when the token was rejected, and returns exit status 1.
func fail(stderr io.Writer, doing string, err error) int {
	fmt.Fprintf(stderr, "register: %s: %v\n", doing, err)
	var apiErr *pcwebhook.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.StatusCode {
		case 401:
			fmt.Fprintf(stderr, "\nThe token in %s was rejected. Tokens expire after about an hour: get a fresh one with\n\n    export %s=$(%s)\n",
				tokenEnv, tokenEnv, getTokenCommand)
		case 403:
			fmt.Fprintf(stderr, "\nThe token in %s is not allowed to manage webhooks: sign in as an admin agent of the Partner Center\n"+
				"account (or use an app registered in Partner Center), then get a new token with\n\n    export %s=$(%s)\n",
				tokenEnv, tokenEnv, getTokenCommand)
		}
	}
	return 1
}
