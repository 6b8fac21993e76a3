package pcwebhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenEvents lists what every file in testdata/events must decode to. TestGoldenEvents fails
// when a file has no row here, so a new file cannot go unchecked.
var goldenEvents = []struct {
	file     string
	name     EventName
	resource string
	date     string // RFC 3339; the decoded time must equal it and be in UTC
	ids      map[string]string
}{
	{"test-created.json", "test-created", "test", "2017-11-16T16:19:06.3520276+00:00", map[string]string{"CorrelationID": "3ceaaf30-8142-48ea-91d9-3080f9b439fc"}},
	{"subscription-updated.json", "subscription-updated", "subscription", "2017-11-16T16:19:06.3520276+00:00", map[string]string{"CustomerID": "9dfb369b-ab13-4fae-a276-55daa05f1119", "SubscriptionID": "6301bbfc-a0c5-454e-8ff9-bb510944fe0c"}},
	{"usagerecords-thresholdExceeded.json", "usagerecords-thresholdExceeded", "usagerecords", "2018-02-17T00:05:39.5485487+00:00", map[string]string{}},
	{"referral-created.json", "referral-created", "referral", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"ReferralID": "3a124c64-7e02-4f05-b7c1-dce27f7695f5"}},
	{"referral-updated.json", "referral-updated", "referral", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"ReferralID": "66080f17-4c96-48e2-9cbd-0ba3a1a6bcde"}},
	{"related-referral-created.json", "related-referral-created", "referral", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"ReferralID": "b120a366-f0bb-49cf-82f2-dc05873f9bd0"}},
	{"related-referral-updated.json", "related-referral-updated", "referral", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"ReferralID": "78b7d0ac-8477-4ce0-8e4c-da11b43c589b"}},
	{"invoice-ready.json", "invoice-ready", "invoice", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"InvoiceID": "G000123456"}},
	{"granular-admin-relationship-approved.json", "granular-admin-relationship-approved", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "2330fcf1-562a-44b8-8866-8d77e827062c-c1acc990-6424-450a-a36b-f9b3ddcb369d"}},
	{"granular-admin-relationship-activated.json", "granular-admin-relationship-activated", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "9ad9b9a2-5e78-454d-b065-a1c284cc4549-99356597-6fba-4662-b6a7-30b7b12e9eed"}},
	{"granular-admin-relationship-terminated.json", "granular-admin-relationship-terminated", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "8df08078-a22e-4180-85c2-c2af3977a654-f3194a3b-381e-43e7-952c-466e473a1797"}},
	{"granular-admin-relationship-auto-extended.json", "granular-admin-relationship-auto-extended", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "c498b6e7-3648-445e-9afa-3a387f006745-ab57f985-4332-43da-a75a-2e199b58ba8d"}},
	{"granular-admin-relationship-updated.json", "granular-admin-relationship-updated", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "c1b87f1a-7323-491b-99f9-cbef0f69a4d0-2eb73728-2fea-475e-b536-5e1458294a90"}},
	{"granular-admin-relationship-expired.json", "granular-admin-relationship-expired", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "ac3e0b5b-c291-4709-8c1e-26038dabf68e-2f314fdb-43c4-4bc7-a4cc-dcf9ea5ee53c"}},
	{"granular-admin-relationship-created.json", "granular-admin-relationship-created", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "bafe9bd1-20c5-4152-9127-c47089bf36a2-fe014372-9313-4adf-bba3-fec76ca387b5"}},
	{"granular-admin-access-assignment-created.json", "granular-admin-access-assignment-created", "GranularAdminAccessAssignment", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "9280ba2e-1534-43fd-b357-71b237d047c9-6800e67e-527f-4da6-96ec-4c60da8f3fe2", "AssignmentID": "98daa4bf-7559-4f89-b3fb-95ee22432045"}},
	{"granular-admin-access-assignment-activated.json", "granular-admin-access-assignment-activated", "GranularAdminAccessAssignment", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "b6d9f6f4-5cdc-48b9-9a64-00c790010259-6a015b66-5e4a-429c-9be7-df00cba497dd", "AssignmentID": "365bf63a-6659-4554-8410-3017ead492d2"}},
	{"granular-admin-access-assignment-updated.json", "granular-admin-access-assignment-updated", "GranularAdminAccessAssignment", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "23961c52-2970-4819-ae6f-8f356f02bfb4-48018f5e-1863-41da-abca-5daa475d779c", "AssignmentID": "614d292e-1f1e-4bfa-a300-3324c470d28b"}},
	{"granular-admin-access-assignment-deleted.json", "granular-admin-access-assignment-deleted", "GranularAdminAccessAssignment", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "e9a5642c-7d07-43e5-b6e5-c77a2ee05f69-df219833-d97b-401b-b581-437a489229e0", "AssignmentID": "f054e0b8-3ce3-494d-b394-7d9c777a5bbb"}},
	{"new-commerce-migration-created.json", "new-commerce-migration-created", "NewCommerceMigration", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "27f82f94-6709-4347-bf02-83a32bc318aa", "MigrationID": "90237de7-232a-49de-bed4-32292ed99a49"}},
	{"new-commerce-migration-completed.json", "new-commerce-migration-completed", "NewCommerceMigration", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "521b55ad-a989-48e5-9645-f8997a98714f", "MigrationID": "9e450909-a8d1-4dea-9ddf-c65e144b2080"}},
	{"create-new-commerce-migration-schedule.json", "create-new-commerce-migration-schedule", "NewCommerceMigration", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "13d38b63-47e3-4c09-b70c-349f6dcb6633", "MigrationID": "1e527ff9-160e-47a4-89f1-c7e23916e1df"}},
	{"new-commerce-migration-failed.json", "new-commerce-migration-failed", "NewCommerceMigration", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "c51ae08b-3727-4581-be57-821b6396e022", "MigrationID": "f0cbb970-378b-470c-b642-8c7a968a89b8"}},
	{"new-commerce-migration-schedule-failed.json", "new-commerce-migration-schedule-failed", "NewCommerceMigrationSchedule", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "a71cb470-5920-4c65-b7ef-2db5b2ecaa17", "ScheduleID": "2a4abf0b-c32d-41c6-b8fc-1b9f9c323459"}},
	{"create-transfer.json", "create-transfer", "Transfer", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "dc19c734-aede-4aaa-96aa-305ba40f8266", "TransferID": "edc28211-6850-460b-ad84-f22be1b2a2ac"}},
	{"update-transfer.json", "update-transfer", "Transfer", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "3ad8132f-0e23-47c3-a546-4623b5847c5c", "TransferID": "e88edd50-5042-4947-984d-bd487b982ff1"}},
	{"complete-transfer.json", "complete-transfer", "Transfer", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "d688af4e-11a5-499c-a8b7-d9bbf9837120", "TransferID": "6d49c9d8-a620-4e8e-acba-2b799e3b3748"}},
	{"transfer-failed.json", "transfer-failed", "Transfer", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "7856881e-0461-4f9d-8693-3030b63798fa", "TransferID": "3e44bc05-fa21-4d55-947e-7e073ea5fdcb"}},
	{"reseller-relationship-accepted-by-customer.json", "reseller-relationship-accepted-by-customer", "Customer", "2023-10-18T00:26:24.0159088+00:00", map[string]string{"CustomerID": "4b2a6e33-8791-4386-bd2b-0d55baf25039"}},
	{"indirect-reseller-relationship-accepted-by-customer.json", "indirect-reseller-relationship-accepted-by-customer", "Customer", "2023-10-18T00:26:24.0159088+00:00", map[string]string{"CustomerID": "4b2a6e33-8791-4386-bd2b-0d55baf25039"}},
	{"dap-admin-relationship-approved.json", "dap-admin-relationship-approved", "PartnerCustomerDap", "2018-02-17T00:05:39.5485487+00:00", map[string]string{}},
	{"dap-admin-relationship-terminated.json", "dap-admin-relationship-terminated", "PartnerCustomerDap", "2018-02-17T00:05:39.5485487+00:00", map[string]string{}},
	{"dap-admin-relationship-terminated-by-microsoft.json", "dap-admin-relationship-terminated-by-microsoft", "PartnerCustomerDap", "2018-02-17T00:05:39.5485487+00:00", map[string]string{}},
	{"azure-fraud-event-detected.json", "azure-fraud-event-detected", "", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "895434b4-355d-4c65-84b0-15537408a2b5", "SubscriptionID": "d3dcf978-3c92-4d18-aac8-578d8ba84bc0"}},
	{"quirk-fraud-trailing-space-uri.json", "azure-fraud-event-detected", "", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "907437de-fbc7-4db7-a7fd-b4fcd0a8aef4", "SubscriptionID": "62689db9-09a7-4ee7-9a4f-4a9f970a1a4f"}},
	{"quirk-fraud-query-form.json", "azure-fraud-event-detected", "", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "", "SubscriptionID": "23988be3-90dd-4d0f-85c4-9a0c911de6fd"}},
	{"quirk-transfer-leading-space-resource-name.json", "complete-transfer", "Transfer", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "eebb6992-d1bd-47f0-99e7-121cec7f6b9e", "TransferID": "b26f7395-06df-41fe-8741-60b8a8b79ab6"}},
	{"quirk-create-transfer-customer-only-uri.json", "create-transfer", "Transfer", "2024-12-03T10:04:18.627854+00:00", map[string]string{"CustomerID": "f8095d20-fb5f-46e1-8d3a-9c8a4c60b310", "TransferID": ""}},
	{"quirk-fail-transfer-alias.json", "transfer-failed", "Transfer", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "e1d6ebce-52c7-4e5a-81d6-68214bd2805b", "TransferID": "ec33bfa3-7bc2-4c58-b8b9-9e7a45c42b8a"}},
	{"quirk-camel-case-fields.json", "subscription-updated", "subscription", "2017-12-08T21:39:48.2386997+00:00", map[string]string{"CustomerID": "f1df7a35-c112-41f6-8148-93bd35949ab1", "SubscriptionID": "92bb8d36-74c2-4bd4-84c0-a1a831f9a5b8"}},
	{"quirk-audit-url-field-name.json", "subscription-updated", "subscription", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "015ae7f9-a24c-4c4b-9e4e-a23159a250c7", "SubscriptionID": "637e5e89-62fb-442b-b664-87efc104ec5f"}},
	{"quirk-date-without-offset.json", "test-created", "test", "2017-12-08T21:39:48.2386997Z", map[string]string{"CorrelationID": "bbbc9138-4ac7-4060-b5f0-2487c29d40ef"}},
	{"quirk-date-zulu-no-fraction.json", "test-created", "test", "2025-03-01T08:00:00Z", map[string]string{"CorrelationID": "f4540f67-7ac2-47fc-b3a7-4c4eee57795f"}},
	{"quirk-date-offset-millis.json", "test-created", "test", "2025-03-01T08:30:15.123Z", map[string]string{"CorrelationID": "dd85fc8e-7a25-44a3-8b84-24402960b431"}},
	{"quirk-resource-name-lower-case.json", "reseller-relationship-accepted-by-customer", "customer", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "8f53a676-8ff5-4d38-b96e-df303a61282c"}},
	{"quirk-event-name-mixed-case-and-spaces.json", "subscription-updated", "subscription", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "3b5f45ae-d443-4b32-877d-c60af323d475", "SubscriptionID": "e4762263-f086-4276-a60e-8228f6040d40"}},
	{"quirk-usage-threshold-lower-case-name.json", "usagerecords-thresholdExceeded", "usagerecords", "2018-02-17T00:05:39.5485487+00:00", map[string]string{}},
	{"quirk-unknown-event-name.json", "billing-profile-updated", "BillingProfile", "2018-02-17T00:05:39.5485487+00:00", map[string]string{}},
	{"quirk-documentation-placeholders.json", "subscription-updated", "subscription", "2017-11-16T16:19:06.3520276+00:00", map[string]string{"CustomerID": "{{CustomerId}}", "SubscriptionID": "{{SubscriptionId}}"}},
	{"quirk-relative-resource-uri.json", "granular-admin-relationship-expired", "GranularAdminRelationship", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"RelationshipID": "480321db-19a8-4b3e-a2bd-df01b3620503-aa581d9b-51de-4335-b3d5-8349ac017ff0"}},
	{"quirk-schedule-uri-version-without-v.json", "new-commerce-migration-schedule-failed", "NewCommerceMigrationSchedule", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "f25e4605-cb9f-494b-9129-43d6ca4835ba", "ScheduleID": "a91c5bad-4d12-4512-8955-0790736619b4"}},
	{"quirk-pascal-case-field-variants.json", "new-commerce-migration-completed", "NewCommerceMigration", "2018-02-17T00:05:39.5485487+00:00", map[string]string{"CustomerID": "66997c89-9f59-4c2f-908b-14f1b7c31e48", "MigrationID": "44f22b7d-8179-461c-9da1-369552021f9b"}},
}

