package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/pcwebhookdev"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// sharedStoreReplicas starts n receivers as a user deploys them: the real Handler trusting the
// development CA, all sharing one DedupeStore. It returns their URLs and the count of callbacks
// run across them.
func sharedStoreReplicas(t *testing.T, n int) ([]string, *atomic.Int64) {
	t.Helper()
	v, err := pcwebhookdev.NewVerifier(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)
	store := pcwebhook.NewMemoryDedupeStore(time.Hour, 0)
	callbacks := &atomic.Int64{}
	var urls []string
	for i := 0; i < n; i++ {
		h := pcwebhook.NewHandler(pcwebhook.WithVerifier(v), pcwebhook.WithDedupeStore(store))
		h.OnAny(func(context.Context, *pcwebhook.Event) error {
			callbacks.Add(1)
			return nil
		})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL+"/")
	}
	return urls, callbacks
}

// TestResendCapture: a delivery saved by "listen --save" is sent again byte for byte with its
// signature: the listener and an app each acknowledge the second copy as a duplicate.
func TestResendCapture(t *testing.T) {
	e := testEnv(nil)
	save := t.TempDir()
	l := startListen(t, e, "--dev", "--save", save)
	code, stdout, stderr := runIn(t, e, "trigger", "subscription-updated", "--url", l.url)
	require.Equal(t, 0, code, stdout+stderr)
	out := waitFor(t, l.stdout, regexp.MustCompile(`saved: (\S+)\.headers`), 1)
	capture := regexp.MustCompile(`saved: (\S+)\.headers`).FindStringSubmatch(out)[1]
	savedBody, err := os.ReadFile(capture + ".body")
	require.NoError(t, err)

	appHandler := &recordingApp{status: http.StatusOK}
	app := httptest.NewServer(appHandler)
	defer app.Close()

	for _, arg := range []string{capture, capture + ".body"} {
		code, stdout, stderr = runIn(t, e, "resend", arg, "--url", l.url, "--url", app.URL+"/hooks", "--count", "2")
		require.Equal(t, 0, code, stdout+stderr)
		assert.Contains(t, stdout, "Resending "+capture+".headers and "+capture+".body, with the captured signature (certificate "+devCertURL+")")
		assert.Contains(t, stdout, `event "subscription-updated" of `)
		assert.Contains(t, stdout, "POST "+l.url+"  copy 1/2  -> 200 OK  acknowledged  \"already handled\"", "listen handled it when trigger sent it")
		assert.Contains(t, stdout, "POST "+l.url+"  copy 2/2  -> 200 OK  acknowledged  \"already handled\"")
		assert.Contains(t, stdout, "POST "+app.URL+"/hooks  copy 2/2  -> 200 OK  acknowledged")
		assert.Empty(t, stderr)
	}
	out = waitFor(t, l.stdout, regexp.MustCompile(`200 duplicate-acknowledged  subscription-updated`), 4)
	assert.Equal(t, 1, strings.Count(out, "200 handled  subscription-updated"), "the callbacks ran once:\n%s", out)

	bodies, headers := appHandler.received()
	require.Len(t, bodies, 4)
	ca, err := loadDevCA(filepath.Join(sharedConfigDir, "dev"))
	require.NoError(t, err)
	signed, err := ca.sign(savedBody, false)
	require.NoError(t, err)
	for i := range bodies {
		assert.Equal(t, savedBody, bodies[i], "the exact bytes saved")
		for _, k := range []string{"Authorization", "X-Ms-Certificate-Url", "X-Ms-Signature-Algorithm", "Content-Type"} {
			assert.Equal(t, signed.Get(k), headers[i].Get(k), k)
		}
		assert.True(t, strings.HasPrefix(headers[i].Get("User-Agent"), "pcwebhook-resend/"))
	}
}

// TestResendBodyToReplicas: a body file signed by the development CA, sent twice to each of two
// replicas sharing a store: one copy is handled, the three others acknowledged as duplicates.
func TestResendBodyToReplicas(t *testing.T) {
	urls, callbacks := sharedStoreReplicas(t, 2)
	bodyFile := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(bodyFile, pcwebhooktest.EventSpec{Name: pcwebhook.EventInvoiceReady}.Body(), 0o600))

	code, stdout, stderr := runIn(t, testEnv(nil), "resend", "--body", bodyFile, "--url", urls[0], "--url", urls[1], "--count", "2")
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "Resending "+bodyFile+", signed by the development CA in "+filepath.Join(sharedConfigDir, "dev"))
	lines := regexp.MustCompile(`(?m)^POST .*$`).FindAllString(stdout, -1)
	require.Len(t, lines, 4, stdout)
	assert.Contains(t, lines[0], urls[0]+"  copy 1/2  -> 200 OK  acknowledged  \"ok\"")
	assert.Contains(t, lines[1], urls[1]+"  copy 1/2  -> 200 OK  acknowledged  \"already handled\"")
	assert.Contains(t, lines[2], urls[0]+"  copy 2/2  -> 200 OK  acknowledged  \"already handled\"")
	assert.Contains(t, lines[3], urls[1]+"  copy 2/2  -> 200 OK  acknowledged  \"already handled\"")
	assert.EqualValues(t, 1, callbacks.Load())

	// With x-ms-signature, the same bytes are still the same delivery.
	code, stdout, stderr = runIn(t, testEnv(nil), "resend", "--body", bodyFile, "--url", urls[1], "--ms-signature-header")
	require.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "acknowledged  \"already handled\"")
	assert.EqualValues(t, 1, callbacks.Load())
}

