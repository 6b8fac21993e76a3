package pcwebhook_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// These tests run the plan and the guarded writes against pcwebhooktest.API, the stateful fake:
// "nothing written" is checked on its side, as the requests it received and the registration it
// keeps.

const planRegPath = "/webhooks/v1/registration"

// production is the registration the account has when a test starts.
var production = pcwebhook.Registration{
	WebhookURL:    "https://prod.example/hook",
	WebhookEvents: []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated, pcwebhook.EventInvoiceReady},
}

// newProductionAPI is a fake API whose registration is production, and a client for it. The
// sender (shared by a test's subtests: its keys take a while to make) signs no event here.
func newProductionAPI(t *testing.T, sender *pcwebhooktest.Sender) (*pcwebhooktest.API, *pcwebhook.Client) {
	t.Helper()
	api := pcwebhooktest.NewAPI(t, sender)
	api.SetRegistration(production)
	return api, api.NewClient()
}

// writes returns the POST and PUT requests of the registration the API received.
func writes(api *pcwebhooktest.API) []string {
	var out []string
	for _, r := range api.Requests() {
		if r == "POST "+planRegPath || r == "PUT "+planRegPath {
			out = append(out, r)
		}
	}
	return out
}

// registeredURL is the URL the API's registration has ("" when none).
func registeredURL(api *pcwebhooktest.API) string {
	reg, _ := api.Registration()
	return reg.WebhookURL
}

func TestPlanRegistration(t *testing.T) {
	ctx := context.Background()
	sender := pcwebhooktest.New(t)
	t.Run("URL moved, events dropped and added, header mode", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, pcwebhook.Registration{
			WebhookURL:                        "https://abc.tunnel.example/hook",
			WebhookEvents:                     []pcwebhook.EventName{pcwebhook.EventInvoiceReady, pcwebhook.EventTestCreated},
			SignatureTokenToMsSignatureHeader: true,
		})
		require.NoError(t, err)
		require.NotNil(t, plan.Before)
		assert.Equal(t, production.WebhookURL, plan.Before.WebhookURL)
		assert.NotEmpty(t, plan.Before.SubscriberID, "Before is the registration as read")
		assert.True(t, plan.URLChanged)
		assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventSubscriptionUpdated}, plan.RemovedEvents)
		assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventTestCreated}, plan.AddedEvents)
		assert.True(t, plan.HeaderModeChanged)
		assert.True(t, plan.Disruptive())
		assert.Equal(t, []string{"GET " + planRegPath}, api.Requests(), "a plan writes nothing")
	})
	t.Run("already matching", func(t *testing.T) {
		_, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, production)
		require.NoError(t, err)
		assert.False(t, plan.Changed())
	})
	t.Run("no registration", func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, sender)
		plan, err := api.NewClient().PlanRegistration(ctx, production)
		require.NoError(t, err)
		assert.Nil(t, plan.Before)
		assert.True(t, plan.Changed())
		assert.False(t, plan.Disruptive(), "creating cuts nothing off")
	})
	t.Run("invalid input: no call", func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, sender)
		_, err := api.NewClient().PlanRegistration(ctx, pcwebhook.Registration{WebhookURL: "http://partner.example/hook"})
		assert.ErrorIs(t, err, pcwebhook.ErrInvalidInput)
		assert.Empty(t, api.Requests())
	})
	t.Run("read failure", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		api.FailNext(http.StatusForbidden)
		_, err := c.PlanRegistration(ctx, production)
		var apiErr *pcwebhook.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
	})
}

