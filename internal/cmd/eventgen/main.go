// Command eventgen generates every per-event piece of pcwebhook from the table in table.go, with
// the text/template files in templates/ (embedded, one per output, plus common.tmpl for the
// header and the callback contract that every On<Event> doc states).
//
// It is run by `go generate` from the repository root (see the directive in events.go) and writes:
//
//   - events_gen.go: the EventName constants, the name lookup, the typed family structs,
//     Event.Typed and Event.IDs;
//   - handler_gen.go: one typed On<Event> callback registration method per event;
//   - pcwebhooktest/samples_gen.go: the sample resource of every event, for SampleEvent;
//   - the supported-events table in docs/events.md, between its BEGIN/END markers.
//
// Templates write each doc comment paragraph on one line; the generator wraps comment lines at
// 100 columns. CI runs it and fails when the committed output differs, so generated code never
// goes stale.
package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
)

func main() {
	root := flag.String("root", ".", "repository root to write into")
	flag.Parse()
	if err := validate(); err != nil {
		log.Fatalf("eventgen: table: %v", err)
	}
	d := newData()
	for _, out := range []struct {
		path string
		tmpl *template.Template
	}{
		{"events_gen.go", eventsTmpl},
		{"handler_gen.go", handlerTmpl},
		{filepath.Join("pcwebhooktest", "samples_gen.go"), samplesTmpl},
	} {
		if err := writeGo(filepath.Join(*root, out.path), out.tmpl, d); err != nil {
			log.Fatalf("eventgen: %s: %v", out.path, err)
		}
	}
	if err := writeReadmeTable(filepath.Join(*root, "docs", "events.md"), d); err != nil {
		log.Fatalf("eventgen: docs/events.md: %v", err)
	}
}

// validate checks the table's internal consistency, so a bad row fails generation rather than
// producing code that compiles but misbehaves.
func validate() error {
	fams := map[string]bool{}
	for _, f := range families {
		if fams[f.Type] {
			return fmt.Errorf("family %s listed twice", f.Type)
		}
		fams[f.Type] = true
		for _, id := range patternFields(f.Pattern) {
			if idDocs[id] == "" {
				return fmt.Errorf("family %s: field %s has no entry in idDocs", f.Type, id)
			}
		}
		for _, q := range f.Query {
			if !slices.Contains(patternFields(f.Pattern), q.Field) {
				return fmt.Errorf("family %s: query field %s is not in the pattern", f.Type, q.Field)
			}
		}
	}
	seen := map[string]bool{}
	used := map[string]bool{}
	for _, e := range events {
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			k := strings.ToLower(n)
			if seen[k] {
				return fmt.Errorf("event name %q listed twice (names are case-insensitive)", n)
			}
			seen[k] = true
		}
		if !fams[e.Family] {
			return fmt.Errorf("event %s: unknown family %s", e.Name, e.Family)
		}
		used[e.Family] = true
		if e.Const == "" || e.Doc == "" {
			return fmt.Errorf("event %s: Const and Doc are required", e.Name)
		}
	}
	for f := range fams {
		if !used[f] {
			return fmt.Errorf("family %s has no event", f)
		}
	}
	return nil
}

var fieldRE = regexp.MustCompile(`^\{([A-Za-z]+)\}$`)