func readGolden(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", file))
	require.NoError(t, err)
	return b
}

// idFields returns the ID fields of a typed event: its string fields besides the embedded Event.
func idFields(typed any) map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(typed).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if f.Anonymous || f.Type.Kind() != reflect.String {
			continue
		}
		out[f.Name] = v.Field(i).String()
	}
	return out
}

func TestGoldenEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	require.NoError(t, err)
	rows := map[string]int{}
	for i, g := range goldenEvents {
		rows[g.file] = i
	}
	require.Len(t, files, len(goldenEvents), "every file in testdata/events needs a row in goldenEvents and vice versa")
	for _, path := range files {
		file := filepath.Base(path)
		t.Run(file, func(t *testing.T) {
			i, ok := rows[file]
			require.True(t, ok, "no row in goldenEvents for %s", file)
			g := goldenEvents[i]
			body := readGolden(t, file)

			e, err := ParseEvent(body)
			require.NoError(t, err)
			assert.Equal(t, g.name, e.Name)
			assert.Equal(t, g.resource, e.ResourceName)
			want, err := time.Parse(time.RFC3339Nano, g.date)
			require.NoError(t, err)
			assert.True(t, want.Equal(e.ResourceChangeUTCDate), "date: want %v, got %v", want, e.ResourceChangeUTCDate)
			assert.Equal(t, time.UTC, e.ResourceChangeUTCDate.Location())
			assert.Equal(t, body, e.Raw)
			assert.Equal(t, strings.TrimSpace(e.ResourceURI), e.ResourceURI)

			typed := e.Typed()
			if !e.Name.Known() {
				assert.Same(t, e, typed, "an unknown name decodes to the plain Event")
				assert.Empty(t, g.ids)
				return
			}
			assert.NotSame(t, e, typed)
			got := idFields(typed)
			want2 := map[string]string{}
			for k := range got {
				want2[k] = g.ids[k]
			}
			for k := range g.ids {
				_, has := got[k]
				assert.True(t, has, "%T has no field %s", typed, k)
			}
			assert.Equal(t, want2, got)
		})
	}
}

