package pcwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertErrorRedacted fails when err, printed in any way, or any field of the APIError it wraps,
// shows the token.
func assertErrorRedacted(t *testing.T, token string, err error) {
	t.Helper()
	require.Error(t, err)
	shown := map[string]string{"err.Error()": err.Error()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		shown["fmt "+verb+" of the error"] = fmt.Sprintf(verb, err)
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		for name, v := range map[string]string{"Code": apiErr.Code, "Message": apiErr.Message, "ErrorName": apiErr.ErrorName,
			"CorrelationID": apiErr.CorrelationID, "RequestID": apiErr.RequestID, "Hint": apiErr.Hint} {
			shown["APIError."+name] = v
		}
		shown["%#v of the APIError"] = fmt.Sprintf("%#v", apiErr)
		shown["%+v of the APIError value"] = fmt.Sprintf("%+v", *apiErr)
	}
	for what, s := range shown {
		if p := leaked(s, token); p != "" {
			t.Errorf("%s holds %q, a piece of the token:\n%s", what, p, s)
		}
	}
}

// headerDump writes the request's headers as a gateway that echoes them would, one
// "Name: value" a line.
func headerDump(r *http.Request) string {
	var b strings.Builder
	_ = r.Header.Write(&b)
	return b.String()
}

// escapeEvery replaces every occurrence of the characters in chars by esc(c).
func escapeEvery(s, chars string, esc func(c byte) string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) >= 0 {
			b.WriteString(esc(s[i]))
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// echoBody is an error body that echoes the request, as some gateways and proxies write them.
type echoBody struct {
	name        string
	contentType string
	header      func(h http.Header, token string) // response headers, when set
	body        func(r *http.Request, token string) string
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// echoBodies are the shapes of error bodies that carry the token.
var echoBodies = []echoBody{
	{name: "JSON description with the request headers", contentType: "application/json",
		body: func(r *http.Request, _ string) string {
			return mustJSON(map[string]any{"code": 600010, "description": "Rejected request:\n" + headerDump(r), "errorName": "Rejected"})
		}},
	{name: "JSON headers object and message", contentType: "application/json",
		body: func(r *http.Request, _ string) string {
			return mustJSON(map[string]any{"message": "echo " + mustJSON(r.Header), "headers": r.Header})
		}},
	{name: "JSON with the token in code and errorName", contentType: "application/json",
		body: func(_ *http.Request, token string) string {
			return mustJSON(map[string]any{"code": token, "errorName": "Bearer " + token, "description": "token " + token + " refused"})
		}},
	{name: "JSON error object", contentType: "application/json",
		body: func(_ *http.Request, token string) string {
			return mustJSON(map[string]any{"error": map[string]any{"code": token, "message": "authorization: bearer " + token}})
		}},
	{name: "JSON with escaped slashes and plus signs", contentType: "application/json",
		body: func(_ *http.Request, token string) string {
			esc := escapeEvery(token, "/+", func(c byte) string {
				if c == '/' {
					return `\/`
				}
				return fmt.Sprintf(`\u%04X`, c)
			})
			return `{"description":"{\"Authorization\":\"Bearer ` + esc + `\"}"}`
		}},
	{name: "text with the request headers", contentType: "text/plain",
		body: func(r *http.Request, _ string) string { return "upstream refused the request\r\n" + headerDump(r) }},
	{name: "text in other letter cases", contentType: "text/plain",
		body: func(_ *http.Request, token string) string {
			return "AUTHORIZATION: BEARER " + token + "\nauthorization: bearer " + strings.ToLower(token) +
				"\nAuthorization: Bearer " + strings.ToUpper(token)
		}},
	{name: "text with the JSON-escaped header", contentType: "text/plain",
		body: func(_ *http.Request, token string) string {
			return `request={"headers":{"Authorization":"Bearer ` + strings.ReplaceAll(token, "/", `\/`) + `"}}`
		}},
	{name: "HTML page", contentType: "text/html",
		body: func(_ *http.Request, token string) string {
			esc := escapeEvery(token, "/+", func(c byte) string { return fmt.Sprintf("&#x%X;", c) })
			return "<html><body><h1>502 Bad Gateway</h1><pre>Authorization: Bearer " + esc + "</pre></body></html>"
		}},
	{name: "URL-encoded query", contentType: "text/plain",
		body: func(_ *http.Request, token string) string {
			esc := escapeEvery(token, "/+", func(c byte) string { return fmt.Sprintf("%%%02X", c) })
			return "denied: https://gateway.example/login?access_token=" + esc + "&state=1"
		}},
	{name: "the raw token alone", contentType: "text/plain",
		body: func(_ *http.Request, token string) string { return token }},
	{name: "the token repeated at the start and the end of a long body", contentType: "text/plain",
		body: func(_ *http.Request, token string) string {
			return token + " " + strings.Repeat("padding ", 5000) + token
		}},
	{name: "the token where the message is cut", contentType: "text/plain",
		body: func(_ *http.Request, token string) string { return strings.Repeat("a", 280) + " " + token }},
	{name: "the description cut inside the token", contentType: "application/json",
		body: func(_ *http.Request, token string) string {
			return mustJSON(map[string]any{"description": strings.Repeat("d", 980) + " " + token})
		}},
	{name: "response headers echoing the token", contentType: "application/json",
		header: func(h http.Header, token string) {
			h.Set("MS-CorrelationId", token)
			h.Set("MS-RequestId", "Bearer "+token)
		},
		body: func(_ *http.Request, _ string) string { return `{"code":1,"description":"see the ids"}` }},
}

// echoServer answers every request with the status and body its API root names: a client with
// the root echoURL(srv, status, i) gets status and echoBodies[i]. Retryable statuses carry
// "Retry-After: 0", so that retries do not wait.
func echoServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("the client sent Authorization %q", got)
		}
		var status, i int
		if _, err := fmt.Sscanf(r.URL.Path, "/echo/%d/%d/", &status, &i); err != nil {
			t.Errorf("unexpected path %s", r.URL.Path)
			return
		}
		eb := echoBodies[i]
		if eb.header != nil {
			eb.header(w.Header(), token)
		}
		if status == http.StatusTooManyRequests || status >= 500 {
			w.Header().Set("Retry-After", "0")
		}
		if status/100 == 3 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.Header().Set("Content-Type", eb.contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(eb.body(r, token)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// echoURL is the API root that makes echoServer answer status and echoBodies[i].
func echoURL(srv *httptest.Server, status, i int) string {
	return fmt.Sprintf("%s/echo/%d/%d", srv.URL, status, i)
}

// clientCall is one Client method, called for its error.
type clientCall struct {
	name string
	call func(ctx context.Context, c *Client) error
}

var testRegistration = Registration{
	WebhookURL:    "https://partner.example/hook",
	WebhookEvents: []EventName{EventSubscriptionUpdated, EventTestCreated},
}

// clientCalls are every Client method that sends a request.
func clientCalls(apiRoot string) []clientCall {
	return []clientCall{
		{"SupportedEvents", func(ctx context.Context, c *Client) error { _, err := c.SupportedEvents(ctx); return err }},
		{"Registration", func(ctx context.Context, c *Client) error { _, err := c.Registration(ctx); return err }},
		{"Register", func(ctx context.Context, c *Client) error {
			_, err := c.Register(ctx, testRegistration)
			return err
		}},
		{"UpdateRegistration", func(ctx context.Context, c *Client) error {
			_, err := c.UpdateRegistration(ctx, testRegistration)
			return err
		}},
		{"EnsureRegistration", func(ctx context.Context, c *Client) error {
			_, err := c.EnsureRegistration(ctx, testRegistration)
			return err
		}},
		{"EnsureRegistrationChanges", func(ctx context.Context, c *Client) error {
			_, _, err := c.EnsureRegistrationChanges(ctx, testRegistration)
			return err
		}},
		{"SendTestEvent", func(ctx context.Context, c *Client) error { _, err := c.SendTestEvent(ctx); return err }},
		{"ValidationStatus", func(ctx context.Context, c *Client) error {
			_, err := c.ValidationStatus(ctx, "c-1")
			return err
		}},
		{"WaitForValidation", func(ctx context.Context, c *Client) error {
			// A 404 keeps it polling until its context ends, here once more answers are read
			// (stopAfterAnswers) than a retried failure takes: the error then quotes the last 404.
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			stop := &stopAfter{cancel: cancel}
			stop.left.Store(testAttempts + 1)
			ctx = context.WithValue(ctx, stopKey{}, stop)
			_, err := c.WaitForValidation(ctx, "c-1", time.Millisecond)
			return err
		}},
		{"GetResource", func(ctx context.Context, c *Client) error {
			var out map[string]any
			return c.GetResource(ctx, apiRoot+"/v1/customers/c-1/subscriptions/s-1", &out)
		}},
	}
}

// stopKey is the context key of a *stopAfter.
type stopKey struct{}

// stopAfter cancels a context once left answers have been read.
type stopAfter struct {
	left   atomic.Int32
	cancel context.CancelFunc
}

// stopAfterAnswers is an http.RoundTripper that counts the answers read (closed) for requests
// whose context carries a *stopAfter.
type stopAfterAnswers struct{}

func (stopAfterAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if s, ok := r.Context().Value(stopKey{}).(*stopAfter); ok && err == nil {
		res.Body = &closeHook{ReadCloser: res.Body, closed: func() {
			if s.left.Add(-1) == 0 {
				s.cancel()
			}
		}}
	}
	return res, err
}

// closeHook calls closed when the body is closed.
type closeHook struct {
	io.ReadCloser
	closed func()
}

func (c *closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.closed()
	return err
}

// testAttempts is how many requests a call makes at most, with WithRetryPolicy(fastRetries).
const testAttempts = defaultMaxAttempts

func TestClientErrorsNeverShowTheToken(t *testing.T) {
	ctx := context.Background()
	run := func(t *testing.T, root, token string, status int, calls []string) {
		t.Parallel()
		c := NewClient(StaticToken(token), WithAPIRoot(root), WithRetryPolicy(fastRetries),
			WithClientHTTPClient(&http.Client{Transport: stopAfterAnswers{}}))
		for _, cc := range clientCalls(root) {
			if calls != nil && !slices.Contains(calls, cc.name) {
				continue
			}
			err := cc.call(ctx, c)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr, "%s: %v", cc.name, err)
			assert.Equal(t, status, apiErr.StatusCode, cc.name)
			assertErrorRedacted(t, token, err)
		}
	}
	for _, token := range []string{redactJWT, redactOpaque} {
		srv := echoServer(t, token)
		for i, eb := range echoBodies {
			// Every call, with a refused token (not retried), throttling and an outage (both retried).
			for _, status := range []int{http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable} {
				t.Run(fmt.Sprintf("%s/every call/%d/%.3s", eb.name, status, token), func(t *testing.T) {
					run(t, echoURL(srv, status, i), token, status, nil)
				})
			}
			// The other statuses the API answers, with the calls that treat 404 apart.
			for _, status := range []int{302, 400, 403, 404, 409, 500, 502} {
				t.Run(fmt.Sprintf("%s/Registration/%d/%.3s", eb.name, status, token), func(t *testing.T) {
					run(t, echoURL(srv, status, i), token, status, []string{"Registration", "WaitForValidation"})
				})
			}
		}
	}
}

func TestClientErrorsKeepWhatIsNotTheToken(t *testing.T) {
	srv := echoServer(t, redactJWT)
	c := NewClient(StaticToken(redactJWT), WithRetryPolicy(fastRetries),
		WithAPIRoot(echoURL(srv, http.StatusBadGateway, 5))) // the text with the request headers
	_, err := c.Registration(context.Background())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, apiErr.Message, "upstream refused the request")
	assert.Contains(t, apiErr.Message, "Authorization: Bearer [REDACTED]")
	assert.Contains(t, apiErr.Message, "Accept: application/json")
	assert.Contains(t, apiErr.Message, "User-Agent: pcwebhook-go/")
	assert.Equal(t, testAttempts, apiErr.Attempts)
	assertErrorRedacted(t, redactJWT, err)
}

// echoingTransport fails every request with an error that quotes its headers, as a misbehaving
// proxy client might.
type echoingTransport struct{ cause error }

func (e echoingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("proxy refused %s with %v: %w", r.URL.Path, r.Header, e.cause)
}

func TestTransportErrorsNeverShowTheToken(t *testing.T) {
	errProxy := errors.New("proxy refused")
	for _, token := range []string{redactJWT, redactOpaque} {
		c := NewClient(StaticToken(token), WithAPIRoot("http://127.0.0.1:1"), WithRetryPolicy(fastRetries),
			WithClientHTTPClient(&http.Client{Transport: echoingTransport{cause: errProxy}}))
		for _, cc := range clientCalls("http://127.0.0.1:1") {
			err := cc.call(context.Background(), c)
			assertErrorRedacted(t, token, err)
			assert.ErrorIs(t, err, errProxy, "%s: errors.Is still sees the cause", cc.name)
			assert.Contains(t, err.Error(), "Authorization:[Bearer [REDACTED]]", cc.name)
		}
	}
}

func TestTokenSourceErrorsNeverShowAToken(t *testing.T) {
	errRefresh := errors.New("refresh failed")
	for _, msg := range []string{
		"the authority answered: Authorization: Bearer " + redactJWT,
		"cached token " + redactJWT + " expired",
		`{"access_token":"` + redactJWT + `","error":"invalid_grant"}`,
	} {
		c := NewClient(TokenSourceFunc(func(context.Context) (string, error) {
			return "", fmt.Errorf("%s: %w", msg, errRefresh)
		}), WithAPIRoot("http://127.0.0.1:1"))
		_, err := c.Registration(context.Background())
		assertErrorRedacted(t, redactJWT, err)
		assert.ErrorIs(t, err, errRefresh, "errors.Is still sees the TokenSource's error")
		assert.Contains(t, err.Error(), "[REDACTED]")
	}
}

// leakyResource fails to decode with an error that quotes the body, as a careless UnmarshalJSON
// might.
type leakyResource struct{}

func (*leakyResource) UnmarshalJSON(b []byte) error { return fmt.Errorf("cannot use %s", b) }

func TestGetResourceDecodeErrorsNeverShowTheToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(mustJSON(map[string]any{"echo": r.Header})))
	}))
	t.Cleanup(srv.Close)
	c := NewClient(StaticToken(redactJWT), WithAPIRoot(srv.URL))
	err := c.GetResource(context.Background(), srv.URL+"/v1/customers/c-1", &leakyResource{})
	assertErrorRedacted(t, redactJWT, err)
	assert.Contains(t, err.Error(), "cannot use")
}
