// Package tokens holds tested recipes for the access tokens that pcwebhook.Client needs, in a
// module of its own so that the pcwebhook core keeps its two dependencies. Each recipe is built on
// a well-kept library and returns a pcwebhook.TokenSource that caches its token and refreshes it
// before it expires:
//
//   - [AppOnlySecret]: app-only, client credentials with a client secret (golang.org/x/oauth2
//     clientcredentials). The robust choice for registering webhooks: no user, no MFA prompt.
//   - [AppOnlyCertificate]: app-only with a certificate (azidentity ClientCertificateCredential,
//     which signs the client assertion and caches the token).
//   - [AppUser]: App+User through a refresh token, the "Secure Application Model" (the refresh
//     token grant of golang.org/x/oauth2 clientcredentials, rotating the refresh token).
//
// Each takes a [Cloud]: the token authority and the Partner Center audience differ between the
// global cloud and Partner Center operated by 21Vianet.
//
// Use it from a clone of pcwebhook (it is an example module, not published): copy the recipe you
// need into your program, or add a replace line for it.
package tokens

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/apptoken"
)

// Cloud is where tokens for one Partner Center come from, and for which audience: the fields of
// apptoken.Cloud (Name, AuthorityHost, Audience, APIRoot), with the scopes the recipes ask for.
// It is a type of its own, not an alias, so that the App+User scope stays with the recipe that
// uses it; convert between the two as apptoken.Cloud(c) and Cloud(apptoken.China).
type Cloud apptoken.Cloud

// The clouds are apptoken's (the values of Microsoft's Partner Center PowerShell module and of
// the "Partner Center REST URLs" page: see apptoken.Global).
var (
	// Global is the global (commercial) cloud: apptoken.Global.
	Global = Cloud(apptoken.Global)
	// China is Partner Center operated by 21Vianet: apptoken.China.
	China = Cloud(apptoken.China)
	// USGovernment is Partner Center for Microsoft Cloud for US Government: Global's API root and
	// audience, with tokens from https://login.microsoftonline.us (apptoken.USGovernment).
	USGovernment = Cloud(apptoken.USGovernment)
)

// TokenURL is the OAuth 2.0 (v2.0) token endpoint of tenant (apptoken.Cloud.TokenURL).
func (c Cloud) TokenURL(tenant string) string { return apptoken.Cloud(c).TokenURL(tenant) }

// AppOnlyScope is the scope of app-only tokens: Audience + "/.default" (apptoken.Cloud.Scope).
func (c Cloud) AppOnlyScope() string { return apptoken.Cloud(c).Scope() }

// DelegatedScope is the scope of App+User tokens: Audience + "/user_impersonation", as the Partner
// Center PowerShell module asks for ("{PartnerCenterEndpoint}/user_impersonation").
func (c Cloud) DelegatedScope() string {
	return strings.TrimRight(c.Audience, "/") + "/user_impersonation"
}

// DefaultEarlyRefresh is how long before its expiry a cached token is replaced.
const DefaultEarlyRefresh = 5 * time.Minute

// Options are the settings the recipes share; the zero value is the default.
type Options struct {
	// HTTPClient sends the token requests (a proxy, or a test server's client); nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// EarlyRefresh is how long before expiry a token is refreshed; 0 means DefaultEarlyRefresh.
	EarlyRefresh time.Duration
}

func (o *Options) early() time.Duration {
	if o == nil || o.EarlyRefresh <= 0 {
		return DefaultEarlyRefresh
	}
	return o.EarlyRefresh
}

// oauth2Context carries the HTTP client golang.org/x/oauth2 uses.
func (o *Options) oauth2Context() context.Context {
	ctx := context.Background()
	if o != nil && o.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, o.HTTPClient)
	}
	return ctx
}

// FromOAuth2 adapts a golang.org/x/oauth2 TokenSource to pcwebhook.TokenSource. oauth2 token
// sources take no context per call: the request's context only stops the wait, not a token
// request under way.
func FromOAuth2(ts oauth2.TokenSource) pcwebhook.TokenSource {
	var mu sync.Mutex // oauth2.ReuseTokenSource is safe, but a bare source may not be
	return pcwebhook.TokenSourceFunc(func(ctx context.Context) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		mu.Lock()
		defer mu.Unlock()
		tok, err := ts.Token()
		if err != nil {
			return "", err
		}
		return tok.AccessToken, nil
	})
}

// AppOnlySecret returns app-only tokens for the app clientID of tenantID, authenticated with a
// client secret (OAuth 2.0 client credentials, scope cloud.AppOnlyScope()). The token is cached
// and refreshed opts.EarlyRefresh before it expires.
func AppOnlySecret(c Cloud, tenantID, clientID, secret string, opts *Options) pcwebhook.TokenSource {
	cfg := &clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		TokenURL:     c.TokenURL(tenantID),
		Scopes:       []string{c.AppOnlyScope()},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	return FromOAuth2(oauth2.ReuseTokenSourceWithExpiry(nil, cfg.TokenSource(opts.oauth2Context()), opts.early()))
}