func TestEveryKnownEventHasGoldenFile(t *testing.T) {
	names := KnownEventNames()
	require.Len(t, names, 34, "the documents list 34 events")
	for _, n := range names {
		_, err := os.Stat(filepath.Join("testdata", "events", string(n)+".json"))
		assert.NoError(t, err, "missing golden file for %s", n)
	}
}

func TestKnownEventNames(t *testing.T) {
	names := KnownEventNames()
	seen := map[EventName]bool{}
	for _, n := range names {
		assert.False(t, seen[n], "duplicate %s", n)
		seen[n] = true
		assert.True(t, n.Known(), "%s", n)
		assert.Equal(t, string(n), n.String())
	}
	assert.Equal(t, EventTestCreated, names[0], "table order starts with the test event")
	assert.Equal(t, EventAzureFraudEventDetected, names[len(names)-1])

	names[0] = "changed"
	assert.Equal(t, EventTestCreated, KnownEventNames()[0], "the caller owns the returned slice")

	for _, n := range []EventName{"", "fail-transfer", "SUBSCRIPTION-UPDATED", " subscription-updated", "billing-profile-updated"} {
		assert.False(t, n.Known(), "%q is not a canonical documented name", n)
	}
}

// TestFamilies cross-checks the generated dispatch against the family table of the agreed API
// (shared/spec/api.md), written out here by hand so that a wrong row in the generator's table
// cannot pass unnoticed.
func TestFamilies(t *testing.T) {
	families := map[string][]EventName{
		"*pcwebhook.TestEvent":           {EventTestCreated},
		"*pcwebhook.SubscriptionEvent":   {EventSubscriptionUpdated},
		"*pcwebhook.UsageThresholdEvent": {EventUsageRecordsThresholdExceeded},
		"*pcwebhook.ReferralEvent":       {EventReferralCreated, EventReferralUpdated, EventRelatedReferralCreated, EventRelatedReferralUpdated},
		"*pcwebhook.InvoiceEvent":        {EventInvoiceReady},
		"*pcwebhook.GranularAdminRelationshipEvent": {EventGranularAdminRelationshipApproved, EventGranularAdminRelationshipActivated,
			EventGranularAdminRelationshipTerminated, EventGranularAdminRelationshipAutoExtended, EventGranularAdminRelationshipUpdated,
			EventGranularAdminRelationshipExpired, EventGranularAdminRelationshipCreated},
		"*pcwebhook.GranularAdminAccessAssignmentEvent": {EventGranularAdminAccessAssignmentCreated, EventGranularAdminAccessAssignmentActivated,
			EventGranularAdminAccessAssignmentUpdated, EventGranularAdminAccessAssignmentDeleted},
		"*pcwebhook.NewCommerceMigrationEvent": {EventNewCommerceMigrationCreated, EventNewCommerceMigrationCompleted,
			EventCreateNewCommerceMigrationSchedule, EventNewCommerceMigrationFailed},
		"*pcwebhook.NewCommerceMigrationScheduleEvent": {EventNewCommerceMigrationScheduleFailed},
		"*pcwebhook.TransferEvent":                     {EventCreateTransfer, EventUpdateTransfer, EventCompleteTransfer, EventTransferFailed},
		"*pcwebhook.CustomerRelationshipEvent":         {EventResellerRelationshipAcceptedByCustomer, EventIndirectResellerRelationshipAcceptedByCustomer},
		"*pcwebhook.DAPEvent":                          {EventDAPAdminRelationshipApproved, EventDAPAdminRelationshipTerminated, EventDAPAdminRelationshipTerminatedByMicrosoft},
		"*pcwebhook.FraudEvent":                        {EventAzureFraudEventDetected},
	}
	idsOf := map[string][]string{
		"*pcwebhook.TestEvent":                          {"CorrelationID"},
		"*pcwebhook.SubscriptionEvent":                  {"CustomerID", "SubscriptionID"},
		"*pcwebhook.ReferralEvent":                      {"ReferralID"},
		"*pcwebhook.InvoiceEvent":                       {"InvoiceID"},
		"*pcwebhook.GranularAdminRelationshipEvent":     {"RelationshipID"},
		"*pcwebhook.GranularAdminAccessAssignmentEvent": {"AssignmentID", "RelationshipID"},
		"*pcwebhook.NewCommerceMigrationEvent":          {"CustomerID", "MigrationID"},
		"*pcwebhook.NewCommerceMigrationScheduleEvent":  {"CustomerID", "ScheduleID"},
		"*pcwebhook.TransferEvent":                      {"CustomerID", "TransferID"},
		"*pcwebhook.CustomerRelationshipEvent":          {"CustomerID"},
		"*pcwebhook.FraudEvent":                         {"CustomerID", "SubscriptionID"},
	}
	count := 0
	for typ, names := range families {
		for _, n := range names {
			count++
			typed := (&Event{Name: n}).Typed()
			assert.Equal(t, typ, reflect.TypeOf(typed).String(), "%s", n)
			var fields []string
			for f := range idFields(typed) {
				fields = append(fields, f)
			}
			assert.ElementsMatch(t, idsOf[typ], fields, "%s", typ)
		}
	}
	assert.Equal(t, len(KnownEventNames()), count)
}

