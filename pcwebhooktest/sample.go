package pcwebhooktest

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// sampleTime is the ResourceChangeUtcDate of SampleEvent: the one of the documents' example.
var sampleTime = time.Date(2017, 11, 16, 16, 19, 6, 352027600, time.UTC)

// SampleEvent returns a body of the documented shape for the event name: its ResourceName, a
// ResourceUri carrying stable IDs (null for DAP events), a null AuditUri, and the documents'
// ResourceChangeUtcDate (2017-11-16T16:19:06.3520276+00:00). The same name always gives the same
// bytes, as a retried delivery does; use [SampleEventAt] or [EventSpec] for distinct events. Its
// 2017 date is outside any pcwebhook.WithMaxEventAge window: for such a Handler, use an
// [EventSpec] (dated now unless told otherwise). A name that is not
// documented gives a generic body with that name and a null ResourceUri. The body of any
// non-empty name decodes with pcwebhook.ParseEvent.
func SampleEvent(name pcwebhook.EventName) []byte {
	return SampleEventAt(name, sampleTime)
}

// SampleEventAt is [SampleEvent] with the given ResourceChangeUtcDate (written in UTC with 7
// fractional digits and "+00:00", as Partner Center writes it).
func SampleEventAt(name pcwebhook.EventName, at time.Time) []byte {
	return sampleBody(name, at).encode()
}

// body is the JSON layout of a delivery, in Partner Center's field order.
type body struct {
	EventName             string  `json:"EventName"`
	ResourceURI           *string `json:"ResourceUri"`
	ResourceName          *string `json:"ResourceName,omitempty"`
	AuditURI              *string `json:"AuditUri"`
	ResourceChangeUtcDate string  `json:"ResourceChangeUtcDate"`
}

// sampleBody returns the documented sample of name at the given time.
func sampleBody(name pcwebhook.EventName, at time.Time) body {
	b := body{
		EventName:             string(name),
		ResourceChangeUtcDate: at.UTC().Format("2006-01-02T15:04:05.0000000") + "+00:00",
	}
	if s, ok := samples[name]; ok {
		if s.resourceURI != "" {
			uri := s.resourceURI
			b.ResourceURI = &uri
		}
		if s.resourceName != "" { // absent from azure-fraud-event-detected
			resource := s.resourceName
			b.ResourceName = &resource
		}
	} else {
		resource, _, _ := strings.Cut(string(name), "-")
		b.ResourceName = &resource
	}
	return b
}

// encode returns the JSON of b.
func (b body) encode() []byte {
	out, err := json.Marshal(b)
	if err != nil { // a struct of strings always encodes
		panic("pcwebhooktest: SampleEvent: " + err.Error())
	}
	return out
}
