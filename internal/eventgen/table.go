package main

// This file is the one table that describes every documented Partner Center webhook event.
// Everything per-event in the library (constants, name lookup, typed structs, On* callbacks,
// sample bodies of the test kit, the README table) is generated from it by `go generate`.
// To support a new event, add a row here and run `go generate ./...`.

// family is a group of events about the same kind of resource. All events of a family decode to
// the same typed struct, which carries the IDs parsed from the ResourceUri.
type family struct {
	// Type is the Go name of the typed struct, e.g. "SubscriptionEvent".
	Type string
	// Doc is the doc comment sentence after the type name.
	Doc string
	// Pattern is the ResourceUri path, from its first fixed segment, with one {Field} per ID.
	// IDs are found by matching it against the path segments of the URI, case-insensitively,
	// whatever the host, scheme and version prefix. Empty means the family carries no ID.
	Pattern string
	// Query names IDs that may also arrive as query parameters (Field -> parameter name), used
	// when the path does not carry them.
	Query [][2]string
	// SamplePrefix is what precedes Pattern in the documents' examples; SampleEvent uses it.
	// "null" means the sample has "ResourceUri": null; "absent" means the field is left out.
	SamplePrefix string
}

// event is one documented event name.
type event struct {
	// Name is the EventName on the wire.
	Name string
	// Const is the Go constant name without the "Event" prefix; the callback is "On"+Const.
	Const string
	// Family is the Type of the family it belongs to.
	Family string
	// Resource is the documented ResourceName ("" when the field is absent).
	Resource string
	// Doc says when the event is raised.
	Doc string
	// Aliases are other spellings accepted on input and mapped to Name.
	Aliases []string
}

// idDocs documents the ID fields that patterns may name.
var idDocs = map[string]string{
	"CorrelationID":  "the correlation ID of the test event (the last path segment)",
	"CustomerID":     "the customer's tenant ID (the segment after customers/)",
	"SubscriptionID": "the subscription ID (the segment after subscriptions/, or the SubscriptionId query parameter)",
	"ReferralID":     "the referral ID (the segment after referrals/)",
	"InvoiceID":      "the invoice ID (the segment after invoices/)",
	"RelationshipID": "the granular admin relationship ID (the segment after granularAdminRelationships/)",
	"AssignmentID":   "the access assignment ID (the segment after accessAssignments/)",
	"MigrationID":    "the new-commerce migration ID (the segment after migrations/newcommerce/)",
	"ScheduleID":     "the new-commerce migration schedule ID (the segment after migrations/newcommerce/schedules/)",
	"TransferID":     "the transfer ID (the segment after transfers/)",
}

// extraKeywords are collection names of ResourceUris that no pattern names but that must never be
// taken for an ID (a pattern's own fixed segments are keywords too).
var extraKeywords = []string{"usagerecords", "fraudEvents", "auditrecords", "registration", "webhooks", "engagements"}

