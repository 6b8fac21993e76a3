package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Keys come from a shared pool of primes (testpki.SharePrimes): RSA key generation would be
// most of what these tests spend their time on.
func init() { testpki.SharePrimes() }

// runWith runs the program with no terminal: stdin holds a "y" that must not count as an answer.
func runWith(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader("y\n"), &out, &errOut)
	return code, out.String(), errOut.String()
}

var withToken = map[string]string{tokenEnv: "the-token"}

const regPath = "/webhooks/v1/registration"

// newAPI is a fake Partner Center that accepts only the-token.
func newAPI(t *testing.T) *pcwebhooktest.API {
	return pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("the-token"))
}

// newEndpoint is the partner's webhook endpoint: the real Handler trusting the API's sender. It
// returns the URL and the correlation IDs of the test events it handled.
func newEndpoint(t *testing.T, api *pcwebhooktest.API) (string, func() []string) {
	var mu sync.Mutex
	var ids []string
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(api.Sender().Verifier()))
	h.OnTestCreated(func(_ context.Context, e *pcwebhook.TestEvent) error {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, e.CorrelationID)
		return nil
	})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/hook", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

func TestRegisterAndTest(t *testing.T) {
	api := newAPI(t)
	url, handled := newEndpoint(t, api)
	code, stdout, stderr := runWith(t, withToken, "-api-root", api.URL(), "-url", url,
		"-events", "subscription-updated", "-test", "-poll", "10ms")
	require.Equal(t, 0, code, stderr)
	calls := api.Requests()
	require.GreaterOrEqual(t, len(calls), 5)
	assert.Equal(t, []string{"GET " + regPath, "GET " + regPath, "POST " + regPath, "POST " + regPath + "/validationEvents"}, calls[:4],
		"plan, read again right before writing, create, test")
	ids := handled()
	require.Len(t, ids, 1, "the test event reached the endpoint")
	for _, c := range calls[4:] {
		assert.Equal(t, "GET "+regPath+"/validationEvents/"+ids[0], c)
	}
	reg, ok := api.Registration()
	require.True(t, ok)
	assert.Equal(t, url, reg.WebhookURL)
	assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated}, reg.WebhookEvents)
	assert.False(t, reg.SignatureTokenToMsSignatureHeader)
	assert.Contains(t, stdout, "Adding test-created")
	assert.Contains(t, stdout, "Change (the account has one registration):\n  url:    (no registration) -> "+url+"\n"+
		"  events: + subscription-updated\n          + test-created\n")
	assert.Contains(t, stdout, "Test event "+ids[0]+" sent")
	assert.Regexp(t, `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  OK`, stdout)
	assert.Contains(t, stdout, "The test event was delivered.")
	assert.Empty(t, stderr)
}

func TestAllEventsAlreadyRegistered(t *testing.T) {
	var names []pcwebhook.EventName
	for _, n := range pcwebhook.KnownEventNames() {
		names = append(names, pcwebhook.EventName(strings.ToUpper(string(n)))) // the service's case does not matter
	}
	api := newAPI(t)
	api.SetRegistration(pcwebhook.Registration{WebhookURL: "https://partner.example/hook", WebhookEvents: names,
		SignatureTokenToMsSignatureHeader: true})
	code, stdout, stderr := runWith(t, withToken, "-api-root", api.URL(), "-url", "https://partner.example/hook", "-all", "-ms-signature-header")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "nothing to write")
	assert.Contains(t, stdout, "signature in x-ms-signature header: true")
	assert.Contains(t, stdout, "Already registered as wanted: nothing changed.")
}

// production is the registration the account has in the tests that change it.
var production = pcwebhook.Registration{
	WebhookURL:    "https://prod.example/hook",
	WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventInvoiceReady},
}

// newProductionAPI is newAPI with the registration set to production; sender (nil: a new one; a
// test's subtests share one, as its keys take a while to make) signs no event here.
func newProductionAPI(t *testing.T, sender *pcwebhooktest.Sender) *pcwebhooktest.API {
	api := pcwebhooktest.NewAPI(t, sender, pcwebhooktest.WithAPIToken("the-token"))
	api.SetRegistration(production)
	return api
}

// applied is what the API receives when the program writes: the plan's GET, the GET right before
// writing (the write happens only if the registration is still the planned one), and the write.
var applied = []string{"GET " + regPath, "GET " + regPath, "PUT " + regPath}

// Moving the registration (to a tunnel, say) or dropping events cuts production off: without a
// terminal it is refused unless -yes, and the refusal says why and names --yes.
func TestDisruptiveChangeNeedsYes(t *testing.T) {
	sender := pcwebhooktest.New(t)
	for name, tc := range map[string]struct {
		args []string
		why  string
	}{
		"URL moved":     {[]string{"-url", "https://abc.tunnel.example/hook", "-events", "subscription-updated,invoice-ready"}, "moves every delivery from https://prod.example/hook to https://abc.tunnel.example/hook"},
		"event dropped": {[]string{"-url", production.WebhookURL, "-events", "invoice-ready"}, "stops 1 event(s): subscription-updated"},
	} {
		t.Run(name+": refused", func(t *testing.T) {
			api := newProductionAPI(t, sender)
			code, stdout, stderr := runWith(t, withToken, append([]string{"-api-root", api.URL()}, tc.args...)...)
			assert.Equal(t, 1, code)
			assert.Contains(t, stdout, "Change (the account has one registration):\n  url:    ", "the plan is printed")
			assert.Contains(t, stderr, tc.why)
			assert.Contains(t, stderr, "no terminal to confirm it on")
			assert.Contains(t, stderr, "Run again with --yes")
			assert.NotContains(t, stderr, "Apply it?")
			assert.NotContains(t, stdout, "Registered:")
			assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "nothing written")
			reg, _ := api.Registration()
			assert.Equal(t, production.WebhookURL, reg.WebhookURL)
			assert.Equal(t, production.WebhookEvents, reg.WebhookEvents)
		})
		t.Run(name+": --yes, as the refusal says", func(t *testing.T) {
			api := newProductionAPI(t, sender)
			code, stdout, stderr := runWith(t, withToken, append([]string{"-api-root", api.URL(), "--yes"}, tc.args...)...)
			require.Equal(t, 0, code, stderr)
			assert.Empty(t, stderr)
			assert.Equal(t, applied, api.Requests())
			assert.Contains(t, stdout, "Registered: "+tc.args[1])
			reg, _ := api.Registration()
			assert.Equal(t, tc.args[1], reg.WebhookURL)
		})
	}
	t.Run("-dry-run", func(t *testing.T) {
		api := newProductionAPI(t, sender)
		code, stdout, stderr := runWith(t, withToken, "-api-root", api.URL(), "-dry-run", "-url", "https://abc.tunnel.example/hook", "-all")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "Dry run: nothing was changed.")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests())
	})
}

