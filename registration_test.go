package pcwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSupportedEvents(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", file: "supported-events.json"},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", file: "supported-events-mixed-case.json"},
	)
	c, _ := newTestClient(t, f)

	got, err := c.SupportedEvents(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []EventName{EventSubscriptionUpdated, EventTestCreated, EventUsageRecordsThresholdExceeded}, got)

	got, err = c.SupportedEvents(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []EventName{EventSubscriptionUpdated, EventTestCreated, EventUsageRecordsThresholdExceeded,
		EventTransferFailed, "some-future-event"}, got)
	assert.False(t, got[4].Known())
}

func TestRegister(t *testing.T) {
	f := newFakePC(t, fakeCall{method: "POST", path: "/webhooks/v1/registration", file: "registration.json"})
	c, _ := newTestClient(t, f)

	got, err := c.Register(context.Background(), Registration{
		SubscriberID:  "ignored",
		WebhookURL:    "  https://partner.example/webhooks ",
		WebhookEvents: []EventName{"Subscription-Updated", EventTestCreated, "test-created", "fail-transfer"},
		LastModified:  time.Now(),
		Properties:    map[string]any{"not": "sent"},
	})
	require.NoError(t, err)
	assert.Equal(t, &Registration{
		SubscriberID:  "e82cac64-dc67-4cd3-849b-78b6127dd57d",
		WebhookURL:    "https://partner.example/webhooks",
		WebhookEvents: []EventName{EventSubscriptionUpdated, EventTestCreated},
	}, got)

	reqs := f.requests()
	require.Len(t, reqs, 1)
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/webhooks",
		"WebhookEvents":["subscription-updated","test-created","transfer-failed"],
		"SignatureTokenToMsSignatureHeader":false}`, string(reqs[0].body))
}

func TestRegisterNoEventsSendsEmptyArray(t *testing.T) {
	f := newFakePC(t, fakeCall{method: "POST", path: "/webhooks/v1/registration", status: http.StatusCreated})
	c, _ := newTestClient(t, f)
	got, err := c.Register(context.Background(), Registration{WebhookURL: "https://partner.example/h", SignatureTokenToMsSignatureHeader: true})
	require.NoError(t, err)
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/h","WebhookEvents":[],"SignatureTokenToMsSignatureHeader":true}`,
		string(f.requests()[0].body))
	// No response body: the registration is reported as sent.
	assert.Equal(t, &Registration{WebhookURL: "https://partner.example/h", SignatureTokenToMsSignatureHeader: true}, got)
}

func TestUpdateRegistration(t *testing.T) {
	f := newFakePC(t, fakeCall{method: "PUT", path: "/webhooks/v1/registration", file: "registration-camelcase.json"})
	c, _ := newTestClient(t, f)

	got, err := c.UpdateRegistration(context.Background(), Registration{
		WebhookURL:                        "https://partner.example/webhooks",
		WebhookEvents:                     []EventName{EventSubscriptionUpdated, EventTestCreated, EventTransferFailed},
		SignatureTokenToMsSignatureHeader: true,
	})
	require.NoError(t, err)
	assert.Equal(t, "e82cac64-dc67-4cd3-849b-78b6127dd57d", got.SubscriberID)
	assert.Equal(t, []EventName{EventSubscriptionUpdated, EventTestCreated, EventTransferFailed}, got.WebhookEvents)
	assert.True(t, got.SignatureTokenToMsSignatureHeader)
	assert.JSONEq(t, `{"WebhookUrl":"https://partner.example/webhooks",
		"WebhookEvents":["subscription-updated","test-created","transfer-failed"],
		"SignatureTokenToMsSignatureHeader":true}`, string(f.requests()[0].body))
}

