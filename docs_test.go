package pcwebhook_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The documentation check: the README stays short and shows the set-up commands, every relative
// link of the Markdown documents reaches a file and a heading that exist, and the documents
// describe the code, not how the project is organised.

// maxReadmeLines is the most lines README.md may have.
const maxReadmeLines = 550

// setUpCommands are the commands the README must show (CI runs them as written there).
var setUpCommands = []string{"go run ./examples/quickstart", "go test ./..."}

// documents lists the Markdown files the check covers: README.md, CHANGELOG.md and docs/*.md.
func documents(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	docs, err := fs.Glob(fsys, "docs/*.md")
	require.NoError(t, err)
	return append([]string{"README.md", "CHANGELOG.md"}, docs...)
}

func TestDocumentation(t *testing.T) {
	fsys := os.DirFS(".")
	readme, err := fs.ReadFile(fsys, "README.md")
	require.NoError(t, err)
	lines := strings.Count(string(readme), "\n")
	assert.LessOrEqual(t, lines, maxReadmeLines, "README.md has %d lines: move details to docs/", lines)
	for _, cmd := range setUpCommands {
		assert.Contains(t, string(readme), cmd, "README.md must show the set-up command %q", cmd)
	}
	for _, name := range documents(t, fsys) {
		for _, problem := range linkProblems(fsys, name) {
			t.Errorf("%s: %s", name, problem)
		}
		text, err := fs.ReadFile(fsys, name)
		require.NoError(t, err)
		for _, w := range processWords(string(text)) {
			t.Errorf("%s: %q names how the project is organised; say what the code does", name, w)
		}
	}
}

