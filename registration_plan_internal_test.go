package pcwebhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiffRegistrations(t *testing.T) {
	before := &Registration{
		SubscriberID:  "s1",
		WebhookURL:    "https://prod.example/hook",
		WebhookEvents: []EventName{EventSubscriptionUpdated, EventTestCreated, "fail-transfer"},
	}
	t.Run("create", func(t *testing.T) {
		d := DiffRegistrations(nil, Registration{WebhookURL: " https://a.example/h ", WebhookEvents: []EventName{"TEST-CREATED", EventTestCreated, EventInvoiceReady}})
		assert.Nil(t, d.Before)
		assert.True(t, d.Changed())
		assert.False(t, d.Disruptive(), "creating cuts nothing off")
		assert.True(t, d.URLChanged)
		assert.Equal(t, "https://a.example/h", d.After.WebhookURL)
		assert.Equal(t, []EventName{EventTestCreated, EventInvoiceReady}, d.After.WebhookEvents)
		assert.Equal(t, []EventName{EventTestCreated, EventInvoiceReady}, d.AddedEvents)
		assert.Empty(t, d.RemovedEvents)
		assert.Equal(t, "url:    (no registration) -> https://a.example/h\n"+
			"events: + test-created\n        + invoice-ready\nheader: Authorization", d.String())
	})
	t.Run("same set, other spelling", func(t *testing.T) {
		d := DiffRegistrations(before, Registration{WebhookURL: "https://prod.example/hook ",
			WebhookEvents: []EventName{EventTransferFailed, "Test-Created", EventSubscriptionUpdated, EventTestCreated}})
		assert.False(t, d.Changed())
		assert.False(t, d.Disruptive())
		assert.Equal(t, "no change", d.String())
	})
	t.Run("tunnel URL replaces production", func(t *testing.T) {
		d := DiffRegistrations(before, Registration{WebhookURL: "https://abc.tunnel.example/hook",
			WebhookEvents: []EventName{EventTestCreated, EventInvoiceReady}, SignatureTokenToMsSignatureHeader: true})
		assert.True(t, d.Changed())
		assert.True(t, d.Disruptive())
		assert.True(t, d.URLChanged)
		assert.True(t, d.HeaderModeChanged)
		assert.Equal(t, []EventName{EventInvoiceReady}, d.AddedEvents)
		assert.Equal(t, []EventName{EventSubscriptionUpdated, EventTransferFailed}, d.RemovedEvents)
		assert.Equal(t, "url:    https://prod.example/hook -> https://abc.tunnel.example/hook\n"+
			"events: + invoice-ready\n        - subscription-updated\n        - transfer-failed\n"+
			"header: Authorization -> x-ms-signature", d.String())
		assert.Equal(t, "moves every delivery from https://prod.example/hook to https://abc.tunnel.example/hook, "+
			"and stops 2 event(s): subscription-updated, transfer-failed", d.Disruption())
	})
	t.Run("only added events", func(t *testing.T) {
		d := DiffRegistrations(before, Registration{WebhookURL: before.WebhookURL,
			WebhookEvents: append([]EventName{EventInvoiceReady}, before.WebhookEvents...)})
		assert.True(t, d.Changed())
		assert.False(t, d.Disruptive(), "adding events cuts nothing off")
		assert.Empty(t, d.Disruption())
		assert.Equal(t, "url:    https://prod.example/hook (unchanged)\nevents: + invoice-ready\nheader: Authorization (unchanged)", d.String())
	})
	t.Run("only the header mode", func(t *testing.T) {
		d := DiffRegistrations(before, Registration{WebhookURL: before.WebhookURL, WebhookEvents: before.WebhookEvents, SignatureTokenToMsSignatureHeader: true})
		assert.True(t, d.Changed())
		assert.False(t, d.Disruptive())
		assert.Contains(t, d.String(), "events: 3 (unchanged)")
	})
	t.Run("dropping one event", func(t *testing.T) {
		d := DiffRegistrations(before, Registration{WebhookURL: before.WebhookURL, WebhookEvents: []EventName{EventTestCreated, EventTransferFailed}})
		assert.True(t, d.Disruptive())
		assert.False(t, d.URLChanged)
		assert.Equal(t, []EventName{EventSubscriptionUpdated}, d.RemovedEvents)
		assert.Equal(t, "stops 1 event(s): subscription-updated", d.Disruption())
	})
	t.Run("before is copied", func(t *testing.T) {
		b := &Registration{WebhookURL: "https://x.example/h", WebhookEvents: []EventName{EventTestCreated}}
		d := DiffRegistrations(b, Registration{WebhookURL: "https://x.example/h"})
		b.WebhookEvents[0] = EventInvoiceReady
		assert.Equal(t, []EventName{EventTestCreated}, d.Before.WebhookEvents)
	})
}

