// Package pcwebhookprom exports Prometheus metrics of a pcwebhook.Handler and a
// pcwebhook.Verifier.
//
// Every delivery the Handler answers is counted and timed, by event name, outcome and status:
//
//	reg := prometheus.NewRegistry()
//	m, err := pcwebhookprom.New(reg)
//	if err != nil { ... }
//	verifier, err := pcwebhook.NewVerifier()
//	if err != nil { ... }
//	reg.MustRegister(pcwebhookprom.NewVerifierCollector(verifier))
//	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(verifier), pcwebhook.WithObserver(m.Observe))
//
// The metrics:
//
//	pcwebhook_deliveries_total{event,outcome,code}          counter
//	pcwebhook_delivery_duration_seconds{event,outcome}      histogram
//	pcwebhook_verifier_*                                    the Verifier's counters (NewVerifierCollector)
//
// Cardinality is bounded: event is a documented pcwebhook.EventName, "unknown" for a name this
// version does not know (whatever the sender wrote), and "" for a request refused before its
// event was decoded (a forged or garbled request, a wrong method); outcome is a pcwebhook.Outcome
// and code an HTTP status the Handler answers. No ID, delivery key or URL is ever a label.
package pcwebhookprom

import (
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnercenter-go/pcwebhook"
)

// Metric names, for dashboards, alerts and tests.
const (
	// DeliveriesTotal counts the requests the Handler answered, by event, outcome and code.
	DeliveriesTotal = "pcwebhook_deliveries_total"
	// DeliveryDurationSeconds is the time from the start of the Handler's ServeHTTP to its
	// answer, by event and outcome.
	DeliveryDurationSeconds = "pcwebhook_delivery_duration_seconds"
)

// Label values of the event label that are not event names.
const (
	// EventUnknown is the event label of an event whose name this version of pcwebhook does not
	// know (pcwebhook.EventName.Known is false). Partner Center adds names over time; a handler
	// sees them with pcwebhook.Handler.OnUnknown.
	EventUnknown = pcwebhook.EventLabelUnknown
	// EventNone is the event label of a request refused before its event was decoded.
	EventNone = ""
)

// DurationBuckets are the upper bounds, in seconds, of the delivery duration histogram: from
// 50 µs (a duplicate answered from memory) to 10 s (a callback near a typical timeout).
var DurationBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Metrics counts and times the deliveries of one or more Handlers. Create it with New and give
// its Observe method to pcwebhook.WithObserver. A nil or zero Metrics observes nothing.
type Metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	// series caches the children of each label set seen (a seriesKey to a *series), so that
	// Observe neither hashes nor validates label values after the first delivery of a kind. It
	// holds no more entries than the vectors hold series.
	series sync.Map
}

// seriesKey is one label set of the delivery metrics.
type seriesKey struct {
	event   string
	outcome pcwebhook.Outcome
	code    int
}

// series is the counter and the histogram of one label set.
type series struct {
	deliveries prometheus.Counter
	duration   prometheus.Observer
}

// New returns Metrics registered with reg (prometheus.DefaultRegisterer when reg is nil). When
// reg already holds pcwebhook's delivery metrics (a second New on the same registry, for a second
// Handler), the new Metrics shares them. It fails when reg holds other metrics of the same names.
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: DeliveriesTotal,
		Help: "Partner Center webhook requests answered by the pcwebhook Handler, by event name, outcome and HTTP status code.",
	}, []string{"event", "outcome", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    DeliveryDurationSeconds,
		Help:    "Time from the start of the pcwebhook Handler's ServeHTTP to its answer, callbacks included, by event name and outcome.",
		Buckets: DurationBuckets,
	}, []string{"event", "outcome"})
	var err error
	if deliveries, err = register(reg, deliveries); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	return &Metrics{deliveries: deliveries, duration: duration}, nil
}

// register registers c with reg, or returns the collector of the same description that reg
// already holds.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// Observe counts and times one answered request. Give it to pcwebhook.WithObserver:
//
//	pcwebhook.NewHandler(pcwebhook.WithObserver(m.Observe))
func (m *Metrics) Observe(_ *http.Request, res pcwebhook.Result) {
	if m == nil || m.deliveries == nil || m.duration == nil {
		return
	}
	k := seriesKey{event: res.EventLabel(), outcome: res.Outcome, code: res.Status}
	s, ok := m.series.Load(k)
	if !ok {
		s, _ = m.series.LoadOrStore(k, &series{
			deliveries: m.deliveries.WithLabelValues(k.event, string(k.outcome), strconv.Itoa(k.code)),
			duration:   m.duration.WithLabelValues(k.event, string(k.outcome)),
		})
	}
	ss := s.(*series)
	ss.deliveries.Inc()
	ss.duration.Observe(res.Duration.Seconds())
}