func TestParseEventNames(t *testing.T) {
	cases := map[string]EventName{
		"subscription-updated":             EventSubscriptionUpdated,
		"Subscription-Updated":             EventSubscriptionUpdated,
		"SUBSCRIPTION-UPDATED":             EventSubscriptionUpdated,
		"\tsubscription-updated \n":        EventSubscriptionUpdated,
		"usagerecords-thresholdExceeded":   EventUsageRecordsThresholdExceeded,
		"usagerecords-thresholdexceeded":   EventUsageRecordsThresholdExceeded,
		"USAGERECORDS-THRESHOLDEXCEEDED":   EventUsageRecordsThresholdExceeded,
		"fail-transfer":                    EventTransferFailed,
		"Fail-Transfer":                    EventTransferFailed,
		"transfer-failed":                  EventTransferFailed,
		"dap-admin-relationship-approved":  EventDAPAdminRelationshipApproved,
		"billing-profile-updated":          "billing-profile-updated",
		"  Brand-New-Event ":               "Brand-New-Event",
		"subscription_updated":             "subscription_updated",
		"granular-admin-relationship-auto": "granular-admin-relationship-auto",
	}
	for in, want := range cases {
		body, err := json.Marshal(map[string]string{"EventName": in})
		require.NoError(t, err)
		e, err := ParseEvent(body)
		require.NoError(t, err, "%q", in)
		assert.Equal(t, want, e.Name, "%q", in)
		_, known := eventNameLookup[string(want)]
		assert.Equal(t, known, e.Name.Known(), "%q", in)
	}
}