func TestRegistration(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration", file: "registration.json"},
		fakeCall{method: "GET", path: "/webhooks/v1/registration", file: "registration-camelcase.json"},
	)
	c, _ := newTestClient(t, f)

	got, err := c.Registration(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &Registration{
		SubscriberID:  "e82cac64-dc67-4cd3-849b-78b6127dd57d",
		WebhookURL:    "https://partner.example/webhooks",
		WebhookEvents: []EventName{EventSubscriptionUpdated, EventTestCreated},
	}, got)

	got, err = c.Registration(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &Registration{
		SubscriberID:                      "e82cac64-dc67-4cd3-849b-78b6127dd57d",
		WebhookURL:                        "https://partner.example/webhooks",
		WebhookEvents:                     []EventName{EventSubscriptionUpdated, EventTestCreated, EventTransferFailed},
		SignatureTokenToMsSignatureHeader: true,
		LastModified:                      time.Date(2023, 10, 18, 0, 26, 24, 15908800, time.UTC),
		Properties:                        map[string]any{"region": "emea"},
	}, got)
	assert.Equal(t, time.UTC, got.LastModified.Location())
}

func TestRegistrationNotRegistered(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration", status: 404, file: "error-600008.json",
			header: map[string]string{"MS-CorrelationId": "corr-from-service", "MS-RequestId": "req-from-service"}},
		fakeCall{method: "GET", path: "/webhooks/v1/registration"},               // 200, empty body
		fakeCall{method: "GET", path: "/webhooks/v1/registration", body: "null"}, // 200, null
		fakeCall{method: "GET", path: "/webhooks/v1/registration", body: `{"webhookEvents":[]}`},
		fakeCall{method: "GET", path: "/webhooks/v1/registration", status: http.StatusNoContent},
	)
	c, _ := newTestClient(t, f)

	_, err := c.Registration(context.Background())
	require.ErrorIs(t, err, ErrNotRegistered)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.Equal(t, "600008", apiErr.Code)
	assert.Equal(t, "The partner is not registered for webhooks.", apiErr.Message)
	assert.Equal(t, "RegistrationNotFound", apiErr.ErrorName)
	assert.Equal(t, "corr-from-service", apiErr.CorrelationID)
	assert.Equal(t, "req-from-service", apiErr.RequestID)
	assert.Equal(t, 1, apiErr.Attempts)

	for i := 0; i < 4; i++ {
		got, err := c.Registration(context.Background())
		assert.ErrorIs(t, err, ErrNotRegistered, "answer %d", i+2)
		assert.False(t, errors.As(err, &apiErr), "a 2xx is not an APIError")
		assert.Nil(t, got)
	}
}

func TestRegisterRejectsInvalidInput(t *testing.T) {
	f := newFakePC(t) // no request may be made
	c, _ := newTestClient(t, f)
	for _, reg := range []Registration{
		{},
		{WebhookURL: "   "},
		{WebhookURL: "/relative/path"},
		{WebhookURL: "partner.example/webhooks"},
		{WebhookURL: "ftp://partner.example/webhooks"},
		{WebhookURL: "https://"},
		{WebhookURL: "https://partner.example/%zz"},
		{WebhookURL: "https://partner.example/h", WebhookEvents: []EventName{EventTestCreated, " "}},
	} {
		_, err := c.Register(context.Background(), reg)
		assert.ErrorIs(t, err, ErrInvalidInput, "%+v", reg)
		_, err = c.UpdateRegistration(context.Background(), reg)
		assert.ErrorIs(t, err, ErrInvalidInput, "%+v", reg)
		_, err = c.EnsureRegistration(context.Background(), reg)
		assert.ErrorIs(t, err, ErrInvalidInput, "%+v", reg)
	}
}

