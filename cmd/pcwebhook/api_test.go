package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// answer is a scripted response of the fake Partner Center.
type answer struct {
	status int
	body   string
}

// fakePC plays the Partner Center registration API: it answers "METHOD path" from a script, in
// order (the last answer repeats), and records every request.
type fakePC struct {
	t      *testing.T
	mu     sync.Mutex
	script map[string][]answer
	calls  []string
	bodies map[string]string // the last body per "METHOD path"
	auth   []string
}

const regPath = "/webhooks/v1/registration"

func newFakePC(t *testing.T, script map[string][]answer) (*fakePC, env) {
	f := &fakePC{t: t, script: script, bodies: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, testEnv(map[string]string{tokenEnv: "the-token", apiRootEnv: srv.URL})
}

func (f *fakePC) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, key)
	f.bodies[key] = string(body)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	next := f.script[key]
	if len(next) == 0 {
		f.t.Errorf("unexpected request %s", key)
		w.WriteHeader(http.StatusTeapot)
		return
	}
	if len(next) > 1 {
		f.script[key] = next[1:]
	}
	w.Header().Set("MS-CorrelationId", "corr-1")
	w.WriteHeader(next[0].status)
	_, _ = io.WriteString(w, next[0].body)
}

func (f *fakePC) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakePC) body(key string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[key]
}

func (f *fakePC) authorizations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

const registered = `{"SubscriberId":"sub-1","WebhookUrl":"https://partner.example/hook",
	"WebhookEvents":["subscription-updated","test-created"],"SignatureTokenToMsSignatureHeader":false,
	"lastModifiedTimestamp":"2025-01-31T12:00:00Z"}`

func TestEventsOnline(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath + "/events": {{200, `["Subscription-Updated","test-created","billing-profile-updated"]`}},
	})
	code, stdout, stderr := runIn(t, e, "events")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath + "/events"}, f.requests())
	assert.Equal(t, []string{"Bearer the-token"}, f.authorizations())
	assert.Contains(t, stdout, "3 event names offered by Partner Center")
	assert.Regexp(t, `subscription-updated +SubscriptionEvent +CustomerID, SubscriptionID`, stdout)
	assert.Regexp(t, `test-created +TestEvent +CorrelationID`, stdout)
	assert.Regexp(t, `billing-profile-updated +\(unknown to pcwebhook [^)]+\) +arrives as pcwebhook.Event, via OnUnknown`, stdout)
	assert.Contains(t, stdout, "1 of them unknown to this version")
	assert.Contains(t, stdout, "Documented but not offered to this account (32)")
}

func TestEventsOffline(t *testing.T) {
	code, stdout, stderr := runIn(t, testEnv(nil), "events", "--offline") // no token, no API
	require.Equal(t, 0, code, stderr)
	known := pcwebhook.KnownEventNames()
	assert.Contains(t, stdout, "34 event names documented by Partner Center")
	for _, n := range known {
		assert.Regexp(t, `\n  `+string(n)+` +[A-Za-z]+Event +`, stdout)
	}
	assert.Regexp(t, `granular-admin-access-assignment-deleted +GranularAdminAccessAssignmentEvent +RelationshipID, AssignmentID`, stdout)
	assert.Regexp(t, `dap-admin-relationship-approved +DAPEvent +-`, stdout)
	assert.NotContains(t, stdout, "unknown")
}

