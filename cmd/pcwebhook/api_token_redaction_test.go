package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// cliToken is the access token of the redaction tests: a JWT, as the Azure CLI prints them.
const cliToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2FwaS5wYXJ0bmVyY2VudGVyLm1pY3Jvc29mdC5jb20ifQ." +
	"c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWFrLW9uLXRoZS1jb25zb2xl"

// assertNoTokenPiece fails when out holds 12 consecutive characters of cliToken, in any letter
// case: a cut or partial echo is a leak too.
func assertNoTokenPiece(t *testing.T, out, what string) {
	t.Helper()
	low, tok := strings.ToLower(out), strings.ToLower(cliToken)
	for i := 0; i+12 <= len(tok); i++ {
		if strings.Contains(low, tok[i:i+12]) {
			t.Errorf("%s shows a piece of the token (%q):\n%s", what, cliToken[i:i+12], out)
			return
		}
	}
}

// echoAnswer answers with status and a body that echoes the request's headers, as some gateways
// do: in the JSON description, or as text. Retryable statuses carry "Retry-After: 0".
func echoAnswer(status int, asJSON bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var dump strings.Builder
		_ = r.Header.Write(&dump)
		if status == http.StatusTooManyRequests || status >= 500 {
			w.Header().Set("Retry-After", "0")
		}
		w.Header().Set("MS-CorrelationId", r.Header.Get("Authorization")) // a gateway that mixes up its headers
		if asJSON {
			body, _ := json.Marshal(map[string]any{"code": "Rejected", "description": "rejected:\n" + dump.String(),
				"errorName": r.Header.Get("Authorization")})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("upstream refused:\n" + dump.String()))
	}
}

func TestAPICommandsNeverPrintTheToken(t *testing.T) {
	api := pcwebhooktest.NewAPI(t, nil, pcwebhooktest.WithAPIToken(cliToken))
	api.SetRegistration(registered)
	e := testEnv(map[string]string{tokenEnv: cliToken, apiRootEnv: api.URL()})
	for _, tc := range []struct {
		args         []string
		method, path string // the request that gets the echoing answer
	}{
		{[]string{"show"}, http.MethodGet, regPath},
		{[]string{"events"}, http.MethodGet, regPath + "/events"},
		{[]string{"register", "--url", "https://partner.example/new", "--events", "test-created", "--yes"}, http.MethodPut, regPath},
		{[]string{"update", "--url", "https://partner.example/hook", "--events", "test-created", "--yes"}, http.MethodPut, regPath},
		{[]string{"test"}, http.MethodPost, validationsPath},
		{[]string{"test", "--status", "c-1", "--wait", "--poll", "10ms"}, http.MethodGet, validationsPath + "/c-1"},
	} {
		for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway} {
			for _, asJSON := range []bool{true, false} {
				answers := 1
				if status == http.StatusTooManyRequests || status >= 500 {
					answers = 3 // the CLI's RetryPolicy retries: every attempt is answered
				}
				for i := 0; i < answers; i++ {
					api.RespondFunc(tc.method, tc.path, echoAnswer(status, asJSON))
				}
				code, stdout, stderr := runIn(t, e, tc.args...)
				what := fmt.Sprintf("%s answered %d (JSON %v)", strings.Join(tc.args, " "), status, asJSON)
				assert.Equal(t, 1, code, "%s: %s", what, stderr)
				assert.Contains(t, stderr, "[REDACTED]", "%s: the error is printed, without the token", what)
				assertNoTokenPiece(t, stdout, what+": stdout")
				assertNoTokenPiece(t, stderr, what+": stderr")
			}
		}
	}
}

func TestFailingTokenCommandNeverPrintsAToken(t *testing.T) {
	api, e := newAPI(t)
	noToken := testEnv(map[string]string{apiRootEnv: e.getenv(apiRootEnv)})
	t.Setenv(helperTokenEnv, cliToken)
	code, stdout, stderr := runIn(t, noToken, "show", "--token-cmd", helperCommand(t, "fail-with-token"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "failed: exit status 3")
	assert.Contains(t, stderr, "its standard error said:")
	assert.Contains(t, stderr, "Authorization: Bearer [REDACTED]")
	assertNoTokenPiece(t, stdout, "stdout")
	assertNoTokenPiece(t, stderr, "stderr")
	assert.Empty(t, api.Requests())
}
