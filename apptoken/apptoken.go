// Package apptoken gets app-only access tokens for the Partner Center API from Microsoft Entra ID:
// the OAuth 2.0 client credentials flow with a client secret, written on the standard library
// alone, so that a program on Go 1.22 needs neither the Azure SDK nor golang.org/x/oauth2 to call
// pcwebhook.Client.
//
//	tokens, err := apptoken.New(apptoken.Config{TenantID: tenant, ClientID: app, ClientSecret: secret})
//	if err != nil {
//		return err
//	}
//	client := pcwebhook.NewClient(tokens)
//
// A [Source] caches its token and asks for a new one shortly before it expires; concurrent
// callers share one request. App-only tokens are what the webhook registration and
// validationEvents APIs accept, and what most Partner Center reads accept (the resources an
// event's ResourceUri names); a few Partner Center APIs want App+User tokens (a user signed in
// with MFA): see the examples/tokens module for that flow and for certificate credentials.
//
// Neither the secret nor the token ever appears in an error this package returns.
package apptoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/partnercenter-go/pcwebhook"
)

// Cloud is where tokens for one Partner Center come from, and for which audience.
type Cloud struct {
	// Name is for messages.
	Name string
	// AuthorityHost is the Microsoft Entra ID authority, such as https://login.microsoftonline.com.
	AuthorityHost string
	// Audience is the resource the Partner Center API accepts tokens for. Scopes are made from it:
	// Audience + "/.default" for app-only tokens (see Scope), Audience + "/user_impersonation" for
	// App+User tokens (which this package does not get: see the examples/tokens module).
	Audience string
	// APIRoot is the API root of this Partner Center, for pcwebhook.WithAPIRoot.
	APIRoot string
}

// The clouds. The authorities and audiences are those of Microsoft's Partner Center PowerShell
// module (the EnvironmentConstants its PartnerEnvironment assigns per environment as
// ActiveDirectoryAuthority and PartnerCenterEndpoint; its App+User scope is
// "{PartnerCenterEndpoint}/user_impersonation"); the API roots are those of the "Partner Center
// REST URLs" page. The examples/tokens module uses these same values.
var (
	// Global is the global (commercial) cloud.
	Global = Cloud{Name: "global", AuthorityHost: "https://login.microsoftonline.com",
		Audience: "https://api.partnercenter.microsoft.com", APIRoot: pcwebhook.GlobalAPIRoot}
	// China is Partner Center operated by 21Vianet.
	China = Cloud{Name: "china (21Vianet)", AuthorityHost: "https://login.chinacloudapi.cn",
		Audience: "https://partner.partnercenterapi.microsoftonline.cn", APIRoot: pcwebhook.ChinaAPIRoot}
	// USGovernment is Partner Center for Microsoft Cloud for US Government: Global's API root and
	// audience, with tokens from the US Government authority.
	USGovernment = Cloud{Name: "US Government", AuthorityHost: "https://login.microsoftonline.us",
		Audience: "https://api.partnercenter.microsoft.com", APIRoot: pcwebhook.GlobalAPIRoot}
)

