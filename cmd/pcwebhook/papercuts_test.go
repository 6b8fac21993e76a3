package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// trigger posts where listen receives by default, with no --url.
func TestTriggerDefaultURLIsListens(t *testing.T) {
	code, stdout, _ := runIn(t, testEnv(nil), "trigger", "--help")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "(default "+defaultTriggerURL+")")
	code, stdout, _ = runIn(t, testEnv(nil), "listen", "--help")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "(default 127.0.0.1:8080)")
	assert.Contains(t, stdout, "--path path\n        the URL path to accept events on (default /)")
	assert.Equal(t, "http://127.0.0.1:8080/", defaultTriggerURL)
}

func TestSuggestEventName(t *testing.T) {
	for in, want := range map[string]string{
		"subscription-update":                 "subscription-updated",
		"Invoice-Redy":                        "invoice-ready",
		"test-create":                         "test-created",
		"granular-admin-relationship-approve": "granular-admin-relationship-approved",
		"transfer-fail":                       "transfer-failed",
		"billing-profile-updated":             "",
		"x":                                   "",
	} {
		assert.Equal(t, want, string(suggestEventName(pcwebhookEventName(in))), in)
	}
	assert.Equal(t, 0, editDistance("abc", "abc"))
	assert.Equal(t, 3, editDistance("", "abc"))
	assert.Equal(t, 1, editDistance("abc", "abd"))
}

func pcwebhookEventName(s string) pcwebhook.EventName { return pcwebhook.EventName(s) }

// --api-root and PCWEBHOOK_API_ROOT are documented in the help of every API command.
func TestAPIRootDocumented(t *testing.T) {
	for _, name := range []string{"events", "register", "show", "update", "test"} {
		code, stdout, _ := runIn(t, testEnv(nil), name, "--help")
		require.Equal(t, 0, code, name)
		assert.Contains(t, stdout, "--api-root URL", name)
		assert.Contains(t, stdout, apiRootEnv, name)
	}
}
