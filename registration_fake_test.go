package pcwebhook

// Why this fake is not pcwebhooktest.API: these tests are package-internal (they replace the
// client's unexported retry sleep with sleepRecorder and read configErr), so they cannot import
// pcwebhooktest, which imports pcwebhook (an import cycle), and fakePC is the client's unit-test
// transport, which asserts every request's exact wire form (method, escaped path, no query,
// token, Accept, User-Agent, GUID correlation and request ids, body field names) against a strict
// ordered script, and answers with golden testdata/api bodies, dropped connections and stalls;
// pcwebhooktest.API is the realistic, stateful fake for code that uses the Client.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeToken is the token the test clients send unless a test says otherwise.
const fakeToken = "test-token"

// guidV4 is the form of the MS-CorrelationId and MS-RequestId the client generates.
var guidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// fakeCall is one scripted exchange with the fake Partner Center: what the request must be and
// what to answer.
type fakeCall struct {
	method, path string // path as sent, escaped
	token        string // expected bearer token; "" means fakeToken

	status int               // 0 means 200
	header map[string]string // response headers
	file   string            // response body from testdata/api, or
	body   string            // a literal response body
	hijack bool              // close the connection instead of answering
	block  bool              // answer only when the client gives up
}

// fakeRequest is what the fake received.
type fakeRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// fakePC plays the Partner Center registration API on a loopback httptest server. It answers the
// scripted calls in order, asserts that every request is one the client should send, and fails
// the test when a scripted call was not made or an unscripted one was.
type fakePC struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	script []fakeCall
	repeat *fakeCall // answers every request past the script, when set
	seen   []fakeRequest
}

// newFakePC starts a fake that expects exactly the given calls.
func newFakePC(t *testing.T, script ...fakeCall) *fakePC {
	t.Helper()
	f := &fakePC{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.repeat == nil {
			assert.Equal(t, len(f.script), len(f.seen), "number of requests made to the fake Partner Center")
		}
	})
	return f
}

// requests returns what the fake received so far.
func (f *fakePC) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.seen...)
}

// calls returns "METHOD path" of every request received, in order.
func (f *fakePC) calls() []string {
	var out []string
	for _, r := range f.requests() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

func (f *fakePC) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	body, err := io.ReadAll(r.Body)
	assert.NoError(t, err)

	f.mu.Lock()
	n := len(f.seen)
	f.seen = append(f.seen, fakeRequest{method: r.Method, path: r.URL.EscapedPath(), header: r.Header.Clone(), body: body})
	var call fakeCall
	switch {
	case n < len(f.script):
		call = f.script[n]
	case f.repeat != nil:
		call = *f.repeat
	default:
		f.mu.Unlock()
		t.Errorf("unexpected request #%d: %s %s", n+1, r.Method, r.URL.Path)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	f.mu.Unlock()

	f.assertRequest(n, call, r, body)

	switch {
	case call.hijack:
		conn, _, err := w.(http.Hijacker).Hijack()
		if assert.NoError(t, err) {
			conn.Close()
		}
		return
	case call.block:
		<-r.Context().Done()
		return
	}
	for k, v := range call.header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	status := call.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	switch {
	case call.file != "":
		data, err := os.ReadFile(filepath.Join("testdata", "api", call.file))
		assert.NoError(t, err)
		_, _ = w.Write(data)
	case call.body != "":
		_, _ = io.WriteString(w, call.body)
	}
}

// assertRequest checks everything every request must carry.
func (f *fakePC) assertRequest(n int, call fakeCall, r *http.Request, body []byte) {
	t := f.t
	where := r.Method + " " + r.URL.Path
	assert.Equal(t, call.method, r.Method, "request #%d", n+1)
	assert.Equal(t, call.path, r.URL.EscapedPath(), "request #%d", n+1)
	assert.Empty(t, r.URL.RawQuery, where)
	token := call.token
	if token == "" {
		token = fakeToken
	}
	assert.Equal(t, "Bearer "+token, r.Header.Get("Authorization"), where)
	assert.Equal(t, "application/json", r.Header.Get("Accept"), where)
	assert.Equal(t, "pcwebhook-go/"+Version, r.Header.Get("User-Agent"), where)
	assert.Regexp(t, guidV4, r.Header.Get("MS-CorrelationId"), where)
	assert.Regexp(t, guidV4, r.Header.Get("MS-RequestId"), where)

	isWrite := r.URL.Path == pathRegistration && (r.Method == http.MethodPost || r.Method == http.MethodPut)
	if !isWrite {
		assert.Empty(t, body, "%s must have no body", where)
		assert.Empty(t, r.Header.Get("Content-Type"), where)
		return
	}
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"), where)
	var fields map[string]json.RawMessage
	if assert.NoError(t, json.Unmarshal(body, &fields), where) {
		var names []string
		for k := range fields {
			names = append(names, k)
		}
		sort.Strings(names)
		assert.Equal(t, []string{"SignatureTokenToMsSignatureHeader", "WebhookEvents", "WebhookUrl"}, names,
			"%s body field names", where)
	}
}

// sleepRecorder replaces the client's waits: it records them and returns at once (or with the
// context's error).
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// fastRetries makes backoff short enough for real sleeping in tests.
var fastRetries = RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

// newTestClient returns a Client for the fake with fakeToken, whose waits are recorded by the
// returned recorder rather than slept.
func newTestClient(t *testing.T, f *fakePC, opts ...ClientOption) (*Client, *sleepRecorder) {
	t.Helper()
	c := NewClient(StaticToken(fakeToken), append([]ClientOption{WithAPIRoot(f.srv.URL), WithRetryPolicy(fastRetries)}, opts...)...)
	require.NoError(t, c.configErr)
	rec := &sleepRecorder{}
	c.sleep = rec.sleep
	return c, rec
}

// readAPIFile returns a file of testdata/api.
func readAPIFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "api", name))
	require.NoError(t, err)
	return data
}
