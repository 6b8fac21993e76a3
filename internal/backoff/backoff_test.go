package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExponential(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	for _, tc := range []struct {
		n       int
		nominal time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{1000, time.Second}, // no overflow
	} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := Exponential(tc.n, base, max)
			require.GreaterOrEqual(t, d, tc.nominal/2, "n=%d", tc.n)
			require.LessOrEqual(t, d, tc.nominal, "n=%d", tc.n)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 1, "n=%d: jitter must vary the wait", tc.n)
	}
	assert.Zero(t, Exponential(1, 0, time.Second))
	assert.Zero(t, Exponential(1, time.Second, 0))
	assert.LessOrEqual(t, Exponential(70, time.Hour, 1<<62), time.Duration(1<<62))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"99999999999999999999999", maxRetryAfterSeconds * time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Wed, 01 May 2024 12:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 01-May-24 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Wed May  1 12:00:05 2024", 5 * time.Second, true},      // asctime
		{"Wed, 01 May 2024 11:59:00 GMT", 0, true},               // in the past
	} {
		d, ok := ParseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, "%q", tc.in)
		assert.Equal(t, tc.want, d, "%q", tc.in)
	}
}

func TestSleep(t *testing.T) {
	require.NoError(t, Sleep(context.Background(), time.Millisecond))
	require.NoError(t, Sleep(context.Background(), 0))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, Sleep(ctx, 0), context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Sleep(ctx, time.Hour)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}