var families = []family{
	{Type: "TestEvent", Doc: "is a test event requested through the registration API (SendTestEvent).",
		Pattern: "validationEvents/{CorrelationID}", SamplePrefix: "https://api.partnercenter.microsoft.com/webhooks/v1/registration/"},
	{Type: "SubscriptionEvent", Doc: "is about a customer's subscription.",
		Pattern: "customers/{CustomerID}/subscriptions/{SubscriptionID}", SamplePrefix: "https://api.partnercenter.microsoft.com/webhooks/v1/"},
	{Type: "UsageThresholdEvent", Doc: "says that Microsoft Azure usage for a customer exceeded the budget set for it. It carries no ID: the ResourceUri names the usage records collection.",
		SamplePrefix: "https://api.partnercenter.microsoft.com/v1/customers/usagerecords"},
	{Type: "ReferralEvent", Doc: "is about a referral (co-sell engagement).",
		Pattern: "referrals/{ReferralID}", SamplePrefix: "https://api.partnercenter.microsoft.com/engagements/v1/"},
	{Type: "InvoiceEvent", Doc: "is about an invoice.",
		Pattern: "invoices/{InvoiceID}", SamplePrefix: "https://api.partnercenter.microsoft.com/v1/"},
	{Type: "GranularAdminRelationshipEvent", Doc: "is about a granular delegated admin privileges (GDAP) relationship.",
		Pattern: "granularAdminRelationships/{RelationshipID}", SamplePrefix: "https://partner.microsoft.com/"},
	{Type: "GranularAdminAccessAssignmentEvent", Doc: "is about an access assignment (security group and roles) within a GDAP relationship.",
		Pattern: "granularAdminRelationships/{RelationshipID}/accessAssignments/{AssignmentID}", SamplePrefix: "https://partner.microsoft.com/"},
	{Type: "NewCommerceMigrationEvent", Doc: "is about the migration of a customer's subscription to new commerce.",
		Pattern: "customers/{CustomerID}/migrations/newcommerce/{MigrationID}", SamplePrefix: "https://api.partnercenter.microsoft.com/webhooks/v1/"},
	{Type: "NewCommerceMigrationScheduleEvent", Doc: "is about a scheduled new-commerce migration.",
		Pattern: "customers/{CustomerID}/migrations/newcommerce/schedules/{ScheduleID}", SamplePrefix: "https://api.partnercenter.microsoft.com/webhooks/v1/"},
	{Type: "TransferEvent", Doc: "is about a transfer of a customer's subscriptions between partners. Real deliveries have been seen with a ResourceUri naming only the customer: TransferID is then empty.",
		Pattern: "customers/{CustomerID}/transfers/{TransferID}", SamplePrefix: "https://api.partnercenter.microsoft.com/webhooks/v1/"},
	{Type: "CustomerRelationshipEvent", Doc: "says that a customer accepted a (direct or indirect) reseller relationship.",
		Pattern: "customers/{CustomerID}", SamplePrefix: "https://api.partnercenter.microsoft.com/v1/"},
	{Type: "DAPEvent", Doc: "is about a delegated admin privileges (DAP) relationship. Its ResourceUri is null or absent, so it carries no ID.",
		SamplePrefix: "null"},
	{Type: "FraudEvent", Doc: "says that Azure detected a security alert (fraud) on a customer's subscription; act on it at once.",
		Pattern: "customers/{CustomerID}/subscriptions/{SubscriptionID}", Query: [][2]string{{"CustomerID", "CustomerId"}, {"SubscriptionID", "SubscriptionId"}},
		SamplePrefix: "https://api.partnercenter.microsoft.com/v1/"},
}

