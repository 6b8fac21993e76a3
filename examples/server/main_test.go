package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// Keys come from a shared pool of primes (testpki.SharePrimes): RSA key generation would be
// most of what these tests spend their time on.
func init() { testpki.SharePrimes() }

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

// TestDevCAFlag: with -dev-ca the server accepts what the pcwebhook CLI signs with its
// development CA, and still only that besides the production policy; without it, it refuses.
func TestDevCAFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	ca, err := testpki.WriteDevCA(dir, time.Now())
	require.NoError(t, err)
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()
	header, err := ca.Signer(false).Sign(body)
	require.NoError(t, err)
	deliver := func(v *pcwebhook.Verifier) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/webhooks/partner-center", bytes.NewReader(body))
		req.Header = header.Clone()
		newMux(v, 0, slog.New(slog.NewJSONHandler(io.Discard, nil))).ServeHTTP(rec, req)
		return rec.Code
	}

	logs := &testio.Buffer{}
	dev, err := newVerifier(dir, slog.New(slog.NewJSONHandler(logs, nil)))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, deliver(dev))
	assert.Contains(t, logs.String(), "never use -dev-ca in production")

	prod, err := newVerifier("", slog.New(slog.NewJSONHandler(io.Discard, nil)))
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, deliver(prod), "the production verifier refuses the development CA")

	_, err = newVerifier(filepath.Join(t.TempDir(), "missing"), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestServerLinksNoTestCode: the server binary, -dev-ca included, links neither package testing
// nor net/http/httptest nor the test kit: "go list -deps" of this package, run by the go command.
func TestServerLinksNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		t.Fatalf("go list -deps: %v\n%s", err, exitErr.Stderr)
	}
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/partnercenter-go/pcwebhook/pcwebhookdev", "the list is the server's, -dev-ca included")
	var test []string
	for _, p := range deps {
		switch p {
		case "testing", "net/http/httptest", "github.com/partnercenter-go/pcwebhook/pcwebhooktest":
			test = append(test, p)
		}
	}
	assert.Empty(t, test)
}