// AppOnlyCertificate returns app-only tokens for the app clientID of tenantID, authenticated with
// a certificate (certs[0] and its private key, for example from azidentity.ParseCertificates):
// azidentity's ClientCertificateCredential signs the client assertion, and caches and refreshes
// the token. The authority is cloud.AuthorityHost; azopts may set more (nil is fine).
func AppOnlyCertificate(c Cloud, tenantID, clientID string, certs []*x509.Certificate, key crypto.PrivateKey,
	opts *Options, azopts *azidentity.ClientCertificateCredentialOptions) (pcwebhook.TokenSource, error) {
	o := azidentity.ClientCertificateCredentialOptions{}
	if azopts != nil {
		o = *azopts
	}
	o.ClientOptions.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: c.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	if opts != nil && opts.HTTPClient != nil {
		o.ClientOptions.Transport = opts.HTTPClient
	}
	cred, err := azidentity.NewClientCertificateCredential(tenantID, clientID, certs, key, &o)
	if err != nil {
		return nil, err
	}
	return FromAzureCredential(cred, c.AppOnlyScope()), nil
}

// FromAzureCredential adapts an Azure Identity credential (any azcore.TokenCredential:
// ClientCertificateCredential, ManagedIdentityCredential, DefaultAzureCredential, ...) to
// pcwebhook.TokenSource, asking for scope. Azure Identity credentials cache their tokens and
// refresh them before they expire.
func FromAzureCredential(cred azcore.TokenCredential, scope string) pcwebhook.TokenSource {
	return pcwebhook.TokenSourceFunc(func(ctx context.Context) (string, error) {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			return "", err
		}
		return tok.Token, nil
	})
}

// AppUserConfig is the App+User (Secure Application Model) setup: a web app with a secret, and a
// refresh token obtained once, interactively and with MFA, by a user of the partner tenant.
type AppUserConfig struct {
	TenantID, ClientID, ClientSecret string
	// RefreshToken is the refresh token from the consent step.
	RefreshToken string
	// OnRefreshTokenRotated, when set, is called with each new refresh token the authority
	// returns, so that the program can store it (in a key vault) in place of the old one.
	OnRefreshTokenRotated func(refreshToken string)
}

// ErrNoRefreshToken is returned by AppUser when the configuration has no refresh token.
var ErrNoRefreshToken = errors.New("tokens: App+User needs a refresh token (from the Secure Application Model consent step)")

// AppUser returns App+User tokens made from a refresh token (the Secure Application Model): each
// access token is requested with the refresh token grant for scope cloud.DelegatedScope() (with
// offline_access, so that the authority returns a new refresh token, which is used from then on
// and passed to OnRefreshTokenRotated). The access token is cached and refreshed
// opts.EarlyRefresh before it expires. Partner Center requires these tokens to carry an MFA
// claim: the refresh token must come from a sign-in with MFA.
func AppUser(c Cloud, cfg AppUserConfig, opts *Options) (pcwebhook.TokenSource, error) {
	if strings.TrimSpace(cfg.RefreshToken) == "" {
		return nil, ErrNoRefreshToken
	}
	src := &refreshTokenSource{ctx: opts.oauth2Context(), cloud: c, cfg: cfg, refreshToken: cfg.RefreshToken}
	return FromOAuth2(oauth2.ReuseTokenSourceWithExpiry(nil, src, opts.early())), nil
}

// refreshTokenSource makes one refresh token grant request per Token call, keeping the newest
// refresh token. It uses clientcredentials with its grant_type replaced (which that package
// allows for this purpose) because, unlike oauth2.Config's refresher, it sends the scope, which
// the v2.0 endpoint requires.
type refreshTokenSource struct {
	ctx   context.Context
	cloud Cloud
	cfg   AppUserConfig

	mu           sync.Mutex
	refreshToken string
}

// Token implements oauth2.TokenSource.
func (s *refreshTokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cc := &clientcredentials.Config{
		ClientID:     s.cfg.ClientID,
		ClientSecret: s.cfg.ClientSecret,
		TokenURL:     s.cloud.TokenURL(s.cfg.TenantID),
		Scopes:       []string{s.cloud.DelegatedScope(), "offline_access"},
		AuthStyle:    oauth2.AuthStyleInParams,
		EndpointParams: url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {s.refreshToken},
		},
	}
	tok, err := cc.Token(s.ctx)
	if err != nil {
		return nil, fmt.Errorf("tokens: App+User refresh for %s: %w", s.cloud.Name, err)
	}
	if tok.RefreshToken != "" && tok.RefreshToken != s.refreshToken {
		s.refreshToken = tok.RefreshToken
		if s.cfg.OnRefreshTokenRotated != nil {
			s.cfg.OnRefreshTokenRotated(tok.RefreshToken)
		}
	}
	return tok, nil
}