func TestRegisterCreates(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath:  {{404, `{"code":600008,"description":"not registered"}`}},
		"POST " + regPath: {{200, registered}},
	})
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "Subscription-Updated, test-created")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	assert.Equal(t, []string{"GET " + regPath, "POST " + regPath}, f.requests())
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["subscription-updated","test-created"],
		"SignatureTokenToMsSignatureHeader":false}`, f.body("POST "+regPath))
	assert.Contains(t, stdout, "Registration created.")
	assert.Contains(t, stdout, "url:          https://partner.example/hook")
	assert.Contains(t, stdout, "subscriber:   sub-1")
	assert.Contains(t, stdout, "modified:     2025-01-31T12:00:00Z")
	assert.Contains(t, stdout, "events (2):\n    subscription-updated\n    test-created\n")
	assert.NotContains(t, stdout, "Note: test-created")
}

func TestRegisterUpdatesWhenDifferent(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath: {{200, registered}},
		"PUT " + regPath: {{200, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["invoice-ready","brand-new"],
			"SignatureTokenToMsSignatureHeader":true}`}},
	})
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "invoice-ready,brand-new",
		"--ms-signature-header", "--allow-unknown", "--yes")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath, "PUT " + regPath}, f.requests())
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["invoice-ready","brand-new"],
		"SignatureTokenToMsSignatureHeader":true}`, f.body("PUT "+regPath))
	assert.Contains(t, stderr, `warning: "brand-new" is not an event name pcwebhook`)
	assert.Contains(t, stdout, "Change to the registration (this account has only one):\n"+
		"  url:    https://partner.example/hook (unchanged)\n"+
		"  events: + invoice-ready\n          + brand-new\n          - subscription-updated\n          - test-created\n"+
		"  header: Authorization -> x-ms-signature\n")
	assert.Contains(t, stdout, "Registration updated.")
	assert.Contains(t, stdout, "signature in: x-ms-signature")
	assert.Contains(t, stdout, "brand-new  (unknown to pcwebhook")
	assert.Contains(t, stdout, "Note: test-created is not among the events")
}

func TestRegisterUnchanged(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}})
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "test-created,subscription-updated")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath}, f.requests(), "nothing to write")
	assert.Contains(t, stdout, "Registration unchanged")
}

// --all registers what the account's API offers, not the built-in table, and says what it left
// out.
func TestRegisterAll(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath + "/events": {{200, `["subscription-updated","Test-Created","subscription-active"]`}},
		"GET " + regPath:             {{404, ``}},
		"POST " + regPath:            {{201, ``}}, // no body: the client reports what was sent
	})
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--all")
	require.Equal(t, 0, code, stderr)
	var sent struct{ WebhookEvents []pcwebhook.EventName }
	require.NoError(t, json.Unmarshal([]byte(f.body("POST "+regPath)), &sent))
	assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated, "subscription-active"}, sent.WebhookEvents)
	assert.Contains(t, stdout, "--all: the 3 events the account's API offers.")
	assert.Regexp(t, `Left out, documented but not offered to this account \(32\): .*invoice-ready`, stdout)
	assert.Contains(t, stdout, "Included, unknown to pcwebhook")
	assert.Contains(t, stdout, "subscription-active")
	assert.Contains(t, stdout, "New registration (this account has none yet):\n  url:    (no registration) -> https://partner.example/hook")
	assert.Contains(t, stdout, "Registration created.")
	assert.Contains(t, stdout, "events (3)")
}

func TestUpdate(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath: {{200, registered}},
		"PUT " + regPath: {{200, registered}},
	})
	code, stdout, stderr := runIn(t, e, "update", "--url", "https://partner.example/hook", "--events", "subscription-updated,test-created,invoice-ready")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath, "PUT " + regPath}, f.requests())
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["subscription-updated","test-created","invoice-ready"],
		"SignatureTokenToMsSignatureHeader":false}`, f.body("PUT "+regPath))
	assert.Contains(t, stdout, "events: + invoice-ready\n")
	assert.Contains(t, stdout, "Registration updated.")
}

func TestUpdateWithoutRegistration(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{404, `{"code":600008,"description":"Registration not found"}`}}})
	code, _, stderr := runIn(t, e, "update", "--url", "https://partner.example/hook", "--events", "test-created")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `create it with "pcwebhook register"`)
	assert.Equal(t, []string{"GET " + regPath}, f.requests(), "update never creates")
}