func TestParseEventFields(t *testing.T) {
	t.Run("absent and null become empty", func(t *testing.T) {
		for _, body := range []string{
			`{"EventName":"dap-admin-relationship-approved"}`,
			`{"EventName":"dap-admin-relationship-approved","ResourceUri":null,"ResourceName":null,"AuditUri":null,"AuditUrl":null,"ResourceChangeUtcDate":null}`,
			`{"EventName":"dap-admin-relationship-approved","ResourceUri":"","ResourceName":" ","AuditUri":"  ","ResourceChangeUtcDate":""}`,
		} {
			e, err := ParseEvent([]byte(body))
			require.NoError(t, err, body)
			assert.Equal(t, Event{Name: EventDAPAdminRelationshipApproved, Raw: []byte(body)}, *e, body)
		}
	})
	t.Run("strings are trimmed", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"EventName":"create-transfer","ResourceUri":" https://h/v1/customers/c/transfers/t \t","ResourceName":" Transfer","AuditUri":"\nhttps://h/auditactivity/v1/auditrecords/a "}`))
		require.NoError(t, err)
		assert.Equal(t, "https://h/v1/customers/c/transfers/t", e.ResourceURI)
		assert.Equal(t, "Transfer", e.ResourceName)
		assert.Equal(t, "https://h/auditactivity/v1/auditrecords/a", e.AuditURI)
	})
	t.Run("AuditUrl is accepted for AuditUri, AuditUri wins when both are set", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"EventName":"test-created","AuditUrl":"https://h/a"}`))
		require.NoError(t, err)
		assert.Equal(t, "https://h/a", e.AuditURI)
		e, err = ParseEvent([]byte(`{"EventName":"test-created","auditurl":"https://h/a","AUDITURI":"https://h/b"}`))
		require.NoError(t, err)
		assert.Equal(t, "https://h/b", e.AuditURI)
		e, err = ParseEvent([]byte(`{"EventName":"test-created","AuditUri":null,"AuditUrl":"https://h/a"}`))
		require.NoError(t, err)
		assert.Equal(t, "https://h/a", e.AuditURI)
	})
	t.Run("unknown fields are ignored", func(t *testing.T) {
		e, err := ParseEvent([]byte(`{"EventName":"test-created","Extra":{"a":[1,{"b":null}]},"Other":true}`))
		require.NoError(t, err)
		assert.Equal(t, EventTestCreated, e.Name)
	})
	t.Run("Raw is the exact input", func(t *testing.T) {
		body := []byte("  {\"EventName\" : \"test-created\"}\n")
		e, err := ParseEvent(body)
		require.NoError(t, err)
		assert.Equal(t, body, e.Raw)
	})
}