// TestLinkProblems runs the link check on fixture documents: a broken link or anchor must be
// reported, and what GitHub resolves must not.
func TestLinkProblems(t *testing.T) {
	fsys := fstest.MapFS{
		"docs/guide.md":      {Data: []byte("# Guide\n\n## Who answers what: 401 or 503\n\n## `pcwebhook check`\n\n## Notes\n\n## Notes\n\n```\n# not a heading\n```\n")},
		"examples/x/main.go": {Data: []byte("package main\n")},
	}
	for _, tc := range []struct {
		name, doc string
		want      []string // substrings of the problems, in order; none when the links are good
	}{
		{name: "file", doc: "[guide](docs/guide.md)"},
		{name: "directory", doc: "[x](examples/x)"},
		{name: "code file", doc: "see [`main.go`](examples/x/main.go)."},
		{name: "anchor with punctuation", doc: "[who](docs/guide.md#who-answers-what-401-or-503)"},
		{name: "anchor of a code heading", doc: "[check](docs/guide.md#pcwebhook-check)"},
		{name: "second heading of a name", doc: "[notes](docs/guide.md#notes-1)"},
		{name: "anchor in this file", doc: "# Top\n\n## Two words\n\n[up](#two-words)"},
		{name: "link text over two lines", doc: "[the\nguide](docs/guide.md#guide)"},
		{name: "absolute URLs are not checked", doc: "[go](https://go.dev/missing) <https://x.example/y>"},
		{name: "links in code are not links", doc: "```\n[a](missing.md)\n```\n`[b](missing.md)`"},
		{name: "link with a title", doc: `[guide](docs/guide.md "The guide")`},
		{name: "missing file", doc: "[gone](docs/gone.md)", want: []string{`"docs/gone.md": no such file`}},
		{name: "missing anchor", doc: "[who](docs/guide.md#who-answers-what)", want: []string{`no heading "#who-answers-what" in docs/guide.md`}},
		{name: "heading inside code is no heading", doc: "[h](docs/guide.md#not-a-heading)", want: []string{"no heading"}},
		{name: "third heading of a name", doc: "[notes](docs/guide.md#notes-2)", want: []string{`"#notes-2"`}},
		{name: "missing anchor in this file", doc: "# Top\n\n[down](#bottom)", want: []string{`no heading "#bottom" in README.md`}},
		{name: "anchor into a file that is not Markdown", doc: "[l](examples/x/main.go#L1)", want: []string{"not a Markdown file"}},
		{name: "outside the repository", doc: "[up](../other/README.md)", want: []string{"outside the repository"}},
		{name: "two broken links", doc: "[a](a.md) and [b](docs/guide.md#b)", want: []string{`"a.md"`, `"#b"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fstest.MapFS{"README.md": {Data: []byte(tc.doc)}}
			for k, v := range fsys {
				f[k] = v
			}
			got := linkProblems(f, "README.md")
			require.Len(t, got, len(tc.want), "problems: %q", got)
			for i, w := range tc.want {
				assert.Contains(t, got[i], w)
			}
		})
	}
}

func TestLinksFromASubdirectory(t *testing.T) {
	fsys := fstest.MapFS{
		"README.md":           {Data: []byte("# pcwebhook\n\n## Running several replicas\n")},
		"docs/performance.md": {Data: []byte("# Performance\n")},
		"docs/replicas.md":    {Data: []byte("[back](../README.md#running-several-replicas) [perf](performance.md) [x](../docs/replicas.md)")},
	}
	assert.Empty(t, linkProblems(fsys, "docs/replicas.md"))
	// Relative to docs/, not to the root.
	fsys["docs/replicas.md"] = &fstest.MapFile{Data: []byte("[perf](docs/performance.md) [r](README.md#running-several-replicas)")}
	got := linkProblems(fsys, "docs/replicas.md")
	require.Len(t, got, 2)
	assert.Contains(t, got[0], `"docs/docs/performance.md"`)
	assert.Contains(t, got[1], `"docs/README.md"`)
}

func TestGitHubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"Receiving webhooks":                     "receiving-webhooks",
		"Who answers what: 401 or 503":           "who-answers-what-401-or-503",
		"`pcwebhook check`":                      "pcwebhook-check",
		"Test kit (`pcwebhooktest`)":             "test-kit-pcwebhooktest",
		"Verifying (never lose a genuine event)": "verifying-never-lose-a-genuine-event",
		"examples/register":                      "examplesregister",
		"Exactly-once effects on PostgreSQL":     "exactly-once-effects-on-postgresql",
		"**Bold** and [a link](x.md)":            "bold-and-a-link",
		"snake_case kept":                        "snake_case-kept",
		"Größe":                                  "größe",
	} {
		assert.Equal(t, want, githubAnchor(heading), heading)
	}
}

func TestProcessWords(t *testing.T) {
	// The fixtures spell the words apart (the dots are removed before the check), so that a
	// search of the sources for them finds only real uses.
	unspell := func(s string) string { return strings.ReplaceAll(s, "·", "") }
	for _, tc := range []struct {
		text string
		want []string
	}{
		{text: "Two Redis round trips; 10 interleaved rounds."},
		{text: "The issuer is downloaded; an issue with the clock."},
		{text: "A microwave; an interview; a wavelength."},
		{text: "Added in wa·ve 2.", want: []string{"wa·ve"}},
		{text: "Found in a re·view, see is·sue 10.", want: []string{"re·view", "is·sue 10"}},
		{text: "Re·viewed after rou·nd 3 (is·sue #12); Wa·ves.", want: []string{"Re·viewed", "rou·nd 3", "is·sue #12", "Wa·ves"}},
	} {
		var want []string
		for _, w := range tc.want {
			want = append(want, unspell(w))
		}
		assert.Equal(t, want, processWords(unspell(tc.text)), tc.text)
	}
}

// processWordRE matches words about how the work was organised rather than what the code does
// (spelled with character classes, so that a search of the sources for them does not find it).
var processWordRE = regexp.MustCompile(`(?i)\b(w[a]ves?|r[e]view(?:s|ed|er|ers|ing)?|i[s]sue\s+#?\d+|r[o]und\s+\d+)\b`)

// processWords returns the process words in text, in order.
func processWords(text string) []string {
	return processWordRE.FindAllString(text, -1)
}

var (
	fenceRE      = regexp.MustCompile("(?m)^ {0,3}(```|~~~)[^\n]*\n(?s:.*?)^ {0,3}(```|~~~)[ \t]*$")
	codeSpanRE   = regexp.MustCompile("`[^`]*`")
	inlineLinkRE = regexp.MustCompile(`\[([^\]]*)\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)`)
	headingRE    = regexp.MustCompile(`(?m)^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$`)
	schemeRE     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// withoutCode blanks fenced code blocks, keeping their lines so that nothing in them counts as a
// link or a heading.
func withoutCode(md string) string {
	return fenceRE.ReplaceAllStringFunc(md, func(block string) string {
		return strings.Repeat("\n", strings.Count(block, "\n"))
	})
}

// links returns the targets of the inline links of md, outside code.
func links(md string) []string {
	text := codeSpanRE.ReplaceAllString(withoutCode(md), "``")
	var out []string
	for _, m := range inlineLinkRE.FindAllStringSubmatch(text, -1) {
		out = append(out, m[2])
	}
	return out
}

// anchors returns the anchors GitHub gives the headings of md: the first of a name as is, the
// next ones with -1, -2, ...
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(withoutCode(md), -1) {
		a := githubAnchor(m[1])
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

var (
	headingLinkRE = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	emphasisRE    = regexp.MustCompile(`[*` + "`" + `]`)
)

// githubAnchor is the anchor GitHub gives a heading: its text without Markdown (code marks,
// emphasis, links), lowercase, with every character that is not a letter, digit, space, hyphen or
// underscore removed and the spaces turned into hyphens.
func githubAnchor(heading string) string {
	text := headingLinkRE.ReplaceAllString(heading, "$1")
	text = emphasisRE.ReplaceAllString(text, "")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// linkProblems checks the relative links of the Markdown file name in fsys: each must reach a
// file or directory inside fsys, and an #anchor must name a heading of the Markdown file it
// points to. It returns one line per broken link.
func linkProblems(fsys fs.FS, name string) []string {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, target := range links(string(data)) {
		if schemeRE.MatchString(target) {
			continue // an absolute URL: not this repository's to check
		}
		file, anchor, _ := strings.Cut(target, "#")
		resolved := name
		if file != "" {
			resolved = path.Join(path.Dir(name), file)
			if resolved == ".." || strings.HasPrefix(resolved, "../") {
				problems = append(problems, fmt.Sprintf("link %q: outside the repository", target))
				continue
			}
			if _, err := fs.Stat(fsys, resolved); err != nil {
				problems = append(problems, fmt.Sprintf("link %q: %q: no such file", target, resolved))
				continue
			}
		}
		if anchor == "" {
			continue
		}
		if !strings.HasSuffix(resolved, ".md") {
			problems = append(problems, fmt.Sprintf("link %q: #%s in %s, which is not a Markdown file", target, anchor, resolved))
			continue
		}
		md, err := fs.ReadFile(fsys, resolved)
		if err != nil {
			problems = append(problems, fmt.Sprintf("link %q: %v", target, err))
			continue
		}
		if !anchors(string(md))[anchor] {
			problems = append(problems, fmt.Sprintf("link %q: no heading %q in %s", target, "#"+anchor, resolved))
		}
	}
	return problems
}