// Moving the registration to another URL (a tunnel, say) cuts production off: it is shown, and
// applied only when confirmed.
func TestRegisterDisruptiveChange(t *testing.T) {
	const tunnel = "https://abc123.tunnel.example/hook"
	args := []string{"register", "--url", tunnel, "--events", "test-created"}
	want := "  url:    https://partner.example/hook -> " + tunnel + "\n  events: - subscription-updated\n"

	t.Run("dry run", func(t *testing.T) {
		f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}})
		code, stdout, stderr := runIn(t, e, append(args, "--dry-run")...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, want)
		assert.Contains(t, stdout, "Dry run: nothing was changed.")
		assert.Equal(t, []string{"GET " + regPath}, f.requests())
	})
	t.Run("no terminal: refused", func(t *testing.T) {
		f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}})
		code, stdout, stderr := runIn(t, e, args...)
		assert.Equal(t, 1, code)
		assert.Contains(t, stdout, want)
		assert.Contains(t, stderr, "moves every delivery from https://partner.example/hook to "+tunnel)
		assert.Contains(t, stderr, "stops 1 event(s): subscription-updated")
		assert.Contains(t, stderr, "Run again with --yes")
		assert.Equal(t, []string{"GET " + regPath}, f.requests(), "nothing written")
	})
	t.Run("terminal: declined", func(t *testing.T) {
		f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}})
		e.stdinTerminal = func() bool { return true }
		e.stdin = strings.NewReader("n\n")
		code, _, stderr := runIn(t, e, args...)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "Apply it? [y/N]")
		assert.Equal(t, []string{"GET " + regPath}, f.requests(), "nothing written")
	})
	t.Run("terminal: confirmed", func(t *testing.T) {
		f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}, "PUT " + regPath: {{200, ``}}})
		e.stdinTerminal = func() bool { return true }
		e.stdin = strings.NewReader("y\n")
		code, stdout, stderr := runIn(t, e, args...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "Registration updated.")
		assert.Equal(t, []string{"GET " + regPath, "PUT " + regPath}, f.requests())
	})
	t.Run("--yes", func(t *testing.T) {
		f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}, "PUT " + regPath: {{200, ``}}})
		code, _, stderr := runIn(t, e, append(args, "--yes")...)
		require.Equal(t, 0, code, stderr)
		assert.NotContains(t, stderr, "Apply it?")
		assert.Equal(t, []string{"GET " + regPath, "PUT " + regPath}, f.requests())
	})
	t.Run("adding events needs no confirmation", func(t *testing.T) {
		f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}, "PUT " + regPath: {{200, ``}}})
		code, _, stderr := runIn(t, e, "update", "--url", "https://partner.example/hook", "--events", "subscription-updated,test-created,invoice-ready")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, []string{"GET " + regPath, "PUT " + regPath}, f.requests())
	})
}

func TestRegisterPlainHTTP(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{404, ``}}, "POST " + regPath: {{201, ``}}})
	code, _, stderr := runIn(t, e, "register", "--url", "http://partner.example/hook", "--events", "test-created")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "plain http")
	assert.Contains(t, stderr, "--allow-http")
	assert.Empty(t, f.requests(), "refused before any call")

	code, _, stderr = runIn(t, e, "register", "--url", "http://partner.example/hook", "--events", "test-created", "--allow-http")
	require.Equal(t, 0, code, stderr)
	assert.JSONEq(t, `{"WebhookUrl":"http://partner.example/hook","WebhookEvents":["test-created"],
		"SignatureTokenToMsSignatureHeader":false}`, f.body("POST "+regPath))
}

func TestRegisterUnknownEventSuggests(t *testing.T) {
	f, e := newFakePC(t, nil)
	code, _, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "subscription-update,test-created")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `"subscription-update" is not an event name`)
	assert.Contains(t, stderr, `did you mean "subscription-updated"?`)
	assert.Contains(t, stderr, "--allow-unknown")
	assert.Empty(t, f.requests())
}

