package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// testOptions are the parsed flags of the test command.
type testOptions struct {
	api     apiFlags
	wait    bool
	timeout time.Duration
	poll    time.Duration
	status  string
}

// testDetails is the --help text of test.
const testDetails = `Asks Partner Center to send a test event (test-created) to the registered URL and prints its
correlation ID. With --wait it then follows the delivery, printing each attempt as Partner
Center reports it, and exits 0 only when the endpoint answered 2xx; it exits 1 when the
delivery failed or --timeout passed first. --status ID follows an earlier test event instead of
sending a new one.

Partner Center sends test events only to registrations that include test-created, and allows
2 test events a minute: a throttled request is retried after the wait Partner Center asks for.
The URL must be reachable from the internet over https.

` + apiDetails

// runTest sends a test event and, with --wait, follows its delivery attempts until Partner Center
// says the delivery is over.
func runTest(ctx context.Context, a *app, args []string) int {
	o, code, ok := a.parseTest(args)
	if !ok {
		return code
	}
	client, code, ok := a.client(&o.api, nil)
	if !ok {
		return code
	}
	id := strings.TrimSpace(o.status)
	if id == "" {
		if id, code, ok = a.sendTestEvent(ctx, client); !ok {
			return code
		}
		if !o.wait {
			fmt.Fprintf(a.stdout, "Follow its delivery with: pcwebhook test --status %s --wait\n", termsafe.Text(id))
			return 0
		}
	}
	timeout := o.timeout
	if !o.wait {
		timeout = apiTimeout
	}
	return a.followDelivery(ctx, client, id, o.wait, o.poll, timeout)
}

// parseTest parses the flags of test.
func (a *app) parseTest(args []string) (*testOptions, int, bool) {
	o := &testOptions{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "test",
		synopsis: "pcwebhook test [--wait] [--timeout D] [flags]",
		details:  testDetails,
		noArgs:   true,
	}, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.wait, "wait", false, "wait for the delivery and show its attempts")
		fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "how long --wait waits")
		fs.DurationVar(&o.poll, "poll", 5*time.Second, "how often --wait asks for the delivery status")
		fs.StringVar(&o.status, "status", "", "follow the earlier test event with this correlation `ID` instead of sending one")
		o.api.define(fs)
	})
	switch {
	case !ok:
		return nil, code, false
	case o.timeout <= 0 || o.poll <= 0:
		return nil, a.usageError(cl, "--timeout and --poll must be positive"), false
	}
	return o, 0, true
}

// sendTestEvent checks that there is a registration, warns when it lacks test-created, and sends
// a test event.
func (a *app) sendTestEvent(ctx context.Context, client *pcwebhook.Client) (string, int, bool) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	reg, err := client.Registration(ctx)
	if errors.Is(err, pcwebhook.ErrNotRegistered) {
		fmt.Fprintln(a.stderr, "pcwebhook: there is no webhook registration to send a test event to: create one with\n\n"+
			"    pcwebhook register --url https://your.example/webhooks --events subscription-updated,test-created")
		return "", 1, false
	}
	if err != nil {
		return "", a.apiFailure("reading the registration", err), false
	}
	if !slices.Contains(reg.WebhookEvents, pcwebhook.EventTestCreated) {
		fmt.Fprintf(a.stderr, "pcwebhook: warning: the registration does not include test-created, and Partner Center sends "+
			"test events only to registrations that do. Add it with\n\n    pcwebhook update --url %s --events %s\n\n",
			termsafe.Text(reg.WebhookURL), termsafe.Text(commaList(append(append([]pcwebhook.EventName(nil), reg.WebhookEvents...), pcwebhook.EventTestCreated))))
	}
	fmt.Fprintf(a.stdout, "Sending a test event to %s (Partner Center allows 2 a minute; a throttled request is retried)...\n", termsafe.Text(reg.WebhookURL))
	id, err := client.SendTestEvent(ctx)
	if err != nil {
		return "", a.apiFailure("sending a test event", err), false
	}
	fmt.Fprintf(a.stdout, "Test event sent: correlation id %s\n", termsafe.Text(id))
	return id, 0, true
}

// followDelivery reports the delivery status of a test event: once, or with wait until it is
// over or timeout passes. Attempts are printed as they appear; on a terminal a spinner line shows
// that the wait goes on. What Partner Center reports (the status, each attempt, and the endpoint's
// answer in it) is printed through termsafe.Text.
func (a *app) followDelivery(ctx context.Context, client *pcwebhook.Client, id string, wait bool, poll, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := &deliveryWatch{a: a, p: &progress{w: a.stdout, tty: a.isTerminal(a.stdout)}, id: termsafe.Text(id)}
	start := time.Now()
	if wait {
		fmt.Fprintf(a.stdout, "Waiting up to %s for the delivery of test event %s...\n", timeout, w.id)
	}
	for {
		if code, over := w.read(ctx, client, id); over {
			return code
		}
		if !wait {
			fmt.Fprintf(a.stdout, "The delivery is still in progress (status %s). Wait for it with: pcwebhook test --status %s --wait\n", w.state, w.id)
			return 0
		}
		if ctx.Err() != nil || !w.p.wait(ctx, poll, func() string {
			return fmt.Sprintf("waiting for the delivery: status %s, %d attempt(s), %s", w.state, w.shown, time.Since(start).Round(time.Second))
		}) {
			return w.giveUp(timeout)
		}
	}
}

