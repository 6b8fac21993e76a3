package main

// This file is the one table that describes every documented Partner Center webhook event.
// Everything per-event in the library (constants, name lookup, typed structs, On* callbacks,
// sample bodies of the test kit, the table in docs/events.md) is generated from it by
// `go generate`.
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
	// Query names IDs that may also arrive as query parameters, used when the path does not
	// carry them.
	Query []queryParam
	// SamplePrefix is what precedes Pattern in the documents' examples; SampleEvent uses it.
	// "null" means the sample has "ResourceUri": null; "absent" means the field is left out.
	SamplePrefix string
}

// queryParam is an ID that may arrive as a query parameter of the ResourceUri.
type queryParam struct {
	// Field is the ID's {Field} name in the family's Pattern.
	Field string
	// Param is the name of the query parameter, matched case-insensitively.
	Param string
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
		Pattern: "customers/{CustomerID}/subscriptions/{SubscriptionID}", Query: []queryParam{{Field: "CustomerID", Param: "CustomerId"}, {Field: "SubscriptionID", Param: "SubscriptionId"}},
		SamplePrefix: "https://api.partnercenter.microsoft.com/v1/"},
}

var events = []event{
	{Name: "test-created", Const: "TestCreated", Family: "TestEvent", Resource: "test",
		Doc: "is raised when a test event is requested through the registration API."},
	{Name: "subscription-updated", Const: "SubscriptionUpdated", Family: "SubscriptionEvent", Resource: "subscription",
		Doc: "is raised when a subscription changes, through the API or internally; it may arrive up to 48 hours after the change."},
	{Name: "usagerecords-thresholdExceeded", Const: "UsageRecordsThresholdExceeded", Family: "UsageThresholdEvent", Resource: "usagerecords",
		Doc: "is raised when a customer's Microsoft Azure usage exceeds their usage spending budget."},
	{Name: "referral-created", Const: "ReferralCreated", Family: "ReferralEvent", Resource: "referral",
		Doc: "is raised when a referral is created."},
	{Name: "referral-updated", Const: "ReferralUpdated", Family: "ReferralEvent", Resource: "referral",
		Doc: "is raised when a referral is updated."},
	{Name: "related-referral-created", Const: "RelatedReferralCreated", Family: "ReferralEvent", Resource: "referral",
		Doc: "is raised when a related referral is created."},
	{Name: "related-referral-updated", Const: "RelatedReferralUpdated", Family: "ReferralEvent", Resource: "referral",
		Doc: "is raised when a related referral is updated."},
	{Name: "invoice-ready", Const: "InvoiceReady", Family: "InvoiceEvent", Resource: "invoice",
		Doc: "is raised when a new invoice is ready."},
	{Name: "granular-admin-relationship-approved", Const: "GranularAdminRelationshipApproved", Family: "GranularAdminRelationshipEvent", Resource: "GranularAdminRelationship",
		Doc: "is raised when the customer approves a GDAP relationship."},
	{Name: "granular-admin-relationship-activated", Const: "GranularAdminRelationshipActivated", Family: "GranularAdminRelationshipEvent", Resource: "GranularAdminRelationship",
		Doc: "is raised when a GDAP relationship becomes active."},
	{Name: "granular-admin-relationship-terminated", Const: "GranularAdminRelationshipTerminated", Family: "GranularAdminRelationshipEvent", Resource: "GranularAdminRelationship",
		Doc: "is raised when a GDAP relationship is terminated by the partner or the customer."},
	{Name: "granular-admin-relationship-auto-extended", Const: "GranularAdminRelationshipAutoExtended", Family: "GranularAdminRelationshipEvent", Resource: "GranularAdminRelationship",
		Doc: "is raised when the system extends a GDAP relationship automatically."},
	{Name: "granular-admin-relationship-updated", Const: "GranularAdminRelationshipUpdated", Family: "GranularAdminRelationshipEvent", Resource: "GranularAdminRelationship",
		Doc: "is raised when a GDAP relationship is updated by the partner or the customer."},
	{Name: "granular-admin-relationship-expired", Const: "GranularAdminRelationshipExpired", Family: "GranularAdminRelationshipEvent", Resource: "GranularAdminRelationship",
		Doc: "is raised when a GDAP relationship expires."},
	{Name: "granular-admin-relationship-created", Const: "GranularAdminRelationshipCreated", Family: "GranularAdminRelationshipEvent", Resource: "GranularAdminRelationship",
		Doc: "is raised when a GDAP relationship is created."},
	{Name: "granular-admin-access-assignment-created", Const: "GranularAdminAccessAssignmentCreated", Family: "GranularAdminAccessAssignmentEvent", Resource: "GranularAdminAccessAssignment",
		Doc: "is raised when the partner creates a GDAP access assignment."},
	{Name: "granular-admin-access-assignment-activated", Const: "GranularAdminAccessAssignmentActivated", Family: "GranularAdminAccessAssignmentEvent", Resource: "GranularAdminAccessAssignment",
		Doc: "is raised when a GDAP access assignment becomes active."},
	{Name: "granular-admin-access-assignment-updated", Const: "GranularAdminAccessAssignmentUpdated", Family: "GranularAdminAccessAssignmentEvent", Resource: "GranularAdminAccessAssignment",
		Doc: "is raised when the partner updates a GDAP access assignment."},
	{Name: "granular-admin-access-assignment-deleted", Const: "GranularAdminAccessAssignmentDeleted", Family: "GranularAdminAccessAssignmentEvent", Resource: "GranularAdminAccessAssignment",
		Doc: "is raised when the partner deletes a GDAP access assignment."},
	{Name: "new-commerce-migration-created", Const: "NewCommerceMigrationCreated", Family: "NewCommerceMigrationEvent", Resource: "NewCommerceMigration",
		Doc: "is raised when a new-commerce migration is created."},
	{Name: "new-commerce-migration-completed", Const: "NewCommerceMigrationCompleted", Family: "NewCommerceMigrationEvent", Resource: "NewCommerceMigration",
		Doc: "is raised when a new-commerce migration completes."},
	{Name: "create-new-commerce-migration-schedule", Const: "CreateNewCommerceMigrationSchedule", Family: "NewCommerceMigrationEvent", Resource: "NewCommerceMigration",
		Doc: "is raised when a new-commerce migration schedule is created."},
	{Name: "new-commerce-migration-failed", Const: "NewCommerceMigrationFailed", Family: "NewCommerceMigrationEvent", Resource: "NewCommerceMigration",
		Doc: "is raised when a new-commerce migration fails."},
	{Name: "new-commerce-migration-schedule-failed", Const: "NewCommerceMigrationScheduleFailed", Family: "NewCommerceMigrationScheduleEvent", Resource: "NewCommerceMigrationSchedule",
		Doc: "is raised when a scheduled new-commerce migration fails."},
	{Name: "create-transfer", Const: "CreateTransfer", Family: "TransferEvent", Resource: "Transfer",
		Doc: "is raised when a transfer is created."},
	{Name: "update-transfer", Const: "UpdateTransfer", Family: "TransferEvent", Resource: "Transfer",
		Doc: "is raised when a transfer is updated."},
	{Name: "complete-transfer", Const: "CompleteTransfer", Family: "TransferEvent", Resource: "Transfer",
		Doc: "is raised when a transfer completes."},
	{Name: "transfer-failed", Const: "TransferFailed", Family: "TransferEvent", Resource: "Transfer",
		Doc:     "is raised when a transfer fails. The documents also call it \"fail-transfer\", which is accepted as an alias on input.",
		Aliases: []string{"fail-transfer"}},
	{Name: "reseller-relationship-accepted-by-customer", Const: "ResellerRelationshipAcceptedByCustomer", Family: "CustomerRelationshipEvent", Resource: "Customer",
		Doc: "is raised when a customer accepts a reseller relationship."},
	{Name: "indirect-reseller-relationship-accepted-by-customer", Const: "IndirectResellerRelationshipAcceptedByCustomer", Family: "CustomerRelationshipEvent", Resource: "Customer",
		Doc: "is raised when a customer accepts an indirect reseller relationship."},
	{Name: "dap-admin-relationship-approved", Const: "DAPAdminRelationshipApproved", Family: "DAPEvent", Resource: "PartnerCustomerDap",
		Doc: "is raised when a DAP relationship between the partner and a customer tenant is approved."},
	{Name: "dap-admin-relationship-terminated", Const: "DAPAdminRelationshipTerminated", Family: "DAPEvent", Resource: "PartnerCustomerDap",
		Doc: "is raised when a DAP relationship between the partner and a customer tenant is terminated."},
	{Name: "dap-admin-relationship-terminated-by-microsoft", Const: "DAPAdminRelationshipTerminatedByMicrosoft", Family: "DAPEvent", Resource: "PartnerCustomerDap",
		Doc: "is raised when Microsoft terminates a DAP relationship that was inactive for more than 90 days."},
	{Name: "azure-fraud-event-detected", Const: "AzureFraudEventDetected", Family: "FraudEvent", Resource: "",
		Doc: "is raised when a security alert (fraud) is detected on a customer tenant of the partner."},
}