func TestShow(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, `{"WebhookUrl":"https://partner.example/hook",
		"WebhookEvents":["invoice-ready"],"properties":{"b":"2","a":1}}`}}})
	code, stdout, stderr := runIn(t, e, "show")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath}, f.requests())
	assert.Contains(t, stdout, "Registration:\n  url:          https://partner.example/hook\n")
	assert.Contains(t, stdout, "events (1):\n    invoice-ready\n")
	assert.Contains(t, stdout, "  property a: 1\n  property b: 2\n")
	assert.Contains(t, stdout, "Note: test-created is not among the events")
}

func TestShowNotRegistered(t *testing.T) {
	_, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{404, `{"code":600008,"description":"not found"}`}}})
	code, stdout, stderr := runIn(t, e, "show")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "this account has no webhook registration yet")
	assert.Contains(t, stderr, "pcwebhook register --url")
}

func TestRejectedTokenPrintsTheHint(t *testing.T) {
	for status, want := range map[int]string{
		401: "hint: the access token was rejected",
		403: "hint: the access token is valid but not allowed to manage webhooks",
	} {
		_, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{status, `{"code":900,"description":"no"}`}}})
		code, _, stderr := runIn(t, e, "show")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, want)
		assert.Contains(t, stderr, "correlation id corr-1")
		assert.Contains(t, stderr, "Tokens expire after about an hour")
	}
}

func TestMissingToken(t *testing.T) {
	f, e := newFakePC(t, nil)
	noToken := testEnv(map[string]string{apiRootEnv: e.getenv(apiRootEnv), tokenEnv: "   "})
	for _, args := range [][]string{{"events"}, {"show"}, {"register", "--url", "https://x.example/", "--all"}, {"test"}} {
		code, stdout, stderr := runIn(t, noToken, args...)
		assert.Equal(t, 2, code, args)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "no Partner Center access token. Either set PARTNER_CENTER_TOKEN", args)
		assert.Contains(t, stderr, `--token-cmd "az account get-access-token --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv"`)
	}
	assert.Empty(t, f.requests())
}

func TestCloud(t *testing.T) {
	_, e := newFakePC(t, nil)
	code, _, stderr := runIn(t, e, "show", "--cloud", "mars")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `--cloud "mars": want global or china`)

	for cloud, want := range map[string]string{"global": pcwebhook.GlobalAPIRoot, "China": pcwebhook.ChinaAPIRoot, "": pcwebhook.GlobalAPIRoot} {
		root, ok := cloudRoot(cloud)
		assert.True(t, ok)
		assert.Equal(t, want, root)
	}
}

func TestAPIRootFlagOverridesTheEnvironment(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{200, registered}}})
	root := e.getenv(apiRootEnv)
	e2 := testEnv(map[string]string{tokenEnv: "the-token", apiRootEnv: "http://127.0.0.1:1"})
	code, _, stderr := runIn(t, e2, "show", "--api-root", root)
	require.Equal(t, 0, code, stderr)
	assert.Len(t, f.requests(), 1)
}

// helperCommand returns a --token-cmd that runs this test binary as the helper of TestMain.
func helperCommand(t *testing.T, mode string) string {
	t.Setenv(helperEnv, mode)
	return "'" + os.Args[0] + "' -test.run=^$"
}

func TestTokenCommand(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	t.Setenv("PCWEBHOOK_TEST_COUNT", count)
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath:  {{404, ``}},
		"POST " + regPath: {{200, registered}},
	})
	noToken := testEnv(map[string]string{apiRootEnv: e.getenv(apiRootEnv)})
	code, _, stderr := runIn(t, noToken, "register", "--token-cmd", helperCommand(t, "token"),
		"--url", "https://partner.example/hook", "--events", "subscription-updated,test-created")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"Bearer the-token", "Bearer the-token"}, f.authorizations(), "trimmed output")
	ran, err := os.ReadFile(count)
	require.NoError(t, err)
	assert.Equal(t, "ran\n", string(ran), "the command runs once per process")
}

