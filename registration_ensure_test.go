package pcwebhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const registrationPath = "/webhooks/v1/registration"

// wanted is the registration the EnsureRegistration tests ask for; registration.json matches it.
var wanted = Registration{
	WebhookURL:    "https://partner.example/webhooks",
	WebhookEvents: []EventName{EventSubscriptionUpdated, EventTestCreated},
}

func TestEnsureRegistrationCreates(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: registrationPath, status: 404, file: "error-600008.json"},
		fakeCall{method: "POST", path: registrationPath, file: "registration.json"},
	)
	c, _ := newTestClient(t, f)
	got, err := c.EnsureRegistration(context.Background(), wanted)
	require.NoError(t, err)
	assert.Equal(t, "e82cac64-dc67-4cd3-849b-78b6127dd57d", got.SubscriberID)
	assert.Equal(t, []string{"GET " + registrationPath, "POST " + registrationPath}, f.calls())
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/webhooks","WebhookEvents":["subscription-updated","test-created"],"SignatureTokenToMsSignatureHeader":false}`,
		string(f.requests()[1].body))
}

func TestEnsureRegistrationCreatesAfterEmptyAnswer(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: registrationPath, body: `{"WebhookUrl":"","WebhookEvents":[]}`},
		fakeCall{method: "POST", path: registrationPath, file: "registration.json"},
	)
	c, _ := newTestClient(t, f)
	_, err := c.EnsureRegistration(context.Background(), wanted)
	require.NoError(t, err)
	assert.Equal(t, []string{"GET " + registrationPath, "POST " + registrationPath}, f.calls())
}

func TestEnsureRegistrationNoOp(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: registrationPath, file: "registration.json"},
		fakeCall{method: "GET", path: registrationPath, file: "registration-camelcase.json"},
	)
	c, _ := newTestClient(t, f)

	// Same set in another order, case and with a duplicate.
	got, err := c.EnsureRegistration(context.Background(), Registration{
		WebhookURL:    "https://partner.example/webhooks",
		WebhookEvents: []EventName{"TEST-created", EventSubscriptionUpdated, EventTestCreated},
	})
	require.NoError(t, err)
	assert.Equal(t, "https://partner.example/webhooks", got.WebhookURL)

	// The service reports the alias fail-transfer in other cases: still the same set.
	_, err = c.EnsureRegistration(context.Background(), Registration{
		WebhookURL:                        "https://partner.example/webhooks",
		WebhookEvents:                     []EventName{EventTransferFailed, EventTestCreated, EventSubscriptionUpdated},
		SignatureTokenToMsSignatureHeader: true,
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"GET " + registrationPath, "GET " + registrationPath}, f.calls(), "no write call")
}

// Added events and a new header mode cut no delivery off: they are written without an option.
func TestEnsureRegistrationAppliesAdditiveChanges(t *testing.T) {
	for name, reg := range map[string]Registration{
		"event added": {WebhookURL: wanted.WebhookURL, WebhookEvents: append([]EventName{EventInvoiceReady}, wanted.WebhookEvents...)},
		"header flag": {WebhookURL: wanted.WebhookURL, WebhookEvents: wanted.WebhookEvents, SignatureTokenToMsSignatureHeader: true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakePC(t,
				fakeCall{method: "GET", path: registrationPath, file: "registration.json"},
				fakeCall{method: "PUT", path: registrationPath, file: "registration.json"},
			)
			c, _ := newTestClient(t, f)
			_, err := c.EnsureRegistration(context.Background(), reg)
			require.NoError(t, err)
			assert.Equal(t, []string{"GET " + registrationPath, "PUT " + registrationPath}, f.calls())
		})
	}
}

// A change of URL (in any way) or dropped events is refused: nothing is written, the error says
// what and names the option; with AllowDisruptive it is written.
func TestEnsureRegistrationRefusesDisruptiveChanges(t *testing.T) {
	for name, tc := range map[string]struct {
		reg     Registration
		removed []EventName
	}{
		"other URL":            {reg: Registration{WebhookURL: "https://partner.example/webhooks/v2", WebhookEvents: wanted.WebhookEvents}},
		"URL differs in slash": {reg: Registration{WebhookURL: "https://partner.example/webhooks/", WebhookEvents: wanted.WebhookEvents}},
		"URL differs in case":  {reg: Registration{WebhookURL: "https://partner.example/Webhooks", WebhookEvents: wanted.WebhookEvents}},
		"event removed":        {reg: Registration{WebhookURL: wanted.WebhookURL, WebhookEvents: []EventName{EventTestCreated}}, removed: []EventName{EventSubscriptionUpdated}},
		"no events":            {reg: Registration{WebhookURL: wanted.WebhookURL}, removed: wanted.WebhookEvents},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakePC(t,
				fakeCall{method: "GET", path: registrationPath, file: "registration.json"},
				fakeCall{method: "GET", path: registrationPath, file: "registration.json"},
				fakeCall{method: "GET", path: registrationPath, file: "registration.json"},
				fakeCall{method: "PUT", path: registrationPath, file: "registration.json"},
			)
			c, _ := newTestClient(t, f)
			got, err := c.EnsureRegistration(context.Background(), tc.reg)
			require.ErrorIs(t, err, ErrDisruptiveChange)
			assert.ErrorContains(t, err, "AllowDisruptive")
			require.NotNil(t, got, "the registration as it stays")
			assert.Equal(t, wanted.WebhookURL, got.WebhookURL)

			_, diff, err := c.EnsureRegistrationChanges(context.Background(), tc.reg)
			var refused *RegistrationChangeError
			require.ErrorAs(t, err, &refused)
			assert.Equal(t, diff, refused.Diff)
			assert.True(t, diff.Disruptive())
			assert.Equal(t, tc.removed, diff.RemovedEvents)
			assert.Equal(t, []string{"GET " + registrationPath, "GET " + registrationPath}, f.calls(), "nothing written")

			_, diff, err = c.EnsureRegistrationWith(context.Background(), tc.reg, nil, AllowDisruptive()) // a nil option is skipped
			require.NoError(t, err)
			assert.True(t, diff.Disruptive())
			assert.Equal(t, "PUT "+registrationPath, f.calls()[3])
		})
	}
}