func TestParseEventDates(t *testing.T) {
	cases := map[string]string{
		"2017-11-16T16:19:06.3520276+00:00": "2017-11-16T16:19:06.3520276Z",
		"2017-11-16T16:19:06+00:00":         "2017-11-16T16:19:06Z",
		"2017-11-16T16:19:06.3+00:00":       "2017-11-16T16:19:06.3Z",
		"2017-11-16T16:19:06.35Z":           "2017-11-16T16:19:06.35Z",
		"2017-11-16T16:19:06.352027Z":       "2017-11-16T16:19:06.352027Z",
		"2017-11-16T16:19:06.3520276-08:00": "2017-11-17T00:19:06.3520276Z",
		"2017-11-17T01:19:06.3520276+09:00": "2017-11-16T16:19:06.3520276Z",
		"2017-12-08T21:39:48.2386997":       "2017-12-08T21:39:48.2386997Z",
		"2017-12-08T21:39:48":               "2017-12-08T21:39:48Z",
		" 2017-12-08T21:39:48.2 ":           "2017-12-08T21:39:48.2Z",
	}
	for in, out := range cases {
		body, _ := json.Marshal(map[string]string{"EventName": "test-created", "ResourceChangeUtcDate": in})
		e, err := ParseEvent(body)
		require.NoError(t, err, in)
		want, err := time.Parse(time.RFC3339Nano, out)
		require.NoError(t, err)
		assert.True(t, want.Equal(e.ResourceChangeUTCDate), "%s: want %v, got %v", in, want, e.ResourceChangeUTCDate)
		assert.Equal(t, time.UTC, e.ResourceChangeUTCDate.Location(), in)
	}
}

