package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runWith(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
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
	require.GreaterOrEqual(t, len(calls), 4)
	assert.Equal(t, []string{"GET " + regPath, "POST " + regPath, "POST " + regPath + "/validationEvents"}, calls[:3])
	ids := handled()
	require.Len(t, ids, 1, "the test event reached the endpoint")
	for _, c := range calls[3:] {
		assert.Equal(t, "GET "+regPath+"/validationEvents/"+ids[0], c)
	}
	reg, ok := api.Registration()
	require.True(t, ok)
	assert.Equal(t, url, reg.WebhookURL)
	assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated}, reg.WebhookEvents)
	assert.False(t, reg.SignatureTokenToMsSignatureHeader)
	assert.Contains(t, stdout, "Adding test-created")
	assert.Contains(t, stdout, "Changed (the account has one registration):\n  url:    (no registration) -> "+url+"\n"+
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
