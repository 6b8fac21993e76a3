// Command observability is a receiver with Prometheus metrics and OpenTelemetry traces: the
// pcwebhook Handler with pcwebhookprom's Observe and pcwebhookotel's Observe and
// CallbackMiddleware, wrapped in otelhttp for the server span of each delivery. It is its own
// module (examples/observability/go.mod) so that the exporters' dependencies stay out of
// pcwebhook's; examples/server is the same receiver without them.
//
//	go run . -addr :8080 -metrics-addr 127.0.0.1:9090
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=webhooks go run .
//
// Metrics are served at http://<metrics-addr>/metrics when -metrics-addr (or METRICS_ADDR) is
// set, on a listener of their own so that the webhook's public port does not expose them; the
// dashboard and alerts in docs/ read them. Traces are exported over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (with the other
// OTEL_EXPORTER_OTLP_* variables, as the OpenTelemetry SDKs read them).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookotel"
	"github.com/partnercenter-go/pcwebhook/pcwebhookprom"
)

func main() {
	addr := flag.String("addr", ":8080", "address of the webhook")
	metricsAddr := flag.String("metrics-addr", os.Getenv("METRICS_ADDR"), "address to serve Prometheus metrics at /metrics (empty: no metrics; default $METRICS_ADDR)")
	flag.Parse()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := start(ctx, *addr, *metricsAddr, logger); err != nil {
		logger.Error("server stopped", "error", err)
		os.Exit(1)
	}
}

// start makes the production Verifier, the tracer provider and the listeners, checks the
// certificate in the background, and serves until ctx ends.
func start(ctx context.Context, addr, metricsAddr string, logger *slog.Logger) error {
	verifier, err := pcwebhook.NewVerifier()
	if err != nil {
		return err
	}
	tp, err := newTracerProvider(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// Flush the spans still buffered.
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(shutdownCtx); err != nil {
			logger.Warn("flushing traces failed", "error", err)
		}
	}()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", metricsAddr); err != nil {
			_ = ln.Close()
			return err
		}
	}
	go func() {
		if err := verifier.Prefetch(ctx); err != nil {
			logger.Error("start-up check failed: deliveries will be answered 503 until this is fixed", "error", err)
		}
	}()
	return run(ctx, verifier, tp, ln, metricsLn, logger)
}

// run serves the webhook on ln and, when metricsLn is not nil, the metrics on metricsLn, until
// ctx ends; then it shuts both down gracefully (deliveries in flight finish).
func run(ctx context.Context, verifier *pcwebhook.Verifier, tp trace.TracerProvider, ln, metricsLn net.Listener, logger *slog.Logger) error {
	var reg *prometheus.Registry
	if metricsLn != nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	webhooks, err := newMux(verifier, reg, tp, logger)
	if err != nil {
		return err
	}
	servers := map[net.Listener]*http.Server{ln: newServer(webhooks, logger)}
	if metricsLn != nil {
		metrics := http.NewServeMux()
		metrics.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
		servers[metricsLn] = newServer(metrics, logger)
	}
	errc := make(chan error, len(servers))
	for l, srv := range servers {
		logger.Info("listening", "addr", l.Addr().String())
		go func() { errc <- srv.Serve(l) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing deliveries in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(shutdownCtx))
	}
	return errors.Join(errs...)
}

// newServer is an http.Server with the timeouts of examples/server.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second, // callbacks run inside the request
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// tracesConfigured reports whether the environment names an OTLP endpoint for traces.
func tracesConfigured() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// tracerProvider is what run needs of a TracerProvider: the SDK's, or a no-op one.
type tracerProvider interface {
	trace.TracerProvider
	Shutdown(context.Context) error
}

// noopProvider is the TracerProvider when no endpoint is configured.
type noopProvider struct{ noop.TracerProvider }

func (noopProvider) Shutdown(context.Context) error { return nil }

// newTracerProvider returns an SDK TracerProvider exporting over OTLP/HTTP in batches when an
// endpoint is configured (the OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME variables), a no-op one
// otherwise. It becomes the global provider, with the W3C trace-context propagator, so that a
// traceparent header sent by a proxy in front of the receiver joins its trace.
func newTracerProvider(ctx context.Context) (tracerProvider, error) {
	if !tracesConfigured() {
		return noopProvider{}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp, nil
}

// newMux is the application's mux with the webhook mounted, observed by the metrics (when reg
// is not nil) and by the traces of tp.
func newMux(verifier *pcwebhook.Verifier, reg *prometheus.Registry, tp trace.TracerProvider, logger *slog.Logger) (*http.ServeMux, error) {
	opts := []pcwebhook.HandlerOption{pcwebhook.WithVerifier(verifier), pcwebhook.WithLogger(logger)}
	if reg != nil {
		m, err := pcwebhookprom.New(reg)
		if err != nil {
			return nil, err
		}
		if err := reg.Register(pcwebhookprom.NewVerifierCollector(verifier)); err != nil {
			return nil, err
		}
		opts = append(opts, pcwebhook.WithObserver(m.Observe))
	}
	tel, err := pcwebhookotel.New(pcwebhookotel.WithTracerProvider(tp))
	if err != nil {
		return nil, err
	}
	opts = append(opts, pcwebhook.WithObserver(tel.Observe), pcwebhook.WithCallbackMiddleware(tel.CallbackMiddleware))
	hooks := pcwebhook.NewHandler(opts...)
	hooks.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		// Spans started from ctx are children of the callback's span; log lines with ctx can
		// carry its trace ID (with a slog handler that reads it).
		logger.InfoContext(ctx, "subscription changed", "customer", e.CustomerID, "subscription", e.SubscriptionID)
		return nil
	})

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", otelhttp.NewHandler(hooks, "POST /webhooks/partner-center",
		otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(otel.GetMeterProvider())))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux, nil
}
