package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// isTerminal reports whether w is an interactive terminal: an *os.File that golang.org/x/term
// says is a terminal (a character device such as /dev/null is not), with TERM not "dumb".
func (a *app) isTerminal(w io.Writer) bool {
	if a.env.terminal != nil {
		return a.env.terminal(w)
	}
	f, ok := w.(*os.File)
	if !ok || a.env.getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// spinnerFrames are the frames of the progress spinner.
const spinnerFrames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

// spinnerInterval is how often the spinner line is redrawn.
const spinnerInterval = 100 * time.Millisecond

// progress writes the lines of a long wait. On a terminal it keeps a spinner line at the bottom,
// redrawn in place; elsewhere it writes plain lines only.
type progress struct {
	w        io.Writer
	tty      bool
	frame    int
	spinning bool // a spinner line is on the screen
}

// clearLine is a carriage return and "erase to end of line".
const clearLine = "\r\x1b[K"

// println writes a line above the spinner (or just a line).
func (p *progress) println(s string) {
	if p.spinning {
		fmt.Fprint(p.w, clearLine)
		p.spinning = false
	}
	fmt.Fprintln(p.w, s)
}

// spin redraws the spinner line with text; it does nothing off a terminal.
func (p *progress) spin(text string) {
	if !p.tty {
		return
	}
	frames := []rune(spinnerFrames)
	fmt.Fprintf(p.w, "%s%c %s", clearLine, frames[p.frame%len(frames)], text)
	p.frame++
	p.spinning = true
}

// done removes the spinner line.
func (p *progress) done() {
	if p.spinning {
		fmt.Fprint(p.w, clearLine)
		p.spinning = false
	}
}

// wait waits for d, spinning with the text status gives, and reports false when ctx ended first.
func (p *progress) wait(ctx context.Context, d time.Duration, status func() string) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var tick <-chan time.Time
	if p.tty {
		t := time.NewTicker(spinnerInterval)
		defer t.Stop()
		tick = t.C
		p.spin(status())
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-tick:
			p.spin(status())
		}
	}
}

// Text from outside this process (a request's path and headers, an event's fields, a downloaded
// certificate, an API's answer, an error that quotes any of them) reaches a terminal only through
// terminalText, or through terminalJSON for the JSON output: a sender must not be able to move
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

// terminalText returns s as it is safe to print on a terminal: every C0 control, DEL, C1 control
// and byte that is not valid UTF-8 is written as a visible Go escape (\n, \r, \t, \x1b, \x7f,
// \u009b, and \x9b for an invalid byte); everything else, multi-byte UTF-8 included, is kept.
// Text with nothing to escape is returned unchanged. A backslash is kept as it is, so that
// normal text prints as before: a literal "\x1b" and an escaped ESC look the same, which is the
// price of leaving printable text alone.
func terminalText(s string) string {
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

// terminalJSON returns a line of JSON made safe to print on a terminal, and still the same JSON:
// each control character and DEL becomes its \u escape, and each byte that is not valid UTF-8
// becomes \ufffd, as encoding/json itself writes an invalid string. encoding/json escapes C0
// controls in strings but passes DEL and C1 controls through, and an embedded json.RawMessage
// keeps invalid bytes. js must be compact (no whitespace between tokens, as json.Marshal writes
// it), so that every control character is inside a string.
func terminalJSON(js []byte) []byte {
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
