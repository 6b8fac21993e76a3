package pcwebhookprom_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookprom"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// receiver is a Handler with Metrics and the verifier's collector on a fresh registry, served
// over loopback HTTP beside promhttp's /metrics, as an application serves them.
type receiver struct {
	sender   *pcwebhooktest.Sender
	reg      *prometheus.Registry
	handler  *pcwebhook.Handler
	verifier *pcwebhook.Verifier
	srv      *httptest.Server
}

// sharedSender is the tests' Partner Center: creating one generates three RSA keys.
var sharedSender = sync.OnceValues(func() (*pcwebhooktest.Sender, error) { return pcwebhooktest.NewSender() })

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	sender, err := sharedSender()
	require.NoError(t, err)
	r := &receiver{sender: sender, reg: prometheus.NewRegistry()}
	m, err := pcwebhookprom.New(r.reg)
	require.NoError(t, err)
	r.verifier = r.sender.Verifier()
	r.reg.MustRegister(pcwebhookprom.NewVerifierCollector(r.verifier))
	r.handler = pcwebhook.NewHandler(pcwebhook.WithVerifier(r.verifier), pcwebhook.WithObserver(m.Observe),
		pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks", r.handler)
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

// deliver sends body signed by s (the receiver's own sender when nil) and returns the status.
func (r *receiver) deliver(t *testing.T, s *pcwebhooktest.Sender, body []byte) int {
	t.Helper()
	if s == nil {
		s = r.sender
	}
	resp, err := s.Send(context.Background(), r.srv.URL+"/webhooks", body)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// scrape fetches /metrics over HTTP and parses the text format.
func (r *receiver) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(r.srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// series returns the metrics of family name whose labels are exactly labels.
func series(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no family %s", name)
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if fmt.Sprint(got) == fmt.Sprint(labels) {
			return m
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

// labelValues returns the values label takes in family name.
func labelValues(families map[string]*dto.MetricFamily, name, label string) map[string]bool {
	out := map[string]bool{}
	for _, m := range families[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				out[lp.GetValue()] = true
			}
		}
	}
	return out
}

// TestDeliveriesScraped: real signed deliveries through a real Handler show in a scrape of
// /metrics, one series per (event, outcome, code): handled, a duplicate, a forged request (no
// event), a callback failure; and the verifier's counters.
func TestDeliveriesScraped(t *testing.T) {
	r := newReceiver(t)
	r.handler.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
	r.handler.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { return errors.New("ledger down") })

	handled := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()
	require.Equal(t, http.StatusOK, r.deliver(t, nil, handled))
	require.Equal(t, http.StatusOK, r.deliver(t, nil, handled), "the retry is a duplicate")
	require.Equal(t, http.StatusOK, r.deliver(t, nil, pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()))
	intruder := pcwebhooktest.New(t)
	require.Equal(t, http.StatusUnauthorized, r.deliver(t, intruder, pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()))
	require.Equal(t, http.StatusInternalServerError, r.deliver(t, nil, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()))

	f := r.scrape(t)
	count := func(event, outcome, code string) float64 {
		return series(t, f, pcwebhookprom.DeliveriesTotal, map[string]string{"event": event, "outcome": outcome, "code": code}).GetCounter().GetValue()
	}
	assert.Equal(t, 2.0, count("subscription-updated", "handled", "200"))
	assert.Equal(t, 1.0, count("subscription-updated", "duplicate-acknowledged", "200"))
	assert.Equal(t, 1.0, count("", "verification-failed", "401"), "a forged request has no event")
	assert.Equal(t, 1.0, count("invoice-ready", "callback-error", "500"))
	assert.Len(t, f[pcwebhookprom.DeliveriesTotal].GetMetric(), 4, "one series per (event, outcome, code)")

	h := series(t, f, pcwebhookprom.DeliveryDurationSeconds, map[string]string{"event": "subscription-updated", "outcome": "handled"}).GetHistogram()
	assert.Equal(t, uint64(2), h.GetSampleCount())
	assert.Greater(t, h.GetSampleSum(), 0.0)
	assert.Len(t, h.GetBucket(), len(pcwebhookprom.DurationBuckets)+1, "and +Inf")
	assert.Len(t, f[pcwebhookprom.DeliveryDurationSeconds].GetMetric(), 4)

	verifications := func(result string) float64 {
		return series(t, f, pcwebhookprom.VerifierVerificationsTotal, map[string]string{"result": result}).GetCounter().GetValue()
	}
	assert.Equal(t, 4.0, verifications("verified"))
	assert.Equal(t, 1.0, verifications("rejected"))
	downloads := func(kind string) float64 {
		return series(t, f, pcwebhookprom.VerifierDownloadsTotal, map[string]string{"kind": kind}).GetCounter().GetValue()
	}
	assert.Equal(t, 1.0, downloads("certificate"), "downloaded once, then cached")
	assert.Equal(t, 1.0, downloads("issuer"), "the intermediate, from the leaf's AIA URL")
	assert.Equal(t, 3.0, series(t, f, pcwebhookprom.VerifierCacheHitsTotal, nil).GetCounter().GetValue())
	assert.Equal(t, 1.0, series(t, f, pcwebhookprom.VerifierMemoHitsTotal, nil).GetCounter().GetValue(), "the retry repeats a verified delivery")
	assert.Equal(t, 1.0, series(t, f, pcwebhookprom.VerifierCachedCertificates, nil).GetGauge().GetValue())
	assert.Positive(t, series(t, f, pcwebhookprom.VerifierDownloadedBytesTotal, nil).GetCounter().GetValue())
	for _, name := range []string{pcwebhookprom.VerifierDownloadFailuresTotal, pcwebhookprom.VerifierFailureCacheHitsTotal,
		pcwebhookprom.VerifierDownloadsQueueFullTotal, pcwebhookprom.VerifierRotationChecksTotal,
		pcwebhookprom.VerifierUnconfirmedSignaturesTotal, pcwebhookprom.VerifierPreviousKeyMatchesTotal} {
		assert.Equal(t, 0.0, series(t, f, name, nil).GetCounter().GetValue(), name)
	}
}

// TestUnknownEventNamesShareOneSeries: names this version does not know are one "unknown"
// series, however many the sender makes up: a sender cannot grow the series without bound.
func TestUnknownEventNamesShareOneSeries(t *testing.T) {
	r := newReceiver(t)
	for i := 0; i < 20; i++ {
		name := pcwebhook.EventName(fmt.Sprintf("made-up-event-%d", i))
		require.Equal(t, http.StatusOK, r.deliver(t, nil, pcwebhooktest.EventSpec{Name: name}.Body()))
	}
	f := r.scrape(t)
	assert.Equal(t, map[string]bool{"unknown": true}, labelValues(f, pcwebhookprom.DeliveriesTotal, "event"))
	assert.Len(t, f[pcwebhookprom.DeliveriesTotal].GetMetric(), 1)
	assert.Equal(t, 20.0, series(t, f, pcwebhookprom.DeliveriesTotal,
		map[string]string{"event": "unknown", "outcome": "acknowledged-no-callback", "code": "200"}).GetCounter().GetValue())
	assert.Len(t, f[pcwebhookprom.DeliveryDurationSeconds].GetMetric(), 1)
}

// TestRefusedBeforeDecoding: a request refused before its event was decoded (wrong method,
// garbled headers) has the empty event label and its own outcome and code.
func TestRefusedBeforeDecoding(t *testing.T) {
	r := newReceiver(t)
	resp, err := http.Get(r.srv.URL + "/webhooks")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "the mux refuses GET itself")

	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/webhooks", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	f := r.scrape(t)
	assert.Equal(t, 1.0, series(t, f, pcwebhookprom.DeliveriesTotal,
		map[string]string{"event": "", "outcome": "method-not-allowed", "code": "405"}).GetCounter().GetValue())
}

// TestNewOnTheSameRegistry: a second New on a registry (a second Handler) shares the metrics
// instead of failing; another collector of the same name makes New fail.
func TestNewOnTheSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := pcwebhookprom.New(reg)
	require.NoError(t, err)
	b, err := pcwebhookprom.New(reg)
	require.NoError(t, err)
	res := pcwebhook.Result{Status: http.StatusUnauthorized, Outcome: pcwebhook.OutcomeVerificationFailed}
	a.Observe(nil, res)
	b.Observe(nil, res)
	n, err := testutilCount(reg, pcwebhookprom.DeliveriesTotal)
	require.NoError(t, err)
	assert.Equal(t, 2.0, n)

	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: pcwebhookprom.DeliveriesTotal, Help: "something else"}))
	_, err = pcwebhookprom.New(other)
	assert.Error(t, err)
}