func TestParseEventMalformed(t *testing.T) {
	unquoted, err := os.ReadFile(filepath.Join("testdata", "malformed", "unquoted-resource-uri.json"))
	require.NoError(t, err)
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	cases := []struct {
		name, body, says string
	}{
		{"empty body", "", "empty body"},
		{"white space", " \n\t ", "empty body"},
		{"null", "null", "not a JSON object"},
		{"array", `[{"EventName":"test-created"}]`, "not a JSON object"},
		{"string", `"test-created"`, "not a JSON object"},
		{"number", `42`, "not a JSON object"},
		{"truncated", `{"EventName":"test-created"`, "unexpected end"},
		{"documentation typo: unquoted ResourceUri", string(unquoted), "invalid JSON"},
		{"trailing garbage", `{"EventName":"test-created"} {`, "invalid JSON"},
		{"missing EventName", `{"ResourceName":"test"}`, "EventName is missing"},
		{"null EventName", `{"EventName":null}`, "EventName is missing"},
		{"empty EventName", `{"EventName":""}`, "EventName is empty"},
		{"blank EventName", `{"EventName":"   "}`, "EventName is empty"},
		{"numeric EventName", `{"EventName":7}`, "EventName must be a string"},
		{"object EventName", `{"EventName":{"a":1}}`, "EventName must be a string"},
		{"array EventName", `{"EventName":["test-created"]}`, "EventName must be a string"},
		{"numeric ResourceUri", `{"EventName":"test-created","ResourceUri":5}`, "ResourceUri must be a string"},
		{"boolean ResourceChangeUtcDate", `{"EventName":"test-created","ResourceChangeUtcDate":true}`, "ResourceChangeUtcDate must be a string"},
		{"bad date", `{"EventName":"test-created","ResourceChangeUtcDate":"yesterday"}`, "ResourceChangeUtcDate"},
		{"date out of range", `{"EventName":"test-created","ResourceChangeUtcDate":"2017-13-45T16:19:06Z"}`, "ResourceChangeUtcDate"},
		{"deeply nested", `{"EventName":"test-created","x":` + deep + `}`, "invalid JSON"},
		{"invalid UTF-8 in structure", "{\"EventName\":\"test-created\"\xff}", "invalid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := ParseEvent([]byte(c.body))
			require.Error(t, err)
			assert.Nil(t, e)
			assert.True(t, errors.Is(err, ErrMalformedEvent), "%v", err)
			assert.Contains(t, err.Error(), c.says)
			assert.Less(t, len(err.Error()), 300, "error messages stay short whatever the input")
		})
	}
}

func TestParseEventHugeInput(t *testing.T) {
	big := `{"EventName":"test-created","Padding":"` + strings.Repeat("x", 8<<20) + `"}`
	e, err := ParseEvent([]byte(big))
	require.NoError(t, err)
	assert.Equal(t, EventTestCreated, e.Name)

	hugeName := `{"EventName":"` + strings.Repeat("y", 1<<20) + `"}`
	e, err = ParseEvent([]byte(hugeName))
	require.NoError(t, err)
	assert.False(t, e.Name.Known())
}

