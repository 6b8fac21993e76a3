package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/capread"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// defaultTriggerURL is where "pcwebhook listen" receives with its default --addr and --path.
const defaultTriggerURL = "http://127.0.0.1:8080/"

// triggerOptions are the parsed flags and arguments of the trigger command.
type triggerOptions struct {
	url          string
	allowUnknown bool
	count        int
	msHeader     bool
	configDir    string

	target *url.URL            // the parsed --url
	name   pcwebhook.EventName // EVENT, in the library's spelling
}

// triggerDetails is the --help text of trigger.
const triggerDetails = `Posts a sample EVENT (a documented-shape body, as pcwebhooktest.SampleEvent makes) to URL,
signed the way Partner Center signs, by a local development CA: the same headers
(Authorization: Signature <base64>, X-MS-Certificate-Url, X-MS-Signature-Algorithm: rsa-sha256),
with a certificate URL on the reserved host pcwebhook-dev.invalid that never resolves. Each
event has its own ResourceChangeUtcDate, so repeated triggers are distinct deliveries.

The CA is created on first use in the configuration directory (` + configDirEnv + `, or
the user's configuration directory)/pcwebhook/dev, and kept there. "pcwebhook listen --dev"
trusts it, so this shows the whole loop with no Partner Center:

    pcwebhook listen --dev
    pcwebhook trigger subscription-updated

--url defaults to where "pcwebhook listen" receives by default (` + defaultTriggerURL + `). An
EVENT name pcwebhook does not know is refused with a suggestion, unless --allow-unknown.

Your own app trusts it too, in local development only, with one line naming that directory:

    v, err := pcwebhookdev.NewVerifier("/home/you/.config/pcwebhook/dev")
    handler := pcwebhook.NewHandler(pcwebhook.WithVerifier(v))

Exits 1 unless every delivery got a 2xx answer.`

// runTrigger signs sample events with the development CA and posts them, printing the answer to
// each.
func runTrigger(ctx context.Context, a *app, args []string) int {
	o, code, ok := a.parseTrigger(args)
	if !ok {
		return code
	}
	if !o.name.Known() {
		fmt.Fprintf(a.stderr, "pcwebhook: warning: %q is not an event name pcwebhook %s knows; sending a generic body (a receiver gets it via OnUnknown)\n",
			o.name, pcwebhook.Version)
	}
	ca, code, ok := a.signingCA(o.configDir)
	if !ok {
		return code
	}
	return a.triggerEvents(ctx, o, ca)
}

// parseTrigger parses the flags and the EVENT of trigger.
func (a *app) parseTrigger(args []string) (*triggerOptions, int, bool) {
	o := &triggerOptions{}
	cl, code, ok := a.parse(&usageSpec{
		name:     "trigger",
		synopsis: "pcwebhook trigger EVENT [--url URL] [--count N] [flags]",
		details:  triggerDetails,
	}, args, func(fs *flag.FlagSet) {
		fs.StringVar(&o.url, "url", defaultTriggerURL, "the `URL` to post to (listen's default)")
		fs.BoolVar(&o.allowUnknown, "allow-unknown", false, "send an EVENT name pcwebhook does not know, with a generic body")
		fs.IntVar(&o.count, "count", 1, "how many events to send, each distinct")
		fs.BoolVar(&o.msHeader, "ms-signature-header", false, "send the signature in x-ms-signature instead of Authorization")
		defineConfigDir(fs, &o.configDir)
	})
	if !ok {
		return nil, code, false
	}
	if msg := o.resolve(cl); msg != "" {
		return nil, a.usageError(cl, msg), false
	}
	return o, 0, true
}

// resolve checks the flags and the EVENT and fills in target and name; it says what is wrong, or
// returns "".
func (o *triggerOptions) resolve(cl *cmdLine) string {
	switch {
	case cl.NArg() != 1:
		return "give exactly one EVENT name (see \"pcwebhook events --offline\")"
	case strings.TrimSpace(o.url) == "":
		return "--url is required"
	case o.count < 1:
		return "--count must be at least 1"
	}
	var problem string
	if o.target, problem = targetURL("--url", o.url); problem != "" {
		return problem
	}
	switch o.name = canonicalName(cl.Arg(0)); {
	case o.name == "":
		return "the EVENT name is empty"
	case !o.name.Known() && !o.allowUnknown:
		return unknownEventMessage(o.name)
	}
	return ""
}

