package termsafe

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTerminalText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"printable ASCII", "POST /hooks?a=1&b=2  200 handled", "POST /hooks?a=1&b=2  200 handled"},
		{"backslashes and quotes kept", `C:\dir\x1b "q"`, `C:\dir\x1b "q"`},
		{"multi-byte UTF-8 kept", "é ü 中文 ✓ 😀 \u00a0 \ufffd", "é ü 中文 ✓ 😀 \u00a0 \ufffd"},
		{"newline, carriage return, tab", "a\nb\rc\td", `a\nb\rc\td`},
		{"ESC sequences", "\x1b[2J\x1b[H\x1b]0;title\x07", `\x1b[2J\x1b[H\x1b]0;title\x07`},
		{"NUL and other C0", "\x00\x01\x08\x0b\x0c\x1f", `\x00\x01\x08\x0b\x0c\x1f`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 controls, valid UTF-8", "\u0080 \u0085 \u009b2J \u009f", `\u0080 \u0085 \u009b2J \u009f`},
		{"C1 controls as raw bytes (invalid UTF-8)", "\x80 \x85 \x9b2J \x9f", `\x80 \x85 \x9b2J \x9f`},
		{"other invalid UTF-8", "a\xffb\xc3(\xe4\xb8", `a\xffb\xc3(\xe4\xb8`},
		{"the first character", "\x1bX", `\x1bX`},
		{"the last character", "X\xc2\x9b", `X\u009b`},
		{"a forged line", "/\r\n12:00:00  POST /  200 handled", `/\r\n12:00:00  POST /  200 handled`},
		{"bidirectional controls", "a\u202eb\u2066c\u200fd\u061c", `a\u202eb\u2066c\u200fd\u061c`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Text(c.in)
			assert.Equal(t, c.want, got)
			assertTerminalSafe(t, got)
		})
	}
}

func TestTerminalTextKeepsPrintableTextWithoutCopying(t *testing.T) {
	s := strings.Repeat("subscription-updated é 中 ", 4)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = Text(s) }))
}

func TestTerminalJSON(t *testing.T) {
	v := map[string]string{"path": "/\x1b[2J\r\n\x7f\u0085\u009b é 中 \u202e", "raw": "ok"}
	js, err := json.Marshal(v)
	require.NoError(t, err)
	require.Contains(t, string(js), "\x7f", "encoding/json passes DEL through")
	require.Contains(t, string(js), "\u009b", "and C1 controls")
	safe := JSON(js)
	assertTerminalSafe(t, string(safe))
	var back map[string]string
	require.NoError(t, json.Unmarshal(safe, &back))
	assert.Equal(t, v, back, "the same JSON")
	assert.Contains(t, string(safe), `\u007f\u0085\u009b é 中`)

	// An embedded raw body keeps invalid bytes, which become U+FFFD.
	raw := []byte("{\"body\":{\"EventName\":\"x\x9by\xff\"}}")
	safe = JSON(raw)
	assertTerminalSafe(t, string(safe))
	var back2 struct{ Body struct{ EventName string } }
	require.NoError(t, json.Unmarshal(safe, &back2))
	assert.Equal(t, "x\ufffdy\ufffd", back2.Body.EventName)

	plain := []byte(`{"a":"b"}`)
	assert.Equal(t, plain, JSON(plain))
}

// FuzzText: whatever the input, the output holds no control character and is valid
// UTF-8; printable input comes out unchanged; and an input without backslashes can be read back
// from the output, so that two such inputs never print the same.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "plain", "é中", "\x1b[2J\r\n", "\u009b\x9b\x7f\x00", "\xc3(", `\x1b`, "\t\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Text(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q: not valid UTF-8", s, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || bidiControl(r) {
				t.Fatalf("Text(%q) = %q: holds %U", s, got, r)
			}
		}
		if firstUnsafe(s) < 0 && got != s {
			t.Fatalf("Text(%q) = %q: printable text changed", s, got)
		}
		if !strings.Contains(s, `\`) {
			if back := unescapeTerminalText(t, got); back != s {
				t.Fatalf("Text(%q) = %q reads back as %q", s, got, back)
			}
		}
	})
}

// unescapeTerminalText reverses Text for an input that held no backslash.
func unescapeTerminalText(t *testing.T, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], `\n`):
			b.WriteByte('\n')
			i++
		case strings.HasPrefix(s[i:], `\r`):
			b.WriteByte('\r')
			i++
		case strings.HasPrefix(s[i:], `\t`):
			b.WriteByte('\t')
			i++
		default: // \xNN is a byte, \uNNNN a C1 or bidirectional control
			prefix, digits, isRune := `\x`, 2, false
			if strings.HasPrefix(s[i:], `\u`) {
				prefix, digits, isRune = `\u`, 4, true
			}
			end := i + len(prefix) + digits
			if !strings.HasPrefix(s[i:], prefix) || end > len(s) {
				t.Fatalf("bad escape in %q", s)
			}
			n, err := strconv.ParseUint(s[end-digits:end], 16, 32)
			if err != nil {
				t.Fatalf("bad escape in %q", s)
			}
			if isRune {
				b.WriteRune(rune(n))
			} else {
				b.WriteByte(byte(n))
			}
			i = end - 1
		}
	}
	return b.String()
}

// assertTerminalSafe checks that out holds nothing a terminal acts on: no C0 control, no DEL, no
// C1 or bidirectional control, and no invalid UTF-8.
func assertTerminalSafe(t *testing.T, out string) {
	t.Helper()
	if !assert.True(t, utf8.ValidString(out), "invalid UTF-8 in %q", out) {
		return
	}
	for i, r := range out {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || bidiControl(r) {
			assert.Failf(t, "a control character reaches the terminal", "%U at byte %d of %q", r, i, out)
			return
		}
	}
}