func TestEnsureRegistrationChangesReportsTheChange(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: registrationPath, body: `{"WebhookUrl":"https://partner.example/webhooks","WebhookEvents":["test-created","invoice-ready"]}`},
		fakeCall{method: "PUT", path: registrationPath, file: "registration.json"},
		fakeCall{method: "GET", path: registrationPath, file: "registration.json"},
		fakeCall{method: "GET", path: registrationPath, status: 404, file: "error-600008.json"},
		fakeCall{method: "POST", path: registrationPath, file: "registration.json"},
	)
	c, _ := newTestClient(t, f)
	got, diff, err := c.EnsureRegistrationWith(context.Background(), wanted, AllowDisruptive())
	require.NoError(t, err)
	assert.Equal(t, "e82cac64-dc67-4cd3-849b-78b6127dd57d", got.SubscriberID)
	assert.True(t, diff.Changed())
	assert.True(t, diff.Disruptive())
	assert.Equal(t, []EventName{EventSubscriptionUpdated}, diff.AddedEvents)
	assert.Equal(t, []EventName{EventInvoiceReady}, diff.RemovedEvents)

	_, diff, err = c.EnsureRegistrationChanges(context.Background(), wanted)
	require.NoError(t, err)
	assert.False(t, diff.Changed(), "already matching: no write")

	_, diff, err = c.EnsureRegistrationChanges(context.Background(), wanted)
	require.NoError(t, err)
	assert.Nil(t, diff.Before, "created")
	assert.Equal(t, wanted.WebhookEvents, diff.AddedEvents)
}

func TestEnsureRegistrationChangesInvalidInput(t *testing.T) {
	f := newFakePC(t)
	c, _ := newTestClient(t, f)
	_, diff, err := c.EnsureRegistrationChanges(context.Background(), Registration{WebhookURL: "ftp://x.example/h"})
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Nil(t, diff.Before)
}

// A plain http WebhookURL is refused unless allowed by name; loopback is always allowed. Nothing
// is sent for a refused one.
func TestRegisterPlainHTTPWebhookURL(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "POST", path: registrationPath, file: "registration.json"},
		fakeCall{method: "POST", path: registrationPath, file: "registration.json"},
	)
	strict, _ := newTestClient(t, f)
	for _, u := range []string{"http://partner.example/hook", "HTTP://10.0.0.5:8080/hook", "http://abc.tunnel.example/"} {
		_, err := strict.Register(context.Background(), Registration{WebhookURL: u})
		assert.ErrorIs(t, err, ErrInvalidInput, u)
		assert.ErrorContains(t, err, "WithInsecureWebhookURL", u)
		_, err = strict.UpdateRegistration(context.Background(), Registration{WebhookURL: u})
		assert.ErrorIs(t, err, ErrInvalidInput, u)
		_, err = strict.EnsureRegistration(context.Background(), Registration{WebhookURL: u})
		assert.ErrorIs(t, err, ErrInvalidInput, u)
	}
	assert.Empty(t, f.calls(), "nothing sent for a refused URL")

	_, err := strict.Register(context.Background(), Registration{WebhookURL: "http://127.0.0.1:9000/hook"})
	assert.NoError(t, err, "loopback is allowed")

	loose, _ := newTestClient(t, f, WithInsecureWebhookURL())
	_, err = loose.Register(context.Background(), Registration{WebhookURL: "http://partner.example/hook"})
	assert.NoError(t, err)
	assert.Len(t, f.calls(), 2)
}
