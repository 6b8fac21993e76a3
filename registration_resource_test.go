package pcwebhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resourceServer is a loopback TLS server that records the requests it gets and answers each with
// the next of its answers (the last one repeats).
type resourceServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []*http.Request
	answers []func(w http.ResponseWriter)
}

func newResourceServer(t *testing.T, answers ...func(w http.ResponseWriter)) *resourceServer {
	t.Helper()
	s := &resourceServer{answers: answers}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		n := len(s.got)
		s.got = append(s.got, r.Clone(context.Background()))
		s.mu.Unlock()
		if len(s.answers) == 0 {
			w.WriteHeader(http.StatusOK)
			return
		}
		s.answers[min(n, len(s.answers)-1)](w)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *resourceServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.got...)
}

func jsonAnswer(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// resourceClient is a Client whose API root is s, with s's TLS trust, fast retries and a token
// source that counts its calls.
func resourceClient(t *testing.T, s *resourceServer) (*Client, *atomic.Int32) {
	t.Helper()
	var tokens atomic.Int32
	c := NewClient(TokenSourceFunc(func(context.Context) (string, error) {
		tokens.Add(1)
		return fakeToken, nil
	}), WithAPIRoot(s.srv.URL), WithClientHTTPClient(s.srv.Client()), WithRetryPolicy(fastRetries))
	require.NoError(t, c.configErr)
	c.sleep = (&sleepRecorder{}).sleep
	return c, &tokens
}

// hostPort returns the host:port of a test server.
func hostPort(t *testing.T, s *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	return u.Host
}

func TestGetResource(t *testing.T) {
	api := newResourceServer(t, jsonAnswer(200, `{"id":"s1","status":"active","quantity":3}`))
	c, _ := resourceClient(t, api)

	// The documents' form: http://, with a trailing space. It must go as https to the API host
	// (the server speaks TLS only: a plain http request would fail).
	uri := "http://" + hostPort(t, api.srv) + "/webhooks/v1/customers/c1/subscriptions/s1 "
	var sub struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Quantity int    `json:"quantity"`
	}
	require.NoError(t, c.GetResource(context.Background(), uri, &sub))
	assert.Equal(t, "s1", sub.ID)
	assert.Equal(t, "active", sub.Status)
	assert.Equal(t, 3, sub.Quantity)

	reqs := api.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodGet, r.Method)
	assert.NotNil(t, r.TLS, "sent over TLS")
	assert.Equal(t, "/webhooks/v1/customers/c1/subscriptions/s1", r.URL.Path)
	assert.Equal(t, "Bearer "+fakeToken, r.Header.Get("Authorization"))
	assert.Equal(t, "application/json", r.Header.Get("Accept"))
	assert.Equal(t, "pcwebhook-go/"+Version, r.Header.Get("User-Agent"))
	assert.Regexp(t, guidV4, r.Header.Get("MS-CorrelationId"))
	assert.Regexp(t, guidV4, r.Header.Get("MS-RequestId"))
}

func TestGetResourceKeepsQueryAndNilOut(t *testing.T) {
	api := newResourceServer(t, jsonAnswer(200, `[{"x":1}]`))
	c, _ := resourceClient(t, api)
	uri := api.srv.URL + "/v1/fraudEvents?SubscriptionId=s%201&EventStatus=Active"
	require.NoError(t, c.GetResource(context.Background(), uri, nil))
	reqs := api.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/fraudEvents", reqs[0].URL.Path)
	assert.Equal(t, "SubscriptionId=s%201&EventStatus=Active", reqs[0].URL.RawQuery)
}

