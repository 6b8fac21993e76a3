package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// The API commands run against pcwebhooktest.API, the fake registration API the kit offers
// users: registrations are its state, checked on its side (Registration, Received); answers it
// does not produce by itself (a delivery that failed before one succeeded, a system error, a
// 201 with no body, a correlation id of the service's own) are queued with Respond.

const (
	regPath         = "/webhooks/v1/registration"
	validationsPath = regPath + "/validationEvents"
)

// registered is the registration most tests start from.
var registered = pcwebhook.Registration{
	WebhookURL:    "https://partner.example/hook",
	WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated},
}

// newAPI starts a fake API that accepts only the token "the-token", and an environment that
// points the CLI at it with that token (PCWEBHOOK_API_ROOT, PARTNER_CENTER_TOKEN).
func newAPI(t *testing.T, opts ...pcwebhooktest.APIOption) (*pcwebhooktest.API, env) {
	t.Helper()
	api := pcwebhooktest.NewAPI(t, nil, append([]pcwebhooktest.APIOption{pcwebhooktest.WithAPIToken("the-token")}, opts...)...)
	return api, testEnv(map[string]string{tokenEnv: "the-token", apiRootEnv: api.URL()})
}

// newRegisteredAPI is newAPI with the registration set to registered.
func newRegisteredAPI(t *testing.T, opts ...pcwebhooktest.APIOption) (*pcwebhooktest.API, env) {
	t.Helper()
	api, e := newAPI(t, opts...)
	api.SetRegistration(registered)
	return api, e
}

// applied is what the API receives when register or update writes: the plan's GET, the GET
// right before writing (the write happens only if the registration is still the planned one),
// and the write, method POST or PUT.
func applied(method string) []string {
	return []string{"GET " + regPath, "GET " + regPath, method + " " + regPath}
}

// readerFunc is an io.Reader made of a function.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// lastBody returns the body of the last request "METHOD path" the API received.
func lastBody(t *testing.T, api *pcwebhooktest.API, key string) string {
	t.Helper()
	var body string
	found := false
	for _, r := range api.Received() {
		if r.Method+" "+r.Path == key {
			body, found = string(r.Body), true
		}
	}
	assert.True(t, found, "no request %s", key)
	return body
}

// authorizations returns the Authorization header of every request the API received.
func authorizations(api *pcwebhooktest.API) []string {
	var out []string
	for _, r := range api.Received() {
		out = append(out, r.Header.Get("Authorization"))
	}
	return out
}

func TestEventsOnline(t *testing.T) {
	api, e := newAPI(t, pcwebhooktest.WithSupportedEvents("Subscription-Updated", "test-created", "billing-profile-updated"))
	code, stdout, stderr := runIn(t, e, "events")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath + "/events"}, api.Requests())
	assert.Equal(t, []string{"Bearer the-token"}, authorizations(api))
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
	api, e := newAPI(t)
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "Subscription-Updated, test-created")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	assert.Equal(t, applied("POST"), api.Requests())
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["subscription-updated","test-created"],
		"SignatureTokenToMsSignatureHeader":false}`, lastBody(t, api, "POST "+regPath))
	reg, ok := api.Registration()
	require.True(t, ok)
	require.NotEmpty(t, reg.SubscriberID)
	assert.Contains(t, stdout, "Registration created.")
	assert.Contains(t, stdout, "url:          https://partner.example/hook")
	assert.Contains(t, stdout, "subscriber:   "+reg.SubscriberID+"\n", "what the API answered")
	assert.Contains(t, stdout, "modified:     "+reg.LastModified.UTC().Format(time.RFC3339)+"\n")
	assert.Contains(t, stdout, "events (2):\n    subscription-updated\n    test-created\n")
	assert.NotContains(t, stdout, "Note: test-created")
}

func TestRegisterUpdatesWhenDifferent(t *testing.T) {
	api, e := newRegisteredAPI(t, pcwebhooktest.WithSupportedEvents(append(pcwebhook.KnownEventNames(), "brand-new")...))
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "invoice-ready,brand-new",
		"--ms-signature-header", "--allow-unknown", "--yes")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, applied("PUT"), api.Requests())
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["invoice-ready","brand-new"],
		"SignatureTokenToMsSignatureHeader":true}`, lastBody(t, api, "PUT "+regPath))
	reg, _ := api.Registration()
	assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventInvoiceReady, "brand-new"}, reg.WebhookEvents)
	assert.True(t, reg.SignatureTokenToMsSignatureHeader)
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
	api, e := newRegisteredAPI(t)
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "test-created,subscription-updated")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "nothing to write")
	assert.Contains(t, stdout, "Registration unchanged")
}