// Adding events cuts nothing off: applied without -yes.
func TestAddingEventsNeedsNoYes(t *testing.T) {
	api := newProductionAPI(t, nil)
	code, stdout, stderr := runWith(t, withToken, "-api-root", api.URL(), "-url", production.WebhookURL,
		"-events", "subscription-updated,invoice-ready,referral-created")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "events: + referral-created\n")
	assert.Equal(t, applied, api.Requests())
}

// Someone changes the registration between the plan and the write: the approved change is not
// the one it would now be, so nothing is written, even with -yes.
func TestChangedAfterThePlan(t *testing.T) {
	api := newProductionAPI(t, nil)
	other := pcwebhook.Registration{WebhookURL: "https://other-team.example/hook", WebhookEvents: production.WebhookEvents}
	api.RespondFunc("GET", regPath, func(w http.ResponseWriter, _ *http.Request) { // the plan's read
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"WebhookUrl":"https://prod.example/hook","WebhookEvents":["subscription-updated","invoice-ready"]}`)
		api.SetRegistration(other)
	})
	code, _, stderr := runWith(t, withToken, "-api-root", api.URL(), "-yes", "-url", "https://abc.tunnel.example/hook", "-events", "test-created")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "register: not changed: the registration changed after it was read")
	assert.Contains(t, stderr, "  url:    https://other-team.example/hook -> https://abc.tunnel.example/hook\n")
	assert.Equal(t, []string{"GET " + regPath, "GET " + regPath}, api.Requests(), "nothing written")
	reg, _ := api.Registration()
	assert.Equal(t, other.WebhookURL, reg.WebhookURL)
}

func TestTestEventNotDelivered(t *testing.T) {
	api := newAPI(t)
	missing := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	api.SetRegistration(pcwebhook.Registration{WebhookURL: missing.URL + "/hook", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}})
	code, stdout, stderr := runWith(t, withToken, "-api-root", api.URL(), "-url", missing.URL+"/hook", "-events", "test-created", "-test", "-poll", "10ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "  NotFound")
	assert.Contains(t, stderr, "was not delivered to "+missing.URL+"/hook")
}

func TestMissingToken(t *testing.T) {
	api := newAPI(t)
	code, _, stderr := runWith(t, map[string]string{tokenEnv: "  "}, "-api-root", api.URL(), "-url", "https://partner.example/hook", "-all")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "set PARTNER_CENTER_TOKEN")
	assert.Contains(t, stderr, "az account get-access-token --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv")
	assert.Empty(t, api.Requests())
}

func TestRejectedToken(t *testing.T) {
	for status, want := range map[int]string{
		401: "was rejected. Tokens expire",
		403: "is not allowed to manage webhooks",
	} {
		api := newAPI(t)
		env := withToken
		if status == 401 {
			env = map[string]string{tokenEnv: "an-expired-token"} // the API accepts only the-token
		} else {
			api.FailNext(status)
		}
		code, _, stderr := runWith(t, env, "-api-root", api.URL(), "-url", "https://partner.example/hook", "-all")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, want)
		assert.Contains(t, stderr, "export PARTNER_CENTER_TOKEN=$(az account get-access-token")
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-all"},
		{"-url", "https://partner.example/hook"},
		{"-url", "https://partner.example/hook", "-all", "-events", "test-created"},
		{"-url", "https://partner.example/hook", "-all", "-cloud", "mars"},
		{"-url", "https://partner.example/hook", "-all", "extra"},
		{"-no-such-flag"},
	} {
		code, _, stderr := runWith(t, withToken, args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.Contains(t, stderr, "usage: register", "%q", args)
	}
	code, _, _ := runWith(t, nil, "-h")
	assert.Equal(t, 0, code)
}

func TestCloudRoots(t *testing.T) {
	root, ok := apiRootFor("global")
	assert.True(t, ok)
	assert.Equal(t, pcwebhook.GlobalAPIRoot, root)
	root, ok = apiRootFor("China")
	assert.True(t, ok)
	assert.Equal(t, pcwebhook.ChinaAPIRoot, root)
}

func TestParseEventsWarnsAboutUnknownNames(t *testing.T) {
	var stderr bytes.Buffer
	got := parseEvents(" Subscription-Updated, ,fail-transfer,brand-new-event", &stderr)
	assert.Equal(t, []pcwebhook.EventName{"Subscription-Updated", "fail-transfer", "brand-new-event"}, got)
	assert.Equal(t, "register: warning: \"brand-new-event\" is not a documented event name; sending it anyway\n", stderr.String())
}