// patternFields returns the {Field} names of a pattern, in order.
func patternFields(p string) []string {
	var out []string
	for _, s := range splitPattern(p) {
		if m := fieldRE.FindStringSubmatch(s); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func splitPattern(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// data is what the templates see.
type data struct {
	Events   []eventData
	Families []familyData
	Keywords []string // lower-cased fixed segments of every pattern, and extraKeywords, sorted
	// NoIDFamilies are the Types of the families that carry no ID, in table order.
	NoIDFamilies []string
}

type eventData struct {
	event
	Family *familyData
	Sample string // sample ResourceUri, "" for null
}

type familyData struct {
	family
	Var      string   // name of the pattern variable
	Segments []string // pattern segments, "" for an ID
	Fields   []fieldData
	Events   []string // constant names
}

type fieldData struct {
	Name, Doc, Query string
}

func newData() *data {
	d := &data{}
	byType := map[string]*familyData{}
	for _, f := range families {
		fd := &familyData{family: f, Var: "pattern" + f.Type}
		for _, s := range splitPattern(f.Pattern) {
			if fieldRE.MatchString(s) {
				s = ""
			}
			fd.Segments = append(fd.Segments, s)
		}
		for _, id := range patternFields(f.Pattern) {
			fld := fieldData{Name: id, Doc: idDocs[id]}
			for _, q := range f.Query {
				if q.Field == id {
					fld.Query = q.Param
				}
			}
			fd.Fields = append(fd.Fields, fld)
		}
		byType[f.Type] = fd
	}
	for _, e := range events {
		fd := byType[e.Family]
		fd.Events = append(fd.Events, "Event"+e.Const)
		d.Events = append(d.Events, eventData{event: e, Family: fd, Sample: sampleURI(e, fd)})
	}
	kw := map[string]bool{}
	for _, f := range families {
		d.Families = append(d.Families, *byType[f.Type])
		if len(byType[f.Type].Fields) == 0 {
			d.NoIDFamilies = append(d.NoIDFamilies, f.Type)
		}
		for _, seg := range splitPattern(f.Pattern) {
			if !fieldRE.MatchString(seg) {
				kw[strings.ToLower(seg)] = true
			}
		}
	}
	for _, k := range extraKeywords {
		kw[strings.ToLower(k)] = true
	}
	for k := range kw {
		d.Keywords = append(d.Keywords, k)
	}
	sort.Strings(d.Keywords)
	return d
}

// sampleURI builds the example ResourceUri of an event, with a stable GUID for every ID.
func sampleURI(e event, f *familyData) string {
	switch f.SamplePrefix {
	case "null", "absent":
		return ""
	}
	segs := splitPattern(f.Pattern)
	for i, s := range segs {
		if m := fieldRE.FindStringSubmatch(s); m != nil {
			segs[i] = SampleID(e.Name, m[1])
		}
	}
	return f.SamplePrefix + strings.Join(segs, "/")
}

// SampleID is a GUID derived from an event name and a field, so samples are stable across runs.
func SampleID(name, field string) string {
	h := sha256.Sum256([]byte(name + "/" + field))
	h[6] = h[6]&0x0f | 0x50 // version 5-like
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func writeGo(path string, t *template.Template, d *data) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return err
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return fmt.Errorf("gofmt of generated code: %w\n%s", err, buf.Bytes())
	}
	// Wrapping changes only comment text, but format again so the output is gofmt's whatever it is.
	if src, err = format.Source(wrapComments(src, commentWidth)); err != nil {
		return fmt.Errorf("gofmt of wrapped code: %w", err)
	}
	return writeIfChanged(path, src)
}

func writeIfChanged(path string, content []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, content, 0o644)
}

const (
	tableBegin = "<!-- BEGIN GENERATED EVENTS TABLE (go generate ./...) -->"
	tableEnd   = "<!-- END GENERATED EVENTS TABLE -->"
)

// writeReadmeTable replaces the events table of the Markdown file at path (docs/events.md),
// between the markers, with the table's.
func writeReadmeTable(path string, d *data) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	b, e := strings.Index(s, tableBegin), strings.Index(s, tableEnd)
	if b < 0 || e < b {
		return fmt.Errorf("markers %q and %q not found in order", tableBegin, tableEnd)
	}
	var buf bytes.Buffer
	if err := readmeTmpl.Execute(&buf, d); err != nil {
		return err
	}
	out := s[:b+len(tableBegin)] + "\n" + buf.String() + s[e:]
	return writeIfChanged(path, []byte(out))
}