// triggerEvents signs and posts --count distinct events and returns the exit status.
func (a *app) triggerEvents(ctx context.Context, o *triggerOptions, ca *devCA) int {
	client := &http.Client{Timeout: postTimeout}
	base := time.Now().UTC()
	failed := 0
	for i := 0; i < o.count; i++ {
		body := pcwebhooktest.SampleEventAt(o.name, base.Add(time.Duration(i)*time.Microsecond))
		delivered, stop := a.triggerEvent(ctx, client, ca, o, body)
		if stop {
			return 1
		}
		if !delivered {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(a.stderr, "pcwebhook: %d of %d deliveries failed\n", failed, o.count)
		return 1
	}
	return 0
}

// triggerEvent signs and posts one event and prints the answer. delivered reports a 2xx answer;
// stop, that sending more is pointless (nothing listens, or ctx ended).
func (a *app) triggerEvent(ctx context.Context, client *http.Client, ca *devCA, o *triggerOptions, body []byte) (delivered, stop bool) {
	ans := answerOf(post(ctx, client, ca, o.target.String(), body, o.msHeader))
	a.printPost(o.target, string(o.name), ans, false)
	if ans.err != nil {
		if errors.Is(ans.err, syscall.ECONNREFUSED) {
			fmt.Fprintf(a.stderr, "pcwebhook: nothing listens at %s: start \"pcwebhook listen --dev\" (or your app) first\n", o.target.Host)
			return false, true
		}
		return false, ctx.Err() != nil
	}
	if ans.status == http.StatusUnauthorized {
		fmt.Fprintf(a.stderr, "pcwebhook: the receiver refused the signature: it must trust the development CA, as "+
			"\"pcwebhook listen --dev\" does (with the same --config-dir), or as your app does with %s; "+
			"a production receiver rightly refuses it\n", appTrustLine(ca.dir))
	}
	return acknowledged(ans.status), false
}

// signingCA loads the development CA of the configuration directory (configDirFlag, or its
// default), creating it on first use and then saying how an app trusts it. On failure it prints
// why and returns the exit status.
func (a *app) signingCA(configDirFlag string) (*devCA, int, bool) {
	dir, err := a.configDir(configDirFlag)
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return nil, 2, false
	}
	ca, created, err := ensureDevCA(dir, time.Now())
	if err != nil {
		fmt.Fprintf(a.stderr, "pcwebhook: %v\n", err)
		return nil, 1, false
	}
	if created {
		fmt.Fprintf(a.stdout, "Created the development CA in %s\n", ca.dir)
		fmt.Fprintf(a.stdout, "  your app trusts it with: %s\n", appTrustLine(ca.dir))
	}
	return ca, 0, true
}

// postTimeout bounds one POST of a delivery: by trigger, resend and listen --forward.
const postTimeout = 30 * time.Second

// maxReplyShown bounds how much of a receiver's answer trigger and resend print.
const maxReplyShown = 200

// post signs body and posts it to target, returning the status and the start of the answer.
func post(ctx context.Context, client *http.Client, ca *devCA, target string, body []byte, msHeader bool) (int, string, time.Duration, error) {
	header, err := ca.sign(body, msHeader)
	if err != nil {
		return 0, "", 0, err
	}
	return postSigned(ctx, client, target, header, body)
}

// postSigned posts body to target with header as it is, and returns the status, the start of the
// answer (trimmed, at most maxReplyShown bytes: print it quoted, as it may hold anything) and the
// time it took.
func postSigned(ctx context.Context, client *http.Client, target string, header http.Header, body []byte) (int, string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, err
	}
	req.Header = header.Clone()
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	reply, err := capread.Read(resp.Body, maxReplyShown, -1)
	shown := strings.TrimSpace(string(reply))
	if capread.IsTooLarge(err) {
		shown += " ... (cut at " + strconv.Itoa(maxReplyShown) + " bytes)"
	}
	return resp.StatusCode, shown, time.Since(start), nil
}

// postAnswer is what one POST got: the receiver's status, the start of its answer and the time it
// took (as postSigned returns them), or err (and status 0) when there was no answer.
type postAnswer struct {
	status  int
	reply   string
	elapsed time.Duration
	err     error
}

// answerOf gathers the results of postSigned (or post) into a postAnswer.
func answerOf(status int, reply string, elapsed time.Duration, err error) postAnswer {
	return postAnswer{status: status, reply: reply, elapsed: elapsed, err: err}
}

// printPost prints the line of one POST to target; which names what was sent (the event, or
// "copy 2/3"). It is "POST target  which  -> " and why the post failed, or the answer: its
// status, what Partner Center makes of it (answerMeaning) when explain is set, the start of its
// body, quoted, and the time it took.
func (a *app) printPost(target *url.URL, which string, ans postAnswer, explain bool) {
	if ans.err != nil {
		fmt.Fprintf(a.stdout, "POST %s  %s  -> failed: %s\n", target, which, termsafe.Text(ans.err.Error()))
		return
	}
	status := fmt.Sprintf("%d %s", ans.status, http.StatusText(ans.status))
	if explain {
		status += "  " + answerMeaning(ans.status)
	}
	fmt.Fprintf(a.stdout, "POST %s  %s  -> %s  %q  (%s)\n", target, which, status, ans.reply, ans.elapsed.Round(100*time.Microsecond))
}
