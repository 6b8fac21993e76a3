package pcwebhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
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

func TestHandlerMaxEventAge(t *testing.T) {
	s := testSender(t)
	// The Verifier's clock must be one the sender's certificates are valid at: they are made from
	// the real clock, so the fixed "now" is derived from it too (never a calendar date).
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	f := newHandlerFixture(t, pcwebhook.WithVerifier(s.Verifier(pcwebhook.WithClock(clock))), pcwebhook.WithMaxEventAge(72*time.Hour))
	body := func(date string) []byte {
		return []byte(fmt.Sprintf(`{"EventName":"test-created","ResourceUri":"https://h/webhooks/v1/registration/validationEvents/%d","ResourceChangeUtcDate":%s}`, uniq.Add(1), date))
	}
	at := func(d time.Duration) string { return `"` + now.Add(d).Format(time.RFC3339) + `"` }
	plus2 := time.FixedZone("+02:00", 2*60*60)
	assert.Equal(t, 200, f.post(body(at(-48*time.Hour))).Code, "48 hours late is inside 72")
	assert.Equal(t, 200, f.post(body(`"`+now.Add(2*time.Hour).In(plus2).Format(time.RFC3339)+`"`)).Code, "inside the window in another offset")
	assert.Equal(t, 400, f.post(body(at(-72*time.Hour-time.Second))).Code, "older than 72 hours")
	assert.Equal(t, 400, f.post(body(at(72*time.Hour+time.Second))).Code, "more than 72 hours in the future")
	assert.Equal(t, 400, f.post(body(`null`)).Code, "no date cannot prove freshness")
	assert.Contains(t, f.logs.String(), "event-too-old")

	// The edges of the window are inside it.
	assert.Equal(t, 200, f.post(body(at(-72*time.Hour))).Code, "exactly 72 hours old")
	assert.Equal(t, 200, f.post(body(at(72*time.Hour))).Code, "exactly 72 hours ahead")

	// Dates centuries away overflow a time.Duration (about 292 years): they must still be
	// refused (the years 2400 and 9999 were once accepted).
	for _, date := range []string{"2400-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-02T00:00:00Z", "0001-01-01T00:00:00Z", "1800-06-01T00:00:00+02:00"} {
		w := f.post(body(`"` + date + `"`))
		assert.Equal(t, 400, w.Code, "%s: %s", date, w.Body)
		assert.Contains(t, w.Body.String(), "WithMaxEventAge", date)
	}

	// The largest window there is still refuses what lies beyond it.
	wide := newHandlerFixture(t, pcwebhook.WithVerifier(s.Verifier(pcwebhook.WithClock(clock))), pcwebhook.WithMaxEventAge(math.MaxInt64))
	assert.Equal(t, 200, wide.post(body(at(-100*365*24*time.Hour))).Code, "a century ago is inside 292 years")
	assert.Equal(t, 400, wide.post(body(`"9999-12-31T23:59:59Z"`)).Code)
	assert.Equal(t, 400, wide.post(body(`"0001-01-02T00:00:00Z"`)).Code)
}

// TestHandlerAllocatesWithTheBodyNotContentLength: a request that announces 32 MiB (under a 32
// MiB limit) and sends 10 bytes costs kilobytes, not the announced size.
func TestHandlerAllocatesWithTheBodyNotContentLength(t *testing.T) {
	const announced = 32 << 20
	f := newHandlerFixture(t, pcwebhook.WithMaxBodyBytes(announced))
	serve := func() int {
		r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("0123456789"), iotest.ErrReader(io.ErrUnexpectedEOF)))
		r.ContentLength = announced
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusBadRequest, serve(), "the sender went away after 10 bytes")
	const runs = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		serve()
	}
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
	assert.Less(t, perRequest, uint64(64<<10), "bytes allocated per request announcing %d", announced)
}

// TestAnswerHeadersOverHTTP: through a real net/http server, every answer is plain text: an
// acknowledgement (written without touching the header map) is labelled text/plain by net/http,
// and an answer whose text says what was wrong also carries nosniff and, when retried, Retry-After.
func TestAnswerHeadersOverHTTP(t *testing.T) {
	s := testSender(t)
	h := pcwebhook.NewHandler(pcwebhook.WithVerifier(s.Verifier()), pcwebhook.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h.OnAny(func(context.Context, *pcwebhook.Event) error { return nil })
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := uniqueBody(pcwebhook.EventSubscriptionUpdated)
	for _, want := range []string{"ok\n", "already handled\n"} {
		resp, err := s.Send(context.Background(), srv.URL, body)
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, want, string(got))
		assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	}

	req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req) // unsigned
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}
