package tokens

import (
	"crypto/rsa"

	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeAuthority plays a Microsoft Entra ID tenant on a loopback TLS server: the OpenID metadata
// (which MSAL reads first) and a v2.0 token endpoint that checks every grant as the real one does
// in substance: the client, its secret or its signed assertion (audience, issuer, lifetime,
// signature by the registered certificate), the refresh token, and the scope.
type fakeAuthority struct {
	t      *testing.T
	srv    *httptest.Server
	tenant string

	clientID  string
	secret    string         // accepted client secret ("" accepts none)
	certKey   *rsa.PublicKey // accepted assertion key (nil accepts none)
	scope     string         // the scope every token request must carry
	expiresIn int            // seconds, in every answer

	mu            sync.Mutex
	refreshTokens map[string]bool // valid refresh tokens (each is single use: it rotates)
	issued        int
	grants        []string // grant_type of each token request
	lastForm      map[string][]string
}

func newFakeAuthority(t *testing.T, scope string) *fakeAuthority {
	t.Helper()
	f := &fakeAuthority{t: t, tenant: "contoso-tenant", clientID: "app-123", scope: scope, expiresIn: 3600,
		refreshTokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+f.tenant+"/v2.0/.well-known/openid-configuration", f.metadata)
	mux.HandleFunc("/"+f.tenant+"/oauth2/v2.0/token", f.token)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake authority: unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAuthority) tokenURL() string { return f.srv.URL + "/" + f.tenant + "/oauth2/v2.0/token" }

func (f *fakeAuthority) metadata(w http.ResponseWriter, r *http.Request) {
	base := f.srv.URL + "/" + f.tenant
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token_endpoint":         base + "/oauth2/v2.0/token",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"issuer":                 base + "/v2.0",
		"jwks_uri":               base + "/discovery/v2.0/keys",
	})
}

func (f *fakeAuthority) fail(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (f *fakeAuthority) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.fail(w, "invalid_request", "POST only")
		return
	}
	if err := r.ParseForm(); err != nil {
		f.fail(w, "invalid_request", err.Error())
		return
	}
	form := r.PostForm
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants = append(f.grants, form.Get("grant_type"))
	f.lastForm = form
	if form.Get("client_id") != f.clientID {
		f.fail(w, "unauthorized_client", "AADSTS700016: unknown application "+form.Get("client_id"))
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	if !contains(scopes, f.scope) {
		f.fail(w, "invalid_scope", fmt.Sprintf("AADSTS70011: want scope %s, got %q", f.scope, form.Get("scope")))
		return
	}
	if desc := f.authenticateClient(form); desc != "" {
		f.fail(w, "invalid_client", desc)
		return
	}
	answer := map[string]any{"token_type": "Bearer", "expires_in": f.expiresIn, "ext_expires_in": f.expiresIn}
	switch form.Get("grant_type") {
	case "client_credentials":
	case "refresh_token":
		rt := form.Get("refresh_token")
		if !f.refreshTokens[rt] {
			f.fail(w, "invalid_grant", "AADSTS9002313: refresh token unknown or already used")
			return
		}
		delete(f.refreshTokens, rt)
		next := fmt.Sprintf("rt-%d", f.issued+1)
		f.refreshTokens[next] = true
		answer["refresh_token"] = next
		answer["scope"] = form.Get("scope")
	default:
		f.fail(w, "unsupported_grant_type", form.Get("grant_type"))
		return
	}
	f.issued++
	answer["access_token"] = fmt.Sprintf("at-%s-%d", form.Get("grant_type"), f.issued)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// authenticateClient checks the client secret or the signed client assertion; it returns why it
// fails, or "".
func (f *fakeAuthority) authenticateClient(form map[string][]string) string {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if a := get("client_assertion"); a != "" {
		if f.certKey == nil {
			return "no certificate registered"
		}
		if get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return "wrong client_assertion_type"
		}
		tok, err := jwt.Parse(a, func(*jwt.Token) (any, error) { return f.certKey, nil },
			jwt.WithValidMethods([]string{"RS256", "PS256"}),
			jwt.WithAudience(f.tokenURL()),
			jwt.WithIssuer(f.clientID),
			jwt.WithSubject(f.clientID),
			jwt.WithExpirationRequired())
		if err != nil || !tok.Valid {
			return fmt.Sprintf("AADSTS700027: client assertion failed: %v", err)
		}
		return ""
	}
	if s := get("client_secret"); s != "" && f.secret != "" && s == f.secret {
		return ""
	}
	return "AADSTS7000215: invalid client secret"
}

func (f *fakeAuthority) addRefreshToken(rt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshTokens[rt] = true
}

func (f *fakeAuthority) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.grants...)
}

func (f *fakeAuthority) setExpiresIn(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expiresIn = int(d / time.Second)
}

// cloudAt is c with its authority replaced by the fake's: the audience, and so the scopes, stay
// those of c.
func (f *fakeAuthority) cloudAt(c Cloud) Cloud {
	c.AuthorityHost = f.srv.URL
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
