package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// showDetails is the --help text of show.
const showDetails = `Prints the webhook registration: the URL, where the signature is sent, and the events.

` + apiDetails

// runShow prints the current registration.
func runShow(ctx context.Context, a *app, args []string) int {
	var api apiFlags
	if _, code, ok := a.parse(&usageSpec{name: "show", synopsis: "pcwebhook show [flags]", details: showDetails, noArgs: true}, args, api.define); !ok {
		return code
	}
	client, code, ok := a.client(&api, nil)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	reg, err := client.Registration(ctx)
	if errors.Is(err, pcwebhook.ErrNotRegistered) {
		fmt.Fprintln(a.stderr, "pcwebhook: this account has no webhook registration yet. Create one with\n\n"+
			"    pcwebhook register --url https://your.example/webhooks --events subscription-updated,test-created")
		return 1
	}
	if err != nil {
		return a.apiFailure("reading the registration", err)
	}
	fmt.Fprintln(a.stdout, "Registration:")
	printRegistration(a.stdout, reg)
	printProperties(a.stdout, reg.Properties)
	noteTestCreated(a.stdout, reg)
	return 0
}

// printProperties prints the registration's other properties, sorted by name.
func printProperties(w io.Writer, properties map[string]any) {
	keys := make([]string, 0, len(properties))
	for k := range properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  property %s: %s\n", termsafe.Text(k), termsafe.Text(fmt.Sprint(properties[k])))
	}
}