// A URI naming any other host than the API root's is refused before anything is sent: neither
// the canary nor the API gets a request, and the token source is not even asked.
func TestGetResourceRefusesForeignHosts(t *testing.T) {
	api := newResourceServer(t, jsonAnswer(200, `{}`))
	canary := newResourceServer(t, jsonAnswer(200, `{}`))
	c, tokens := resourceClient(t, api)
	apiPort := strings.TrimPrefix(hostPort(t, api.srv), "127.0.0.1:")

	for _, uri := range []string{
		canary.srv.URL + "/v1/customers/c1",                            // another port on the same address
		"http://" + hostPort(t, canary.srv) + "/v1/customers/c1",       // the same, in clear
		"https://localhost:" + apiPort + "/v1/customers/c1",            // another name for the API host
		"https://127.0.0.2:" + apiPort + "/v1/customers/c1",            // another address
		"https://127.0.0.1.evil.example:" + apiPort + "/v1/customers",  // a suffix
		"https://user:pw@" + hostPort(t, api.srv) + "/v1/customers/c1", // user information
		"ftp://" + hostPort(t, api.srv) + "/v1/customers/c1",           // another scheme
		"https://partner.microsoft.com/granularAdminRelationships/r1",  // GDAP
		"https://api.partnercenter.microsoft.com/v1/customers/c1",      // the real API, not this client's
	} {
		err := c.GetResource(context.Background(), uri, nil)
		assert.ErrorIs(t, err, ErrForeignResourceURI, uri)
	}
	assert.Empty(t, canary.requests(), "the canary must get no request")
	assert.Empty(t, api.requests(), "nothing is sent for a refused URI")
	assert.Zero(t, tokens.Load(), "no token is even asked for")
}

func TestGetResourceGDAPHint(t *testing.T) {
	c := NewClient(StaticToken("t"))
	err := c.GetResource(context.Background(), "https://partner.microsoft.com/granularAdminRelationships/r1/accessAssignments/a1", nil)
	require.ErrorIs(t, err, ErrForeignResourceURI)
	assert.Contains(t, err.Error(), "Microsoft Graph")
	assert.Contains(t, err.Error(), "delegatedAdminRelationships")
}

func TestGetResourceInvalidURIs(t *testing.T) {
	c := NewClient(StaticToken("t"))
	for _, uri := range []string{"", "   ", "/v1/customers/c1", "api.partnercenter.microsoft.com/v1/customers", "http://[::1"} {
		err := c.GetResource(context.Background(), uri, nil)
		assert.ErrorIs(t, err, ErrInvalidInput, "%q", uri)
		assert.NotErrorIs(t, err, ErrForeignResourceURI, "%q", uri)
	}
	var nilClient *Client
	assert.ErrorIs(t, nilClient.GetResource(context.Background(), "https://api.partnercenter.microsoft.com/v1/x", nil), ErrInvalidInput)
	bad := NewClient(StaticToken("t"), WithAPIRoot("ftp://x"))
	assert.ErrorIs(t, bad.GetResource(context.Background(), "https://api.partnercenter.microsoft.com/v1/x", nil), ErrInvalidInput)
}

// Which URIs count as the API host's, and what is requested for them.
func TestResourceURLHostRules(t *testing.T) {
	c := NewClient(StaticToken("t"))
	china := NewClient(StaticToken("t"), WithAPIRoot(ChinaAPIRoot))
	local := NewClient(StaticToken("t"), WithAPIRoot("http://127.0.0.1:8081"))
	for _, tc := range []struct {
		c        *Client
		uri, out string
	}{
		{c, "http://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/x", "https://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/x"},
		{c, "HTTPS://API.PartnerCenter.Microsoft.com./v1/invoices/i1", "https://api.partnercenter.microsoft.com/v1/invoices/i1"},
		{c, "https://api.partnercenter.microsoft.com:443/v1/x", "https://api.partnercenter.microsoft.com/v1/x"},
		{c, "http://api.partnercenter.microsoft.com:80/v1/x", "https://api.partnercenter.microsoft.com/v1/x"},
		{c, "https://api.partnercenter.microsoft.com", "https://api.partnercenter.microsoft.com/"},
		{china, "https://partner.partnercenterapi.microsoftonline.cn/v1/customers/c1", ChinaAPIRoot + "/v1/customers/c1"},
		{local, "https://127.0.0.1:8081/v1/x", "http://127.0.0.1:8081/v1/x"}, // the root's scheme, always
		{local, "https://127.0.0.1/v1/x", "http://127.0.0.1:8081/v1/x"},      // no port: the root's
	} {
		got, _, err := tc.c.resourceURL(tc.uri)
		if assert.NoError(t, err, tc.uri) {
			assert.Equal(t, tc.out, got, tc.uri)
		}
	}
	for _, tc := range []struct {
		c   *Client
		uri string
	}{
		{c, "https://api.partnercenter.microsoft.com:8443/v1/x"},
		{c, "http://api.partnercenter.microsoft.com:443/v1/x"},
		{c, "https://api.partner.microsoft.com/v1/x"},
		{c, ChinaAPIRoot + "/v1/x"},
		{china, GlobalAPIRoot + "/v1/x"},
		{local, "https://127.0.0.1:8082/v1/x"},
	} {
		_, _, err := tc.c.resourceURL(tc.uri)
		assert.ErrorIs(t, err, ErrForeignResourceURI, tc.uri)
	}
}

