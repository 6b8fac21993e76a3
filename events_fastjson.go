package pcwebhook

import (
	"strings"
	"unicode/utf8"
)

// parseWireFast decodes the shape every real delivery has, one flat JSON object whose values are
// strings without escape sequences or null, without encoding/json's reflection (it is the
// larger part of ParseEvent's cost). It returns false for anything else (escapes, nesting,
// numbers, non-ASCII keys, invalid JSON...), and ParseEvent then decodes with encoding/json,
// which stays the reference: FuzzParseEventFastPath checks that whatever this accepts,
// encoding/json accepts too and decodes to the same wireEvent. Field names match as in
// encoding/json: the exact name or an ASCII case-insensitive one, the last occurrence winning.
func parseWireFast(body []byte, w *wireEvent) bool {
	// One copy of the body as a string: the decoded values are substrings of it, not one
	// allocation each.
	b := string(body)
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipJSONSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := scanJSONString(b, i, true)
		if !ok {
			return false
		}
		i = skipJSONSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipJSONSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		var val string
		isNull := false
		switch b[i] {
		case '"':
			s, next, ok := scanJSONString(b, i, false)
			if !ok {
				return false
			}
			val, i = s, next
		case 'n':
			if len(b)-i < 4 || b[i:i+4] != "null" {
				return false
			}
			isNull, i = true, i+4
		default:
			return false
		}
		assignWireField(w, key, val, isNull)
		i = skipJSONSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipJSONSpace(b, i+1)
		case '}':
			return skipJSONSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// assignWireField stores one member as encoding/json would: null clears the EventName pointer
// and leaves string fields as they are; unknown names are ignored.
func assignWireField(w *wireEvent, key, val string, isNull bool) {
	var dst *string
	switch len(key) { // the names have distinct lengths but for the two audit spellings
	case len("EventName"):
		if !strings.EqualFold(key, "EventName") {
			return
		}
		if isNull {
			w.EventName = nil
		} else {
			v := val
			w.EventName = &v
		}
		return
	case len("ResourceUri"):
		if !strings.EqualFold(key, "ResourceUri") {
			return
		}
		dst = &w.ResourceURI
	case len("ResourceName"):
		if !strings.EqualFold(key, "ResourceName") {
			return
		}
		dst = &w.ResourceName
	case len("AuditUri"):
		switch {
		case strings.EqualFold(key, "AuditUri"):
			dst = &w.AuditURI
		case strings.EqualFold(key, "AuditUrl"):
			dst = &w.AuditURL
		default:
			return
		}
	case len("ResourceChangeUtcDate"):
		if !strings.EqualFold(key, "ResourceChangeUtcDate") {
			return
		}
		dst = &w.ResourceChangeUtcDate
	default:
		return
	}
	if !isNull {
		*dst = val
	}
}

func skipJSONSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanJSONString reads the string that starts at b[i] (a quote) and returns its contents and the
// index after the closing quote. It gives up (false) on escapes, control characters, invalid
// UTF-8, and on non-ASCII when asciiOnly is set.
func scanJSONString(b string, i int, asciiOnly bool) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			s := b[start:j]
			if !ascii && (asciiOnly || !utf8.ValidString(s)) {
				return "", 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", 0, false
}
