package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// TestAPICommandsAgainstTheKitAPI runs register, show and test --wait against
// pcwebhooktest.API, whose test event really reaches a Handler: the whole registration loop,
// with the state checked on the API's side rather than from scripted answers.
func TestAPICommandsAgainstTheKitAPI(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken("the-token"))
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
	e := testEnv(map[string]string{tokenEnv: "the-token", apiRootEnv: api.URL()})

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
	assert.Equal(t, 1, strings.Count(strings.Join(api.Requests(), "\n"), "POST /webhooks/v1/registration/validationEvents"))
}
