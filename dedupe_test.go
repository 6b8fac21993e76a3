package pcwebhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemoryDedupeStore(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryDedupeStore(0, 2) // 0: default retention
	st, err := s.Begin(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, DeliveryNew, st)
	st, _ = s.Begin(ctx, "a")
	assert.Equal(t, DeliveryInProgress, st)
	require.NoError(t, s.Release(ctx, "a"))
	st, _ = s.Begin(ctx, "a")
	assert.Equal(t, DeliveryNew, st)
	require.NoError(t, s.Done(ctx, "a"))
	st, _ = s.Begin(ctx, "a")
	assert.Equal(t, DeliveryDone, st)

	// Bounded: two more keys push "a" out.
	s.Begin(ctx, "b")
	s.Done(ctx, "b")
	s.Begin(ctx, "c")
	st, _ = s.Begin(ctx, "a")
	assert.Equal(t, DeliveryNew, st, "the oldest handled key was evicted at the bound of 2")
}

func TestDeliveryStateString(t *testing.T) {
	assert.Equal(t, "new", DeliveryNew.String())
	assert.Equal(t, "in-progress", DeliveryInProgress.String())
	assert.Equal(t, "done", DeliveryDone.String())
	assert.Equal(t, "unknown", DeliveryState(9).String())
}
