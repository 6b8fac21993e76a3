package pcwebhook

import (
	"context"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/backoff"
)

// RetryPolicy says how the [Client] retries a request that failed with 429 Too Many Requests, a
// 5xx status, or a transport error (connection refused or reset, timeout of one attempt). Other
// statuses, a cancelled or expired context, and TLS certificate errors are never retried. Each
// retry re-sends the same body with the same MS-RequestId.
//
// The wait before a retry is the response's Retry-After (delay-seconds or HTTP-date) when it has
// one, otherwise exponential backoff with jitter: BaseDelay, doubled for each further retry,
// capped at MaxDelay, each randomized to between half and all of that. A 429 from the test-event
// endpoint (limited to 2 requests per minute) without Retry-After waits 30 s. A wait longer than
// MaxRetryAfter is not made: the call fails at once with the [*APIError], whose RetryAfter says
// how long the service asked to wait. The context is honoured during every wait.
//
// Zero (or negative) fields take their defaults.
type RetryPolicy struct {
	// MaxAttempts is how many HTTP requests one call may make, the first included; 1 disables
	// retries. Default 3.
	MaxAttempts int
	// BaseDelay is the nominal wait before the first retry when the response gives no
	// Retry-After. Default 500 ms.
	BaseDelay time.Duration
	// MaxDelay caps the exponential backoff. Default 10 s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest wait the Client accepts from a Retry-After header (or the
	// test-event throttle). Default 60 s.
	MaxRetryAfter time.Duration
}

// Defaults of RetryPolicy.
const (
	defaultMaxAttempts   = 3
	defaultBaseDelay     = 500 * time.Millisecond
	defaultMaxDelay      = 10 * time.Second
	defaultMaxRetryAfter = 60 * time.Second

	// testEventThrottleWait is the wait after a 429 from the test-event endpoint that carries
	// no Retry-After: the endpoint allows 2 requests per minute.
	testEventThrottleWait = 30 * time.Second
)

// withDefaults returns p with every zero or negative field replaced by its default.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = defaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = defaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = defaultMaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = defaultMaxRetryAfter
	}
	return p
}

// retryableStatus reports whether a response status is worth retrying.
func retryableStatus(status int) bool {
	return status == 429 || (status >= 500 && status <= 599)
}

// wait sleeps for d, or until ctx is done.
func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		return c.sleep(ctx, d)
	}
	return backoff.Sleep(ctx, d)
}
