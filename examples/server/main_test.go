package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

func TestServerRoutesAndGracefulShutdown(t *testing.T) {
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	defer sender.Close()
	logs := &testio.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: newMux(sender.Verifier(), 0, logger), ReadHeaderTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, srv, ln, logger) }()
	base := "http://" + ln.Addr().String()

	resp, err := sender.Send(ctx, base+"/webhooks/partner-center", pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, logs.String(), "subscription changed")

	status := func(method, path string) int {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader([]byte("{}")))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 401, status(http.MethodPost, "/webhooks/partner-center"), "unsigned")
	assert.Equal(t, 405, status(http.MethodGet, "/webhooks/partner-center"))
	assert.Equal(t, 200, status(http.MethodGet, "/healthz"))
	assert.Equal(t, 200, status(http.MethodGet, "/"))
	assert.Equal(t, 404, status(http.MethodGet, "/elsewhere"))

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not shut down")
	}
	_, err = http.Get(base + "/healthz")
	assert.Error(t, err, "the listener is closed after shutdown")
}

// TestStartupCheck: the start-up check logs success, or the failure with its fix, and never stops
// the server.
func TestStartupCheck(t *testing.T) {
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	defer sender.Close()

	logs := &testio.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	v := sender.Verifier()
	assert.True(t, startupCheck(context.Background(), v, logger, sender.CertificateURL()))
	assert.Contains(t, logs.String(), "start-up check passed")
	assert.Equal(t, 1, v.Stats().CachedCertificates, "the first delivery needs no download")

	// Roots that do not include the sender's: the chain fails, the log says how to fix it.
	other, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	defer other.Close()
	logs = &testio.Buffer{}
	logger = slog.New(slog.NewJSONHandler(logs, nil))
	v = sender.Verifier(pcwebhook.WithRootCAs(other.RootCAs()))
	assert.False(t, startupCheck(context.Background(), v, logger, sender.CertificateURL()))
	out := logs.String()
	assert.Contains(t, out, `"level":"ERROR"`)
	assert.Contains(t, out, "start-up check failed")
	assert.Contains(t, out, `"fix":"the certificate does not chain to a root this process trusts`)
	assert.Contains(t, out, "ca-certificates")
}
