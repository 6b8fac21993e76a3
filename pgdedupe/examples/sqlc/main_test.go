package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/pgdedupe/internal/pgserver"
)

// Against a database given by URL: each event's row once, the third event's after a failed run.
func TestRun(t *testing.T) {
	srv := pgserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, srv.DSN()), out.String())
	assert.Contains(t, out.String(), "6 events, 12 deliveries sent at once (2 each), 6 with their effect exactly once")
	assert.Regexp(t, `(?m)^3 .*500x1.* 1 +1$`, out.String())
	t.Log("\n" + out.String())
}
