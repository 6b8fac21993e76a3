package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
)

// describe returns the name of the typed struct of e's family and the IDs it carries, in the
// order of the struct's fields. An event name the library does not know gives "Event" and no IDs.
func describe(e *pcwebhook.Event) (typeName string, ids []pcwebhook.ResourceID) {
	typeName = strings.TrimPrefix(fmt.Sprintf("%T", e.Typed()), "*pcwebhook.")
	return typeName, e.IDs()
}

// writeEventFields writes the lines of an event block below its heading: the typed struct, its
// IDs, the change date and the other fields, each indented by indent. The values come from the
// sender, so they are printed through termsafe.Text.
func writeEventFields(w io.Writer, e *pcwebhook.Event, indent string) {
	typeName, ids := describe(e)
	rows := [][2]string{}
	if e.Name.Known() {
		rows = append(rows, [2]string{"type", "pcwebhook." + typeName})
	} else {
		rows = append(rows, [2]string{"type", "pcwebhook.Event (an event name this version does not know: OnUnknown receives it)"})
	}
	for _, id := range ids {
		rows = append(rows, [2]string{id.Name, orDash(id.Value)})
	}
	date := "-"
	if !e.ResourceChangeUTCDate.IsZero() {
		date = e.ResourceChangeUTCDate.Format("2006-01-02T15:04:05.0000000Z07:00")
	}
	rows = append(rows,
		[2]string{"ResourceChangeUtcDate", date},
		[2]string{"ResourceName", orDash(e.ResourceName)},
		[2]string{"ResourceUri", orDash(e.ResourceURI)},
	)
	if e.AuditURI != "" {
		rows = append(rows, [2]string{"AuditUri", e.AuditURI})
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s%-*s  %s\n", indent, width, r[0], termsafe.Text(r[1]))
	}
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// eventJSON is an event in the JSON output of listen and verify.
type eventJSON struct {
	Name                  string            `json:"event"`
	Known                 bool              `json:"known"`
	Type                  string            `json:"type"`
	IDs                   map[string]string `json:"ids,omitempty"`
	ResourceChangeUTCDate string            `json:"resourceChangeUtcDate,omitempty"`
	ResourceName          string            `json:"resourceName,omitempty"`
	ResourceURI           string            `json:"resourceUri,omitempty"`
	AuditURI              string            `json:"auditUri,omitempty"`
	Body                  json.RawMessage   `json:"body,omitempty"`
}

// newEventJSON describes e for JSON output. The body is included as JSON when it is valid JSON.
func newEventJSON(e *pcwebhook.Event) *eventJSON {
	typeName, ids := describe(e)
	out := &eventJSON{
		Name:         string(e.Name),
		Known:        e.Name.Known(),
		Type:         typeName,
		ResourceName: e.ResourceName,
		ResourceURI:  e.ResourceURI,
		AuditURI:     e.AuditURI,
	}
	if len(ids) > 0 {
		out.IDs = make(map[string]string, len(ids))
		for _, id := range ids {
			out.IDs[id.Name] = id.Value
		}
	}
	if !e.ResourceChangeUTCDate.IsZero() {
		out.ResourceChangeUTCDate = e.ResourceChangeUTCDate.Format("2006-01-02T15:04:05.0000000Z07:00")
	}
	if json.Valid(e.Raw) {
		out.Body = json.RawMessage(e.Raw)
	}
	return out
}

// canonicalName returns the library's spelling of a name given on the command line: a
// documented name in any letter case, or an alias such as fail-transfer, gives its constant;
// any other name is returned trimmed. It asks the library's own decoder, so it agrees with what
// the Handler does with the name on the wire.
func canonicalName(s string) pcwebhook.EventName {
	s = strings.TrimSpace(s)
	body, err := json.Marshal(map[string]string{"EventName": s})
	if err != nil {
		return pcwebhook.EventName(s)
	}
	e, err := pcwebhook.ParseEvent(body)
	if err != nil {
		return pcwebhook.EventName(s)
	}
	return e.Name
}

// parseEventList reads a comma-separated list of event names into their canonical spelling,
// without duplicates, and returns the names the library does not know, for a warning.
func parseEventList(list string) (names, unknown []pcwebhook.EventName) {
	seen := map[pcwebhook.EventName]bool{}
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		n := canonicalName(s)
		if seen[n] {
			continue
		}
		seen[n] = true
		names = append(names, n)
		if !n.Known() {
			unknown = append(unknown, n)
		}
	}
	return names, unknown
}

// joinNames lists event names for printing, each through termsafe.Text (a name may come from the
// API or a delivery).
func joinNames(names []pcwebhook.EventName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = termsafe.Text(string(n))
	}
	return strings.Join(s, ", ")
}

// commaList lists event names as --events takes them.
func commaList(names []pcwebhook.EventName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ",")
}
