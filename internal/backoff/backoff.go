// Package backoff holds the timing arithmetic of the registration client's retries: exponential
// backoff with jitter, Retry-After parsing, and a sleep that ends when its context does.
package backoff

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Exponential returns the wait before retry number n (1 for the first retry): base doubled n-1
// times, capped at max, with "equal jitter": a uniformly random value in [d/2, d]. So the wait is
// never shorter than half the nominal delay and concurrent clients spread out. Non-positive base
// or max give 0.
func Exponential(n int, base, max time.Duration) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 { // d <= 0: overflow
		d = max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// maxRetryAfterSeconds keeps the arithmetic in range for absurd header values; any such value is
// far above every sensible cap anyway.
const maxRetryAfterSeconds = 1 << 30

// ParseRetryAfter reads a Retry-After header value: either delay-seconds ("120") or an HTTP-date
// ("Fri, 31 Dec 1999 23:59:59 GMT"), relative to now. A date in the past gives 0. ok is false when
// the value is absent or unreadable, in which case the caller should fall back to its own backoff.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
				secs = maxRetryAfterSeconds
			} else {
				return 0, false
			}
		}
		if secs > maxRetryAfterSeconds {
			secs = maxRetryAfterSeconds
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// Sleep waits for d or until ctx is done, whichever comes first, and returns ctx.Err() in the
// latter case. A non-positive d only checks ctx.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