// TestResendEscapesAnswers: whatever a receiver answers is printed quoted, its control characters
// escaped, and a refusal or a failure is named and makes the exit status 1.
func TestResendEscapesAnswers(t *testing.T) {
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("\x1b]0;owned\x07\x1b[2J\rfake line\n"))
	}))
	defer hostile.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer refusing.Close()
	bodyFile := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(bodyFile, []byte(`{"EventName":"invoice-ready"}`), 0o600))

	code, stdout, stderr := runIn(t, testEnv(nil), "resend", "--body", bodyFile, "--url", hostile.URL, "--url", refusing.URL)
	assert.Equal(t, 1, code)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, stdout, `-> 500 Internal Server Error  failed, Partner Center retries  "\x1b]0;owned\a\x1b[2J\rfake line"`)
	assert.Contains(t, stdout, `-> 401 Unauthorized  refused, Partner Center does not retry  "no"`)
	assert.Contains(t, stderr, "2 of 2 copies were not acknowledged with 2xx")

	// A capture is what a sender chose: its certificate URL and a body that is no event are
	// printed escaped too.
	headersFile := filepath.Join(t.TempDir(), "x.headers")
	require.NoError(t, os.WriteFile(headersFile, []byte("Authorization: Signature abc\r\nX-MS-Certificate-Url: https://x.example/\x1b[2J\u202e.cer\r\n"), 0o600))
	require.NoError(t, os.WriteFile(bodyFile, []byte("{\"EventName\":\"\x1b[31m\"}"), 0o600))
	code, stdout, _ = runIn(t, testEnv(nil), "resend", "--headers", headersFile, "--body", bodyFile, "--url", refusing.URL)
	assert.Equal(t, 1, code)
	assertTerminalSafe(t, stdout)
	assert.Contains(t, stdout, `(certificate https://x.example/\x1b[2J\u202e.cer)`)
}

// TestResendUnsignedCaptureAndNothingListening: a capture without a signature is sent with a
// warning; a URL where nothing listens is reported, and the other URLs still get their copies.
func TestResendUnsignedCaptureAndNothingListening(t *testing.T) {
	dir := t.TempDir()
	headers, body := filepath.Join(dir, "x.headers"), filepath.Join(dir, "x.body")
	require.NoError(t, os.WriteFile(headers, []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"), 0o600))
	require.NoError(t, os.WriteFile(body, pcwebhooktest.SampleEvent(pcwebhook.EventInvoiceReady), 0o600))
	urls, callbacks := sharedStoreReplicas(t, 1)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	code, stdout, stderr := runIn(t, testEnv(nil), "resend", "--headers", headers, "--body", body, "--url", closed.URL, "--url", urls[0])
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "warning: there is no signature header")
	assert.Contains(t, stderr, "nothing listens at "+strings.TrimPrefix(closed.URL, "http://"))
	assert.Contains(t, stdout, "POST "+closed.URL+"  copy 1/1  -> failed: ")
	assert.Contains(t, stdout, "POST "+urls[0]+"  copy 1/1  -> 401 Unauthorized")
	assert.Zero(t, callbacks.Load())
}

func TestResendUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"resend"}, "give a CAPTURE"},
		{[]string{"resend", "a", "b"}, "give one CAPTURE at most"},
		{[]string{"resend", "a", "--body", "b"}, "not both"},
		{[]string{"resend", "--headers", "h"}, "give a CAPTURE"},
		{[]string{"resend", "--body", "b", "--count", "0"}, "--count must be at least 1"},
		{[]string{"resend", "--body", "b", "--url", "127.0.0.1:1"}, "not an absolute http or https URL"},
		{[]string{"resend", "a", "--ms-signature-header"}, "keeps its own signature headers"},
	} {
		code, stdout, stderr := runIn(t, testEnv(nil), tc.args...)
		assert.Equal(t, 2, code, "%q", tc.args)
		assert.Empty(t, stdout, "%q", tc.args)
		assert.Contains(t, stderr, tc.want, "%q", tc.args)
		assert.Contains(t, stderr, "usage: pcwebhook resend", "%q", tc.args)
	}
	code, _, stderr := runIn(t, testEnv(nil), "resend", filepath.Join(t.TempDir(), "missing"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "missing.body")
}
