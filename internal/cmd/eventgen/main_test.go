package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTableIsValid(t *testing.T) {
	require.NoError(t, validate())
	assert.Len(t, events, 34)
}

func TestValidateCatchesBadRows(t *testing.T) {
	saved := events
	defer func() { events = saved }()

	events = append(append([]event(nil), saved...), event{Name: "Test-Created", Const: "X", Family: "TestEvent", Doc: "d"})
	assert.ErrorContains(t, validate(), "listed twice")

	events = append(append([]event(nil), saved...), event{Name: "new-thing", Const: "NewThing", Family: "NoSuchEvent", Doc: "d"})
	assert.ErrorContains(t, validate(), "unknown family")

	events = append(append([]event(nil), saved...), event{Name: "new-thing", Family: "TestEvent"})
	assert.ErrorContains(t, validate(), "required")
}

func TestSampleURIs(t *testing.T) {
	d := newData()
	for _, e := range d.Events {
		switch e.Family.SamplePrefix {
		case "null", "absent":
			assert.Empty(t, e.Sample, e.Name)
		default:
			assert.True(t, strings.HasPrefix(e.Sample, "https://"), e.Name)
			assert.NotContains(t, e.Sample, "{", "%s: every placeholder is filled", e.Name)
		}
	}
	assert.Equal(t, SampleID("a", "b"), SampleID("a", "b"), "stable")
	assert.NotEqual(t, SampleID("a", "b"), SampleID("a", "c"))
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, SampleID("x", "y"))
}

// TestGenerateIntoTempDir runs the whole generator into a scratch copy of the README and checks
// that it writes every output and refuses a README without the markers.
func TestGenerateIntoTempDir(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("# x\n"+tableBegin+"\nold\n"+tableEnd+"\nafter\n"), 0o644))
	d := newData()
	require.NoError(t, writeGo(filepath.Join(dir, "events_gen.go"), eventsTmpl, d))
	src, err := os.ReadFile(filepath.Join(dir, "events_gen.go"))
	require.NoError(t, err)
	assert.Contains(t, string(src), `EventTransferFailed EventName = "transfer-failed"`)
	assert.Regexp(t, `"fail-transfer": +EventTransferFailed,`, string(src))

	require.NoError(t, writeReadmeTable(readme, d))
	got, err := os.ReadFile(readme)
	require.NoError(t, err)
	assert.NotContains(t, string(got), "\nold\n")
	assert.Contains(t, string(got), "| `azure-fraud-event-detected` |")
	assert.True(t, strings.HasSuffix(string(got), tableEnd+"\nafter\n"))

	require.NoError(t, os.WriteFile(readme, []byte("no markers"), 0o644))
	assert.ErrorContains(t, writeReadmeTable(readme, d), "markers")
}

func TestWrapComments(t *testing.T) {
	long := "\t// " + strings.Repeat("word ", 30) + "end"
	src := "package x\n\n" + long + "\n\t//\tcode block " + strings.Repeat("x", 120) + "\n// short\nvar s = \"" + strings.Repeat("y", 120) + "\" // not wrapped: code\n"
	got := string(wrapComments([]byte(src), 100))
	lines := strings.Split(got, "\n")
	for _, l := range lines {
		if strings.Contains(l, "word") {
			assert.LessOrEqual(t, columns(l), 100, l)
			assert.True(t, strings.HasPrefix(l, "\t// "), "indentation kept: %q", l)
		}
	}
	assert.Contains(t, got, "\t//\tcode block "+strings.Repeat("x", 120), "preformatted comment lines are kept")
	assert.Contains(t, got, "// short\n")
	assert.Contains(t, got, strings.Repeat("y", 120)+"\" // not wrapped: code")
	assert.Equal(t, strings.Fields(long[3:]), strings.Fields(strings.ReplaceAll(got[len("package x\n\n"):strings.Index(got, "\t//\tcode")], "\t// ", " ")), "no word lost")
}

// TestGeneratedCommentsWrap: every comment line the generator writes fits in commentWidth.
func TestGeneratedCommentsWrap(t *testing.T) {
	dir := t.TempDir()
	d := newData()
	for name, tmpl := range map[string]*template.Template{"events_gen.go": eventsTmpl, "handler_gen.go": handlerTmpl, "samples_gen.go": samplesTmpl} {
		path := filepath.Join(dir, name)
		require.NoError(t, writeGo(path, tmpl, d))
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, l := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimLeft(l, "\t"), "//") {
				assert.LessOrEqual(t, columns(l), commentWidth, "%s: %s", name, l)
			}
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, "handler_gen.go"))
	require.NoError(t, err)
	assert.Contains(t, string(src), "// OnSubscriptionUpdated registers fn for [EventSubscriptionUpdated]")
	joined := strings.ReplaceAll(string(src), "\n// ", " ") // comments as running text
	assert.Equal(t, strings.Count(string(src), "func (h *Handler) On"), strings.Count(joined, "under the callback contract of [Handler]"),
		"every On* doc points at the contract, stated once on Handler")
	assert.NotContains(t, string(src), "cancelled when Partner Center hangs up", "the contract itself is not repeated")
}

func TestEveryTemplateIsEmbedded(t *testing.T) {
	for _, tm := range []*template.Template{eventsTmpl, handlerTmpl, samplesTmpl, readmeTmpl, templates.Lookup("header"), templates.Lookup("contract")} {
		assert.NotNil(t, tm)
	}
}
