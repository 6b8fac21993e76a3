package main

import (
	"embed"
	"strings"
	"text/template"
)

// The templates are .tmpl files beside this one, embedded at build time. Their doc comments are
// written one line per paragraph; writeGo wraps them (see wrapComments).
//
//go:embed templates/*.tmpl
var templateFiles embed.FS

var funcs = template.FuncMap{
	"lower": strings.ToLower,
	"join":  strings.Join,
	"quote": func(s string) string { return `"` + s + `"` },
	"code":  func(s string) string { return "`" + s + "`" },
}

// templates holds every template, each file under its base name, plus the named blocks of
// common.tmpl ("header", "contract").
var templates = template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/*.tmpl"))

var (
	eventsTmpl  = templates.Lookup("events_gen.go.tmpl")
	handlerTmpl = templates.Lookup("handler_gen.go.tmpl")
	samplesTmpl = templates.Lookup("samples_gen.go.tmpl")
	readmeTmpl  = templates.Lookup("readme_table.md.tmpl")
)

// commentWidth is the column at which generated comments wrap, a tab counting as tabWidth.
const (
	commentWidth = 100
	tabWidth     = 4
)

// wrapComments wraps every // comment line of src that is longer than width columns at word
// boundaries, keeping its indentation. Lines whose text starts with a space or a tab (code
// blocks and lists in doc comments) and words longer than a line are left as they are.
func wrapComments(src []byte, width int) []byte {
	lines := strings.Split(string(src), "\n")
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		trimmed := strings.TrimLeft(line, "\t ")
		indent := line[:len(line)-len(trimmed)]
		text, ok := strings.CutPrefix(trimmed, "// ")
		if !ok || columns(line) <= width || strings.HasPrefix(text, " ") || strings.HasPrefix(text, "\t") {
			out = append(out, line)
			continue
		}
		prefix := indent + "// "
		cur := prefix
		for _, w := range strings.Fields(text) {
			if cur != prefix && columns(cur)+1+len(w) > width {
				out = append(out, cur)
				cur = prefix
			}
			if cur != prefix {
				cur += " "
			}
			cur += w
		}
		out = append(out, cur)
	}
	return []byte(strings.Join(out, "\n"))
}

// columns is the display width of a line, a tab counting as tabWidth columns (runes count one).
func columns(s string) int {
	n := 0
	for _, r := range s {
		if r == '\t' {
			n += tabWidth
		} else {
			n++
		}
	}
	return n
}