// --all registers what the account's API offers, not the built-in table, and says what it left
// out.
func TestRegisterAll(t *testing.T) {
	api, e := newAPI(t, pcwebhooktest.WithSupportedEvents("subscription-updated", "Test-Created", "subscription-active"))
	api.Respond(http.MethodPost, regPath, http.StatusCreated, "") // no body: the client reports what was sent
	code, stdout, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--all")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, append([]string{"GET " + regPath + "/events"}, applied("POST")...), api.Requests())
	var sent struct{ WebhookEvents []pcwebhook.EventName }
	require.NoError(t, json.Unmarshal([]byte(lastBody(t, api, "POST "+regPath)), &sent))
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
	api, e := newRegisteredAPI(t)
	code, stdout, stderr := runIn(t, e, "update", "--url", "https://partner.example/hook", "--events", "subscription-updated,test-created,invoice-ready")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, applied("PUT"), api.Requests())
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/hook","WebhookEvents":["subscription-updated","test-created","invoice-ready"],
		"SignatureTokenToMsSignatureHeader":false}`, lastBody(t, api, "PUT "+regPath))
	reg, _ := api.Registration()
	assert.Len(t, reg.WebhookEvents, 3)
	assert.Contains(t, stdout, "events: + invoice-ready\n")
	assert.Contains(t, stdout, "Registration updated.")
}

func TestUpdateWithoutRegistration(t *testing.T) {
	api, e := newAPI(t)
	code, _, stderr := runIn(t, e, "update", "--url", "https://partner.example/hook", "--events", "test-created")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `create it with "pcwebhook register"`)
	assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "update never creates")
	_, ok := api.Registration()
	assert.False(t, ok)
}

// Moving the registration to another URL (a tunnel, say) cuts production off: it is shown, and
// applied only when confirmed.
func TestRegisterDisruptiveChange(t *testing.T) {
	const tunnel = "https://abc123.tunnel.example/hook"
	args := []string{"register", "--url", tunnel, "--events", "test-created"}
	want := "  url:    https://partner.example/hook -> " + tunnel + "\n  events: - subscription-updated\n"
	registeredURL := func(api *pcwebhooktest.API) string {
		reg, _ := api.Registration()
		return reg.WebhookURL
	}

	t.Run("dry run", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		code, stdout, stderr := runIn(t, e, append(args, "--dry-run")...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, want)
		assert.Contains(t, stdout, "Dry run: nothing was changed.")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests())
	})
	t.Run("no terminal: refused", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		code, stdout, stderr := runIn(t, e, args...)
		assert.Equal(t, 1, code)
		assert.Contains(t, stdout, want)
		assert.Contains(t, stderr, "moves every delivery from https://partner.example/hook to "+tunnel)
		assert.Contains(t, stderr, "stops 1 event(s): subscription-updated")
		assert.Contains(t, stderr, "Run again with --yes")
		assert.NotContains(t, stderr, "Apply it?")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "nothing written")
		assert.Equal(t, registered.WebhookURL, registeredURL(api))
	})
	// /dev/null is a character device but no terminal: no question is asked (and end of input
	// read as "no"); the refusal says why and names --yes.
	t.Run("stdin /dev/null: refused without a question", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		devNull, err := os.Open(os.DevNull)
		require.NoError(t, err)
		defer devNull.Close()
		e.stdin = devNull
		code, _, stderr := runIn(t, e, args...)
		assert.Equal(t, 1, code)
		assert.NotContains(t, stderr, "Apply it?")
		assert.Contains(t, stderr, "there is no terminal to confirm it on")
		assert.Contains(t, stderr, "Run again with --yes")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "nothing written")
	})
	t.Run("terminal: declined", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		e.stdinTerminal = func() bool { return true }
		e.stdin = strings.NewReader("n\n")
		code, _, stderr := runIn(t, e, args...)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "Apply it? [y/N] pcwebhook: not changed: not confirmed (answer y to apply it, or run again with --yes).")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "nothing written")
		assert.Equal(t, registered.WebhookURL, registeredURL(api))
	})
	t.Run("terminal at end of input", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		e.stdinTerminal = func() bool { return true }
		e.stdin = strings.NewReader("")
		code, _, stderr := runIn(t, e, args...)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "Apply it? [y/N] \npcwebhook: not changed: no answer (end of input). Run again with --yes")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "nothing written")
	})
	// Someone changes the registration while the question waits: the answer approved the change
	// shown, not the one it would now be, so nothing is written.
	t.Run("changed while asking", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		other := pcwebhook.Registration{WebhookURL: "https://other-team.example/hook", WebhookEvents: registered.WebhookEvents}
		e.stdinTerminal = func() bool { return true }
		e.stdin = readerFunc(func(p []byte) (int, error) {
			api.SetRegistration(other)
			return copy(p, "y\n"), nil
		})
		code, _, stderr := runIn(t, e, args...)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "pcwebhook: not changed: the registration changed after it was read")
		assert.Contains(t, stderr, "  url:    https://other-team.example/hook -> "+tunnel+"\n")
		assert.Equal(t, []string{"GET " + regPath, "GET " + regPath}, api.Requests(), "nothing written")
		assert.Equal(t, other.WebhookURL, registeredURL(api))
	})
	t.Run("terminal: confirmed", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		e.stdinTerminal = func() bool { return true }
		e.stdin = strings.NewReader("y\n")
		code, stdout, stderr := runIn(t, e, args...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "Registration updated.")
		assert.Equal(t, applied("PUT"), api.Requests())
		assert.Equal(t, tunnel, registeredURL(api))
	})
	t.Run("--yes", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		code, _, stderr := runIn(t, e, append(args, "--yes")...)
		require.Equal(t, 0, code, stderr)
		assert.NotContains(t, stderr, "Apply it?")
		assert.Equal(t, applied("PUT"), api.Requests())
		assert.Equal(t, tunnel, registeredURL(api))
	})
	t.Run("adding events needs no confirmation", func(t *testing.T) {
		api, e := newRegisteredAPI(t)
		code, _, stderr := runIn(t, e, "update", "--url", "https://partner.example/hook", "--events", "subscription-updated,test-created,invoice-ready")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, applied("PUT"), api.Requests())
	})
}

func TestRegisterPlainHTTP(t *testing.T) {
	api, e := newAPI(t)
	code, _, stderr := runIn(t, e, "register", "--url", "http://partner.example/hook", "--events", "test-created")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "plain http")
	assert.Contains(t, stderr, "--allow-http")
	assert.Empty(t, api.Requests(), "refused before any call")

	code, _, stderr = runIn(t, e, "register", "--url", "http://partner.example/hook", "--events", "test-created", "--allow-http")
	require.Equal(t, 0, code, stderr)
	assert.JSONEq(t, `{"WebhookUrl":"http://partner.example/hook","WebhookEvents":["test-created"],
		"SignatureTokenToMsSignatureHeader":false}`, lastBody(t, api, "POST "+regPath))
	assert.Equal(t, applied("POST"), api.Requests())
	reg, _ := api.Registration()
	assert.Equal(t, "http://partner.example/hook", reg.WebhookURL)
}

func TestRegisterUnknownEventSuggests(t *testing.T) {
	api, e := newAPI(t)
	code, _, stderr := runIn(t, e, "register", "--url", "https://partner.example/hook", "--events", "subscription-update,test-created")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `"subscription-update" is not an event name`)
	assert.Contains(t, stderr, `did you mean "subscription-updated"?`)
	assert.Contains(t, stderr, "--allow-unknown")
	assert.Empty(t, api.Requests())
}

func TestShow(t *testing.T) {
	api, e := newAPI(t)
	api.Respond(http.MethodGet, regPath, http.StatusOK, `{"WebhookUrl":"https://partner.example/hook",
		"WebhookEvents":["invoice-ready"],"properties":{"b":"2","a":1}}`) // properties: the fake has none
	code, stdout, stderr := runIn(t, e, "show")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath}, api.Requests())
	assert.Contains(t, stdout, "Registration:\n  url:          https://partner.example/hook\n")
	assert.Contains(t, stdout, "events (1):\n    invoice-ready\n")
	assert.Contains(t, stdout, "  property a: 1\n  property b: 2\n")
	assert.Contains(t, stdout, "Note: test-created is not among the events")
}

func TestShowNotRegistered(t *testing.T) {
	api, e := newAPI(t)
	code, stdout, stderr := runIn(t, e, "show")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "this account has no webhook registration yet")
	assert.Contains(t, stderr, "pcwebhook register --url")
	assert.Equal(t, []string{"GET " + regPath}, api.Requests())
}

func TestRejectedTokenPrintsTheHint(t *testing.T) {
	for status, want := range map[int]string{
		401: "hint: the access token was rejected",
		403: "hint: the access token is valid but not allowed to manage webhooks",
	} {
		api, e := newAPI(t)
		api.RespondFunc(http.MethodGet, regPath, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("MS-CorrelationId", "corr-1") // the service's own: printed, not the one sent
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"code":900,"description":"no"}`)
		})
		code, _, stderr := runIn(t, e, "show")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, want)
		assert.Contains(t, stderr, "correlation id corr-1")
		assert.Contains(t, stderr, "Tokens expire after about an hour")
		assert.Equal(t, []string{"GET " + regPath}, api.Requests(), "not retried")
	}

	// The fake refusing a token it does not accept: the ids printed are the ones sent (echoed).
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("another-token"))
	code, _, stderr := runIn(t, testEnv(map[string]string{tokenEnv: "the-token", apiRootEnv: api.URL()}), "show")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "Partner Center answered 401 Unauthorized")
	assert.Contains(t, stderr, "hint: the access token was rejected")
	sent := api.Received()
	require.Len(t, sent, 1)
	assert.Contains(t, stderr, "correlation id "+sent[0].Header.Get("MS-CorrelationId")+", request id "+sent[0].Header.Get("MS-RequestId"))
}

