package main

import (
	"bytes"
	"github.com/partnercenter-go/pcwebhook/internal/termsafe"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIsTerminal: only a real terminal counts. /dev/null is a character device, which the
// earlier mode-bit check took for a terminal (so `pcwebhook test >/dev/null` drew a spinner).
func TestIsTerminal(t *testing.T) {
	a := &app{env: env{getenv: func(string) string { return "xterm-256color" }}}

	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	fi, err := devNull.Stat()
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeCharDevice, "the case this test is about: a character device")
	assert.False(t, a.isTerminal(devNull), "/dev/null")

	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.False(t, a.isTerminal(w), "a pipe")

	assert.False(t, a.isTerminal(&bytes.Buffer{}), "not a file")
}

// assertTerminalSafe checks that out holds nothing a terminal acts on but the newlines that end
// its lines: no other C0 control, no DEL, no C1 control, and no invalid UTF-8.
func assertTerminalSafe(t *testing.T, out string) {
	t.Helper()
	if !assert.True(t, utf8.ValidString(out), "invalid UTF-8 in %q", out) {
		return
	}
	for i, r := range out {
		if r == '\n' {
			continue
		}
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || termsafe.Text(string(r)) != string(r) {
			assert.Failf(t, "a control character reaches the terminal", "%U at byte %d of %q", r, i, out)
			return
		}
	}
}
