package tokens

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
)

func TestClouds(t *testing.T) {
	assert.Equal(t, "https://login.microsoftonline.com/t1/oauth2/v2.0/token", Global.TokenURL("t1"))
	assert.Equal(t, "https://api.partnercenter.microsoft.com/.default", Global.AppOnlyScope())
	assert.Equal(t, "https://api.partnercenter.microsoft.com/user_impersonation", Global.DelegatedScope())
	assert.Equal(t, pcwebhook.GlobalAPIRoot, Global.APIRoot)

	assert.Equal(t, "https://login.chinacloudapi.cn/t1/oauth2/v2.0/token", China.TokenURL("t1"))
	assert.Equal(t, "https://partner.partnercenterapi.microsoftonline.cn/.default", China.AppOnlyScope())
	assert.Equal(t, "https://partner.partnercenterapi.microsoftonline.cn/user_impersonation", China.DelegatedScope())
	assert.Equal(t, pcwebhook.ChinaAPIRoot, China.APIRoot)

	assert.Equal(t, "https://login.microsoftonline.us/t1/oauth2/v2.0/token", USGovernment.TokenURL("t1"))
	assert.Equal(t, Global.Audience, USGovernment.Audience)
}

// apiServer is a stand-in Partner Center API that records the bearer tokens it gets.
type apiServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func newAPIServer(t *testing.T) *apiServer {
	a := &apiServer{}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.auth = append(a.auth, r.Header.Get("Authorization"))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`["subscription-updated","test-created"]`))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// useWithClient makes two pcwebhook.Client calls with ts and returns the tokens the API got.
