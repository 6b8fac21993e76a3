package pcwebhook_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// TestEventIDsMatchTheTypedStruct walks every documented event: IDs lists exactly the string
// fields the typed struct adds to Event, in field order, with the values Typed parsed.
func TestEventIDsMatchTheTypedStruct(t *testing.T) {
	for _, name := range pcwebhook.KnownEventNames() {
		e, err := pcwebhook.ParseEvent(pcwebhooktest.SampleEvent(name))
		require.NoError(t, err, name)
		typed := reflect.ValueOf(e.Typed()).Elem()
		var want []pcwebhook.ResourceID
		for i := 0; i < typed.NumField(); i++ {
			if f := typed.Type().Field(i); f.Name != "Event" {
				want = append(want, pcwebhook.ResourceID{Name: f.Name, Value: typed.Field(i).String()})
			}
		}
		got := e.IDs()
		assert.Equal(t, want, got, name)
		for _, id := range got {
			assert.NotEmpty(t, id.Value, "%s: the sample carries %s", name, id.Name)
		}
	}
}

func TestEventIDs(t *testing.T) {
	ids := func(name pcwebhook.EventName, uri string) []pcwebhook.ResourceID {
		return (&pcwebhook.Event{Name: name, ResourceURI: uri}).IDs()
	}
	assert.Equal(t, []pcwebhook.ResourceID{{Name: "CustomerID", Value: "c1"}, {Name: "SubscriptionID", Value: "s1"}},
		ids(pcwebhook.EventSubscriptionUpdated, "https://api.partnercenter.microsoft.com/webhooks/v1/customers/c1/subscriptions/s1"))
	// An ID the URI does not carry is listed, empty: the list depends only on the name.
	assert.Equal(t, []pcwebhook.ResourceID{{Name: "CustomerID", Value: "c1"}, {Name: "TransferID", Value: ""}},
		ids(pcwebhook.EventCreateTransfer, "https://api.partnercenter.microsoft.com/webhooks/v1/customers/c1"))
	// The query form of fraud events.
	assert.Equal(t, []pcwebhook.ResourceID{{Name: "CustomerID", Value: "c1"}, {Name: "SubscriptionID", Value: "s1"}},
		ids(pcwebhook.EventAzureFraudEventDetected, "https://api.partnercenter.microsoft.com/v1/customers/c1/fraudEvents?SubscriptionId=s1"))
	// Families without IDs and unknown names give nil.
	assert.Nil(t, ids(pcwebhook.EventDAPAdminRelationshipApproved, ""))
	assert.Nil(t, ids(pcwebhook.EventUsageRecordsThresholdExceeded, "https://api.partnercenter.microsoft.com/v1/customers/usagerecords"))
	assert.Nil(t, ids("billing-profile-updated", "https://api.partnercenter.microsoft.com/v1/customers/c1"))
}