// TokenURL is the OAuth 2.0 (v2.0) token endpoint of tenant.
func (c Cloud) TokenURL(tenant string) string {
	return strings.TrimRight(c.AuthorityHost, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// Scope is the scope of app-only tokens: Audience + "/.default".
func (c Cloud) Scope() string { return strings.TrimRight(c.Audience, "/") + "/.default" }

// DefaultEarlyRefresh is how long before its expiry a cached token is replaced.
const DefaultEarlyRefresh = 5 * time.Minute

// Config is an app registration's client credentials.
type Config struct {
	// Cloud is where the tokens come from; the zero Cloud is Global.
	Cloud Cloud
	// TenantID is the partner's Microsoft Entra tenant (a GUID or a verified domain).
	TenantID string
	// ClientID is the application (client) ID of the app registration.
	ClientID string
	// ClientSecret is one of the app registration's client secrets.
	ClientSecret string
	// HTTPClient sends the token requests (a proxy, a test server's client); nil means a client
	// with a 30 s timeout.
	HTTPClient *http.Client
	// EarlyRefresh is how long before expiry a token is replaced; 0 means DefaultEarlyRefresh.
	EarlyRefresh time.Duration
}

// The environment variables FromEnvironment reads: those of the Azure SDKs' environment
// credential, so that a machine set up for them works as it is.
const (
	EnvTenantID     = "AZURE_TENANT_ID"
	EnvClientID     = "AZURE_CLIENT_ID"
	EnvClientSecret = "AZURE_CLIENT_SECRET"
)

// ErrIncompleteConfig is returned (wrapped) when a Config lacks the tenant, the client ID or the
// secret; the error names what is missing.
var ErrIncompleteConfig = errors.New("apptoken: incomplete client credentials")

// FromEnvironment returns the Config of the AZURE_TENANT_ID, AZURE_CLIENT_ID and
// AZURE_CLIENT_SECRET variables read with getenv (os.Getenv; tests pass their own), in cloud. It
// fails with ErrIncompleteConfig naming the variables that are unset.
func FromEnvironment(getenv func(string) string, cloud Cloud) (Config, error) {
	cfg := Config{Cloud: cloud, TenantID: strings.TrimSpace(getenv(EnvTenantID)),
		ClientID: strings.TrimSpace(getenv(EnvClientID)), ClientSecret: getenv(EnvClientSecret)}
	return cfg, cfg.check(EnvTenantID, EnvClientID, EnvClientSecret)
}

// check fails when a field is empty, naming it as names says (tenant, client, secret).
func (c Config) check(tenant, client, secret string) error {
	var missing []string
	if c.TenantID == "" {
		missing = append(missing, tenant)
	}
	if c.ClientID == "" {
		missing = append(missing, client)
	}
	if c.ClientSecret == "" {
		missing = append(missing, secret)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: set %s", ErrIncompleteConfig, strings.Join(missing, ", "))
	}
	return nil
}

// Source is a pcwebhook.TokenSource of app-only tokens; use [New]. It is safe for concurrent use.
type Source struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
	lock   chan struct{} // held while a token is requested; waits end with the caller's context

	token   string // guarded by lock
	expires time.Time
}

var _ pcwebhook.TokenSource = (*Source)(nil)

// New returns a Source for cfg. It fails with ErrIncompleteConfig when the tenant, the client ID
// or the secret is missing. It makes no request: the first Token does.
func New(cfg Config) (*Source, error) {
	if err := cfg.check("TenantID", "ClientID", "ClientSecret"); err != nil {
		return nil, err
	}
	if cfg.Cloud == (Cloud{}) {
		cfg.Cloud = Global
	}
	if cfg.EarlyRefresh <= 0 {
		cfg.EarlyRefresh = DefaultEarlyRefresh
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Source{cfg: cfg, client: client, now: time.Now, lock: make(chan struct{}, 1)}, nil
}

// Token returns a valid access token: the cached one, or a new one when it expires within the
// early refresh. ctx bounds the wait and the request.
func (s *Source) Token(ctx context.Context) (string, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.lock }()
	if s.token != "" && s.now().Add(s.cfg.EarlyRefresh).Before(s.expires) {
		return s.token, nil
	}
	tok, lifetime, err := s.request(ctx)
	if err != nil {
		return "", err
	}
	s.token, s.expires = tok, s.now().Add(lifetime)
	return tok, nil
}

// tokenResponse is the token endpoint's answer, success and error alike.
type tokenResponse struct {
	AccessToken   string      `json:"access_token"`
	ExpiresIn     json.Number `json:"expires_in"`
	Error         string      `json:"error"`
	Description   string      `json:"error_description"`
	CorrelationID string      `json:"correlation_id"`
	TraceID       string      `json:"trace_id"`
}

// maxResponse bounds the token endpoint's answer read into memory.
const maxResponse = 1 << 20

// request asks the token endpoint for a token and returns it with its lifetime.
func (s *Source) request(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.cfg.ClientID},
		"client_secret": {s.cfg.ClientSecret},
		"scope":         {s.cfg.Cloud.Scope()},
	}
	endpoint := s.cfg.Cloud.TokenURL(s.cfg.TenantID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("apptoken: %s: %w", s.cfg.Cloud.Name, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("apptoken: token request to %s failed: %w", req.URL.Host, s.scrub(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", 0, fmt.Errorf("apptoken: reading the token answer of %s: %w", req.URL.Host, s.scrub(err))
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK || tr.Error != "" {
		e := &Error{StatusCode: resp.StatusCode, Code: tr.Error, Description: s.scrubText(tr.Description),
			CorrelationID: tr.CorrelationID, TraceID: tr.TraceID}
		if jsonErr != nil && e.Description == "" {
			e.Description = "the answer is not the token endpoint's JSON"
		}
		return "", 0, e
	}
	if jsonErr != nil || tr.AccessToken == "" {
		return "", 0, fmt.Errorf("apptoken: the token endpoint of %s answered 200 without a token", req.URL.Host)
	}
	secs, err := tr.ExpiresIn.Int64()
	if err != nil || secs <= 0 {
		secs = 3600 // the documented lifetime when the answer does not say
	}
	return tr.AccessToken, time.Duration(secs) * time.Second, nil
}

// scrub returns err with the secret removed from its text (an error of the transport that quotes
// the request).
func (s *Source) scrub(err error) error {
	if !strings.Contains(err.Error(), s.cfg.ClientSecret) && !strings.Contains(err.Error(), url.QueryEscape(s.cfg.ClientSecret)) {
		return err
	}
	return errors.New(s.scrubText(err.Error()))
}

// scrubText removes the secret, plain or form-encoded, from text.
func (s *Source) scrubText(text string) string {
	for _, secret := range []string{s.cfg.ClientSecret, url.QueryEscape(s.cfg.ClientSecret)} {
		text = strings.ReplaceAll(text, secret, "[redacted]")
	}
	return text
}

// Error is the token endpoint's refusal: a wrong secret, an unknown app or tenant, an app without
// consent in the tenant. Use errors.As.
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the OAuth 2.0 error code, such as "invalid_client".
	Code string
	// Description is Microsoft Entra ID's explanation, starting with its AADSTS number.
	Description string
	// CorrelationID and TraceID identify the request for Microsoft's support.
	CorrelationID, TraceID string
}

// Error returns "apptoken: <status> <code>: <description> (correlation id ...)".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apptoken: the token endpoint refused: HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id " + e.CorrelationID + ")")
	}
	return b.String()
}
