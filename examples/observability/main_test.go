package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// collector is a fake OTLP/HTTP collector: it records the paths and content types posted.
type collector struct {
	mu    sync.Mutex
	posts []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.posts = append(c.posts, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
	c.mu.Unlock()
	if len(body) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *collector) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.posts...)
}

// TestMetricsAndTraces: a signed delivery through the example's mux shows on /metrics and is
// exported as spans to the OTLP endpoint of the environment.
func TestMetricsAndTraces(t *testing.T) {
	col := &collector{}
	colSrv := httptest.NewServer(col)
	defer colSrv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", colSrv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")

	ctx := context.Background()
	tp, err := newTracerProvider(ctx)
	require.NoError(t, err)
	_, sdk := tp.(interface{ ForceFlush(context.Context) error })
	require.True(t, sdk, "an endpoint is configured: the SDK's provider, %T", tp)

	sender := pcwebhooktest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, sender.Verifier(), tp, ln, metricsLn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()

	resp, err := sender.Send(ctx, "http://"+ln.Addr().String()+"/webhooks/partner-center", pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body())
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	status, metrics := get("http://" + metricsLn.Addr().String() + "/metrics")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, metrics, `pcwebhook_deliveries_total{code="200",event="subscription-updated",outcome="handled"} 1`)
	assert.Contains(t, metrics, `pcwebhook_verifier_verifications_total{result="verified"} 1`)
	assert.Contains(t, metrics, "go_goroutines")
	status, _ = get("http://" + ln.Addr().String() + "/metrics")
	assert.Equal(t, http.StatusNotFound, status, "metrics are not on the webhook's port")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "graceful shutdown")
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	require.NoError(t, tp.Shutdown(ctx), "flushes the batch to the collector")
	posts := col.received()
	require.NotEmpty(t, posts)
	assert.Equal(t, "POST /v1/traces application/x-protobuf", posts[0])
}

// TestNoEndpointNoTraces: without an OTLP endpoint the provider is a no-op one and the mux
// still serves; without a registry there are no metrics.
func TestNoEndpointNoTraces(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, err := newTracerProvider(context.Background())
	require.NoError(t, err)
	_, span := tp.Tracer("t").Start(context.Background(), "s")
	assert.False(t, span.SpanContext().IsValid())
	span.End()

	sender := pcwebhooktest.New(t)
	mux, err := newMux(sender.Verifier(), nil, tp, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, sender.Request("/webhooks/partner-center", pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()))
	assert.Equal(t, http.StatusOK, rec.Code)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code, "metrics are never on the webhook's mux")
}
