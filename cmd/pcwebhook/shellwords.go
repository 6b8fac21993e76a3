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
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	end := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			end()
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			inWord = true
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				} else if what := expansion(s, i); what != "" {
					return nil, notAShell(what)
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, errors.New("unterminated double quote")
			}
		case '\\':
			if i+1 == len(s) {
				return nil, errors.New("backslash at the end")
			}
			i++
			if s[i] == '\n' { // line continuation
				continue
			}
			inWord = true
			cur.WriteByte(s[i])
		case '|', ';', '&', '<', '>':
			return nil, notAShell(fmt.Sprintf("%q", c))
		case '`', '$':
			if what := expansion(s, i); what != "" {
				return nil, notAShell(what)
			}
			inWord = true
			cur.WriteByte(c)
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	end()
	return words, nil
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
