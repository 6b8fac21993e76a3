// Package pcwebhookotel adds OpenTelemetry traces and metrics to a pcwebhook.Handler.
//
// Wrap the Handler in otelhttp.NewHandler for the server span of each request, and give the
// Handler the two hooks of a Telemetry:
//
//	tel, err := pcwebhookotel.New() // the global TracerProvider and MeterProvider
//	if err != nil { ... }
//	h := pcwebhook.NewHandler(
//		pcwebhook.WithObserver(tel.Observe),
//		pcwebhook.WithCallbackMiddleware(tel.CallbackMiddleware),
//	)
//	mux.Handle("POST /webhooks/partner-center", otelhttp.NewHandler(h, "partner-center-webhook"))
//
// Observe puts on the request's span (otelhttp's server span) what the Handler did: the event
// name, the outcome, the delivery key and the IDs the event's ResourceUri carries
// (pcwebhook.customer_id, pcwebhook.subscription_id, ...), and marks the span as an error when
// the answer is 5xx (Partner Center retries). CallbackMiddleware starts a child span around each
// callback run, "pcwebhook callback <kind>", which the callback's own spans nest under.
//
// The pcwebhook.deliveries counter counts answered requests by event name, outcome and status,
// and pcwebhook.delivery.duration times them. Metric attributes are bounded: the event name is a
// documented name, "unknown" for a name this version does not know, or "" before decoding; IDs
// and delivery keys are on spans only, never on metrics.
package pcwebhookotel

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/partnercenter-go/pcwebhook"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/partnercenter-go/pcwebhook/pcwebhookotel"

// Attribute keys set on spans (all of them) and on metrics (event name, outcome, status code).
const (
	// AttrEventName is the event's name. On spans it is the name received; on metrics it is
	// bounded (see the package documentation).
	AttrEventName = attribute.Key("pcwebhook.event.name")
	// AttrOutcome is the pcwebhook.Outcome of the request.
	AttrOutcome = attribute.Key("pcwebhook.outcome")
	// AttrDeliveryKey is the delivery's key in the DedupeStore (the hex SHA-256 of the body);
	// only verified requests have one. Spans only.
	AttrDeliveryKey = attribute.Key("pcwebhook.delivery.key")
	// AttrCallbackKind is the pcwebhook.CallbackKind of a callback span.
	AttrCallbackKind = attribute.Key("pcwebhook.callback.kind")
	// AttrStatusCode is the HTTP status answered, with OpenTelemetry's semantic-convention key.
	AttrStatusCode = attribute.Key("http.response.status_code")
	// AttrIDPrefix is put before the key of each ID of the event (pcwebhook.ResourceID.Key):
	// "pcwebhook.customer_id", "pcwebhook.subscription_id"... Spans only.
	AttrIDPrefix = "pcwebhook."
)

// Metric names.
const (
	// MetricDeliveries counts the requests the Handler answered.
	MetricDeliveries = "pcwebhook.deliveries"
	// MetricDeliveryDuration is the time from the start of the Handler's ServeHTTP to its answer,
	// in seconds.
	MetricDeliveryDuration = "pcwebhook.delivery.duration"
)

// Values of the event name attribute on metrics that are not event names.
const (
	// EventUnknown is the metric's event name of an event whose name this version of pcwebhook
	// does not know.
	EventUnknown = pcwebhook.EventLabelUnknown
	// EventNone is the metric's event name of a request refused before its event was decoded.
	EventNone = ""
)