func TestTokenCommandFailures(t *testing.T) {
	f, e := newFakePC(t, nil)
	noToken := testEnv(map[string]string{apiRootEnv: e.getenv(apiRootEnv)})

	code, _, stderr := runIn(t, noToken, "show", "--token-cmd", helperCommand(t, "fail"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "failed: exit status 3")
	assert.Contains(t, stderr, "ERROR: Please run 'az login' to setup account.")
	assert.Contains(t, stderr, "or set PARTNER_CENTER_TOKEN to a token instead")

	code, _, stderr = runIn(t, noToken, "show", "--token-cmd", helperCommand(t, "two-lines"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "printed more than one line")

	code, _, stderr = runIn(t, noToken, "show", "--token-cmd", "pcwebhook-no-such-command-xyz")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is it installed and on PATH?")

	code, _, stderr = runIn(t, noToken, "show", "--token-cmd", "az account get-access-token | tr -d x")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "the command runs without a shell")

	code, _, stderr = runIn(t, noToken, "show", "--token-cmd", `"unterminated`)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "unterminated double quote")
	assert.Empty(t, f.requests())
}

func TestTestWaitDelivered(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath:                        {{200, registered}},
		"POST " + regPath + "/validationEvents": {{200, `{"correlationId":"c-1"}`}},
		"GET " + regPath + "/validationEvents/c-1": {
			{404, `{"code":1,"description":"not yet"}`},
			{200, `{"correlationId":"c-1","status":"pending","results":[]}`},
			{200, `{"correlationId":"c-1","status":"pending","results":[
				{"responseCode":"InternalServerError","responseMessage":"boom","dateTimeUtc":"2017-12-08T21:39:40.1"}]}`},
			{200, `{"correlationId":"c-1","status":"completed","callbackUrl":"https://partner.example/hook","results":[
				{"responseCode":"InternalServerError","responseMessage":"boom","dateTimeUtc":"2017-12-08T21:39:40.1"},
				{"responseCode":"OK","dateTimeUtc":"2017-12-08T21:39:48.2386997"}]}`},
		},
	})
	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "5ms", "--timeout", "10s")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	assert.Equal(t, []string{"GET " + regPath, "POST " + regPath + "/validationEvents",
		"GET " + regPath + "/validationEvents/c-1", "GET " + regPath + "/validationEvents/c-1",
		"GET " + regPath + "/validationEvents/c-1", "GET " + regPath + "/validationEvents/c-1"}, f.requests())
	assert.Empty(t, f.body("POST "+regPath+"/validationEvents"))
	assert.Contains(t, stdout, "Sending a test event to https://partner.example/hook (Partner Center allows 2 a minute")
	assert.Contains(t, stdout, "Test event sent: correlation id c-1\n")
	want := "  status: not available yet\n" +
		"  status: pending\n" +
		"  attempt 1 at 2017-12-08T21:39:40Z: InternalServerError boom\n" +
		"  status: completed\n" +
		"  attempt 2 at 2017-12-08T21:39:48Z: OK\n" +
		"Delivered: https://partner.example/hook answered with a 2xx status (status completed).\n"
	assert.Contains(t, stdout, want)
	assert.NotContains(t, stdout, "\r", "plain lines off a terminal")
}

