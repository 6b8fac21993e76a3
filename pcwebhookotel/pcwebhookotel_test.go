package pcwebhookotel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookotel"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// sharedSender is the tests' Partner Center: creating one generates three RSA keys.
var sharedSender = sync.OnceValues(func() (*pcwebhooktest.Sender, error) { return pcwebhooktest.NewSender() })

// receiver is a Handler with a Telemetry on the SDK's in-memory span recorder and manual metric
// reader, wrapped in otelhttp and served over loopback HTTP, as an application serves it.
type receiver struct {
	sender  *pcwebhooktest.Sender
	spans   *tracetest.SpanRecorder
	reader  *sdkmetric.ManualReader
	tp      *sdktrace.TracerProvider
	handler *pcwebhook.Handler
	url     string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	sender, err := sharedSender()
	require.NoError(t, err)
	r := &receiver{sender: sender, spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() {
		_ = r.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	tel, err := pcwebhookotel.New(pcwebhookotel.WithTracerProvider(r.tp), pcwebhookotel.WithMeterProvider(mp))
	require.NoError(t, err)
	r.handler = pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()),
		pcwebhook.WithObserver(tel.Observe), pcwebhook.WithCallbackMiddleware(tel.CallbackMiddleware),
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	srv := httptest.NewServer(otelhttp.NewHandler(r.handler, "partner-center-webhook",
		otelhttp.WithTracerProvider(r.tp), otelhttp.WithMeterProvider(mp)))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// deliver sends body signed by s (the receiver's own sender when nil) and returns the status.
func (r *receiver) deliver(t *testing.T, s *pcwebhooktest.Sender, body []byte) int {
	t.Helper()
	if s == nil {
		s = r.sender
	}
	resp, err := s.Send(context.Background(), r.url, body)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// serverSpans returns the ended server spans, in the order the requests ended.
func (r *receiver) serverSpans() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			out = append(out, s)
		}
	}
	return out
}

// childrenOf returns the ended spans whose parent is span.
func (r *receiver) childrenOf(span sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Parent().SpanID() == span.SpanContext().SpanID() && s.Parent().TraceID() == span.SpanContext().TraceID() {
			out = append(out, s)
		}
	}
	return out
}

// deliveries returns the data points of the pcwebhook.deliveries counter.
func (r *receiver) deliveries(t *testing.T) []metricdata.DataPoint[int64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != pcwebhookotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == pcwebhookotel.MetricDeliveries {
				sum, ok := m.Data.(metricdata.Sum[int64])
				require.True(t, ok, "%T", m.Data)
				assert.True(t, sum.IsMonotonic)
				return sum.DataPoints
			}
		}
	}
	t.Fatalf("no %s metric", pcwebhookotel.MetricDeliveries)
	return nil
}