// testutilCount sums the counter values of family name in reg.
func testutilCount(reg prometheus.Gatherer, name string) (float64, error) {
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum, nil
}

// TestNilMetrics: a nil or zero Metrics observes nothing and does not panic, and the verifier
// collector of a nil Verifier reports zeros.
func TestNilMetrics(t *testing.T) {
	res := pcwebhook.Result{Status: http.StatusOK, Outcome: pcwebhook.OutcomeHandled}
	var m *pcwebhookprom.Metrics
	m.Observe(nil, res)
	(&pcwebhookprom.Metrics{}).Observe(nil, res)

	reg := prometheus.NewRegistry()
	reg.MustRegister(pcwebhookprom.NewVerifierCollector(nil))
	families, err := reg.Gather()
	require.NoError(t, err)
	assert.Len(t, families, 12)
}

// TestMetricNamesFollowConventions: promlint (the Prometheus naming guide as code) finds nothing
// to say about any metric, after deliveries of every kind.
func TestMetricNamesFollowConventions(t *testing.T) {
	r := newReceiver(t)
	r.handler.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
	require.Equal(t, http.StatusOK, r.deliver(t, nil, pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()))
	families, err := r.reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// post serves body with the given headers to the receiver over HTTP and returns the status.
func (r *receiver) post(t *testing.T, body []byte, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+"/webhooks", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// TestVerifierFailureCounters: the verifier's failure counters, scraped after the requests that
// move them: a certificate URL that is not served (a failed download, then the failure cache),
// and tampered bodies (a rotation check that finds the same key, then a signature that cannot be
// confirmed within the rotation check interval).
func TestVerifierFailureCounters(t *testing.T) {
	r := newReceiver(t)
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()
	require.Equal(t, http.StatusOK, r.deliver(t, nil, body), "the certificate is cached")

	missing := r.sender.Sign(body)
	missing.Set(pcwebhook.HeaderCertificateURL, r.sender.CertificateURLPrefix()+"missing.cer")
	first := r.post(t, body, missing)
	assert.Equal(t, first, r.post(t, body, missing.Clone()), "answered from the failure cache")

	tampered := r.sender.Sign(body)
	other := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body()
	assert.Equal(t, http.StatusUnauthorized, r.post(t, other, tampered), "checked against a fresh download")
	assert.Equal(t, http.StatusServiceUnavailable, r.post(t, other, tampered.Clone()), "no second download within the interval")

	f := r.scrape(t)
	value := func(name string) float64 { return series(t, f, name, nil).GetCounter().GetValue() }
	assert.Equal(t, 1.0, value(pcwebhookprom.VerifierDownloadFailuresTotal))
	assert.Equal(t, 1.0, value(pcwebhookprom.VerifierFailureCacheHitsTotal))
	assert.Equal(t, 1.0, value(pcwebhookprom.VerifierRotationChecksTotal))
	assert.Equal(t, 1.0, value(pcwebhookprom.VerifierUnconfirmedSignaturesTotal))
	assert.Equal(t, 0.0, value(pcwebhookprom.VerifierPreviousKeyMatchesTotal))
	assert.Equal(t, 4.0, series(t, f, pcwebhookprom.VerifierVerificationsTotal, map[string]string{"result": "rejected"}).GetCounter().GetValue())
	assert.Equal(t, 1.0, series(t, f, pcwebhookprom.DeliveriesTotal,
		map[string]string{"event": "", "outcome": "signature-unconfirmed", "code": "503"}).GetCounter().GetValue())
}