func TestUnexpectedResponses(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", body: `{"not":"an array"}`},
		fakeCall{method: "GET", path: "/webhooks/v1/registration", body: `<html>`},
		fakeCall{method: "GET", path: "/webhooks/v1/registration", body: `{"WebhookUrl":"https://x.example","lastModifiedTimestamp":"yesterday"}`},
		fakeCall{method: "GET", path: "/webhooks/v1/registration", body: `{"WebhookUrl":42}`},
	)
	c, _ := newTestClient(t, f)
	_, err := c.SupportedEvents(context.Background())
	assert.ErrorIs(t, err, ErrUnexpectedResponse)
	for i := 0; i < 3; i++ {
		_, err = c.Registration(context.Background())
		assert.ErrorIs(t, err, ErrUnexpectedResponse)
		assert.NotErrorIs(t, err, ErrNotRegistered)
	}
	assert.Contains(t, err.Error(), "WebhookUrl")
}

func TestResponseBodyTooLarge(t *testing.T) {
	huge := `["` + strings.Repeat("x", apiMaxResponseBytes) + `"]`
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", body: huge},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", status: 400, body: huge},
	)
	c, _ := newTestClient(t, f)

	_, err := c.SupportedEvents(context.Background())
	require.ErrorIs(t, err, ErrUnexpectedResponse)
	assert.Contains(t, err.Error(), "larger than 1048576 bytes")

	_, err = c.SupportedEvents(context.Background())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.LessOrEqual(t, len(apiErr.Message), apiMaxErrorBody+3)
	assert.True(t, strings.HasPrefix(apiErr.Message, `["xxxx`))
}

// TestHeaders checks the identifiers: MS-CorrelationId differs for every request, MS-RequestId
// differs between calls and is kept across the retries of one call.
func TestHeaders(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", status: 503},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", status: 500},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", file: "supported-events.json"},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", file: "supported-events.json"},
	)
	c, _ := newTestClient(t, f)
	_, err := c.SupportedEvents(context.Background())
	require.NoError(t, err)
	_, err = c.SupportedEvents(context.Background())
	require.NoError(t, err)

	reqs := f.requests()
	require.Len(t, reqs, 4)
	id := func(i int, h string) string { return reqs[i].header.Get(h) }
	assert.Equal(t, id(0, "MS-RequestId"), id(1, "MS-RequestId"))
	assert.Equal(t, id(0, "MS-RequestId"), id(2, "MS-RequestId"))
	assert.NotEqual(t, id(0, "MS-RequestId"), id(3, "MS-RequestId"))
	seen := map[string]bool{}
	for i := range reqs {
		seen[id(i, "MS-CorrelationId")] = true
		seen[id(i, "MS-RequestId")] = true
	}
	assert.Len(t, seen, 4+2, "every correlation ID is fresh, and distinct from the request IDs")
}

// rotatingTokens returns token-1, token-2, ... and counts the calls.
type rotatingTokens struct{ n int }

func (r *rotatingTokens) Token(ctx context.Context) (string, error) {
	r.n++
	return "token-" + string(rune('0'+r.n)), nil
}

func TestRotatingTokens(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration", token: "token-1", file: "registration.json"},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", token: "token-2", status: 500},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", token: "token-3", file: "supported-events.json"},
		fakeCall{method: "POST", path: "/webhooks/v1/registration/validationEvents", token: "token-4", file: "validation-event.json"},
	)
	tokens := &rotatingTokens{}
	c, _ := newTestClient(t, f)
	c.tokens = tokens

	_, err := c.Registration(context.Background())
	require.NoError(t, err)
	_, err = c.SupportedEvents(context.Background())
	require.NoError(t, err)
	_, err = c.SendTestEvent(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 4, tokens.n, "the TokenSource is asked before every request, retries included")
}

type tokenFunc func(context.Context) (string, error)