// attrs returns a span's or a data point's attributes as a map.
func attrs(kvs []attribute.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// count returns the value of the data point with exactly these attributes, -1 when none has them.
func count(points []metricdata.DataPoint[int64], event, outcome string, status int) int64 {
	want := attrs([]attribute.KeyValue{pcwebhookotel.AttrEventName.String(event), pcwebhookotel.AttrOutcome.String(outcome),
		pcwebhookotel.AttrStatusCode.Int(status)})
	for _, p := range points {
		if fmt.Sprint(attrs(p.Attributes.ToSlice())) == fmt.Sprint(want) {
			return p.Value
		}
	}
	return -1
}

// TestSpansOfDeliveries: real signed deliveries through otelhttp and a real Handler. The server
// span of each carries what the Handler did; each callback run is a child span of it, and the
// callback's own spans nest under that; a failed callback is recorded on its span, and the 500
// marks the server span as an error. IDs are on spans.
func TestSpansOfDeliveries(t *testing.T) {
	r := newReceiver(t)
	appTracer := r.tp.Tracer("app")
	r.handler.OnAny(func(context.Context, *pcwebhook.Event) error { return nil })
	r.handler.OnSubscriptionUpdated(func(ctx context.Context, _ *pcwebhook.SubscriptionEvent) error {
		_, span := appTracer.Start(ctx, "update subscription")
		span.End()
		return nil
	})
	r.handler.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { return errors.New("ledger down") })

	const customer, subscription = "4f0f1f36-25a8-4b3c-9a5b-34a1e4fd3a01", "9b3d5e2a-1c4f-4a6b-8d7e-0f1a2b3c4d5e"
	handled := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated, IDs: []string{customer, subscription}}.Body()
	require.Equal(t, http.StatusOK, r.deliver(t, nil, handled))
	require.Equal(t, http.StatusOK, r.deliver(t, nil, handled), "the retry is a duplicate")
	intruder := pcwebhooktest.New(t)
	require.Equal(t, http.StatusUnauthorized, r.deliver(t, intruder, pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()))
	require.Equal(t, http.StatusInternalServerError, r.deliver(t, nil, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady, IDs: []string{"G000123456"}}.Body()))

	servers := r.serverSpans()
	require.Len(t, servers, 4)

	// Handled: the server span carries the event, its IDs and the key; two callback spans.
	a := attrs(servers[0].Attributes())
	assert.Equal(t, "subscription-updated", a["pcwebhook.event.name"])
	assert.Equal(t, "handled", a["pcwebhook.outcome"])
	assert.Equal(t, customer, a["pcwebhook.customer_id"])
	assert.Equal(t, subscription, a["pcwebhook.subscription_id"])
	assert.Len(t, a["pcwebhook.delivery.key"], 64)
	assert.Equal(t, codes.Unset, servers[0].Status().Code)
	callbacks := r.childrenOf(servers[0])
	require.Len(t, callbacks, 2, "OnAny and the typed callback")
	assert.Equal(t, "pcwebhook callback any", callbacks[0].Name())
	assert.Equal(t, "pcwebhook callback typed", callbacks[1].Name())
	for _, cb := range callbacks {
		ca := attrs(cb.Attributes())
		assert.Equal(t, trace.SpanKindInternal, cb.SpanKind())
		assert.Equal(t, "subscription-updated", ca["pcwebhook.event.name"])
		assert.Equal(t, customer, ca["pcwebhook.customer_id"])
		assert.Equal(t, a["pcwebhook.delivery.key"], ca["pcwebhook.delivery.key"])
		assert.Equal(t, codes.Unset, cb.Status().Code)
	}
	assert.Equal(t, "typed", attrs(callbacks[1].Attributes())["pcwebhook.callback.kind"])
	app := r.childrenOf(callbacks[1])
	require.Len(t, app, 1, "the callback's own span nests under the callback span")
	assert.Equal(t, "update subscription", app[0].Name())

	// Duplicate: the same key, no callback ran.
	b := attrs(servers[1].Attributes())
	assert.Equal(t, "duplicate-acknowledged", b["pcwebhook.outcome"])
	assert.Equal(t, a["pcwebhook.delivery.key"], b["pcwebhook.delivery.key"])
	assert.Empty(t, r.childrenOf(servers[1]))

	// Forged: nothing of the request's claims is on the span; 401 is the sender's fault, not an
	// error of this server.
	c := attrs(servers[2].Attributes())
	assert.Equal(t, "verification-failed", c["pcwebhook.outcome"])
	for _, k := range []string{"pcwebhook.event.name", "pcwebhook.delivery.key", "pcwebhook.customer_id"} {
		assert.NotContains(t, c, k)
	}
	assert.Equal(t, codes.Unset, servers[2].Status().Code)
	assert.Empty(t, r.childrenOf(servers[2]))

	// Callback failure: the callback span records the error; the server span is an error (500).
	d := attrs(servers[3].Attributes())
	assert.Equal(t, "callback-error", d["pcwebhook.outcome"])
	assert.Equal(t, "G000123456", d["pcwebhook.invoice_id"])
	assert.Equal(t, codes.Error, servers[3].Status().Code)
	require.Len(t, servers[3].Events(), 1, "the error is recorded on the server span")
	assert.Contains(t, attrs(servers[3].Events()[0].Attributes)["exception.message"], "ledger down")
	failed := r.childrenOf(servers[3])
	require.Len(t, failed, 2)
	assert.Equal(t, codes.Unset, failed[0].Status().Code, "OnAny succeeded")
	assert.Equal(t, codes.Error, failed[1].Status().Code)
	assert.Contains(t, failed[1].Status().Description, "ledger down")
	require.Len(t, failed[1].Events(), 1)
	assert.Equal(t, "exception", failed[1].Events()[0].Name)

	// The metric: one point per (event, outcome, status), and never an ID or a key.
	points := r.deliveries(t)
	assert.Equal(t, int64(1), count(points, "subscription-updated", "handled", 200))
	assert.Equal(t, int64(1), count(points, "subscription-updated", "duplicate-acknowledged", 200))
	assert.Equal(t, int64(1), count(points, "", "verification-failed", 401))
	assert.Equal(t, int64(1), count(points, "invoice-ready", "callback-error", 500))
	assert.Len(t, points, 4)
	for _, p := range points {
		assert.Equal(t, 3, p.Attributes.Len(), "event name, outcome and status only: %v", p.Attributes.ToSlice())
	}
}

