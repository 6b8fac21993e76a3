package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// checkTable requires the printed table to show every event handled exactly once.
func checkTable(t *testing.T, out string, events int) {
	t.Helper()
	row := regexp.MustCompile(`^(\d+)\s+(\S+)\s+(\d+)\s+((?:\d{3}x\d+ ?)+?)\s+(\d+)\s+(replica-\d)\s+(\d+)$`)
	rows, failed := 0, 0
	for _, line := range strings.Split(out, "\n") {
		m := row.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		rows++
		assert.Equal(t, "1", m[7], "succeeded exactly once: %s", line)
		assert.Contains(t, m[4], "200x3", "every delivery ended with 200: %s", line)
		if m[5] == "1" {
			failed++
			assert.Contains(t, m[4], "500x1", "a failed run answers 500: %s", line)
		}
	}
	assert.Equal(t, events, rows, "one row per event:\n%s", out)
	assert.Equal(t, events/4, failed, "every fourth event's first run fails")
	n := strconv.Itoa(events)
	assert.Contains(t, out, n+" events, "+strconv.Itoa(3*events)+" deliveries sent at once (3 each), "+n+" handled exactly once; "+n+" Redis keys")
}

// Against a Redis given by address (-redis, PCWEBHOOK_REDIS_ADDR).
func TestRunWithRedisAddress(t *testing.T) {
	srv := redisserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, config{redisAddr: srv.Addr, events: 12, copies: 3}), out.String())
	checkTable(t, out.String(), 12)
	assert.NotContains(t, out.String(), "started redis-server")

	// A second run on the same Redis starts afresh (its own key prefix).
	out.Reset()
	require.NoError(t, run(ctx, &out, config{redisAddr: srv.Addr, events: 8, copies: 3}), out.String())
	checkTable(t, out.String(), 8)
}

// Without an address the example starts its own redis-server, as `go run ./examples/replicas`.
func TestRunStartsItsOwnRedis(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		redisserver.Start(t) // fails with the install command, or skips with PCWEBHOOK_SKIP_REDIS=1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, config{events: 12, copies: 3}), out.String())
	assert.Regexp(t, `^started redis-server on 127\.0\.0\.1:\d+ \(pid \d+, no persistence\)`, out.String())
	checkTable(t, out.String(), 12)
	t.Log("\n" + out.String())
}