func useWithClient(t *testing.T, ts pcwebhook.TokenSource) []string {
	t.Helper()
	api := newAPIServer(t)
	c := pcwebhook.NewClient(ts, pcwebhook.WithAPIRoot(api.srv.URL), pcwebhook.WithClientHTTPClient(api.srv.Client()))
	for i := 0; i < 2; i++ {
		_, err := c.SupportedEvents(context.Background())
		require.NoError(t, err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	return append([]string(nil), api.auth...)
}

func TestAppOnlySecret(t *testing.T) {
	for _, c := range []Cloud{Global, China} {
		t.Run(c.Name, func(t *testing.T) {
			f := newFakeAuthority(t, c.AppOnlyScope())
			f.secret = "s3cret"
			opts := &Options{HTTPClient: f.srv.Client()}
			ts := AppOnlySecret(f.cloudAt(c), f.tenant, f.clientID, "s3cret", opts)

			// Used by the pcwebhook client: one token request, the token cached for both calls.
			got := useWithClient(t, ts)
			assert.Equal(t, []string{"Bearer at-client_credentials-1", "Bearer at-client_credentials-1"}, got)
			assert.Equal(t, []string{"client_credentials"}, f.requests())

			// A token that expires within the early-refresh window is replaced at each use.
			f.setExpiresIn(time.Minute)
			ts2 := AppOnlySecret(f.cloudAt(c), f.tenant, f.clientID, "s3cret", opts)
			tok1, err := ts2.Token(context.Background())
			require.NoError(t, err)
			tok2, err := ts2.Token(context.Background())
			require.NoError(t, err)
			assert.NotEqual(t, tok1, tok2, "refreshed before expiry")
			assert.Len(t, f.requests(), 3)

			bad := AppOnlySecret(f.cloudAt(c), f.tenant, f.clientID, "wrong", opts)
			_, err = bad.Token(context.Background())
			assert.ErrorContains(t, err, "invalid_client")
		})
	}
}

// selfSigned makes an app's certificate and key, valid around now.
func selfSigned(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "partner-center-app"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func TestAppOnlyCertificate(t *testing.T) {
	for _, c := range []Cloud{Global, China} {
		t.Run(c.Name, func(t *testing.T) {
			cert, key := selfSigned(t)
			f := newFakeAuthority(t, c.AppOnlyScope())
			f.certKey = &key.PublicKey
			opts := &Options{HTTPClient: f.srv.Client()}
			// A loopback authority is not a known Entra ID host: the tests skip instance
			// discovery (a real program does not need to).
			az := &azidentity.ClientCertificateCredentialOptions{DisableInstanceDiscovery: true}
			ts, err := AppOnlyCertificate(f.cloudAt(c), f.tenant, f.clientID, []*x509.Certificate{cert}, key, opts, az)
			require.NoError(t, err)

			got := useWithClient(t, ts)
			assert.Equal(t, []string{"Bearer at-client_credentials-1", "Bearer at-client_credentials-1"}, got, "cached")
			assert.Equal(t, []string{"client_credentials"}, f.requests())

			// Another key for the same certificate: the assertion does not verify.
			_, otherKey := selfSigned(t)
			bad, err := AppOnlyCertificate(f.cloudAt(c), f.tenant, f.clientID, []*x509.Certificate{cert}, otherKey, opts, az)
			if err == nil { // azidentity may refuse the mismatch itself
				_, err = bad.Token(context.Background())
			}
			assert.Error(t, err)
		})
	}
}

func TestAppUserRefreshToken(t *testing.T) {
	for _, c := range []Cloud{Global, China} {
		t.Run(c.Name, func(t *testing.T) {
			f := newFakeAuthority(t, c.DelegatedScope())
			f.secret = "web-app-secret"
			f.addRefreshToken("rt-from-consent")
			var rotated []string
			cfg := AppUserConfig{
				TenantID: f.tenant, ClientID: f.clientID, ClientSecret: "web-app-secret",
				RefreshToken:          "rt-from-consent",
				OnRefreshTokenRotated: func(rt string) { rotated = append(rotated, rt) },
			}
			ts, err := AppUser(f.cloudAt(c), cfg, &Options{HTTPClient: f.srv.Client()})
			require.NoError(t, err)

			got := useWithClient(t, ts)
			assert.Equal(t, []string{"Bearer at-refresh_token-1", "Bearer at-refresh_token-1"}, got, "cached")
			assert.Equal(t, []string{"rt-1"}, rotated)
			f.mu.Lock()
			scope := f.lastForm["scope"]
			f.mu.Unlock()
			assert.Equal(t, []string{c.DelegatedScope() + " offline_access"}, scope)

			// Near expiry it refreshes, with the rotated refresh token (the first one is spent:
			// the fake refuses a refresh token used twice).
			f.setExpiresIn(time.Minute)
			ts2, err := AppUser(f.cloudAt(c), AppUserConfig{TenantID: f.tenant, ClientID: f.clientID,
				ClientSecret: "web-app-secret", RefreshToken: "rt-1"}, &Options{HTTPClient: f.srv.Client()})
			require.NoError(t, err)
			for i := 0; i < 3; i++ {
				tok, err := ts2.Token(context.Background())
				require.NoError(t, err, "refresh %d", i)
				assert.True(t, strings.HasPrefix(tok, "at-refresh_token-"), tok)
			}
			assert.Equal(t, []string{"refresh_token", "refresh_token", "refresh_token", "refresh_token"}, f.requests())

			// A spent refresh token fails, with the authority's error.
			spent, err := AppUser(f.cloudAt(c), AppUserConfig{TenantID: f.tenant, ClientID: f.clientID,
				ClientSecret: "web-app-secret", RefreshToken: "rt-from-consent"}, &Options{HTTPClient: f.srv.Client()})
			require.NoError(t, err)
			_, err = spent.Token(context.Background())
			assert.ErrorContains(t, err, "invalid_grant")
		})
	}
	_, err := AppUser(Global, AppUserConfig{ClientID: "x"}, nil)
	assert.ErrorIs(t, err, ErrNoRefreshToken)
}

func TestFromOAuth2HonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ts := AppOnlySecret(Global, "t", "c", "s", nil)
	_, err := ts.Token(ctx)
	assert.ErrorIs(t, err, context.Canceled, "no request is made for a cancelled context")
}