func TestGetResourceRetriesAndErrors(t *testing.T) {
	api := newResourceServer(t,
		jsonAnswer(503, `{"code":"5000","description":"busy"}`),
		jsonAnswer(200, `{"id":"i1"}`))
	c, tokens := resourceClient(t, api)
	var inv struct{ ID string }
	require.NoError(t, c.GetResource(context.Background(), api.srv.URL+"/v1/invoices/i1", &inv))
	assert.Equal(t, "i1", inv.ID)
	reqs := api.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].Header.Get("MS-RequestId"), reqs[1].Header.Get("MS-RequestId"), "one request ID for the retries")
	assert.NotEqual(t, reqs[0].Header.Get("MS-CorrelationId"), reqs[1].Header.Get("MS-CorrelationId"))
	assert.EqualValues(t, 2, tokens.Load(), "a token per attempt")

	notFound := newResourceServer(t, jsonAnswer(404, `{"code":600008,"description":"no such invoice"}`))
	c2, _ := resourceClient(t, notFound)
	err := c2.GetResource(context.Background(), notFound.srv.URL+"/v1/invoices/nope", &inv)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.Equal(t, "600008", apiErr.Code)
	assert.Equal(t, "no such invoice", apiErr.Message)
	assert.Regexp(t, guidV4, apiErr.CorrelationID)
	assert.Contains(t, err.Error(), "GET /v1/invoices/nope")
	assert.Len(t, notFound.requests(), 1, "404 is not retried")

	notJSON := newResourceServer(t, jsonAnswer(200, `<html>`))
	c3, _ := resourceClient(t, notJSON)
	assert.ErrorIs(t, c3.GetResource(context.Background(), notJSON.srv.URL+"/v1/x", &inv), ErrUnexpectedResponse)
}

func TestTokenSourceFunc(t *testing.T) {
	var nilFunc TokenSourceFunc
	_, err := nilFunc.Token(context.Background())
	assert.ErrorIs(t, err, ErrNoToken)

	boom := errors.New("boom")
	api := newResourceServer(t)
	c := NewClient(TokenSourceFunc(func(context.Context) (string, error) { return "", boom }),
		WithAPIRoot(api.srv.URL), WithClientHTTPClient(api.srv.Client()))
	err = c.GetResource(context.Background(), api.srv.URL+"/v1/x", nil)
	assert.ErrorIs(t, err, boom)
	assert.Empty(t, api.requests())

	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	var seen any
	f := TokenSourceFunc(func(ctx context.Context) (string, error) { seen = ctx.Value(ctxKey{}); return "tok", nil })
	tok, err := f.Token(ctx)
	assert.NoError(t, err)
	assert.Equal(t, "tok", tok)
	assert.Equal(t, "v", seen)
}

// TestClientNeverFollowsRedirects: net/http would re-send the Authorization header on a redirect
// to another port (or to http://) of the same host name; the Client answers the 3xx as an
// *APIError instead, and the other server never sees the token.
func TestClientNeverFollowsRedirects(t *testing.T) {
	var canaryHits atomic.Int32
	canary := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		canaryHits.Add(1)
		assert.Empty(t, r.Header.Get("Authorization"), "the token followed the redirect")
	}))
	t.Cleanup(canary.Close)
	api := newResourceServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Location", canary.URL+"/elsewhere")
		w.WriteHeader(http.StatusFound)
	})
	c, _ := resourceClient(t, api)
	err := c.GetResource(context.Background(), api.srv.URL+"/v1/invoices/I1", nil)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusFound, apiErr.StatusCode)
	_, err = c.Registration(context.Background())
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, int32(0), canaryHits.Load(), "no request reached the redirect's target")
}