// TestUnknownEventNamesShareOneMetricPoint: made-up names are one "unknown" point of the metric,
// while each span carries the name received.
func TestUnknownEventNamesShareOneMetricPoint(t *testing.T) {
	r := newReceiver(t)
	for i := 0; i < 20; i++ {
		name := pcwebhook.EventName(fmt.Sprintf("made-up-event-%d", i))
		require.Equal(t, http.StatusOK, r.deliver(t, nil, pcwebhooktest.EventSpec{Name: name}.Body()))
	}
	points := r.deliveries(t)
	require.Len(t, points, 1)
	assert.Equal(t, int64(20), count(points, "unknown", "acknowledged-no-callback", 200))
	servers := r.serverSpans()
	require.Len(t, servers, 20)
	assert.Equal(t, "made-up-event-7", attrs(servers[7].Attributes())["pcwebhook.event.name"])
}

// TestCallbackPanicRecorded: a panicking callback ends its span with the panic recorded as an
// error; the Handler still answers 500.
func TestCallbackPanicRecorded(t *testing.T) {
	r := newReceiver(t)
	r.handler.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { panic("boom") })
	require.Equal(t, http.StatusInternalServerError, r.deliver(t, nil, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()))
	servers := r.serverSpans()
	require.Len(t, servers, 1)
	assert.Equal(t, "callback-panic", attrs(servers[0].Attributes())["pcwebhook.outcome"])
	cbs := r.childrenOf(servers[0])
	require.Len(t, cbs, 1)
	assert.Equal(t, codes.Error, cbs[0].Status().Code)
	assert.Contains(t, cbs[0].Status().Description, "boom")
}

// TestNilTelemetry: a nil Telemetry observes nothing and still runs the callback.
func TestNilTelemetry(t *testing.T) {
	var tel *pcwebhookotel.Telemetry
	tel.Observe(httptest.NewRequest(http.MethodPost, "/", nil), pcwebhook.Result{Status: http.StatusOK})
	ran := false
	err := tel.CallbackMiddleware(context.Background(), pcwebhook.CallbackRun{Kind: pcwebhook.CallbackTyped}, func(context.Context) error {
		ran = true
		return nil
	})
	require.NoError(t, err)
	assert.True(t, ran)
}

// TestDefaultsAreTheGlobalProviders: New without options works on the global providers (no-op
// until the application sets them).
func TestDefaultsAreTheGlobalProviders(t *testing.T) {
	tel, err := pcwebhookotel.New()
	require.NoError(t, err)
	tel.Observe(httptest.NewRequest(http.MethodPost, "/", nil), pcwebhook.Result{Status: http.StatusOK, Outcome: pcwebhook.OutcomeHandled})
}
