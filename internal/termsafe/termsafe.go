// Package termsafe makes text from outside the process safe to print on a terminal: a request's
// path and headers, an event's fields, a downloaded certificate, an API's answer, an error that
// quotes any of them. A sender must not be able to move the cursor, clear the screen, start a line
// of its own, or reorder how a line reads.
package termsafe

import (
	"strings"
	"unicode/utf8"
)

// Text from outside this process (a request's path and headers, an event's fields, a downloaded
// certificate, an API's answer, an error that quotes any of them) reaches a terminal only through
// Text, or through JSON for the JSON output: a sender must not be able to move
// the cursor, clear the screen or start a line of its own.

// unsafeRune reports whether the rune r, encoded in size bytes, must not reach a terminal as it
// is: a C0 control (including newline, carriage return and tab), DEL, a C1 control, or a byte
// that is not valid UTF-8 (utf8.RuneError of size 1), which some terminals read as a C1 control.
func unsafeRune(r rune, size int) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r == utf8.RuneError && size == 1) || bidiControl(r)
}

// bidiControl reports whether r is a Unicode bidirectional control (the marks and the embedding,
// override and isolate characters), which reorders how the rest of a line is shown: a sender could
// make a line read differently from what it holds.
func bidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// firstUnsafe returns the index of the first unsafe character of s, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, size) {
			return i
		}
		i += size
	}
	return -1
}

const hexDigits = "0123456789abcdef"

// Text returns s as it is safe to print on a terminal: every C0 control, DEL, C1 control
// and byte that is not valid UTF-8 is written as a visible Go escape (\n, \r, \t, \x1b, \x7f,
// \u009b, and \x9b for an invalid byte); everything else, multi-byte UTF-8 included, is kept.
// Text with nothing to escape is returned unchanged. A backslash is kept as it is, so that
// normal text prints as before: a literal "\x1b" and an escaped ESC look the same, which is the
// price of leaving printable text alone.
func Text(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unsafeRune(r, size) {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case size == 1: // a C0 control, DEL, or an invalid byte
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[s[i]>>4])
			b.WriteByte(hexDigits[s[i]&0xf])
		default: // a C1 or bidirectional control, validly encoded
			b.WriteString(`\u`)
			b.WriteByte(hexDigits[r>>12&0xf])
			b.WriteByte(hexDigits[r>>8&0xf])
			b.WriteByte(hexDigits[r>>4&0xf])
			b.WriteByte(hexDigits[r&0xf])
		}
		i += size
	}
	return b.String()
}

// JSON returns a line of JSON made safe to print on a terminal, and still the same JSON:
// each control character and DEL becomes its \u escape, and each byte that is not valid UTF-8
// becomes \ufffd, as encoding/json itself writes an invalid string. encoding/json escapes C0
// controls in strings but passes DEL and C1 controls through, and an embedded json.RawMessage
// keeps invalid bytes. js must be compact (no whitespace between tokens, as json.Marshal writes
// it), so that every control character is inside a string.
func JSON(js []byte) []byte {
	i := firstUnsafe(string(js))
	if i < 0 {
		return js
	}
	out := make([]byte, 0, len(js)+16)
	out = append(out, js[:i]...)
	for i < len(js) {
		r, size := utf8.DecodeRune(js[i:])
		switch {
		case !unsafeRune(r, size):
			out = append(out, js[i:i+size]...)
		case size == 1 && r == utf8.RuneError:
			out = append(out, `\ufffd`...)
		default:
			out = append(out, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		}
		i += size
	}
	return out
}
