package pcwebhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/backoff"
	"github.com/partnercenter-go/pcwebhook/internal/guid"
)

// Request and response headers of the Partner Center API.
const (
	headerCorrelationID = "MS-CorrelationId"
	headerRequestID     = "MS-RequestId"
	headerRetryAfter    = "Retry-After"
)

// apiUserAgent is the User-Agent of every request.
const apiUserAgent = "pcwebhook-go/" + Version

// apiMaxResponseBytes caps every response body read. A larger 2xx body is an error; a larger
// error body is truncated.
const apiMaxResponseBytes = 1 << 20

// apiRequest is one logical call: it may be sent several times.
type apiRequest struct {
	method string
	path   string // below the API root, starting with "/"; for messages only when url is set
	url    string // the absolute URL to request; "" means the API root + path
	body   []byte // JSON; nil means no body

	// throttleHint replaces the generic APIError.Hint of a 429; throttleWait is the wait after
	// a 429 without Retry-After (0: exponential backoff).
	throttleHint string
	throttleWait time.Duration
}

// apiResponse is a 2xx answer.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
	red    *redactor // the call's: for errors made from the body
}

// attemptOutcome is the result of sending a request once.
type attemptOutcome struct {
	res   *apiResponse // set on success
	err   error        // set on failure
	retry bool         // the failure is worth retrying after delay
	delay time.Duration
}

// do sends r, retrying as the Client's RetryPolicy says. It returns the 2xx response, or an error
// naming the operation that wraps an *APIError, a transport error, a context error, ErrNoToken,
// ErrInvalidInput or ErrUnexpectedResponse.
func (c *Client) do(ctx context.Context, r apiRequest) (*apiResponse, error) {
	op := r.method + " " + r.path
	if c == nil {
		return nil, fmt.Errorf("%w: nil *Client", ErrInvalidInput)
	}
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidInput)
	}
	if c.configErr != nil {
		return nil, c.configErr
	}
	policy := c.retry.withDefaults()
	requestID, err := guid.New()
	if err != nil {
		return nil, fmt.Errorf("pcwebhook: %s: %w", op, err)
	}
	red := &redactor{} // learns every token the call sends
	for attempt := 1; ; attempt++ {
		out := c.attempt(ctx, r, requestID, attempt, policy, red)
		if out.err == nil {
			out.res.red = red
			return out.res, nil
		}
		out.err = red.error(out.err) // before any message quotes it
		if !out.retry || attempt >= policy.MaxAttempts {
			var apiErr *APIError
			if attempt > 1 && !errors.As(out.err, &apiErr) { // an APIError says it itself
				return nil, fmt.Errorf("pcwebhook: %s: %w (after %d attempts)", op, out.err, attempt)
			}
			return nil, fmt.Errorf("pcwebhook: %s: %w", op, out.err)
		}
		if err := c.wait(ctx, out.delay); err != nil {
			return nil, fmt.Errorf("pcwebhook: %s: %w while waiting %s to retry after: %w",
				op, err, out.delay.Round(time.Millisecond), out.err)
		}
	}
}

// attempt sends r once, and adds the token it sends to red.
func (c *Client) attempt(ctx context.Context, r apiRequest, requestID string, attempt int, p RetryPolicy, red *redactor) attemptOutcome {
	if err := ctx.Err(); err != nil {
		return attemptOutcome{err: err}
	}
	token, err := c.token(ctx)
	if err != nil {
		return attemptOutcome{err: err}
	}
	red.add(token)
	correlationID, err := guid.New()
	if err != nil {
		return attemptOutcome{err: err}
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body) // a fresh reader per attempt: the body is re-sent intact
	}
	target := r.url
	if target == "" {
		target = c.root() + r.path
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return attemptOutcome{err: fmt.Errorf("%w: %v", ErrInvalidInput, err)}
	}
	// Set directly rather than with Header.Set, to send the documented spelling.
	req.Header["Authorization"] = []string{"Bearer " + token}
	req.Header["Accept"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{apiUserAgent}
	req.Header[headerCorrelationID] = []string{correlationID}
	req.Header[headerRequestID] = []string{requestID}
	if r.body != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}

	resp, err := c.client().Do(req)
	if err != nil {
		return c.transportFailure(ctx, err, attempt, p)
	}
	data, tooLarge, err := readCapped(resp.Body, apiMaxResponseBytes)
	resp.Body.Close()
	if err != nil {
		return c.transportFailure(ctx, fmt.Errorf("reading the response: %w", err), attempt, p)
	}

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if tooLarge {
			return attemptOutcome{err: fmt.Errorf("%w: the %d response is larger than %d bytes", ErrUnexpectedResponse, resp.StatusCode, apiMaxResponseBytes)}
		}
		return attemptOutcome{res: &apiResponse{status: resp.StatusCode, header: resp.Header, body: data}}
	}

	apiErr := newAPIError(resp.StatusCode, resp.Header, data, correlationID, requestID, red)
	apiErr.Attempts = attempt
	retryAfter, hasRetryAfter := backoff.ParseRetryAfter(resp.Header.Get(headerRetryAfter), c.clock())
	if hasRetryAfter {
		apiErr.RetryAfter = retryAfter
	}
	apiErr.Hint = hintFor(resp.StatusCode, r.throttleHint, retryAfter)
	if !retryableStatus(resp.StatusCode) {
		return attemptOutcome{err: apiErr}
	}
	switch {
	case hasRetryAfter:
		return attemptOutcome{err: apiErr, retry: retryAfter <= p.MaxRetryAfter, delay: retryAfter}
	case resp.StatusCode == http.StatusTooManyRequests && r.throttleWait > 0:
		return attemptOutcome{err: apiErr, retry: r.throttleWait <= p.MaxRetryAfter, delay: r.throttleWait}
	default:
		return attemptOutcome{err: apiErr, retry: true, delay: backoff.Exponential(attempt, p.BaseDelay, p.MaxDelay)}
	}
}

// transportFailure classifies an error of sending a request or reading its response: retryable,
// unless the context ended or the server's certificate was rejected (retrying cannot help).
func (c *Client) transportFailure(ctx context.Context, err error, attempt int, p RetryPolicy) attemptOutcome {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return attemptOutcome{err: err}
	}
	var (
		certErr      *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		hostErr      x509.HostnameError
		invalidErr   x509.CertificateInvalidError
	)
	if errors.As(err, &certErr) || errors.As(err, &authorityErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return attemptOutcome{err: err}
	}
	return attemptOutcome{err: err, retry: true, delay: backoff.Exponential(attempt, p.BaseDelay, p.MaxDelay)}
}

// token asks the TokenSource for a token and checks that it can be sent. A "Bearer " prefix and
// surrounding white space are removed.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.tokens == nil {
		return "", fmt.Errorf("%w: the Client has no TokenSource", ErrNoToken)
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("getting an access token: %w", err)
	}
	tok = strings.TrimSpace(tok)
	if len(tok) >= 6 && strings.EqualFold(tok[:6], "bearer") && (len(tok) == 6 || tok[6] == ' ' || tok[6] == '\t') {
		tok = strings.TrimSpace(tok[6:])
	}
	if tok == "" {
		return "", fmt.Errorf("%w: the TokenSource returned an empty token", ErrNoToken)
	}
	if strings.ContainsFunc(tok, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return "", fmt.Errorf("%w: the token contains spaces, control or non-ASCII characters", ErrNoToken)
	}
	return tok, nil
}

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
