package apptoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

const (
	testTenant = "contoso.onmicrosoft.com"
	testClient = "11111111-2222-3333-4444-555555555555"
	testSecret = "s3cr3t~with+special&chars="
)

// authority plays Microsoft Entra ID's token endpoint over TLS on loopback.
type authority struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	answer   func(w http.ResponseWriter, form url.Values)
	forms    []url.Values
}

func newAuthority(t *testing.T) *authority {
	a := &authority{}
	n := 0
	a.answer = func(w http.ResponseWriter, _ url.Values) {
		n++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"token-%d"}`, n)
	}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/"+testTenant+"/oauth2/v2.0/token" {
			http.Error(w, "wrong endpoint "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		require.NoError(t, r.ParseForm())
		a.mu.Lock()
		defer a.mu.Unlock()
		a.forms = append(a.forms, r.PostForm)
		a.answer(w, r.PostForm)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authority) source(t *testing.T, now func() time.Time) *Source {
	s, err := New(Config{Cloud: Cloud{Name: "test", AuthorityHost: a.srv.URL, Audience: "https://api.partnercenter.microsoft.com"},
		TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret, HTTPClient: a.srv.Client()})
	require.NoError(t, err)
	if now != nil {
		s.now = now
	}
	return s
}

func TestTokenIsRequestedWithClientCredentialsAndCached(t *testing.T) {
	a := newAuthority(t)
	now := time.Now()
	s := a.source(t, func() time.Time { return now })
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := s.Token(context.Background())
			assert.NoError(t, err)
			assert.Equal(t, "token-1", tok)
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), a.requests.Load(), "concurrent callers share one request; the token is cached")
	form := a.forms[0]
	assert.Equal(t, "client_credentials", form.Get("grant_type"))
	assert.Equal(t, testClient, form.Get("client_id"))
	assert.Equal(t, testSecret, form.Get("client_secret"), "the secret arrives intact, special characters and all")
	assert.Equal(t, "https://api.partnercenter.microsoft.com/.default", form.Get("scope"))

	now = now.Add(50 * time.Minute) // still valid beyond the early refresh
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "token-1", tok)
	now = now.Add(5 * time.Minute) // within 5 minutes of expiry: replaced
	tok, err = s.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "token-2", tok)
	assert.Equal(t, int64(2), a.requests.Load())
}

// TestRefusalsNeverHoldTheSecret: the token endpoint's refusal is an *Error with its code and
// description; the secret never appears in an error, also when the answer quotes it.
func TestRefusalsNeverHoldTheSecret(t *testing.T) {
	a := newAuthority(t)
	a.answer = func(w http.ResponseWriter, form url.Values) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"error":             "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided: " + form.Get("client_secret") + " / " + url.QueryEscape(form.Get("client_secret")),
			"correlation_id":    "corr-1", "trace_id": "trace-1",
		})
	}
	s := a.source(t, nil)
	_, err := s.Token(context.Background())
	var e *Error
	require.True(t, errors.As(err, &e), "%v", err)
	assert.Equal(t, http.StatusUnauthorized, e.StatusCode)
	assert.Equal(t, "invalid_client", e.Code)
	assert.Contains(t, e.Description, "AADSTS7000215")
	assert.Equal(t, "corr-1", e.CorrelationID)
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		assert.NotContains(t, text, testSecret)
		assert.NotContains(t, text, url.QueryEscape(testSecret))
		assert.NotContains(t, text, "s3cr3t")
	}

	a.answer = func(w http.ResponseWriter, _ url.Values) {
		http.Error(w, "<html>gateway</html>", http.StatusBadGateway)
	}
	_, err = s.Token(context.Background())
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusBadGateway, e.StatusCode)
	a.answer = func(w http.ResponseWriter, _ url.Values) { fmt.Fprint(w, `{"token_type":"Bearer"}`) }
	_, err = s.Token(context.Background())
	assert.ErrorContains(t, err, "without a token")
}

func TestTokenWaitEndsWithTheContext(t *testing.T) {
	a := newAuthority(t)
	release := make(chan struct{})
	a.answer = func(w http.ResponseWriter, _ url.Values) {
		<-release
		fmt.Fprint(w, `{"access_token":"late","expires_in":3600}`)
	}
	s := a.source(t, nil)
	go func() { _, _ = s.Token(context.Background()) }()
	require.Eventually(t, func() bool { return a.requests.Load() == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Token(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a caller waiting behind a request gives up with its context")
	close(release)
}

func TestConfig(t *testing.T) {
	_, err := New(Config{TenantID: testTenant})
	require.ErrorIs(t, err, ErrIncompleteConfig)
	assert.Contains(t, err.Error(), "ClientID, ClientSecret")

	env := map[string]string{EnvTenantID: " " + testTenant + " ", EnvClientID: testClient}
	_, err = FromEnvironment(func(k string) string { return env[k] }, China)
	require.ErrorIs(t, err, ErrIncompleteConfig)
	assert.Contains(t, err.Error(), EnvClientSecret)
	assert.NotContains(t, err.Error(), EnvTenantID)
	env[EnvClientSecret] = testSecret
	cfg, err := FromEnvironment(func(k string) string { return env[k] }, China)
	require.NoError(t, err)
	assert.Equal(t, testTenant, cfg.TenantID)
	assert.Equal(t, China, cfg.Cloud)

	s, err := New(Config{TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret})
	require.NoError(t, err)
	assert.Equal(t, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", s.cfg.Cloud.TokenURL(testTenant), "the zero Cloud is Global")
	assert.Equal(t, "https://partner.partnercenterapi.microsoftonline.cn/.default", China.Scope())
	assert.Equal(t, "https://login.microsoftonline.com/a%2Fb/oauth2/v2.0/token", Global.TokenURL("a/b"), "the tenant cannot change the path")
}

// TestClientCallsWithTheToken: a pcwebhook.Client with a Source sends its token to the API.
func TestClientCallsWithTheToken(t *testing.T) {
	a := newAuthority(t)
	api := pcwebhooktest.NewAPI(t, nil)
	client := pcwebhook.NewClient(a.source(t, nil), pcwebhook.WithAPIRoot(api.URL()), pcwebhook.WithClientHTTPClient(api.Client()))
	_, err := client.SupportedEvents(context.Background())
	require.NoError(t, err)
	var auth string
	for _, r := range api.Received() {
		auth = r.Header.Get("Authorization")
	}
	assert.True(t, strings.HasPrefix(auth, "Bearer token-"), auth)
}
