package main

import (
	"bytes"
	"os"
	"testing"

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
