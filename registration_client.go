package pcwebhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// API roots of the Partner Center REST API. The Microsoft Cloud for US Government uses
// GlobalAPIRoot too, with tokens from its own authority (https://login.microsoftonline.us).
const (
	// GlobalAPIRoot is the API root of the global (commercial) cloud, and the default.
	GlobalAPIRoot = "https://api.partnercenter.microsoft.com"
	// ChinaAPIRoot is the API root of Partner Center operated by 21Vianet (China).
	ChinaAPIRoot = "https://partner.partnercenterapi.microsoftonline.cn"
)

// tokenResource is the resource (audience) that access tokens for the API must be issued for.
const tokenResource = "https://api.partnercenter.microsoft.com"

// TokenSource supplies the OAuth 2.0 access token that the Client sends as
// "Authorization: Bearer <token>". The token must be issued for the resource
// https://api.partnercenter.microsoft.com (App-only or App+User; for Partner Center operated by
// 21Vianet, https://partner.partnercenterapi.microsoftonline.cn from https://login.chinacloudapi.cn).
// [TokenSourceFunc] adapts a function; the nested module examples/tokens has tested recipes
// (client credentials with a secret or a certificate, and the App+User refresh token flow).
//
// The Client asks for a token before every HTTP request it makes, retries included, so a
// TokenSource that caches and refreshes its token (as Azure Identity credentials do) keeps a
// long-running program working. Token must be safe for concurrent use when the Client is.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always returns the same token, for example one printed by
//
//	az account get-access-token --resource https://api.partnercenter.microsoft.com --query accessToken -o tsv
//
// Access tokens expire (typically after an hour): long-running programs need a TokenSource that
// refreshes.
type StaticToken string

// Token returns t. An empty StaticToken makes every call fail with [ErrNoToken].
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// ErrNoToken is wrapped by the error of every call made without a usable token: the Client has no
// TokenSource, or the TokenSource returned an empty token (or one with spaces or control
// characters inside). Nothing is sent in that case. An error of the TokenSource itself is
// wrapped as it is, not as ErrNoToken, with any credential in its message redacted (see
// [APIError]).
var ErrNoToken = errors.New("pcwebhook: no usable Partner Center access token")

// ErrInvalidInput is wrapped by the error of a call whose input cannot be sent: an invalid
// Registration, an empty correlation ID, a nil Client, or an invalid client option such as a
// malformed API root. Nothing is sent in that case.
var ErrInvalidInput = errors.New("pcwebhook: invalid input")

// ErrUnexpectedResponse is wrapped by the error of a call whose 2xx response cannot be used: it is
// not the documented JSON, a required field is missing, or it is larger than the 1 MiB limit.
var ErrUnexpectedResponse = errors.New("pcwebhook: unexpected response from Partner Center")

// Client calls the Partner Center webhook registration API: it registers where events are sent,
// sends test events and reports their delivery. Create one with [NewClient]; it is safe for
// concurrent use.
//
// Every request carries "Authorization: Bearer <token>" from the TokenSource,
// "Accept: application/json", "User-Agent: pcwebhook-go/<Version>", a fresh random
// MS-CorrelationId, and an MS-RequestId that is the same for every retry of one method call (so the
// service can recognize a repeated request). Failed requests are retried as [RetryPolicy] says.
type Client struct {
	tokens     TokenSource
	apiRoot    string // validated, without trailing slash; "" means GlobalAPIRoot
	httpClient *http.Client
	retry      RetryPolicy
	configErr  error // from an invalid option; returned by every call

	insecureWebhookURL bool // WithInsecureWebhookURL

	// Test hooks; nil means the real clock.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// ClientOption configures a [Client]; see the With* functions.
type ClientOption func(*Client)

// NewClient returns a Client that authenticates with tokens and, unless an option says
// otherwise, talks to [GlobalAPIRoot] with a dedicated http.Client that has a 30 s timeout per
// request. It never fails: an invalid option makes every call of the Client return an error
// wrapping [ErrInvalidInput].
func NewClient(tokens TokenSource, opts ...ClientOption) *Client {
	c := &Client{tokens: tokens}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return c
}

// WithAPIRoot sets the API root, for example [ChinaAPIRoot]; "" means [GlobalAPIRoot]. The root
// must be an absolute https URL without query or fragment; a path prefix is kept (for a proxy).
// Plain http is accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1), as used in tests,
// so that a token is never sent in clear over a network.
func WithAPIRoot(root string) ClientOption {
	return func(c *Client) {
		r, err := parseAPIRoot(root)
		if err != nil {
			c.configErr = err
			return
		}
		c.apiRoot = r
	}
}

// WithClientHTTPClient sets the http.Client used for every request, for example one with a
// proxy, custom TLS settings or instrumentation. Its Timeout applies to each attempt separately.
// Its CheckRedirect is not used: the Client never follows a redirect, because net/http would
// re-send the bearer token to another scheme or port of the same host name (a 3xx answer is an
// *APIError). nil keeps the default.
func WithClientHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithRetryPolicy sets how failed requests are retried; zero fields keep their defaults (see
// [RetryPolicy]).
func WithRetryPolicy(p RetryPolicy) ClientOption {
	return func(c *Client) { c.retry = p }
}

// WithInsecureWebhookURL lets Register, UpdateRegistration and EnsureRegistration send a plain
// http:// WebhookURL for a host that is not loopback. Without it such a URL is refused (an error
// wrapping [ErrInvalidInput]), because Partner Center would then send every event, and its
// signature, across the network in clear. Loopback URLs (as used with test fakes) are accepted
// either way.
func WithInsecureWebhookURL() ClientOption {
	return func(c *Client) { c.insecureWebhookURL = true }
}

// parseAPIRoot validates an API root and returns it without a trailing slash.
func parseAPIRoot(root string) (string, error) {
	root = strings.TrimSpace(root)
	if root == "" {
		return GlobalAPIRoot, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: API root %q: %s", ErrInvalidInput, truncate(root, 100), why)
	}
	u, err := url.Parse(root)
	if err != nil {
		return "", bad("not a URL")
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return "", bad("not an absolute URL with a host")
	case u.User != nil:
		return "", bad("must not carry user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", bad("must not have a query or fragment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return "", bad("must use https (plain http is allowed for loopback hosts only)")
		}
	default:
		return "", bad("must use https")
	}
	return strings.ToLower(u.Scheme) + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// root returns the API root to use.
func (c *Client) root() string {
	if c.apiRoot == "" {
		return GlobalAPIRoot
	}
	return c.apiRoot
}

// client returns the http.Client to use.
// client returns the http.Client of one request: the configured one (or http.DefaultClient)
// with redirects refused, so that the Authorization header never follows one (net/http keeps it
// on a redirect to http:// or another port of the same host name).
func (c *Client) client() *http.Client {
	base := c.httpClient
	if base == nil {
		base = http.DefaultClient
	}
	hc := *base
	hc.CheckRedirect = refuseRedirect
	return &hc
}

// refuseRedirect makes an http.Client return a 3xx answer as it is.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// clock returns the current time.
func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