func TestTestWaitNotDelivered(t *testing.T) {
	_, e := newFakePC(t, map[string][]answer{
		"GET " + regPath:                        {{200, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["invoice-ready"]}`}},
		"POST " + regPath + "/validationEvents": {{200, `{"correlationId":"c-2"}`}},
		"GET " + regPath + "/validationEvents/c-2": {{200, `{"status":"failed","callbackUrl":"https://partner.example/hook",
			"results":[{"responseCode":"Unauthorized","dateTimeUtc":"2017-12-08T21:39:48Z"},{"responseCode":"","systemError":true}]}`}},
	})
	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "5ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "warning: the registration does not include test-created")
	assert.Contains(t, stderr, "pcwebhook update --url https://partner.example/hook --events invoice-ready,test-created")
	assert.Contains(t, stdout, "  attempt 1 at 2017-12-08T21:39:48Z: Unauthorized\n")
	assert.Contains(t, stdout, "  attempt 2 at (no time): - (a system error on Partner Center's side)\n")
	assert.Contains(t, stderr, "the test event was not delivered (status failed, 2 attempt(s)) to https://partner.example/hook")
	assert.Contains(t, stderr, "Some attempts failed on Partner Center's side")
	assert.Contains(t, stderr, `run "pcwebhook verify"`)
}

func TestTestWaitTimesOut(t *testing.T) {
	_, e := newFakePC(t, map[string][]answer{
		"GET " + regPath:                           {{200, registered}},
		"POST " + regPath + "/validationEvents":    {{200, `{"correlationId":"c-3"}`}},
		"GET " + regPath + "/validationEvents/c-3": {{200, `{"status":"pending","results":[]}`}},
	})
	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "10ms", "--timeout", "150ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "Waiting up to 150ms for the delivery of test event c-3")
	assert.Contains(t, stderr, "gave up after 150ms: status pending, 0 delivery attempt(s)")
	assert.Contains(t, stderr, "pcwebhook test --status c-3 --wait")
}

func TestTestWithoutWaitAndStatus(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{
		"GET " + regPath:                        {{200, registered}},
		"POST " + regPath + "/validationEvents": {{200, `{"correlationId":"c-4"}`}},
		"GET " + regPath + "/validationEvents/c-4": {
			{200, `{"status":"pending","results":[]}`},
			{200, `{"status":"completed","callbackUrl":"https://partner.example/hook","results":[{"responseCode":"200"}]}`},
		},
	})
	code, stdout, stderr := runIn(t, e, "test")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Follow its delivery with: pcwebhook test --status c-4 --wait")

	code, stdout, _ = runIn(t, e, "test", "--status", "c-4")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "still in progress (status pending)")

	code, stdout, _ = runIn(t, e, "test", "--status", "c-4", "--wait", "--poll", "5ms")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "Delivered:")
	assert.Equal(t, 1, strings.Count(strings.Join(f.requests(), "\n"), "POST"), "--status sends no test event")
}

func TestTestNotRegistered(t *testing.T) {
	f, e := newFakePC(t, map[string][]answer{"GET " + regPath: {{404, ``}}})
	code, _, stderr := runIn(t, e, "test", "--wait")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "there is no webhook registration to send a test event to")
	assert.Equal(t, []string{"GET " + regPath}, f.requests())
}

func TestTestSpinnerOnATerminal(t *testing.T) {
	_, e := newFakePC(t, map[string][]answer{
		"GET " + regPath:                        {{200, registered}},
		"POST " + regPath + "/validationEvents": {{200, `{"correlationId":"c-5"}`}},
		"GET " + regPath + "/validationEvents/c-5": {
			{200, `{"status":"pending","results":[]}`},
			{200, `{"status":"completed","results":[{"responseCode":"OK","dateTimeUtc":"2017-12-08T21:39:48Z"}]}`},
		},
	})
	e.terminal = func(io.Writer) bool { return true }
	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "250ms")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, clearLine+"⠋ waiting for the delivery: status pending, 0 attempt(s)")
	assert.Contains(t, stdout, clearLine+"⠙ waiting for the delivery", "the spinner turns")
	assert.Contains(t, stdout, clearLine+"  attempt 1 at 2017-12-08T21:39:48Z: OK\n", "the spinner line is cleared before a line")
	assert.NotContains(t, stdout, "  status: ", "no status lines on a terminal")
	assert.True(t, strings.HasSuffix(stdout, "(status completed).\n"), stdout)
}