func TestResourcePathIDs(t *testing.T) {
	const c, s = "c0ffee00-0000-4000-8000-000000000001", "5ub00000-0000-4000-8000-000000000002"
	forms := []string{
		"https://api.partnercenter.microsoft.com/webhooks/v1/customers/" + c + "/subscriptions/" + s,
		"http://api.partnercenter.microsoft.com/v1/customers/" + c + "/subscriptions/" + s,
		"https://partner.microsoft.com/customers/" + c + "/subscriptions/" + s,
		"https://partner.partnercenterapi.microsoftonline.cn:443/webhooks/v2/customers/" + c + "/subscriptions/" + s + "/",
		"/webhooks/v1/customers/" + c + "/subscriptions/" + s,
		"/v1/Customers/" + c + "/SUBSCRIPTIONS/" + s + "?expand=true#top",
		"v1/customers/" + c + "//subscriptions/" + s,
		"https://h/v1/customers/" + strings.ReplaceAll(c, "-", "%2D") + "/subscriptions/" + s,
	}
	for _, uri := range forms {
		e := newSubscriptionEvent(&Event{Name: EventSubscriptionUpdated, ResourceURI: uri})
		assert.Equal(t, c, e.CustomerID, uri)
		assert.Equal(t, s, e.SubscriptionID, uri)
	}

	partial := map[string][2]string{
		"https://h/v1/customers/" + c:                {c, ""},
		"https://h/v1/customers/" + c + "/invoices/": {c, ""},
		"https://h/v1/customers/":                    {"", ""},
		"https://h/v1/subscriptions/" + s:            {"", ""},
		"https://customers/subscriptions":            {"", ""},
		"":                                           {"", ""},
		"not a uri at all":                           {"", ""},
		"https://h/v1/customers/%zz/subscriptions/x": {"%zz", "x"},
		"https://h/v1/customers/usagerecords":        {"", ""},
		"https://h/v1/customers/Subscriptions/s":     {"", ""},
	}
	for uri, want := range partial {
		e := newSubscriptionEvent(&Event{ResourceURI: uri})
		assert.Equal(t, want, [2]string{e.CustomerID, e.SubscriptionID}, uri)
	}
}

func TestCollectionNamesAreNeverIDs(t *testing.T) {
	const c, sch = "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "9b2c1d44-2a5e-4c7b-8e0f-6a7d3c2b1e00"
	// A schedule URI on a migration event carries no migration ID: "schedules" is not one.
	m := (&Event{Name: EventNewCommerceMigrationFailed, ResourceURI: "https://h/webhooks/v1/customers/" + c + "/migrations/newcommerce/schedules/" + sch}).Typed().(*NewCommerceMigrationEvent)
	assert.Equal(t, c, m.CustomerID)
	assert.Empty(t, m.MigrationID)
	s := (&Event{Name: EventNewCommerceMigrationScheduleFailed, ResourceURI: "https://h/webhooks/v1/customers/" + c + "/migrations/newcommerce/schedules/" + sch}).Typed().(*NewCommerceMigrationScheduleEvent)
	assert.Equal(t, [2]string{c, sch}, [2]string{s.CustomerID, s.ScheduleID})
	assert.True(t, isResourceKeyword("SCHEDULES"))
	assert.True(t, isResourceKeyword("granularAdminRelationships"))
	assert.False(t, isResourceKeyword(c))
	assert.False(t, isResourceKeyword(strings.Repeat("a", 40)))
}

func TestFraudQueryForm(t *testing.T) {
	cases := map[string][2]string{
		"https://api.partnercenter.microsoft.com/v1/fraudEvents?SubscriptionId=s1&EventStatus=Active":    {"", "s1"},
		"https://api.partnercenter.microsoft.com/v1/fraudEvents?eventStatus=Active&subscriptionid=s%2D2": {"", "s-2"},
		"/v1/fraudEvents?CustomerId=c3&SubscriptionId=s3#x":                                              {"c3", "s3"},
		"/v1/fraudEvents?EventStatus=Active":                                                             {"", ""},
		"/v1/customers/c4/subscriptions/s4?SubscriptionId=other":                                         {"c4", "s4"},
	}
	for uri, want := range cases {
		e := (&Event{Name: EventAzureFraudEventDetected, ResourceURI: uri}).Typed().(*FraudEvent)
		assert.Equal(t, want, [2]string{e.CustomerID, e.SubscriptionID}, uri)
	}
}

func BenchmarkParseEvent(b *testing.B) {
	body := readGolden(b, "subscription-updated.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		e, err := ParseEvent(body)
		if err != nil {
			b.Fatal(err)
		}
		_ = e.Typed()
	}
}

func TestFastPathIsTakenForRealPayloads(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	require.NoError(t, err)
	for _, p := range files {
		if strings.Contains(p, "unknown-event-name") {
			continue // it carries a nested object on purpose: encoding/json decodes it
		}
		var w wireEvent
		assert.True(t, parseWireFast(readGolden(t, filepath.Base(p)), &w), "%s should not need encoding/json", p)
	}
	for _, s := range []string{`{"EventName":"a\u0062"}`, `{"EventName":"a","x":{}}`, `{"EventName":"a","n":1}`, `{"EventName":"a",}`, `{"EventName":"a"`, "{\"EventName\":\"a\x01\"}", `[]`} {
		var w wireEvent
		assert.False(t, parseWireFast([]byte(s), &w), s)
	}
}