func TestMissingToken(t *testing.T) {
	api, e := newAPI(t)
	noToken := testEnv(map[string]string{apiRootEnv: e.getenv(apiRootEnv), tokenEnv: "   "})
	for _, args := range [][]string{{"events"}, {"show"}, {"register", "--url", "https://x.example/", "--all"}, {"test"}} {
		code, stdout, stderr := runIn(t, noToken, args...)
		assert.Equal(t, 2, code, args)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "no Partner Center access token. Either set PARTNER_CENTER_TOKEN", args)
		assert.Contains(t, stderr, `--token-cmd "az account get-access-token --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv"`)
	}
	assert.Empty(t, api.Requests())
}

func TestCloud(t *testing.T) {
	api, e := newAPI(t)
	code, _, stderr := runIn(t, e, "show", "--cloud", "mars")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `--cloud "mars": want global, china or usgov`)
	assert.Empty(t, api.Requests())

	for cloud, want := range map[string]string{"global": pcwebhook.GlobalAPIRoot, "China": pcwebhook.ChinaAPIRoot, "": pcwebhook.GlobalAPIRoot, "usgov": pcwebhook.GlobalAPIRoot} {
		c, ok := cloudOf(cloud)
		assert.True(t, ok)
		assert.Equal(t, want, c.APIRoot)
	}
	c, _ := cloudOf("usgov")
	assert.Equal(t, "https://login.microsoftonline.us", c.AuthorityHost)
}