// durationBoundaries are the explicit bucket boundaries (seconds) advised for the duration
// histogram: 50 µs to 10 s, as pcwebhookprom's.
var durationBoundaries = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Option configures a Telemetry.
type Option func(*config)

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider sets where spans go (default: the global TracerProvider, otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets where metrics go (default: the global MeterProvider, otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// Telemetry traces and measures the deliveries of one or more Handlers. Create it with New. A
// nil Telemetry does nothing: Observe returns, CallbackMiddleware runs the callback.
type Telemetry struct {
	tracer     trace.Tracer
	deliveries metric.Int64Counter
	duration   metric.Float64Histogram
	// attrs caches the metric attribute set of each (event, outcome, status) seen: a setKey to
	// a metric.MeasurementOption. It is bounded as the attributes are.
	attrs sync.Map
}

// setKey is one set of metric attributes.
type setKey struct {
	event   string
	outcome pcwebhook.Outcome
	status  int
}

// New returns a Telemetry on the given providers (the global ones by default). It fails when
// the meter cannot create the instruments.
func New(opts ...Option) (*Telemetry, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	t := &Telemetry{tracer: c.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(pcwebhook.Version))}
	meter := c.mp.Meter(ScopeName, metric.WithInstrumentationVersion(pcwebhook.Version))
	var errCounter, errHistogram error
	t.deliveries, errCounter = meter.Int64Counter(MetricDeliveries,
		metric.WithDescription("Partner Center webhook requests answered by the pcwebhook Handler."),
		metric.WithUnit("{delivery}"))
	t.duration, errHistogram = meter.Float64Histogram(MetricDeliveryDuration,
		metric.WithDescription("Time from the start of the pcwebhook Handler's ServeHTTP to its answer, callbacks included."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBoundaries...))
	if err := errors.Join(errCounter, errHistogram); err != nil {
		return nil, err
	}
	return t, nil
}

// Observe records one answered request on the request's span and in the metrics. Give it to
// pcwebhook.WithObserver.
func (t *Telemetry) Observe(r *http.Request, res pcwebhook.Result) {
	if t == nil {
		return
	}
	if r != nil {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			annotate(span, res)
		}
	}
	if t.deliveries == nil || t.duration == nil {
		return
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	attrs := t.metricAttrs(setKey{event: res.EventLabel(), outcome: res.Outcome, status: res.Status})
	t.deliveries.Add(ctx, 1, attrs)
	t.duration.Record(ctx, res.Duration.Seconds(), attrs)
}

// annotate sets what the Handler did on the request's span.
func annotate(span trace.Span, res pcwebhook.Result) {
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, AttrOutcome.String(string(res.Outcome)))
	if res.Event != nil {
		attrs = append(attrs, AttrEventName.String(string(res.Event.Name)))
		attrs = appendIDs(attrs, res.Event)
	}
	if res.DeliveryKey != "" {
		attrs = append(attrs, AttrDeliveryKey.String(res.DeliveryKey))
	}
	span.SetAttributes(attrs...)
	if res.Status >= http.StatusInternalServerError {
		desc := string(res.Outcome)
		if res.Err != nil {
			span.RecordError(res.Err)
			desc = res.Err.Error()
		}
		span.SetStatus(codes.Error, desc)
	}
}

// appendIDs appends the IDs e's ResourceUri carries, as pcwebhook.<key> attributes.
func appendIDs(attrs []attribute.KeyValue, e *pcwebhook.Event) []attribute.KeyValue {
	for _, id := range e.IDs() {
		if id.Value != "" {
			attrs = append(attrs, attribute.String(AttrIDPrefix+id.Key(), id.Value))
		}
	}
	return attrs
}

// metricAttrs returns the attribute option of k, made once.
func (t *Telemetry) metricAttrs(k setKey) metric.MeasurementOption {
	if o, ok := t.attrs.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	o := metric.WithAttributeSet(attribute.NewSet(
		AttrEventName.String(k.event), AttrOutcome.String(string(k.outcome)), AttrStatusCode.Int(k.status)))
	actual, _ := t.attrs.LoadOrStore(k, o)
	return actual.(metric.MeasurementOption)
}

// CallbackMiddleware runs one callback inside a span, "pcwebhook callback <kind>", a child of the
// request's span, with the event's name, the callback kind, the delivery key and the event's IDs;
// the callback gets the span's context, so its own spans nest under it. The callback's error (or
// panic) is recorded on the span, which is then marked as an error. Give it to
// pcwebhook.WithCallbackMiddleware.
func (t *Telemetry) CallbackMiddleware(ctx context.Context, run pcwebhook.CallbackRun, next func(context.Context) error) error {
	if t == nil || t.tracer == nil {
		return next(ctx)
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, AttrCallbackKind.String(string(run.Kind)))
	if run.DeliveryKey != "" {
		attrs = append(attrs, AttrDeliveryKey.String(run.DeliveryKey))
	}
	if run.Event != nil {
		attrs = append(attrs, AttrEventName.String(string(run.Event.Name)))
		attrs = appendIDs(attrs, run.Event)
	}
	ctx, span := t.tracer.Start(ctx, "pcwebhook callback "+string(run.Kind),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	defer span.End()
	err := next(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