// The ensure calls refuse a URL move and an event drop unless AllowDisruptive, and write
// additive changes and a creation without it.
func TestEnsureRegistrationGuardsDisruptiveChanges(t *testing.T) {
	ctx := context.Background()
	sender := pcwebhooktest.New(t)
	tunnel := pcwebhook.Registration{WebhookURL: "https://abc.tunnel.example/hook", WebhookEvents: production.WebhookEvents}
	dropped := pcwebhook.Registration{WebhookURL: production.WebhookURL, WebhookEvents: []pcwebhook.EventName{pcwebhook.EventInvoiceReady}}
	for name, reg := range map[string]pcwebhook.Registration{"URL moved": tunnel, "event dropped": dropped} {
		t.Run(name+": refused", func(t *testing.T) {
			api, c := newProductionAPI(t, sender)
			got, err := c.EnsureRegistration(ctx, reg)
			require.ErrorIs(t, err, pcwebhook.ErrDisruptiveChange)
			assert.Equal(t, production.WebhookURL, got.WebhookURL, "the registration as it stays")
			_, diff, err := c.EnsureRegistrationChanges(ctx, reg)
			require.ErrorIs(t, err, pcwebhook.ErrDisruptiveChange)
			assert.True(t, diff.Disruptive())
			_, _, err = c.EnsureRegistrationWith(ctx, reg)
			require.ErrorIs(t, err, pcwebhook.ErrDisruptiveChange)
			assert.Empty(t, writes(api), "nothing written")
			now, _ := api.Registration()
			assert.Equal(t, production.WebhookURL, now.WebhookURL)
			assert.Equal(t, production.WebhookEvents, now.WebhookEvents)
		})
		t.Run(name+": allowed by name", func(t *testing.T) {
			api, c := newProductionAPI(t, sender)
			got, diff, err := c.EnsureRegistrationWith(ctx, reg, pcwebhook.AllowDisruptive())
			require.NoError(t, err)
			assert.True(t, diff.Disruptive())
			assert.Equal(t, []string{"PUT " + planRegPath}, writes(api))
			assert.Equal(t, reg.WebhookURL, got.WebhookURL)
			assert.Equal(t, reg.WebhookURL, registeredURL(api))
		})
	}
	t.Run("events added: written", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		_, diff, err := c.EnsureRegistrationChanges(ctx, pcwebhook.Registration{WebhookURL: production.WebhookURL,
			WebhookEvents: append([]pcwebhook.EventName{pcwebhook.EventTestCreated}, production.WebhookEvents...)})
		require.NoError(t, err)
		assert.Equal(t, []pcwebhook.EventName{pcwebhook.EventTestCreated}, diff.AddedEvents)
		assert.Equal(t, []string{"PUT " + planRegPath}, writes(api))
	})
	t.Run("created: written", func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, sender)
		_, err := api.NewClient().EnsureRegistration(ctx, tunnel)
		require.NoError(t, err)
		assert.Equal(t, []string{"POST " + planRegPath}, writes(api))
	})
	// A registration created by someone else between the GET and the POST (409 Conflict) is
	// protected like one that was there from the start.
	t.Run("created meanwhile elsewhere: refused", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		api.Respond("GET", planRegPath, http.StatusNotFound, `{"code":600008,"description":"The partner is not registered for webhooks."}`)
		_, diff, err := c.EnsureRegistrationChanges(ctx, tunnel)
		require.ErrorIs(t, err, pcwebhook.ErrDisruptiveChange)
		require.NotNil(t, diff.Before)
		assert.Equal(t, production.WebhookURL, diff.Before.WebhookURL)
		assert.Equal(t, []string{"GET " + planRegPath, "POST " + planRegPath, "GET " + planRegPath}, api.Requests(), "the POST got 409; no PUT")
		assert.Equal(t, production.WebhookURL, registeredURL(api))
	})
}

