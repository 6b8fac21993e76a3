package pcwebhooktest_test

import (
	"bytes"
	"context"
	"io"
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

// replica is one receiver process: the real Handler behind a loopback server, recording the
// bytes and headers that arrived, the outcome of each request and the callbacks run.
type replica struct {
	srv *httptest.Server

	mu        sync.Mutex
	bodies    [][]byte
	headers   []http.Header
	outcomes  []pcwebhook.Outcome
	callbacks int
}

func newReplica(t *testing.T, s *pcwebhooktest.Sender, store pcwebhook.DedupeStore) *replica {
	t.Helper()
	r := &replica{}
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(s.Verifier()), pcwebhook.WithDedupeStore(store),
		pcwebhook.WithObserver(func(_ *http.Request, res pcwebhook.Result) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.outcomes = append(r.outcomes, res.Outcome)
		}))
	h.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.callbacks++
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", h)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		mux.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *replica) url() string { return r.srv.URL + "/webhooks/partner-center" }

// seen returns the outcomes, the number of callbacks run and the bodies received so far.
func (r *replica) seen() ([]pcwebhook.Outcome, int, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pcwebhook.Outcome(nil), r.outcomes...), r.callbacks, append([][]byte(nil), r.bodies...)
}

// send posts d to url and returns the answer's status and body.
func send(t *testing.T, d pcwebhooktest.Delivery, url string) (int, string) {
	t.Helper()
	resp, err := d.Send(context.Background(), nil, url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestDeliverySentTwiceIsADuplicate: the same Delivery sent twice reaches the receiver as the
// same bytes and signature, and its Handler acknowledges the second as a duplicate.
func TestDeliverySentTwiceIsADuplicate(t *testing.T) {
	s := sharedSender(t)
	r := newReplica(t, s, nil)
	d := s.Delivery(pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body())

	status, answer := send(t, d, r.url())
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", answer)
	status, answer = send(t, d, r.url())
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "already handled\n", answer)

	outcomes, callbacks, bodies := r.seen()
	assert.Equal(t, []pcwebhook.Outcome{pcwebhook.OutcomeHandled, pcwebhook.OutcomeDuplicate}, outcomes)
	assert.Equal(t, 1, callbacks)
	require.Len(t, bodies, 2)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range bodies {
		assert.Equal(t, d.Body, bodies[i], "the exact bytes arrive")
		for _, k := range []string{pcwebhook.HeaderAuthorization, pcwebhook.HeaderCertificateURL, pcwebhook.HeaderSignatureAlgorithm, "Content-Type"} {
			assert.Equal(t, d.Header.Values(k), r.headers[i].Values(k), k)
		}
	}
}

// TestDeliveryToReplicas: replicas sharing one DedupeStore run the callbacks once for a delivery
// sent to each of them.
func TestDeliveryToReplicas(t *testing.T) {
	s := sharedSender(t)
	store := pcwebhook.NewMemoryDedupeStore(time.Hour, 0)
	a, b := newReplica(t, s, store), newReplica(t, s, store)
	d := s.Delivery(pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body())

	for _, r := range []*replica{a, b, a} {
		status, _ := send(t, d, r.url())
		assert.Equal(t, http.StatusOK, status)
	}
	aOutcomes, aCallbacks, _ := a.seen()
	bOutcomes, bCallbacks, bBodies := b.seen()
	assert.Equal(t, []pcwebhook.Outcome{pcwebhook.OutcomeHandled, pcwebhook.OutcomeDuplicate}, aOutcomes)
	assert.Equal(t, []pcwebhook.Outcome{pcwebhook.OutcomeDuplicate}, bOutcomes)
	assert.Equal(t, 1, aCallbacks+bCallbacks)
	assert.Equal(t, [][]byte{d.Body}, bBodies, "the exact bytes arrive")

	// A new body is a new delivery, on either replica.
	status, answer := send(t, s.Delivery(pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()), b.url())
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", answer)
	_, bCallbacks, _ = b.seen()
	assert.Equal(t, 1, bCallbacks)
}

// TestDeliverySendsWhatItHolds: a Delivery is not signed again: an altered body is refused, and
// headers from elsewhere (another sender's) go as they are.
func TestDeliverySendsWhatItHolds(t *testing.T) {
	s := sharedSender(t)
	r := newReplica(t, s, nil)
	d := s.Delivery(pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body())

	altered := pcwebhooktest.Delivery{Header: d.Header, Body: append(bytes.Clone(d.Body), ' ')}
	status, _ := send(t, altered, r.url())
	assert.Equal(t, http.StatusUnauthorized, status, "one added byte breaks the signature")

	other := pcwebhooktest.New(t)
	foreign := pcwebhooktest.Delivery{Header: other.Sign(d.Body), Body: d.Body}
	status, _ = send(t, foreign, r.url())
	assert.Equal(t, http.StatusUnauthorized, status, "another sender's signature is refused")

	status, _ = send(t, d, r.url())
	assert.Equal(t, http.StatusOK, status)
	_, callbacks, _ := r.seen()
	assert.Equal(t, 1, callbacks)

	var zero pcwebhooktest.Delivery
	status, _ = send(t, zero, r.url())
	assert.Equal(t, http.StatusUnauthorized, status, "the zero Delivery is an unsigned empty POST")
	_, err := d.Send(context.Background(), nil, "://bad")
	assert.Error(t, err)
}

// TestDeliveryDeliverToAPath: Delivery.Deliver serves a handler at the path given, where
// Sender.Deliver posts to "/"; each request has its own header.
func TestDeliveryDeliverToAPath(t *testing.T) {
	s := sharedSender(t)
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(s.Verifier()))
	calls := 0
	h.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { calls++; return nil })
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/partner-center", h)
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()
	d := s.Delivery(body)

	assert.Equal(t, http.StatusNotFound, s.Deliver(mux, body).Code, "Sender.Deliver posts to /")
	rec := d.Deliver(mux, "/webhooks/partner-center")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "ok\n", rec.Body.String())

	req := d.Request("/webhooks/partner-center")
	req.Header.Del(pcwebhook.HeaderAuthorization) // a handler or a test may change a request's header
	assert.NotEmpty(t, d.Header.Get(pcwebhook.HeaderAuthorization), "the Delivery keeps its own")
	rec = d.Deliver(mux, "/webhooks/partner-center")
	assert.Equal(t, "already handled\n", rec.Body.String())
	assert.Equal(t, 1, calls)

	assert.Equal(t, s.Sign(body), d.Header, "signing is deterministic: Send and Deliver of a body repeat these headers")
}
