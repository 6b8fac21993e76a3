package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// runShow prints the current registration.
func runShow(ctx context.Context, a *app, args []string) int {
	var api apiFlags
	cl, code, ok := a.parse(&usageSpec{
		name:     "show",
		synopsis: "pcwebhook show [flags]",
		details: `Prints the webhook registration: the URL, where the signature is sent, and the events.

` + apiDetails,
	}, args, api.define)
	if !ok {
		return code
	}
	if cl.NArg() > 0 {
		return a.usageError(cl, "unexpected arguments: "+strings.Join(cl.args, " "))
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
	keys := make([]string, 0, len(reg.Properties))
	for k := range reg.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(a.stdout, "  property %s: %s\n", termsafe.Text(k), termsafe.Text(fmt.Sprint(reg.Properties[k])))
	}
	noteTestCreated(a.stdout, reg)
	return 0
}