var events = []event{
	{"test-created", "TestCreated", "TestEvent", "test", "is raised when a test event is requested through the registration API.", nil},
	{"subscription-updated", "SubscriptionUpdated", "SubscriptionEvent", "subscription", "is raised when a subscription changes, through the API or internally; it may arrive up to 48 hours after the change.", nil},
	{"usagerecords-thresholdExceeded", "UsageRecordsThresholdExceeded", "UsageThresholdEvent", "usagerecords", "is raised when a customer's Microsoft Azure usage exceeds their usage spending budget.", nil},
	{"referral-created", "ReferralCreated", "ReferralEvent", "referral", "is raised when a referral is created.", nil},
	{"referral-updated", "ReferralUpdated", "ReferralEvent", "referral", "is raised when a referral is updated.", nil},
	{"related-referral-created", "RelatedReferralCreated", "ReferralEvent", "referral", "is raised when a related referral is created.", nil},
	{"related-referral-updated", "RelatedReferralUpdated", "ReferralEvent", "referral", "is raised when a related referral is updated.", nil},
	{"invoice-ready", "InvoiceReady", "InvoiceEvent", "invoice", "is raised when a new invoice is ready.", nil},
	{"granular-admin-relationship-approved", "GranularAdminRelationshipApproved", "GranularAdminRelationshipEvent", "GranularAdminRelationship", "is raised when the customer approves a GDAP relationship.", nil},
	{"granular-admin-relationship-activated", "GranularAdminRelationshipActivated", "GranularAdminRelationshipEvent", "GranularAdminRelationship", "is raised when a GDAP relationship becomes active.", nil},
	{"granular-admin-relationship-terminated", "GranularAdminRelationshipTerminated", "GranularAdminRelationshipEvent", "GranularAdminRelationship", "is raised when a GDAP relationship is terminated by the partner or the customer.", nil},
	{"granular-admin-relationship-auto-extended", "GranularAdminRelationshipAutoExtended", "GranularAdminRelationshipEvent", "GranularAdminRelationship", "is raised when the system extends a GDAP relationship automatically.", nil},
	{"granular-admin-relationship-updated", "GranularAdminRelationshipUpdated", "GranularAdminRelationshipEvent", "GranularAdminRelationship", "is raised when a GDAP relationship is updated by the partner or the customer.", nil},
	{"granular-admin-relationship-expired", "GranularAdminRelationshipExpired", "GranularAdminRelationshipEvent", "GranularAdminRelationship", "is raised when a GDAP relationship expires.", nil},
	{"granular-admin-relationship-created", "GranularAdminRelationshipCreated", "GranularAdminRelationshipEvent", "GranularAdminRelationship", "is raised when a GDAP relationship is created.", nil},
	{"granular-admin-access-assignment-created", "GranularAdminAccessAssignmentCreated", "GranularAdminAccessAssignmentEvent", "GranularAdminAccessAssignment", "is raised when the partner creates a GDAP access assignment.", nil},
	{"granular-admin-access-assignment-activated", "GranularAdminAccessAssignmentActivated", "GranularAdminAccessAssignmentEvent", "GranularAdminAccessAssignment", "is raised when a GDAP access assignment becomes active.", nil},
	{"granular-admin-access-assignment-updated", "GranularAdminAccessAssignmentUpdated", "GranularAdminAccessAssignmentEvent", "GranularAdminAccessAssignment", "is raised when the partner updates a GDAP access assignment.", nil},
	{"granular-admin-access-assignment-deleted", "GranularAdminAccessAssignmentDeleted", "GranularAdminAccessAssignmentEvent", "GranularAdminAccessAssignment", "is raised when the partner deletes a GDAP access assignment.", nil},
	{"new-commerce-migration-created", "NewCommerceMigrationCreated", "NewCommerceMigrationEvent", "NewCommerceMigration", "is raised when a new-commerce migration is created.", nil},
	{"new-commerce-migration-completed", "NewCommerceMigrationCompleted", "NewCommerceMigrationEvent", "NewCommerceMigration", "is raised when a new-commerce migration completes.", nil},
	{"create-new-commerce-migration-schedule", "CreateNewCommerceMigrationSchedule", "NewCommerceMigrationEvent", "NewCommerceMigration", "is raised when a new-commerce migration schedule is created.", nil},
	{"new-commerce-migration-failed", "NewCommerceMigrationFailed", "NewCommerceMigrationEvent", "NewCommerceMigration", "is raised when a new-commerce migration fails.", nil},
	{"new-commerce-migration-schedule-failed", "NewCommerceMigrationScheduleFailed", "NewCommerceMigrationScheduleEvent", "NewCommerceMigrationSchedule", "is raised when a scheduled new-commerce migration fails.", nil},
	{"create-transfer", "CreateTransfer", "TransferEvent", "Transfer", "is raised when a transfer is created.", nil},
	{"update-transfer", "UpdateTransfer", "TransferEvent", "Transfer", "is raised when a transfer is updated.", nil},
	{"complete-transfer", "CompleteTransfer", "TransferEvent", "Transfer", "is raised when a transfer completes.", nil},
	{"transfer-failed", "TransferFailed", "TransferEvent", "Transfer", "is raised when a transfer fails. The documents also call it \"fail-transfer\", which is accepted as an alias on input.", []string{"fail-transfer"}},
	{"reseller-relationship-accepted-by-customer", "ResellerRelationshipAcceptedByCustomer", "CustomerRelationshipEvent", "Customer", "is raised when a customer accepts a reseller relationship.", nil},
	{"indirect-reseller-relationship-accepted-by-customer", "IndirectResellerRelationshipAcceptedByCustomer", "CustomerRelationshipEvent", "Customer", "is raised when a customer accepts an indirect reseller relationship.", nil},
	{"dap-admin-relationship-approved", "DAPAdminRelationshipApproved", "DAPEvent", "PartnerCustomerDap", "is raised when a DAP relationship between the partner and a customer tenant is approved.", nil},
	{"dap-admin-relationship-terminated", "DAPAdminRelationshipTerminated", "DAPEvent", "PartnerCustomerDap", "is raised when a DAP relationship between the partner and a customer tenant is terminated.", nil},
	{"dap-admin-relationship-terminated-by-microsoft", "DAPAdminRelationshipTerminatedByMicrosoft", "DAPEvent", "PartnerCustomerDap", "is raised when Microsoft terminates a DAP relationship that was inactive for more than 90 days.", nil},
	{"azure-fraud-event-detected", "AzureFraudEventDetected", "FraudEvent", "", "is raised when a security alert (fraud) is detected on a customer tenant of the partner.", nil},
}
