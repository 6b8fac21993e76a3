package pcwebhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
)

// sender is shared by the handler tests: creating one generates three RSA keys.
var (
	senderOnce sync.Once
	sharedSend *pcwebhooktest.Sender
	senderErr  error
)

func testSender(t testing.TB) *pcwebhooktest.Sender {
	t.Helper()
	senderOnce.Do(func() { sharedSend, senderErr = pcwebhooktest.NewSender() })
	require.NoError(t, senderErr)
	return sharedSend
}

// logBuffer collects the handler's JSON log lines.
type logBuffer struct{ testio.Buffer }

// requestLines returns the per-request log lines, decoded.
func (l *logBuffer) requestLines(t testing.TB) []map[string]any {
	var out []map[string]any
	for _, m := range l.lines(t) {
		if m["msg"] == "partner center webhook" {
			out = append(out, m)
		}
	}
	return out
}

// lines returns every log line, decoded.
func (l *logBuffer) lines(t testing.TB) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

type handlerFixture struct {
	s    *pcwebhooktest.Sender
	h    *pcwebhook.Handler
	logs *logBuffer
}

func newHandlerFixture(t testing.TB, opts ...pcwebhook.HandlerOption) *handlerFixture {
	s := testSender(t)
	logs := &logBuffer{}
	base := []pcwebhook.HandlerOption{
		pcwebhook.WithVerifier(s.Verifier()),
		pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	return &handlerFixture{s: s, h: pcwebhook.NewHandler(append(base, opts...)...), logs: logs}
}

// post signs body and serves it through the handler in process.
func (f *handlerFixture) post(body []byte) *httptest.ResponseRecorder {
	return f.do(body, f.s.Sign(body))
}

func (f *handlerFixture) do(body []byte, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/partner-center", bytes.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

var uniq atomic.Int64

// uniqueBody is a signed-able body of the given event that no other call returns.
func uniqueBody(name pcwebhook.EventName) []byte {
	n := uniq.Add(1)
	return []byte(fmt.Sprintf(`{"EventName":%q,"ResourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/customers/c-%d/subscriptions/s-%d","ResourceName":"subscription","AuditUri":null,"ResourceChangeUtcDate":%q}`, name, n, n, time.Now().UTC().Format("2006-01-02T15:04:05.0000000+00:00")))
}
