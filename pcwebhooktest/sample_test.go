package pcwebhooktest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

// TestSampleEventRoundTrips: every documented event's sample decodes to that event with the
// sample's resource and non-empty IDs taken from its ResourceUri.
func TestSampleEventRoundTrips(t *testing.T) {
	names := pcwebhook.KnownEventNames()
	require.Len(t, samples, len(names), "a sample for every event")
	for _, name := range names {
		t.Run(string(name), func(t *testing.T) {
			body := SampleEvent(name)
			ev, err := pcwebhook.ParseEvent(body)
			require.NoError(t, err)
			s := samples[name]
			assert.Equal(t, name, ev.Name)
			assert.Equal(t, s.resourceURI, ev.ResourceURI)
			assert.Equal(t, s.resourceName, ev.ResourceName)
			assert.Empty(t, ev.AuditURI)
			assert.True(t, sampleTime.Equal(ev.ResourceChangeUTCDate))

			var raw map[string]any
			require.NoError(t, json.Unmarshal(body, &raw))
			if s.resourceURI == "" {
				v, present := raw["ResourceUri"]
				assert.True(t, present)
				assert.Nil(t, v, "DAP events carry a null ResourceUri")
			}
			if s.resourceName == "" {
				assert.NotContains(t, raw, "ResourceName", "azure-fraud-event-detected has no ResourceName")
			}

			// Every ID field of the typed event is set, and is a segment of the ResourceUri.
			typed := reflect.ValueOf(ev.Typed()).Elem()
			ids := 0
			for i := 0; i < typed.NumField(); i++ {
				f := typed.Type().Field(i)
				if !strings.HasSuffix(f.Name, "ID") || f.Type.Kind() != reflect.String {
					continue
				}
				ids++
				id := typed.Field(i).String()
				assert.NotEmpty(t, id, f.Name)
				assert.Contains(t, s.resourceURI, "/"+id, f.Name)
			}
			if s.resourceURI != "" && !strings.HasSuffix(s.resourceURI, "/usagerecords") {
				assert.Positive(t, ids, "the typed event exposes IDs")
			}
		})
	}
}

func TestSampleEventUnknownName(t *testing.T) {
	ev, err := pcwebhook.ParseEvent(SampleEvent("widget-exploded"))
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.EventName("widget-exploded"), ev.Name)
	assert.False(t, ev.Name.Known())
	assert.Equal(t, "widget", ev.ResourceName)
	assert.Empty(t, ev.ResourceURI)

	// A name that needs JSON escaping stays intact.
	ev, err = pcwebhook.ParseEvent(SampleEvent(`odd"name\`))
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.EventName(`odd"name\`), ev.Name)
}