func (f tokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

func TestTokenProblems(t *testing.T) {
	errVault := errors.New("vault unreachable")
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration/events", token: "abc.def", file: "supported-events.json"},
	)
	for _, tc := range []struct {
		name   string
		tokens TokenSource
		want   error
	}{
		{"nil TokenSource", nil, ErrNoToken},
		{"empty StaticToken", StaticToken(""), ErrNoToken},
		{"blank token", StaticToken(" \n"), ErrNoToken},
		{"bare Bearer", StaticToken("Bearer "), ErrNoToken},
		{"space inside", StaticToken("abc def"), ErrNoToken},
		{"newline inside", StaticToken("abc\r\nX-Evil: 1"), ErrNoToken},
		{"TokenSource error", tokenFunc(func(context.Context) (string, error) { return "", errVault }), errVault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newTestClient(t, f)
			c.tokens = tc.tokens
			_, err := c.SupportedEvents(context.Background())
			require.ErrorIs(t, err, tc.want)
			var apiErr *APIError
			assert.False(t, errors.As(err, &apiErr))
		})
	}
	t.Run("Bearer prefix and white space removed", func(t *testing.T) {
		c, _ := newTestClient(t, f)
		c.tokens = StaticToken("  bearer abc.def\n")
		_, err := c.SupportedEvents(context.Background())
		require.NoError(t, err)
	})
	assert.Len(t, f.requests(), 1, "no request is sent without a usable token")
}

func TestTokenSourceGetsContext(t *testing.T) {
	type key struct{}
	f := newFakePC(t, fakeCall{method: "GET", path: "/webhooks/v1/registration/events", file: "supported-events.json"})
	c, _ := newTestClient(t, f)
	c.tokens = tokenFunc(func(ctx context.Context) (string, error) {
		assert.Equal(t, "v", ctx.Value(key{}))
		return fakeToken, nil
	})
	_, err := c.SupportedEvents(context.WithValue(context.Background(), key{}, "v"))
	require.NoError(t, err)
}

// rewriteTransport records the URL of each request and sends it to target instead.
type rewriteTransport struct {
	target *url.URL
	urls   []string
}

func (rt *rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.urls = append(rt.urls, r.URL.String())
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rt.target.Scheme, rt.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

func TestAPIRoots(t *testing.T) {
	assert.Equal(t, "https://api.partnercenter.microsoft.com", GlobalAPIRoot)
	assert.Equal(t, "https://partner.partnercenterapi.microsoftonline.cn", ChinaAPIRoot)

	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration", file: "registration.json"},
		fakeCall{method: "GET", path: "/webhooks/v1/registration", file: "registration.json"},
		fakeCall{method: "GET", path: "/pc/webhooks/v1/registration", file: "registration.json"},
		fakeCall{method: "GET", path: "/webhooks/v1/registration/validationEvents/a%2Fb%20c", file: "validation-status.json"},
	)
	target, err := url.Parse(f.srv.URL)
	require.NoError(t, err)
	rt := &rewriteTransport{target: target}
	hc := &http.Client{Transport: rt}

	_, err = NewClient(StaticToken(fakeToken), WithClientHTTPClient(hc)).Registration(context.Background())
	require.NoError(t, err)
	_, err = NewClient(StaticToken(fakeToken), WithClientHTTPClient(hc), WithAPIRoot(ChinaAPIRoot)).Registration(context.Background())
	require.NoError(t, err)
	_, err = NewClient(StaticToken(fakeToken), WithClientHTTPClient(hc), WithAPIRoot("https://proxy.example/pc/")).Registration(context.Background())
	require.NoError(t, err)
	_, err = NewClient(StaticToken(fakeToken), WithClientHTTPClient(hc)).ValidationStatus(context.Background(), "a/b c")
	require.NoError(t, err)

	assert.Equal(t, []string{
		"https://api.partnercenter.microsoft.com/webhooks/v1/registration",
		"https://partner.partnercenterapi.microsoftonline.cn/webhooks/v1/registration",
		"https://proxy.example/pc/webhooks/v1/registration",
		"https://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/a%2Fb%20c",
	}, rt.urls)
}

