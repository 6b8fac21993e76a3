package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookdev"
)

// userApp is an application as a user writes it: the real Handler, with the one line of
// development configuration, and a callback that records what it was given.
type userApp struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids []string // SubscriptionID of each subscription-updated callback
}

func newUserApp(t *testing.T, devDir string) *userApp {
	t.Helper()
	v, err := pcwebhookdev.NewVerifier(devDir) // the one line
	require.NoError(t, err)
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v))
	a := &userApp{}
	h.OnSubscriptionUpdated(func(_ context.Context, e *pcwebhook.SubscriptionEvent) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.ids = append(a.ids, e.SubscriptionID)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", h)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *userApp) callbacks() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ids...)
}

// TestTriggerReachesTheApp: "pcwebhook trigger" -> the user's Handler, 200, callback run.
func TestTriggerReachesTheApp(t *testing.T) {
	app := newUserApp(t, filepath.Join(sharedConfigDir, "dev"))
	code, stdout, stderr := runIn(t, testEnv(nil), "trigger", "subscription-updated", "--url", app.srv.URL+"/webhooks/partner-center", "--count", "2")
	require.Equal(t, 0, code, stdout+stderr)
	assert.Equal(t, 2, strings.Count(stdout, "-> 200 OK"), stdout)
	assert.Equal(t, []string{"cb9a54ce-b00e-5491-b23d-a456f44f2858", "cb9a54ce-b00e-5491-b23d-a456f44f2858"}, app.callbacks(),
		"two distinct events, each handled once")

	// With x-ms-signature too.
	code, stdout, stderr = runIn(t, testEnv(nil), "trigger", "subscription-updated", "--url", app.srv.URL+"/webhooks/partner-center", "--ms-signature-header")
	require.Equal(t, 0, code, stdout+stderr)
	assert.Len(t, app.callbacks(), 3)
}

// TestTriggerToAnUntrustingAppSaysHow: an app trusting another development CA refuses, and
// trigger names the line that fixes it.
func TestTriggerToAnUntrustingAppSaysHow(t *testing.T) {
	other := t.TempDir()
	_, _, err := ensureDevCA(other, time.Now())
	require.NoError(t, err)
	app := newUserApp(t, filepath.Join(other, "dev"))
	code, stdout, stderr := runIn(t, testEnv(nil), "trigger", "subscription-updated", "--url", app.srv.URL+"/webhooks/partner-center")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "-> 401 Unauthorized")
	assert.Contains(t, stderr, `pcwebhookdev.NewVerifier("`+filepath.Join(sharedConfigDir, "dev")+`")`)
	assert.Empty(t, app.callbacks())
}

// TestListenForwardReachesTheApp: trigger -> "listen --dev --forward" -> the user's Handler,
// 200 at every hop, callback run.
func TestListenForwardReachesTheApp(t *testing.T) {
	devDir := filepath.Join(sharedConfigDir, "dev")
	app := newUserApp(t, devDir)
	e := testEnv(nil)
	l := startListen(t, e, "--dev", "--forward", app.srv.URL+"/webhooks/partner-center")
	assert.Contains(t, l.stdout.String(), `your app must trust the development CA: pcwebhookdev.NewVerifier("`+devDir+`")`)

	code, stdout, stderr := runIn(t, e, "trigger", "subscription-updated", "--url", l.url)
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "-> 200 OK")
	out := waitFor(t, l.stdout, regexp.MustCompile(`forwarded to `), 1)
	assert.Contains(t, out, "200 handled  subscription-updated")
	assert.Contains(t, out, "forwarded to "+app.srv.URL+"/webhooks/partner-center: 200 OK")
	assert.Equal(t, []string{"cb9a54ce-b00e-5491-b23d-a456f44f2858"}, app.callbacks())
}
