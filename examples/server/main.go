// Command server is a production-shaped receiver: it mounts the pcwebhook Handler on an existing
// http.ServeMux at POST /webhooks/partner-center, beside the application's other routes, on an
// http.Server with timeouts, and shuts down gracefully on SIGINT or SIGTERM so that deliveries in
// flight finish (an interrupted delivery is answered with an error, and Partner Center retries).
//
//	go run ./examples/server -addr :8080
//
// Register https://<your host>/webhooks/partner-center with Partner Center (see
// examples/register). TLS is usually terminated by the load balancer in front of it.
//
// In local development, -dev-ca DIR also accepts what the pcwebhook command-line tool sends
// ("pcwebhook trigger", "pcwebhook resend", "pcwebhook listen --dev --forward"), signed by its
// development CA in DIR (the tool prints it). The flag is off unless given, and the binary links
// no test code for it (package pcwebhookdev).
//
// examples/observability is this receiver with Prometheus metrics (/metrics on a port of its
// own) and OpenTelemetry traces (OTLP): a module of its own, so that the exporters' dependencies
// stay out of pcwebhook's go.mod. docs/observability.md explains the metrics, the spans, the
// Grafana dashboard and the alerts.
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

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookdev"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	maxAge := flag.Duration("max-event-age", 0, "reject events whose date is further than this from now (0: off; keep it well above 48h)")
	devCA := flag.String("dev-ca", "", "local development only: also trust the pcwebhook CLI's development CA in this `directory`")
	flag.Parse()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	verifier, err := newVerifier(*devCA, logger)
	if err != nil {
		logger.Error("no verifier: not started", "error", err)
		os.Exit(1)
	}
	if err := run(*addr, *maxAge, verifier, logger); err != nil {
		logger.Error("server stopped", "error", err)
		os.Exit(1)
	}
}

// newVerifier returns the production verifier, or with devCA (local development only) one that
// also trusts the pcwebhook command-line tool's development CA in that directory.
func newVerifier(devCA string, logger *slog.Logger) (*pcwebhook.Verifier, error) {
	if devCA == "" {
		// The production policy: Partner Center's certificate host only, chain to the system
		// roots, O=Microsoft Corporation, rsa-sha256 over the raw body. NewVerifier fails here, at
		// start-up, when this system has no CA certificates (a slim image): install
		// ca-certificates, pass WithRootCAs, or blank-import golang.org/x/crypto/x509roots/fallback.
		return pcwebhook.NewVerifier()
	}
	logger.Warn("local development: also trusting the pcwebhook development CA; never use -dev-ca in production", "dir", devCA)
	return pcwebhookdev.NewVerifier(devCA)
}

func run(addr string, maxAge time.Duration, verifier *pcwebhook.Verifier, logger *slog.Logger) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           newMux(verifier, maxAge, logger),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second, // callbacks run inside the request
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String(), "webhook", "POST /webhooks/partner-center")
	// Check the certificate now, in the background: the server serves meanwhile, and whatever
	// fails is logged with its fix (deliveries are answered 503 until then: Partner Center retries).
	go startupCheck(ctx, verifier, logger)
	return serve(ctx, srv, ln, logger)
}

// startupCheck downloads and checks Partner Center's signing certificate (by default
// pcwebhook.DefaultCertificateURL) so that missing trust roots, a blocked network or a wrong clock
// show in the log at start-up rather than at the first delivery. It reports whether it passed.
func startupCheck(ctx context.Context, verifier *pcwebhook.Verifier, logger *slog.Logger, certificateURLs ...string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := verifier.Prefetch(ctx, certificateURLs...)
	if err == nil {
		logger.Info("start-up check passed: Partner Center's signing certificate is reachable and trusted")
		return true
	}
	attrs := []any{"error", err}
	var ve *pcwebhook.VerificationError
	if errors.As(err, &ve) && ve.Fix() != "" {
		attrs = append(attrs, "fix", ve.Fix())
	}
	logger.Error("start-up check failed: deliveries will be answered 503 (Partner Center retries) until this is fixed", attrs...)
	return false
}

// newMux is the application's mux with the Partner Center webhook mounted beside its routes.
func newMux(verifier *pcwebhook.Verifier, maxAge time.Duration, logger *slog.Logger) *http.ServeMux {
	hooks := pcwebhook.NewHandler(
		pcwebhook.WithVerifier(verifier),
		pcwebhook.WithLogger(logger),
		pcwebhook.WithMaxEventAge(maxAge),
	)
	hooks.OnSubscriptionUpdated(func(ctx context.Context, e *pcwebhook.SubscriptionEvent) error {
		// Fetch e.ResourceURI with your Partner Center token and update your records. Return an
		// error when that fails: the Handler answers 500 and Partner Center retries.
		logger.InfoContext(ctx, "subscription changed", "customer", e.CustomerID, "subscription", e.SubscriptionID)
		return nil
	})
	hooks.OnGranularAdminRelationshipTerminated(func(ctx context.Context, e *pcwebhook.GranularAdminRelationshipEvent) error {
		logger.InfoContext(ctx, "GDAP relationship terminated", "relationship", e.RelationshipID)
		return nil
	})
	hooks.OnAzureFraudEventDetected(func(ctx context.Context, e *pcwebhook.FraudEvent) error {
		logger.WarnContext(ctx, "Azure fraud alert", "customer", e.CustomerID, "subscription", e.SubscriptionID)
		return nil
	})

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", hooks)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "your application") })
	return mux
}

// serve runs srv on ln until ctx ends, then shuts down gracefully: deliveries in flight finish.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing deliveries in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