// tokenEndpoint plays Microsoft Entra ID's token endpoint on loopback: it hands out appToken for
// the client credentials appClient/appSecret and refuses others.
func tokenEndpoint(t *testing.T) (url string, requests *atomic.Int64) {
	requests = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_ = r.ParseForm()
		if r.URL.Path != "/contoso.example/oauth2/v2.0/token" || r.PostForm.Get("grant_type") != "client_credentials" ||
			r.PostForm.Get("scope") != "https://api.partnercenter.microsoft.com/.default" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("client_id") != "app-id" || r.PostForm.Get("client_secret") != "the-secret-value" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided (%s)."}`, r.PostForm.Get("client_secret"))
			return
		}
		fmt.Fprint(w, `{"access_token":"entra-token","expires_in":3599}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests
}

// TestAppOnlyTokens: with app credentials (flags or the AZURE_* variables) the CLI gets its own
// app-only token from Microsoft Entra ID and calls the API with it; the secret is never printed,
// also when the token endpoint quotes it in its refusal.
func TestAppOnlyTokens(t *testing.T) {
	authority, requests := tokenEndpoint(t)
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("entra-token"))
	api.SetRegistration(registered)
	secretFile := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("the-secret-value\n"), 0o600))
	base := map[string]string{apiRootEnv: api.URL(), authorityEnv: authority}
	with := func(extra map[string]string) env {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return testEnv(m)
	}
	for name, c := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"environment":             {env: map[string]string{"AZURE_TENANT_ID": "contoso.example", "AZURE_CLIENT_ID": "app-id", "AZURE_CLIENT_SECRET": "the-secret-value"}},
		"flags and a secret file": {args: []string{"--tenant", "contoso.example", "--client-id", "app-id", "--client-secret-file", secretFile}},
		"flags and the secret in the environment": {env: map[string]string{"AZURE_CLIENT_SECRET": "the-secret-value"},
			args: []string{"--tenant", "contoso.example", "--client-id", "app-id"}},
	} {
		t.Run(name, func(t *testing.T) {
			before := requests.Load()
			code, stdout, stderr := runIn(t, with(c.env), append([]string{"show"}, c.args...)...)
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stdout, registered.WebhookURL)
			assert.Equal(t, before+1, requests.Load(), "one token request")
			assert.NotContains(t, stdout+stderr, "the-secret-value")
		})
	}

	code, stdout, stderr := runIn(t, with(map[string]string{"AZURE_TENANT_ID": "contoso.example", "AZURE_CLIENT_ID": "app-id", "AZURE_CLIENT_SECRET": "a-wrong-secret-value"}), "show")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "invalid_client")
	assert.Contains(t, stderr, "App management")
	assert.NotContains(t, stdout+stderr, "a-wrong-secret-value", "the refusal quoted the secret: it is not printed")

	code, _, stderr = runIn(t, with(nil), "show", "--client-id", "app-id")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "AZURE_TENANT_ID") // what is missing is named
	assert.Contains(t, stderr, "AZURE_CLIENT_SECRET")

	code, _, stderr = runIn(t, testEnv(map[string]string{authorityEnv: "http://login.example", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "a", "AZURE_CLIENT_SECRET": "s"}), "show")
	assert.Equal(t, 2, code, "the secret is never sent over plain http to a remote host")
	assert.Contains(t, stderr, authorityEnv)
}

func TestAPIRootFlagOverridesTheEnvironment(t *testing.T) {
	api, _ := newRegisteredAPI(t)
	e := testEnv(map[string]string{tokenEnv: "the-token", apiRootEnv: "http://127.0.0.1:1"})
	code, stdout, stderr := runIn(t, e, "show", "--api-root", api.URL())
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, []string{"GET " + regPath}, api.Requests())
	assert.Contains(t, stdout, "url:          "+registered.WebhookURL+"\n")
}

// helperCommand returns a --token-cmd that runs this test binary as the helper of TestMain.
func helperCommand(t *testing.T, mode string) string {
	t.Setenv(helperEnv, mode)
	return "'" + os.Args[0] + "' -test.run=^$"
}

func TestTokenCommand(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	t.Setenv("PCWEBHOOK_TEST_COUNT", count)
	api, e := newAPI(t)
	noToken := testEnv(map[string]string{apiRootEnv: e.getenv(apiRootEnv)})
	code, _, stderr := runIn(t, noToken, "register", "--token-cmd", helperCommand(t, "token"),
		"--url", "https://partner.example/hook", "--events", "subscription-updated,test-created")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, applied("POST"), api.Requests())
	assert.Equal(t, []string{"Bearer the-token", "Bearer the-token", "Bearer the-token"}, authorizations(api), "trimmed output")
	ran, err := os.ReadFile(count)
	require.NoError(t, err)
	assert.Equal(t, "ran\n", string(ran), "the command runs once per process")
}

func TestTokenCommandFailures(t *testing.T) {
	api, e := newAPI(t)
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
	assert.Empty(t, api.Requests())
}

func TestTestWaitDelivered(t *testing.T) {
	api, e := newRegisteredAPI(t)
	// A first attempt that failed, then one that succeeded: the fake delivers only once.
	api.Respond(http.MethodPost, validationsPath, http.StatusOK, `{"correlationId":"c-1"}`)
	for _, a := range []struct {
		status int
		body   string
	}{
		{404, `{"code":1,"description":"not yet"}`},
		{200, `{"correlationId":"c-1","status":"pending","results":[]}`},
		{200, `{"correlationId":"c-1","status":"pending","results":[
			{"responseCode":"InternalServerError","responseMessage":"boom","dateTimeUtc":"2017-12-08T21:39:40.1"}]}`},
		{200, `{"correlationId":"c-1","status":"completed","callbackUrl":"https://partner.example/hook","results":[
			{"responseCode":"InternalServerError","responseMessage":"boom","dateTimeUtc":"2017-12-08T21:39:40.1"},
			{"responseCode":"OK","dateTimeUtc":"2017-12-08T21:39:48.2386997"}]}`},
	} {
		api.Respond(http.MethodGet, validationsPath+"/c-1", a.status, a.body)
	}
	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "5ms", "--timeout", "10s")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	assert.Equal(t, []string{"GET " + regPath, "POST " + validationsPath,
		"GET " + validationsPath + "/c-1", "GET " + validationsPath + "/c-1",
		"GET " + validationsPath + "/c-1", "GET " + validationsPath + "/c-1"}, api.Requests())
	assert.Empty(t, lastBody(t, api, "POST "+validationsPath))
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
	api, e := newAPI(t)
	api.SetRegistration(pcwebhook.Registration{WebhookURL: "https://partner.example/hook", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventInvoiceReady}})
	// The fake would refuse a test event without test-created; the service may send it anyway.
	api.Respond(http.MethodPost, validationsPath, http.StatusOK, `{"correlationId":"c-2"}`)
	api.Respond(http.MethodGet, validationsPath+"/c-2", http.StatusOK, `{"status":"failed","callbackUrl":"https://partner.example/hook",
		"results":[{"responseCode":"Unauthorized","dateTimeUtc":"2017-12-08T21:39:48Z"},{"responseCode":"","systemError":true}]}`)
	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "5ms")
	assert.Equal(t, 1, code)
	assert.Equal(t, []string{"GET " + regPath, "POST " + validationsPath, "GET " + validationsPath + "/c-2"}, api.Requests())
	assert.Contains(t, stderr, "warning: the registration does not include test-created")
	assert.Contains(t, stderr, "pcwebhook update --url https://partner.example/hook --events invoice-ready,test-created")
	assert.Contains(t, stdout, "  attempt 1 at 2017-12-08T21:39:48Z: Unauthorized\n")
	assert.Contains(t, stdout, "  attempt 2 at (no time): - (a system error on Partner Center's side)\n")
	assert.Contains(t, stderr, "the test event was not delivered (status failed, 2 attempt(s)) to https://partner.example/hook")
	assert.Contains(t, stderr, "Some attempts failed on Partner Center's side")
	assert.Contains(t, stderr, `run "pcwebhook verify"`)
}

// The endpoint does not answer until the test ends, so the fake's real test event stays pending.
// The timeout leaves a loaded machine time for the first status poll; the test sleeps it out
// beside the other waiting test.
func TestTestWaitTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	endpoint := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(endpoint.Close)
	api, e := newAPI(t)
	t.Cleanup(func() { close(release) }) // runs first: then the API and the endpoint close
	api.SetRegistration(pcwebhook.Registration{WebhookURL: endpoint.URL + "/hook", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}})

	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "10ms", "--timeout", "1s")
	assert.Equal(t, 1, code)
	reqs := api.Requests()
	require.Greater(t, len(reqs), 2, reqs)
	assert.Equal(t, []string{"GET " + regPath, "POST " + validationsPath}, reqs[:2])
	id := strings.TrimPrefix(reqs[2], "GET "+validationsPath+"/")
	require.NotEqual(t, reqs[2], id, reqs)
	for _, r := range reqs[2:] {
		assert.Equal(t, "GET "+validationsPath+"/"+id, r, "only status polls of the one test event")
	}
	assert.Contains(t, stdout, "Waiting up to 1s for the delivery of test event "+id)
	assert.Contains(t, stderr, "gave up after 1s: status pending, 0 delivery attempt(s)")
	assert.Contains(t, stderr, "pcwebhook test --status "+id+" --wait")
}

func TestTestWithoutWaitAndStatus(t *testing.T) {
	api, e := newRegisteredAPI(t)
	api.Respond(http.MethodPost, validationsPath, http.StatusOK, `{"correlationId":"c-4"}`)
	api.Respond(http.MethodGet, validationsPath+"/c-4", http.StatusOK, `{"status":"pending","results":[]}`)
	api.Respond(http.MethodGet, validationsPath+"/c-4", http.StatusOK,
		`{"status":"completed","callbackUrl":"https://partner.example/hook","results":[{"responseCode":"200"}]}`)
	code, stdout, stderr := runIn(t, e, "test")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Follow its delivery with: pcwebhook test --status c-4 --wait")
	assert.Equal(t, []string{"GET " + regPath, "POST " + validationsPath}, api.Requests(), "no wait: no status poll")

	code, stdout, _ = runIn(t, e, "test", "--status", "c-4")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "still in progress (status pending)")

	code, stdout, _ = runIn(t, e, "test", "--status", "c-4", "--wait", "--poll", "5ms")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "Delivered:")
	assert.Equal(t, 1, strings.Count(strings.Join(api.Requests(), "\n"), "POST"), "--status sends no test event")
	assert.Equal(t, []string{"GET " + validationsPath + "/c-4", "GET " + validationsPath + "/c-4"}, api.Requests()[2:])
}

func TestTestNotRegistered(t *testing.T) {
	api, e := newAPI(t)
	code, _, stderr := runIn(t, e, "test", "--wait")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "there is no webhook registration to send a test event to")
	assert.Equal(t, []string{"GET " + regPath}, api.Requests())
}

// The poll interval is ten spinner intervals, so that the spinner turns before the second poll
// even on a loaded machine; the test sleeps it out beside the other waiting test.
func TestTestSpinnerOnATerminal(t *testing.T) {
	t.Parallel()
	api, e := newRegisteredAPI(t)
	api.Respond(http.MethodPost, validationsPath, http.StatusOK, `{"correlationId":"c-5"}`)
	api.Respond(http.MethodGet, validationsPath+"/c-5", http.StatusOK, `{"status":"pending","results":[]}`)
	api.Respond(http.MethodGet, validationsPath+"/c-5", http.StatusOK,
		`{"status":"completed","results":[{"responseCode":"OK","dateTimeUtc":"2017-12-08T21:39:48Z"}]}`)
	e.terminal = func(io.Writer) bool { return true }
	code, stdout, stderr := runIn(t, e, "test", "--wait", "--poll", "1s")
	require.Equal(t, 0, code, stderr)
	assert.Len(t, api.Requests(), 4, "two status polls")
	assert.Contains(t, stdout, clearLine+"⠋ waiting for the delivery: status pending, 0 attempt(s)")
	assert.Contains(t, stdout, clearLine+"⠙ waiting for the delivery", "the spinner turns")
	assert.Contains(t, stdout, clearLine+"  attempt 1 at 2017-12-08T21:39:48Z: OK\n", "the spinner line is cleared before a line")
	assert.NotContains(t, stdout, "  status: ", "no status lines on a terminal")
	assert.True(t, strings.HasSuffix(stdout, "(status completed).\n"), stdout)
}

// TestAPICommandsAgainstTheKitAPI runs register, show and test --wait with nothing canned: the
// fake's test event really reaches a Handler, the whole registration loop.
func TestAPICommandsAgainstTheKitAPI(t *testing.T) {
	api, e := newAPI(t)
	var mu sync.Mutex
	var handled []string
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(api.Sender().Verifier()))
	h.OnTestCreated(func(_ context.Context, e *pcwebhook.TestEvent) error {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, e.CorrelationID)
		return nil
	})
	endpoint := httptest.NewTLSServer(h)
	t.Cleanup(endpoint.Close)

	code, stdout, stderr := runIn(t, e, "register", "--url", endpoint.URL+"/hook", "--events", "subscription-updated,test-created")
	require.Equal(t, 0, code, stdout+stderr)
	reg, ok := api.Registration()
	require.True(t, ok)
	assert.Equal(t, endpoint.URL+"/hook", reg.WebhookURL)
	assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventTestCreated}, reg.WebhookEvents)

	code, stdout, stderr = runIn(t, e, "show")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, endpoint.URL+"/hook")

	code, stdout, stderr = runIn(t, e, "test", "--wait", "--poll", "5ms", "--timeout", "10s")
	require.Equal(t, 0, code, stdout+stderr)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, handled, 1, "the test event reached the Handler")
	assert.Contains(t, stdout, handled[0], "the correlation id printed is the event's")
	assert.Contains(t, stdout, "Delivered:")
	assert.Equal(t, 1, strings.Count(strings.Join(api.Requests(), "\n"), "POST "+validationsPath))
}