// deliveryWatch is what followDelivery has learnt and printed about a test event's delivery.
type deliveryWatch struct {
	a     *app
	p     *progress
	id    string // the correlation ID, through termsafe.Text
	last  *pcwebhook.ValidationStatus
	shown int    // the attempts printed
	state string // the status printed last
}

// read asks for the delivery status once and prints what is new. over reports that following
// ends here (the delivery is over, or the status cannot be read), with the exit status.
func (w *deliveryWatch) read(ctx context.Context, client *pcwebhook.Client, id string) (code int, over bool) {
	s, err := client.ValidationStatus(ctx, id)
	var apiErr *pcwebhook.APIError
	switch {
	case err == nil:
		return w.update(s)
	case ctx.Err() != nil:
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound:
		if w.state == "" {
			w.state = "(no status yet)"
			if !w.p.tty {
				w.p.println("  status: not available yet")
			}
		}
	default:
		w.p.done()
		return w.a.apiFailure("reading the delivery status", err), true
	}
	return 0, false
}

// update prints the status when it changed and the attempts not printed yet, and the outcome
// when the delivery is over.
func (w *deliveryWatch) update(s *pcwebhook.ValidationStatus) (code int, over bool) {
	w.last = s
	if st := termsafe.Text(orDash(s.Status)); st != w.state {
		w.state = st
		if !w.p.tty {
			w.p.println(fmt.Sprintf("  status: %s", w.state))
		}
	}
	for ; w.shown < len(s.Results); w.shown++ {
		w.p.println(formatAttempt(w.shown+1, s.Results[w.shown]))
	}
	if !s.Terminal() {
		return 0, false
	}
	w.p.done()
	return w.a.reportDelivery(s), true
}

// giveUp says that the delivery was not over within timeout, and how to look again.
func (w *deliveryWatch) giveUp(timeout time.Duration) int {
	w.p.done()
	attempts := 0
	if w.last != nil {
		attempts = len(w.last.Results)
	}
	fmt.Fprintf(w.a.stderr, "pcwebhook: gave up after %s: status %s, %d delivery attempt(s). Check again later with\n\n"+
		"    pcwebhook test --status %s --wait\n", timeout, w.state, attempts, w.id)
	return 1
}

// formatAttempt describes one delivery attempt; the response code and message, which the
// endpoint chose, through termsafe.Text.
func formatAttempt(n int, r pcwebhook.ValidationResult) string {
	when := "(no time)"
	if !r.DateTimeUTC.IsZero() {
		when = r.DateTimeUTC.Format(time.RFC3339)
	}
	s := fmt.Sprintf("  attempt %d at %s: %s", n, when, termsafe.Text(orDash(r.ResponseCode)))
	if r.ResponseMessage != "" {
		s += " " + termsafe.Text(r.ResponseMessage)
	}
	if r.SystemError {
		s += " (a system error on Partner Center's side)"
	}
	return s
}

// reportDelivery prints the outcome of a finished delivery: exit 0 when it was delivered.
func (a *app) reportDelivery(s *pcwebhook.ValidationStatus) int {
	if s.Delivered() {
		endpoint := s.CallbackURL
		if endpoint == "" {
			endpoint = "the endpoint"
		}
		fmt.Fprintf(a.stdout, "Delivered: %s answered with a 2xx status (status %s).\n", termsafe.Text(endpoint), termsafe.Text(s.Status))
		return 0
	}
	fmt.Fprintf(a.stderr, "pcwebhook: the test event was not delivered (status %s, %d attempt(s)) to %s.\n",
		termsafe.Text(s.Status), len(s.Results), termsafe.Text(orDash(s.CallbackURL)))
	systemErrors := 0
	for _, r := range s.Results {
		if r.SystemError {
			systemErrors++
		}
	}
	if systemErrors > 0 {
		fmt.Fprintln(a.stderr, "  Some attempts failed on Partner Center's side (system error): try again in a few minutes.")
	}
	fmt.Fprintln(a.stderr, "  The URL must be reachable from the internet over https (a local listener needs a tunnel),\n"+
		"  and answer 2xx once it has verified and handled the event. A 401 means the signature did not\n"+
		"  verify: capture a delivery and run \"pcwebhook verify\" on it.")
	return 1
}
