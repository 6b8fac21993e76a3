package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answer is a scripted response of the fake Partner Center.
type answer struct {
	status int
	body   string
}

// fakePC answers "METHOD path" from a script, in order, and records the requests.
type fakePC struct {
	mu     sync.Mutex
	script map[string][]answer
	calls  []string
	bodies map[string][]byte
}

func newFake(t *testing.T, script map[string][]answer) (*fakePC, string) {
	f := &fakePC{script: script, bodies: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.Path
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, key)
		f.bodies[key] = body
		assert.Equal(t, "Bearer the-token", r.Header.Get("Authorization"), key)
		next := f.script[key]
		if len(next) == 0 {
			t.Errorf("unexpected request %s", key)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		f.script[key] = next[1:]
		w.WriteHeader(next[0].status)
		_, _ = io.WriteString(w, next[0].body)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func runWith(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

var withToken = map[string]string{tokenEnv: "the-token"}

const regPath = "/webhooks/v1/registration"

func TestRegisterAndTest(t *testing.T) {
	f, root := newFake(t, map[string][]answer{
		"GET " + regPath:                        {{404, `{"code":600008,"description":"not registered"}`}},
		"POST " + regPath:                       {{200, `{"SubscriberId":"s","WebhookUrl":"https://partner.example/hook","WebhookEvents":["subscription-updated","test-created"]}`}},
		"POST " + regPath + "/validationEvents": {{200, `{"correlationId":"c-1"}`}},
		"GET " + regPath + "/validationEvents/c-1": {
			{200, `{"correlationId":"c-1","status":"pending","results":[]}`},
			{200, `{"correlationId":"c-1","status":"completed","callbackUrl":"https://partner.example/hook",
				"results":[{"responseCode":"OK","dateTimeUtc":"2017-12-08T21:39:48.2386997"}]}`},
		},
	})
	code, stdout, stderr := runWith(t, withToken, "-api-root", root, "-url", "https://partner.example/hook",
		"-events", "subscription-updated", "-test", "-poll", "10ms")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{
		"GET " + regPath, "POST " + regPath, "POST " + regPath + "/validationEvents",
		"GET " + regPath + "/validationEvents/c-1", "GET " + regPath + "/validationEvents/c-1",
	}, f.calls)
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["subscription-updated","test-created"],
		"SignatureTokenToMsSignatureHeader":false}`, string(f.bodies["POST "+regPath]))
	assert.Contains(t, stdout, "Adding test-created")
	assert.Contains(t, stdout, "Changed (the account has one registration):\n  url:    (no registration) -> https://partner.example/hook\n"+
		"  events: + subscription-updated\n          + test-created\n")
	assert.Contains(t, stdout, "Test event c-1 sent")
	assert.Contains(t, stdout, "2017-12-08T21:39:48Z  OK")
	assert.Contains(t, stdout, "The test event was delivered.")
	assert.Empty(t, stderr)
}

func TestAllEventsAlreadyRegistered(t *testing.T) {
	var names []string
	for _, n := range pcwebhook.KnownEventNames() {
		names = append(names, strings.ToUpper(string(n))) // the service's case does not matter
	}
	current, err := json.Marshal(map[string]any{"WebhookUrl": "https://partner.example/hook", "WebhookEvents": names,
		"SignatureTokenToMsSignatureHeader": true})
	require.NoError(t, err)
	f, root := newFake(t, map[string][]answer{"GET " + regPath: {{200, string(current)}}})
	code, stdout, stderr := runWith(t, withToken, "-api-root", root, "-url", "https://partner.example/hook", "-all", "-ms-signature-header")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath}, f.calls, "nothing to write")
	assert.Contains(t, stdout, "signature in x-ms-signature header: true")
	assert.Contains(t, stdout, "Already registered as wanted: nothing changed.")
}

func TestTestEventNotDelivered(t *testing.T) {
	_, root := newFake(t, map[string][]answer{
		"GET " + regPath:                        {{200, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["test-created"]}`}},
		"POST " + regPath + "/validationEvents": {{200, `{"correlationId":"c-2"}`}},
		"GET " + regPath + "/validationEvents/c-2": {{200, `{"status":"failed","callbackUrl":"https://partner.example/hook",
			"results":[{"responseCode":"NotFound","dateTimeUtc":"2017-12-08T21:39:48Z"}]}`}},
	})
	code, _, stderr := runWith(t, withToken, "-api-root", root, "-url", "https://partner.example/hook", "-events", "test-created", "-test")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "was not delivered to https://partner.example/hook")
}

func TestMissingToken(t *testing.T) {
	f, root := newFake(t, nil)
	code, _, stderr := runWith(t, map[string]string{tokenEnv: "  "}, "-api-root", root, "-url", "https://partner.example/hook", "-all")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "set PARTNER_CENTER_TOKEN")
	assert.Contains(t, stderr, "az account get-access-token --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv")
	assert.Empty(t, f.calls)
}

func TestRejectedToken(t *testing.T) {
	for status, want := range map[int]string{
		401: "was rejected. Tokens expire",
		403: "is not allowed to manage webhooks",
	} {
		_, root := newFake(t, map[string][]answer{"GET " + regPath: {{status, `{"code":900,"description":"no"}`}}})
		code, _, stderr := runWith(t, withToken, "-api-root", root, "-url", "https://partner.example/hook", "-all")
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
