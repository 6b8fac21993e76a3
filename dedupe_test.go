package pcwebhook

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/dedupe"
)

func TestMemoryDedupeStore(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryDedupeStore(0, 2) // 0: default retention
	begin := func(key string) Claim {
		c, err := s.Begin(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, key, c.Key)
		return c
	}
	a := begin("a")
	assert.Equal(t, DeliveryNew, a.State)
	assert.NotEmpty(t, a.Token)
	assert.WithinDuration(t, time.Now().Add(DefaultDedupeLease), a.Expires, time.Minute)
	other := begin("a")
	assert.Equal(t, DeliveryInProgress, other.State)
	assert.Empty(t, other.Token)
	assert.ErrorIs(t, s.Release(ctx, other), ErrClaimLost, "a claim without a token owns nothing")
	require.NoError(t, s.Release(ctx, a))
	require.NoError(t, s.Release(ctx, a), "a repeated Release within the lease finds the key free")
	noLease := a
	noLease.Expires = time.Time{}
	assert.ErrorIs(t, s.Release(ctx, noLease), ErrClaimLost, "a claim without a lease cannot tell a repeat")
	a2 := begin("a")
	assert.Equal(t, DeliveryNew, a2.State)
	assert.NotEqual(t, a.Token, a2.Token, "every claim has its own token")
	assert.ErrorIs(t, s.Done(ctx, a), ErrClaimLost, "the old claim cannot finish the new one")
	assert.ErrorIs(t, s.Release(ctx, a), ErrClaimLost, "nor release it")
	require.NoError(t, s.Done(ctx, a2))
	require.NoError(t, s.Done(ctx, a2), "a repeated Done of the claim that finished the key")
	assert.ErrorIs(t, s.Done(ctx, a), ErrClaimLost, "another claim finished the key")
	assert.Equal(t, DeliveryDone, begin("a").State)

	// Bounded: two more keys push "a" out.
	require.NoError(t, s.Done(ctx, begin("b")))
	begin("c")
	assert.Equal(t, DeliveryNew, begin("a").State, "the oldest handled key was evicted at the bound of 2")
}

func TestMemoryDedupeStoreLease(t *testing.T) {
	ctx := context.Background()
	const lease = 20 * time.Millisecond

	// The option sets the lease of every claim.
	before := time.Now()
	c, err := NewMemoryDedupeStoreWithOptions(MemoryDedupeOptions{Lease: lease}).Begin(ctx, "k")
	after := time.Now()
	require.NoError(t, err)
	require.Equal(t, DeliveryNew, c.State)
	assert.False(t, c.Expires.Before(before.Add(lease)) || c.Expires.After(after.Add(lease)),
		"Expires %s, want %s after Begin", c.Expires, lease)

	// The lease runs out on the store's clock, moved by the test: a loaded machine cannot end the
	// new owner's lease too before the test looks.
	now := time.Now()
	s := &memoryDedupeStore{m: dedupe.NewMemory(DefaultDedupeRetention, lease, DefaultDedupeMaxEntries, func() time.Time { return now })}
	late, err := s.Begin(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, DeliveryNew, late.State)
	now = now.Add(lease - time.Millisecond)
	c, err = s.Begin(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, DeliveryInProgress, c.State, "within the lease")
	now = now.Add(2 * time.Millisecond)
	owner, err := s.Begin(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, DeliveryNew, owner.State, "the lease ran out: another delivery takes over")
	assert.ErrorIs(t, s.Done(ctx, late), ErrClaimLost)
	assert.ErrorIs(t, s.Release(ctx, late), ErrClaimLost)
	c, _ = s.Begin(ctx, "k")
	assert.Equal(t, DeliveryInProgress, c.State, "the late owner changed nothing")
}

func TestDeliveryStateString(t *testing.T) {
	assert.Equal(t, "new", DeliveryNew.String())
	assert.Equal(t, "in-progress", DeliveryInProgress.String())
	assert.Equal(t, "done", DeliveryDone.String())
	assert.Equal(t, "unknown", DeliveryState(9).String())
}

func TestMemoryDedupeStoreFullOfRunningClaims(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryDedupeStoreWithOptions(MemoryDedupeOptions{MaxEntries: 2})
	a, err := s.Begin(ctx, "a")
	require.NoError(t, err)
	_, err = s.Begin(ctx, "b")
	require.NoError(t, err)
	_, err = s.Begin(ctx, "c")
	require.ErrorIs(t, err, ErrDedupeStoreFull, "no running claim is forgotten to make room")
	again, err := s.Begin(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, DeliveryInProgress, again.State, "a's claim still stands: no second owner")
	require.NoError(t, s.Done(ctx, a))
	c, err := s.Begin(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, DeliveryNew, c.State, "a handled key makes room again")
}
