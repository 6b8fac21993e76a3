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

// Against a database given by URL, twice: each run's events are its own, each written once.
func TestRunWithDatabaseURL(t *testing.T) {
	srv := pgserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		require.NoError(t, run(ctx, &out, srv.DSN()), out.String())
		assert.Contains(t, out.String(), "6 events, 12 deliveries sent at once (2 each), 6 with their effect exactly once")
		assert.Regexp(t, `(?m)^3 .*500x1.* 1 +1$`, out.String(), "the third event failed once, and its row is there once")
		t.Log("\n" + out.String())
	}
}

// Without a URL the example starts its own PostgreSQL, as `go run ./examples/plain`.
func TestRunStartsItsOwnServer(t *testing.T) {
	pgserver.RequireInstalled(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, ""), out.String())
	assert.Contains(t, out.String(), "6 with their effect exactly once")
}
