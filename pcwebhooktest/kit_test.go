package pcwebhooktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// TestWholeFlowAtAnyDate runs the kit's whole flow (sign -> Verifier with a fixed clock ->
// Handler -> callback) with a clock ten years in the past and ten years in the future: the
// certificates, the event date and the verifier's clock all come from that one clock.
func TestWholeFlowAtAnyDate(t *testing.T) {
	for _, years := range []int{-10, 10} {
		t.Run(fmt.Sprintf("%+d years", years), func(t *testing.T) {
			clock := time.Now().AddDate(years, 0, 0).UTC().Truncate(time.Second)
			s := pcwebhooktest.New(t, pcwebhooktest.WithValidity(clock.Add(-time.Hour), clock.Add(time.Hour)))
			for _, notAfter := range []time.Time{s.Root().NotAfter, s.Intermediate().NotAfter, s.Leaf().NotAfter} {
				assert.True(t, notAfter.Equal(clock.Add(time.Hour)))
			}
			h := pcwebhook.NewHandler(
				pcwebhook.WithVerifier(s.Verifier(pcwebhook.WithClock(func() time.Time { return clock }))),
				pcwebhook.WithMaxEventAge(time.Hour),
			)
			var got *pcwebhook.SubscriptionEvent
			h.OnSubscriptionUpdated(func(_ context.Context, e *pcwebhook.SubscriptionEvent) error {
				got = e
				return nil
			})
			body := pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated, IDs: []string{"customer-1", "sub-1"}, Time: clock}.Body()
			rec := s.Deliver(h, body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.NotNil(t, got, "the callback ran")
			assert.Equal(t, "customer-1", got.CustomerID)
			assert.Equal(t, "sub-1", got.SubscriptionID)
			assert.True(t, clock.Equal(got.ResourceChangeUTCDate))

			// The real clock is outside the certificates' validity: the clock really moved.
			realTime := pcwebhook.NewHandler(pcwebhook.WithVerifier(s.Verifier()))
			assert.NotEqual(t, http.StatusOK, s.Deliver(realTime, body).Code)
		})
	}
}

func TestWithValidityEmpty(t *testing.T) {
	now := time.Now()
	_, err := pcwebhooktest.NewSender(pcwebhooktest.WithValidity(now, now))
	assert.Error(t, err)
}

func TestNewClosesOnCleanup(t *testing.T) {
	var s *pcwebhooktest.Sender
	t.Run("owner", func(t *testing.T) {
		s = pcwebhooktest.New(t)
		_, err := s.Client().Get(s.CertificateURL())
		require.NoError(t, err)
	})
	_, err := s.Client().Get(s.CertificateURL())
	assert.Error(t, err, "closed when the subtest ended")
}

func TestEventSpec(t *testing.T) {
	name := pcwebhook.EventCreateTransfer
	// Unique unless the time is fixed.
	a, b := pcwebhooktest.EventSpec{Name: name}.Body(), pcwebhooktest.EventSpec{Name: name}.Body()
	assert.NotEqual(t, string(a), string(b))
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	assert.Equal(t, string(pcwebhooktest.EventSpec{Name: name, Time: at}.Body()), string(pcwebhooktest.EventSpec{Name: name, Time: at}.Body()))
	assert.Equal(t, string(pcwebhooktest.SampleEventAt(name, at)), string(pcwebhooktest.EventSpec{Name: name, Time: at}.Body()))

	// IDs in order; "" keeps the sample's.
	ev, err := pcwebhook.ParseEvent(pcwebhooktest.EventSpec{Name: name, IDs: []string{"", "t-1"}}.Body())
	require.NoError(t, err)
	sample, err := pcwebhook.ParseEvent(pcwebhooktest.SampleEvent(name))
	require.NoError(t, err)
	te := ev.Typed().(*pcwebhook.TransferEvent)
	assert.Equal(t, sample.Typed().(*pcwebhook.TransferEvent).CustomerID, te.CustomerID)
	assert.Equal(t, "t-1", te.TransferID)

	// A whole ResourceUri and an AuditUri.
	ev, err = pcwebhook.ParseEvent(pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady,
		ResourceURI: "https://api.partnercenter.microsoft.com/v1/invoices/D0001", AuditURI: "https://a.test/x"}.Body())
	require.NoError(t, err)
	assert.Equal(t, "D0001", ev.Typed().(*pcwebhook.InvoiceEvent).InvoiceID)
	assert.Equal(t, "https://a.test/x", ev.AuditURI)

	assert.Panics(t, func() { pcwebhooktest.EventSpec{Name: name, IDs: []string{"a", "b", "c"}}.Body() })
	assert.Panics(t, func() {
		pcwebhooktest.EventSpec{Name: pcwebhook.EventDAPAdminRelationshipApproved, IDs: []string{"a"}}.Body()
	})

	var raw map[string]any
	require.NoError(t, json.Unmarshal(pcwebhooktest.EventSpec{Name: "widget-exploded"}.Body(), &raw))
	assert.Equal(t, "widget-exploded", raw["EventName"])
}

func TestRequestAndDeliver(t *testing.T) {
	s := sharedSender(t)
	body := pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()
	req := s.Request("/webhooks?x=1", body)
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "/webhooks", req.URL.Path)
	require.NoError(t, s.Verifier().Verify(context.Background(), req.Header, body))

	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(s.Verifier()))
	calls := 0
	h.OnInvoiceReady(func(context.Context, *pcwebhook.InvoiceEvent) error { calls++; return nil })
	assert.Equal(t, http.StatusOK, s.Deliver(h, body).Code)
	assert.Equal(t, http.StatusOK, s.Deliver(h, body).Code, "a retry is acknowledged")
	assert.Equal(t, 1, calls, "and not handled twice")
	assert.Equal(t, http.StatusOK, s.Deliver(h, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body()).Code)
	assert.Equal(t, 2, calls, "a new body is a new event")

	other := pcwebhooktest.New(t)
	assert.Equal(t, http.StatusUnauthorized, other.Deliver(h, body).Code, "another sender is not trusted")
}