// After a 409 Conflict the decision is made again against the registration created meanwhile:
// another URL is refused by default, and replaced with AllowDisruptive.
func TestEnsureRegistrationConflictDecidesAgain(t *testing.T) {
	other := `{"WebhookUrl":"https://other.example/hook","WebhookEvents":["test-created"]}`
	f := newFakePC(t,
		fakeCall{method: "GET", path: registrationPath, status: 404},
		fakeCall{method: "POST", path: registrationPath, status: 409, file: "error-409.json"},
		fakeCall{method: "GET", path: registrationPath, body: other},
		fakeCall{method: "GET", path: registrationPath, status: 404},
		fakeCall{method: "POST", path: registrationPath, status: 409, file: "error-409.json"},
		fakeCall{method: "GET", path: registrationPath, body: other},
		fakeCall{method: "PUT", path: registrationPath, file: "registration.json"},
	)
	c, _ := newTestClient(t, f)
	_, diff, err := c.EnsureRegistrationChanges(context.Background(), wanted)
	require.ErrorIs(t, err, ErrDisruptiveChange)
	assert.Equal(t, []string{"GET " + registrationPath, "POST " + registrationPath, "GET " + registrationPath}, f.calls(), "no PUT")
	require.NotNil(t, diff.Before, "the diff is against the registration found after the conflict")
	assert.Equal(t, "https://other.example/hook", diff.Before.WebhookURL)

	_, diff, err = c.EnsureRegistrationWith(context.Background(), wanted, AllowDisruptive())
	require.NoError(t, err)
	assert.Equal(t, "PUT "+registrationPath, f.calls()[6])
	require.NotNil(t, diff.Before)
	assert.Equal(t, "https://other.example/hook", diff.Before.WebhookURL)
	assert.True(t, diff.URLChanged)
	assert.Equal(t, []EventName{EventSubscriptionUpdated}, diff.AddedEvents)
}

// A registration created meanwhile that already matches is left alone.
func TestEnsureRegistrationConflictAlreadyMatching(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: registrationPath, status: 404},
		fakeCall{method: "POST", path: registrationPath, status: 409, file: "error-409.json"},
		fakeCall{method: "GET", path: registrationPath, file: "registration.json"},
	)
	c, _ := newTestClient(t, f)
	got, diff, err := c.EnsureRegistrationChanges(context.Background(), wanted)
	require.NoError(t, err)
	assert.False(t, diff.Changed())
	assert.Equal(t, wanted.WebhookURL, got.WebhookURL)
}

func TestEnsureRegistrationStopsOnErrors(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: registrationPath, status: 401},
		fakeCall{method: "GET", path: registrationPath, status: 404},
		fakeCall{method: "POST", path: registrationPath, status: 400, body: `{"code":600001,"description":"bad url"}`},
	)
	c, _ := newTestClient(t, f)
	_, err := c.EnsureRegistration(context.Background(), wanted)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 401, apiErr.StatusCode)

	_, err = c.EnsureRegistration(context.Background(), wanted)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.NotErrorIs(t, err, ErrNotRegistered)
	assert.Equal(t, []string{"GET " + registrationPath, "GET " + registrationPath, "POST " + registrationPath}, f.calls())
}

// TestSameEventSet: DiffRegistrations compares event lists ignoring order, duplicates, letter
// case and the input alias.
func TestSameEventSet(t *testing.T) {
	sameEventSet := func(a, b []EventName) bool {
		return !DiffRegistrations(&Registration{WebhookEvents: a}, Registration{WebhookEvents: b}).Changed()
	}
	assert.True(t, sameEventSet(nil, []EventName{}))
	assert.True(t, sameEventSet([]EventName{"a-b", "A-B"}, []EventName{"a-b"}))
	assert.True(t, sameEventSet([]EventName{"fail-transfer"}, []EventName{EventTransferFailed}))
	assert.True(t, sameEventSet([]EventName{"Future-Event", EventTestCreated}, []EventName{EventTestCreated, "future-event"}))
	assert.False(t, sameEventSet([]EventName{EventTestCreated}, []EventName{EventTestCreated, EventInvoiceReady}))
	assert.False(t, sameEventSet([]EventName{EventTestCreated, EventInvoiceReady}, []EventName{EventTestCreated, EventReferralCreated}))
}
