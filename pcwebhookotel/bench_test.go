package pcwebhookotel_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookotel"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// The benchmarks measure, on the SDK, a recording server span started and ended per delivery
// (what otelhttp adds), without and with Observe: the difference is Observe's cost (the span's
// attributes: event, outcome, key, two IDs; and the two instruments). Compare it with the root
// module's BenchmarkRSAFloor, the signature check every delivery pays:
//
//	go test -run '^$' -bench . -benchmem

// BenchmarkServerSpan is the server span alone.
func BenchmarkServerSpan(b *testing.B) { benchObserve(b, false) }

// BenchmarkObserve is the server span with Observe.
func BenchmarkObserve(b *testing.B) { benchObserve(b, true) }

func benchObserve(b *testing.B, observe bool) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	tel, err := pcwebhookotel.New(pcwebhookotel.WithTracerProvider(tp), pcwebhookotel.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	ev, err := pcwebhook.ParseEvent(pcwebhooktest.SampleEvent(pcwebhook.EventSubscriptionUpdated))
	if err != nil {
		b.Fatal(err)
	}
	res := pcwebhook.Result{Event: ev, Status: http.StatusOK, Outcome: pcwebhook.OutcomeHandled,
		Duration: 120 * time.Microsecond, DeliveryKey: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	req, err := http.NewRequest(http.MethodPost, "/webhooks", nil)
	if err != nil {
		b.Fatal(err)
	}
	tracer := tp.Tracer("bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, span := tracer.Start(req.Context(), "server", trace.WithSpanKind(trace.SpanKindServer))
		r := req.WithContext(ctx) // as otelhttp passes the span on
		if observe {
			tel.Observe(r, res)
		}
		span.End()
	}
}
