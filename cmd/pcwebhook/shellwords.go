package main

import (
	"errors"
	"fmt"
	"strings"
)

// splitShellWords splits a command line into words the way a POSIX shell would for a simple
// command: white space separates words; 'single quotes' keep everything literally; "double
// quotes" keep everything but a backslash before ", \, $, ` or a newline; a backslash outside
// quotes keeps the next character. There is no shell behind it, so pipes, redirections, command
// lists, substitutions and variables are refused with an error that says so, rather than being passed as
// arguments.
func splitShellWords(s string) ([]string, error) {
	var w wordSplitter
	for i := 0; i < len(s); i++ {
		var err error
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r':
			w.end()
		case '\'':
			i, err = w.singleQuoted(s, i)
		case '"':
			i, err = w.doubleQuoted(s, i)
		case '\\':
			i, err = w.escaped(s, i)
		case '|', ';', '&', '<', '>':
			err = notAShell(fmt.Sprintf("%q", c))
		case '`', '$':
			if what := expansion(s, i); what != "" {
				err = notAShell(what)
			} else {
				w.add(c)
			}
		default:
			w.add(c)
		}
		if err != nil {
			return nil, err
		}
	}
	w.end()
	return w.words, nil
}

// wordSplitter collects the words of splitShellWords.
type wordSplitter struct {
	words  []string
	cur    strings.Builder
	inWord bool // a word has started, maybe empty ('')
}

// add adds a byte to the current word.
func (w *wordSplitter) add(c byte) {
	w.inWord = true
	w.cur.WriteByte(c)
}

// end ends the current word, if one has started.
func (w *wordSplitter) end() {
	if w.inWord {
		w.words = append(w.words, w.cur.String())
		w.cur.Reset()
		w.inWord = false
	}
}

// singleQuoted adds the text of the single-quoted string starting at s[i], literally, and
// returns the index of its closing quote.
func (w *wordSplitter) singleQuoted(s string, i int) (int, error) {
	j := strings.IndexByte(s[i+1:], '\'')
	if j < 0 {
		return i, errors.New("unterminated single quote")
	}
	w.inWord = true
	w.cur.WriteString(s[i+1 : i+1+j])
	return i + j + 1, nil
}

// doubleQuoted adds the text of the double-quoted string starting at s[i], with its backslash
// escapes, and returns the index of its closing quote; an expansion in it is refused.
func (w *wordSplitter) doubleQuoted(s string, i int) (int, error) {
	w.inWord = true
	for i++; i < len(s); i++ {
		if s[i] == '"' {
			return i, nil
		}
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
			i++
			if s[i] == '\n' {
				continue
			}
		} else if what := expansion(s, i); what != "" {
			return i, notAShell(what)
		}
		w.cur.WriteByte(s[i])
	}
	return i, errors.New("unterminated double quote")
}

// escaped adds the byte after the backslash at s[i] (a backslash and a newline continue the line)
// and returns its index.
func (w *wordSplitter) escaped(s string, i int) (int, error) {
	if i+1 == len(s) {
		return i, errors.New("backslash at the end")
	}
	i++
	if s[i] != '\n' { // else a line continuation
		w.add(s[i])
	}
	return i, nil
}

// expansion names the shell expansion that starts at s[i], or returns "" when there is none.
func expansion(s string, i int) string {
	switch {
	case s[i] == '`':
		return "command substitution (`...`)"
	case s[i] != '$' || i+1 == len(s):
		return ""
	}
	switch c := s[i+1]; {
	case c == '(':
		return "command substitution ($(...))"
	case c == '{' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		return "variable expansion ($" + string(c) + "...)"
	}
	return ""
}

// notAShell is the error for shell syntax in a command that is run without a shell.
func notAShell(what string) error {
	return fmt.Errorf("%s is shell syntax, and the command runs without a shell: quote it, or wrap the "+
		"command in sh -c '...'", what)
}