// ApplyRegistrationPlan writes the plan a person approved, and only that one.
func TestApplyRegistrationPlan(t *testing.T) {
	ctx := context.Background()
	sender := pcwebhooktest.New(t)
	tunnel := pcwebhook.Registration{WebhookURL: "https://abc.tunnel.example/hook", WebhookEvents: []pcwebhook.EventName{pcwebhook.EventTestCreated}}
	t.Run("approved disruptive plan", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, tunnel)
		require.NoError(t, err)
		got, diff, err := c.ApplyRegistrationPlan(ctx, plan, pcwebhook.AllowDisruptive())
		require.NoError(t, err)
		assert.Equal(t, plan, diff, "the change applied is the one planned")
		assert.Equal(t, tunnel.WebhookURL, got.WebhookURL)
		assert.Equal(t, []string{"GET " + planRegPath, "GET " + planRegPath, "PUT " + planRegPath}, api.Requests(),
			"read again right before writing")
		assert.Equal(t, tunnel.WebhookURL, registeredURL(api))
	})
	t.Run("disruptive plan without the option", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, tunnel)
		require.NoError(t, err)
		_, _, err = c.ApplyRegistrationPlan(ctx, plan)
		require.ErrorIs(t, err, pcwebhook.ErrDisruptiveChange)
		assert.Empty(t, writes(api))
	})
	t.Run("additive plan", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, pcwebhook.Registration{WebhookURL: production.WebhookURL,
			WebhookEvents: append([]pcwebhook.EventName{pcwebhook.EventTestCreated}, production.WebhookEvents...)})
		require.NoError(t, err)
		_, _, err = c.ApplyRegistrationPlan(ctx, plan)
		require.NoError(t, err)
		assert.Equal(t, []string{"PUT " + planRegPath}, writes(api))
	})
	t.Run("changed between plan and apply", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, tunnel)
		require.NoError(t, err)
		moved := pcwebhook.Registration{WebhookURL: "https://other-team.example/hook", WebhookEvents: production.WebhookEvents}
		api.SetRegistration(moved) // someone else's change, after the plan was shown
		got, diff, err := c.ApplyRegistrationPlan(ctx, plan, pcwebhook.AllowDisruptive())
		require.ErrorIs(t, err, pcwebhook.ErrStalePlan)
		var refused *pcwebhook.RegistrationChangeError
		require.ErrorAs(t, err, &refused)
		assert.Equal(t, diff, refused.Diff)
		assert.ErrorContains(t, err, "it is now https://other-team.example/hook with 2 event(s)")
		require.NotNil(t, diff.Before, "the diff is the change as it would be now")
		assert.Equal(t, moved.WebhookURL, diff.Before.WebhookURL)
		assert.Equal(t, moved.WebhookURL, got.WebhookURL)
		assert.Empty(t, writes(api), "nothing written")
		assert.Equal(t, moved.WebhookURL, registeredURL(api))
	})
	t.Run("events changed between plan and apply", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, tunnel)
		require.NoError(t, err)
		api.SetRegistration(pcwebhook.Registration{WebhookURL: production.WebhookURL,
			WebhookEvents: append([]pcwebhook.EventName{pcwebhook.EventReferralCreated}, production.WebhookEvents...)})
		_, _, err = c.ApplyRegistrationPlan(ctx, plan, pcwebhook.AllowDisruptive())
		require.ErrorIs(t, err, pcwebhook.ErrStalePlan)
		assert.Empty(t, writes(api))
	})
	t.Run("deleted between plan and apply: never created", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, tunnel)
		require.NoError(t, err)
		api.Respond("GET", planRegPath, http.StatusNotFound, `{"code":600008,"description":"The partner is not registered for webhooks."}`)
		_, diff, err := c.ApplyRegistrationPlan(ctx, plan, pcwebhook.AllowDisruptive())
		require.ErrorIs(t, err, pcwebhook.ErrStalePlan)
		assert.ErrorContains(t, err, "there is no registration now")
		assert.Nil(t, diff.Before)
		assert.Empty(t, writes(api))
	})
	t.Run("created between plan and apply", func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, sender)
		c := api.NewClient()
		plan, err := c.PlanRegistration(ctx, tunnel)
		require.NoError(t, err)
		require.Nil(t, plan.Before)
		api.SetRegistration(production)
		_, _, err = c.ApplyRegistrationPlan(ctx, plan)
		require.ErrorIs(t, err, pcwebhook.ErrStalePlan)
		assert.Empty(t, writes(api))
		assert.Equal(t, production.WebhookURL, registeredURL(api))
	})
	t.Run("already as planned: no write, no error", func(t *testing.T) {
		api, c := newProductionAPI(t, sender)
		plan, err := c.PlanRegistration(ctx, tunnel)
		require.NoError(t, err)
		api.SetRegistration(tunnel)
		_, diff, err := c.ApplyRegistrationPlan(ctx, plan)
		require.NoError(t, err)
		assert.False(t, diff.Changed())
		assert.Empty(t, writes(api))
	})
	t.Run("zero plan", func(t *testing.T) {
		api := pcwebhooktest.NewAPI(t, sender)
		_, _, err := api.NewClient().ApplyRegistrationPlan(ctx, pcwebhook.RegistrationDiff{})
		assert.ErrorIs(t, err, pcwebhook.ErrInvalidInput)
		assert.Empty(t, api.Requests())
	})
}

func TestRegistrationChangeErrorMessage(t *testing.T) {
	diff := pcwebhook.DiffRegistrations(&production, pcwebhook.Registration{WebhookURL: "https://abc.tunnel.example/hook",
		WebhookEvents: []pcwebhook.EventName{pcwebhook.EventInvoiceReady}})
	err := &pcwebhook.RegistrationChangeError{Err: pcwebhook.ErrDisruptiveChange, Diff: diff}
	assert.Equal(t, "pcwebhook: disruptive registration change refused: it moves every delivery from https://prod.example/hook "+
		"to https://abc.tunnel.example/hook, and stops 1 event(s): subscription-updated, for every program of the account; "+
		"nothing was written (to apply it, pass the AllowDisruptive option)", err.Error())
	var nilErr *pcwebhook.RegistrationChangeError
	assert.NotPanics(t, func() { _ = nilErr.Error(); _ = nilErr.Unwrap() })
}