func TestWithAPIRootValidation(t *testing.T) {
	for root, want := range map[string]string{
		"":                          GlobalAPIRoot,
		" https://api.example/ ":    "https://api.example",
		"HTTPS://api.example:8443/": "https://api.example:8443",
		"http://127.0.0.1:8080":     "http://127.0.0.1:8080",
		"http://localhost/x/":       "http://localhost/x",
		"http://[::1]:9000":         "http://[::1]:9000",
	} {
		c := NewClient(StaticToken("t"), WithAPIRoot(root))
		require.NoError(t, c.configErr, root)
		assert.Equal(t, want, c.root(), root)
	}
	f := newFakePC(t) // nothing may be sent
	for _, root := range []string{
		"api.example",
		"/relative",
		"ftp://api.example",
		"http://api.example", // a token must not travel in clear
		"http://10.0.0.1",    // not loopback
		"https://user:pw@api.example",
		"https://api.example/?x=1",
		"https://api.example/#frag",
		"https://%zz",
		"https://",
	} {
		c := NewClient(StaticToken("t"), WithAPIRoot(root), WithAPIRoot(f.srv.URL+"/ignored-because-an-earlier-option-failed"))
		_, err := c.SupportedEvents(context.Background())
		assert.ErrorIs(t, err, ErrInvalidInput, root)
	}
}

func TestClientZeroAndNil(t *testing.T) {
	var zero Client
	_, err := zero.Registration(context.Background())
	assert.ErrorIs(t, err, ErrNoToken)
	assert.Equal(t, GlobalAPIRoot, zero.root())

	var nilClient *Client
	_, err = nilClient.SupportedEvents(context.Background())
	assert.ErrorIs(t, err, ErrInvalidInput)

	c := NewClient(StaticToken("t"), nil, WithClientHTTPClient(nil))
	assert.NotNil(t, c.httpClient)
	var nilCtx context.Context
	_, err = c.SupportedEvents(nilCtx)
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func TestAPIErrorFromBodies(t *testing.T) {
	sent := func(status int, body string, header http.Header) *APIError {
		if header == nil {
			header = http.Header{}
		}
		return newAPIError(status, header, []byte(body), "sent-corr", "sent-req", nil)
	}

	e := sent(404, string(readAPIFile(t, "error-600008.json")), http.Header{"Ms-Correlationid": {"c1"}, "Ms-Requestid": {"r1"}})
	assert.Equal(t, &APIError{StatusCode: 404, Code: "600008", Message: "The partner is not registered for webhooks.",
		ErrorName: "RegistrationNotFound", CorrelationID: "c1", RequestID: "r1"}, e)
	assert.Equal(t, "partner center: 404 Not Found (code 600008): The partner is not registered for webhooks. (correlation id c1, request id r1)", e.Error())

	e = sent(429, string(readAPIFile(t, "error-429.json")), nil)
	assert.Equal(t, "TooManyRequests", e.Code)
	assert.Equal(t, "sent-corr", e.CorrelationID, "falls back to the IDs sent")
	assert.Equal(t, "sent-req", e.RequestID)

	e = sent(502, "<html>\n<body>Bad   gateway</body>\n</html>", nil)
	assert.Equal(t, "", e.Code)
	assert.Equal(t, "<html> <body>Bad gateway</body> </html>", e.Message)
	assert.Equal(t, "partner center: 502 Bad Gateway: <html> <body>Bad gateway</body> </html> (correlation id sent-corr, request id sent-req)", e.Error())

	e = sent(400, `{"error":{"code":"InvalidInput","message":"bad url"}}`, nil)
	assert.Equal(t, "InvalidInput", e.Code)
	assert.Equal(t, "bad url", e.Message)

	e = sent(400, `{"code":1.5e3,"message":"fallback message","description":null}`, nil)
	assert.Equal(t, "1.5e3", e.Code)
	assert.Equal(t, "fallback message", e.Message)

	e = sent(599, "", nil)
	assert.Equal(t, "partner center: 599 (correlation id sent-corr, request id sent-req)", e.Error())

	e = sent(500, strings.Repeat("é", 400), nil)
	assert.LessOrEqual(t, len(e.Message), apiMaxErrorBody+3)
	assert.True(t, strings.HasSuffix(e.Message, "é..."), "truncated on a character boundary")

	e = &APIError{StatusCode: 429, Message: "slow down", Hint: "wait", Attempts: 3}
	assert.Equal(t, "partner center: 429 Too Many Requests: slow down (after 3 attempts); wait", e.Error())
	assert.Equal(t, "partner center: <nil>", (*APIError)(nil).Error())
}

func TestTokenHints(t *testing.T) {
	f := newFakePC(t,
		fakeCall{method: "GET", path: "/webhooks/v1/registration", status: 401, body: `{"code":401,"description":"Unauthorized"}`},
		fakeCall{method: "GET", path: "/webhooks/v1/registration", status: 403, body: "Forbidden"},
	)
	c, rec := newTestClient(t, f)

	_, err := c.Registration(context.Background())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 401, apiErr.StatusCode)
	assert.NotErrorIs(t, err, ErrNotRegistered)
	assert.Contains(t, err.Error(), "partner center: 401 Unauthorized (code 401): Unauthorized")
	assert.Contains(t, err.Error(), "--resource https://api.partnercenter.microsoft.com")

	_, err = c.Registration(context.Background())
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 403, apiErr.StatusCode)
	assert.Equal(t, "Forbidden", apiErr.Message)
	assert.Contains(t, apiErr.Hint, "https://api.partnercenter.microsoft.com")
	assert.Contains(t, err.Error(), apiErr.Hint)
	assert.Empty(t, rec.recorded(), "401 and 403 are not retried")
}

