package redisdedupe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
)

// outageChildEnv makes TestRedisDownLogsOncePerDelivery run the outage in this process (the
// child): go-redis prints with a logger made when the process starts, on the stderr of that
// moment, so only another process's stderr shows what it prints.
const outageChildEnv = "REDISDEDUPE_OUTAGE_CHILD"

// outageDeliveries is how many deliveries the child sends while Redis is down.
const outageDeliveries = 4

// TestRedisDownLogsOncePerDelivery: with Redis down, each delivery gets one ERROR line from the
// Handler (503, the Redis error in it), whatever go-redis retried underneath; go-redis's own
// lines about the failed dials go to the logger of WithLogger at DEBUG, and nothing
// unstructured ("redis: ...") reaches stderr or the standard logger, also without WithLogger
// (slog.Default(), at INFO).
func TestRedisDownLogsOncePerDelivery(t *testing.T) {
	if mode := os.Getenv(outageChildEnv); mode != "" {
		runOutage(t, mode == "with-logger")
		return
	}
	for _, mode := range []string{"with-logger", "default"} {
		t.Run(mode, func(t *testing.T) { checkOutageLogs(t, mode) })
	}
}

// checkOutageLogs runs the outage in a child process and reads its stdout (the Handler's JSON
// lines) and its stderr.
func checkOutageLogs(t *testing.T, mode string) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRedisDownLogsOncePerDelivery$", "-test.count", "1")
	cmd.Env = append(os.Environ(), outageChildEnv+"="+mode)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "child: %s\n%s", stdout.String(), stderr.String())

	var handlerErrors, redisDebug int
	for _, line := range strings.Split(stdout.String(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		switch {
		case m["msg"] == "partner center webhook":
			assert.Equal(t, "ERROR", m["level"], line)
			assert.Equal(t, "dedupe-store-error", m["outcome"], line)
			assert.Contains(t, m["error"], "connection refused", "the line says what failed: %s", line)
			handlerErrors++
		case m["msg"] == "redis client":
			assert.Equal(t, "DEBUG", m["level"], line)
			assert.Contains(t, m["redis"], "failed to dial", line)
			redisDebug++
		default:
			t.Errorf("unexpected log line: %s", line)
		}
	}
	assert.Equal(t, outageDeliveries, handlerErrors, "one ERROR line per delivery, not per retry")
	if mode == "with-logger" {
		assert.GreaterOrEqual(t, redisDebug, outageDeliveries, "go-redis's lines went to the logger of WithLogger")
	}
	assert.NotContains(t, stderr.String(), "redis:", "nothing unstructured on stderr")
	assert.Empty(t, strings.TrimSpace(stderr.String()))
}

// runOutage is the child: a Handler on a Store whose Redis refuses connections, with go-redis's
// retries left on (two per command), and its logger (DEBUG, JSON) on stdout, given to the Store
// too when withLogger. The standard logger (and slog.Default()) writes to stderr, where the
// parent looks for go-redis's own lines.
func runOutage(t *testing.T, withLogger bool) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now: every dial is refused

	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 2, DialerRetries: 1, DialTimeout: time.Second})
	defer rdb.Close()
	var opts []redisdedupe.Option
	if withLogger {
		opts = append(opts, redisdedupe.WithLogger(logger))
	}
	store := redisdedupe.New(rdb, opts...)
	sender := pcwebhooktest.New(t)
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()), pcwebhook.WithDedupeStore(store), pcwebhook.WithLogger(logger))
	h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error { return nil })
	for i := 0; i < outageDeliveries; i++ {
		rec := sender.Deliver(h, pcwebhooktest.EventSpec{Name: pcwebhook.EventSubscriptionUpdated}.Body())
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	}
	_, _ = io.WriteString(os.Stdout, "\n")
}
