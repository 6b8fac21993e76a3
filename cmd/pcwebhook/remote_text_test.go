package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// The API's answers are text from outside too: an event name, a correlation id, a delivery's
// status and the endpoint's answer reach the terminal escaped.

// TestEventsEscapesOfferedNames: an event name the API offers is printed escaped.
func TestEventsEscapesOfferedNames(t *testing.T) {
	_, e := newAPI(t, pcwebhooktest.WithSupportedEvents("test-created", "x\x1b[2J\r\n\u009bforged"))
	code, stdout, stderr := runIn(t, e, "events")
	require.Equal(t, 0, code, stderr)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, stdout, `  x\x1b[2J\r\n\u009bforged  `)
}

// TestTestEscapesDeliveryStatus: what Partner Center reports about a test event, including the
// endpoint's own answer, is printed escaped.
func TestTestEscapesDeliveryStatus(t *testing.T) {
	api, e := newRegisteredAPI(t)
	api.Respond(http.MethodPost, validationsPath, http.StatusOK, `{"correlationId":"c-1\u001b[2J\r\n\u009b"}`)
	code, stdout, stderr := runIn(t, e, "test")
	require.Equal(t, 0, code, stderr)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, stdout, `Test event sent: correlation id c-1\x1b[2J\r\n\u009b`+"\n")
	assert.Contains(t, stdout, `pcwebhook test --status c-1\x1b[2J\r\n\u009b --wait`+"\n")

	api.Respond(http.MethodGet, validationsPath+"/c-7", http.StatusOK, `{"status":"completed","callbackUrl":"https://partner.example/\u001b]8;;x\u0007",
		"results":[{"responseCode":"InternalServerError\u007f","responseMessage":"boom\r\nDelivered: \u0085forged","dateTimeUtc":"2017-12-08T21:39:40Z"},
			{"responseCode":"OK","dateTimeUtc":"2017-12-08T21:39:48Z"}]}`)
	code, stdout, stderr = runIn(t, e, "test", "--status", "c-7", "--wait", "--poll", "5ms", "--timeout", "10s")
	assert.Equal(t, 0, code, stderr)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, stdout, `  attempt 1 at 2017-12-08T21:39:40Z: InternalServerError\x7f boom\r\nDelivered: \u0085forged`+"\n")
	assert.Contains(t, stdout, `Delivered: https://partner.example/\x1b]8;;x\x07 answered with a 2xx status (status completed).`)
	assert.Equal(t, 1, strings.Count(stdout, "\nDelivered:"), stdout)

	api.Respond(http.MethodGet, validationsPath+"/c-8", http.StatusOK, `{"status":"failed\u001b[1A","callbackUrl":"https://partner.example/\u009b2J",
		"results":[{"responseCode":"Unauthorized","dateTimeUtc":"2017-12-08T21:39:48Z"}]}`)
	code, stdout, stderr = runIn(t, e, "test", "--status", "c-8")
	assert.Equal(t, 0, code, stderr)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, stdout, `still in progress (status failed\x1b[1A)`)

	api.Respond(http.MethodGet, validationsPath+"/c-9", http.StatusOK, `{"status":"failed","callbackUrl":"https://partner.example/\u009b2J",
		"results":[{"responseCode":"Unauthorized","dateTimeUtc":"2017-12-08T21:39:48Z"}]}`)
	code, _, stderr = runIn(t, e, "test", "--status", "c-9")
	assert.Equal(t, 1, code)
	assertTerminalSafe(t, stderr)
	assert.Contains(t, stderr, `to https://partner.example/\u009b2J.`)
}

// TestEventListsEscapeNames: event names listed in a sentence are escaped.
func TestEventListsEscapeNames(t *testing.T) {
	assert.Equal(t, `subscription-updated, x\x1b[2J\u009b`, joinNames([]pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, "x\x1b[2J\u009b"}))
}

// TestRegistrationAndAPIErrorsEscaped: the registration the API returns (URL, subscriber, event
// names, properties), the change shown before a write, and an API error's fields reach the
// terminal escaped.
func TestRegistrationAndAPIErrorsEscaped(t *testing.T) {
	api, e := newAPI(t)
	api.Respond(http.MethodGet, regPath, http.StatusOK, `{"subscriberId":"s\u001b[2J","webhookUrl":"https://hooks.example/\u009b2J\r\nforged",
		"webhookEvents":["test-created","new\u202eevent"],"properties":{"k\u0007":"v\u001b]0;x"}}`)
	code, stdout, stderr := runIn(t, e, "show")
	require.Equal(t, 0, code, stderr)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, stdout, `https://hooks.example/\u009b2J\r\nforged`)
	assert.Contains(t, stdout, `new\u202eevent`)

	api.Respond(http.MethodGet, regPath, http.StatusOK, `{"webhookUrl":"https://hooks.example/\u009b2J","webhookEvents":["test-created","invoice-ready"]}`)
	code, stdout, stderr = runIn(t, e, "update", "--url", "https://new.example/hook", "--events", "test-created")
	assert.NotEqual(t, 0, code, "a disruptive change without a terminal is refused")
	assertTerminalSafe(t, stdout)
	assertTerminalSafe(t, stderr)
	assert.Contains(t, stdout+stderr, `https://hooks.example/\u009b2J`)

	api.Respond(http.MethodGet, regPath, http.StatusBadRequest, `{"code":"E\u001b[1A","description":"bad\r\nDelivered: forged"}`)
	code, _, stderr = runIn(t, e, "show")
	assert.Equal(t, 1, code)
	assertTerminalSafe(t, stderr)
	assert.NotContains(t, stderr, "\nDelivered: forged")
}