func TestStaticToken(t *testing.T) {
	tok, err := StaticToken("abc").Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "abc", tok)
	var _ TokenSource = StaticToken("")
}

func TestVersionInUserAgent(t *testing.T) {
	assert.Regexp(t, `^\d+\.\d+\.\d+$`, Version)
	assert.Equal(t, "pcwebhook-go/"+Version, apiUserAgent)
}

// TestRequestBodyJSON pins the wire names of the request body, independently of the fake.
func TestRequestBodyJSON(t *testing.T) {
	w, err := (*Client)(nil).registrationRequest(Registration{WebhookURL: "https://a.example/h", WebhookEvents: []EventName{EventTestCreated}})
	require.NoError(t, err)
	b, err := json.Marshal(w)
	require.NoError(t, err)
	assert.Equal(t, `{"WebhookUrl":"https://a.example/h","WebhookEvents":["test-created"],"SignatureTokenToMsSignatureHeader":false}`, string(b))
}

// TestDefaultHTTPClientTimeout documents the per-attempt timeout of the default http.Client.
func TestDefaultHTTPClientTimeout(t *testing.T) {
	c := NewClient(StaticToken("t"))
	assert.Equal(t, 30*time.Second, c.httpClient.Timeout)
	custom := &http.Client{}
	assert.Same(t, custom, NewClient(StaticToken("t"), WithClientHTTPClient(custom)).httpClient)
}

// TestConcurrentUse backs the claim that a Client is safe for concurrent use (run with -race).
func TestConcurrentUse(t *testing.T) {
	f := newFakePC(t)
	f.repeat = &fakeCall{method: "GET", path: "/webhooks/v1/registration/events", file: "supported-events.json"}
	c := NewClient(StaticToken(fakeToken), WithAPIRoot(f.srv.URL))
	errs := make(chan error, 16)
	for i := 0; i < cap(errs); i++ {
		go func() {
			_, err := c.SupportedEvents(context.Background())
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		require.NoError(t, <-errs)
	}
	ids := map[string]bool{}
	for _, r := range f.requests() {
		ids[r.header.Get("MS-RequestId")] = true
	}
	assert.Len(t, ids, cap(errs), "one request ID per call")
}
