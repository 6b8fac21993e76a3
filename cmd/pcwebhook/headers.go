package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
)

// maxHeaderFile bounds the size of a headers file.
const maxHeaderFile = 1 << 20

// startLine matches an HTTP request line ("POST /hook HTTP/1.1") or status line ("HTTP/2 200").
var startLine = regexp.MustCompile(`^(?:[A-Z]+ \S+ HTTP/\d(?:\.\d)?|HTTP/\d(?:\.\d)? \d{3}(?: .*)?)$`)

// parseHeaderFile reads captured headers: "Name: value" lines as saved by curl -D, copied from a
// log or from curl -v ("> " and "< " prefixes are removed, "* " remarks skipped). An optional request or status line
// may come first; CRLF line endings, a UTF-8 byte order mark, and continuation lines (starting
// with a space or tab) are accepted; a blank line after the headers ends them. It returns the
// headers and notes about what was skipped.
func parseHeaderFile(data []byte) (http.Header, []string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	h := http.Header{}
	var notes []string
	var last string // canonical name of the last header, for continuation lines
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		n := i + 1
		line, remark := unprefixed(line)
		if remark {
			continue
		}
		if strings.TrimSpace(line) == "" {
			if len(h) == 0 {
				continue // leading blank lines
			}
			if rest := strings.TrimSpace(strings.Join(lines[i+1:], "\n")); rest != "" {
				notes = append(notes, fmt.Sprintf("ignored what follows the blank line %d (a body? pass it with --body)", n))
			}
			break
		}
		if len(h) == 0 && last == "" && startLine.MatchString(strings.TrimSpace(line)) {
			notes = append(notes, fmt.Sprintf("skipped the first line %q", truncateText(strings.TrimSpace(line), 80)))
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, nil, fmt.Errorf("line %d: a continuation line with no header before it", n)
			}
			vs := h[last]
			vs[len(vs)-1] = strings.TrimSpace(vs[len(vs)-1] + " " + strings.TrimSpace(line))
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("line %d is not a \"Name: value\" header: %q", n, truncateText(line, 80))
		}
		if !validHeaderName(name) {
			return nil, nil, fmt.Errorf("line %d: %q is not a valid header name", n, truncateText(name, 80))
		}
		last = textproto.CanonicalMIMEHeaderKey(name)
		h[last] = append(h[last], strings.TrimSpace(value))
	}
	if len(h) == 0 {
		return nil, nil, fmt.Errorf("no headers found")
	}
	return h, notes, nil
}

// unprefixed returns a line of a headers file without its CR and the "> " or "< " of curl -v;
// remark reports one of curl -v's own remarks ("* "), which is no header.
func unprefixed(line string) (_ string, remark bool) {
	line = strings.TrimSuffix(line, "\r")
	if p := strings.TrimLeft(line, " \t"); strings.HasPrefix(p, "> ") || strings.HasPrefix(p, "< ") || p == ">" || p == "<" {
		line = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(p, ">"), "<"), " ")
	}
	return line, strings.HasPrefix(line, "* ")
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
