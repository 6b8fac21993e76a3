package redisdedupe_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/pcwebhooktest"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// replyDropper is the dialer of a go-redis client whose connections, once armed, lose the reply
// of the next EVAL/EVALSHA: the command reaches Redis, which runs the script and answers, and the
// connection then ends before the reply is read, as a network blip or a read timeout would;
// everything else passes through.
type replyDropper struct {
	armed   atomic.Bool
	dropped atomic.Int32 // replies dropped so far
}

// dial is the go-redis Dialer.
func (p *replyDropper) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &droppingConn{Conn: c, p: p}, nil
}

// arm makes p drop the reply of the next script.
func (p *replyDropper) arm() { p.armed.Store(true) }

// droppingConn is a connection of a replyDropper.
type droppingConn struct {
	net.Conn
	p      *replyDropper
	cut    atomic.Bool // a script was sent: the connection ends at its reply
	closed atomic.Bool // and has ended
}

func (c *droppingConn) Write(b []byte) (int, error) {
	if bytes.Contains(bytes.ToLower(b), []byte("eval")) && c.p.armed.CompareAndSwap(true, false) {
		c.cut.Store(true)
	}
	return c.Conn.Write(b)
}

func (c *droppingConn) Read(b []byte) (int, error) {
	if !c.cut.Load() {
		return c.Conn.Read(b)
	}
	if c.closed.CompareAndSwap(false, true) {
		// The reply arrives, so Redis ran the script; it is lost with the connection.
		if n, _ := c.Conn.Read(b); n > 0 {
			c.p.dropped.Add(1)
		}
		_ = c.Conn.Close()
	}
	return 0, io.EOF
}

// droppingStore returns a store under prefix whose client talks to srv through a replyDropper.
func droppingStore(t *testing.T, srv *redisserver.Server, prefix string, armed bool) (*redisdedupe.Store, *replyDropper) {
	t.Helper()
	p := &replyDropper{}
	p.armed.Store(armed)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Dialer: p.dial})
	t.Cleanup(func() { _ = rdb.Close() })
	return redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(prefix)), p
}

// startWithScripts starts a redis-server and runs Begin, Done and Release once through a direct
// client, so that the server has every script and the one EVALSHA under test is the only script
// command a replyDropper sees. It returns the server, the direct client and a fresh key prefix.
func startWithScripts(t *testing.T) (*redisserver.Server, *redis.Client, string) {
	t.Helper()
	srv := redisserver.Start(t)
	direct := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = direct.Close() })
	prefix := uniquePrefix(t)
	s := redisdedupe.New(direct, redisdedupe.WithKeyPrefix(prefix))
	ctx := context.Background()
	for _, end := range []func(context.Context, pcwebhook.Claim) error{s.Done, s.Release} {
		c, err := s.Begin(ctx, "warm-up")
		require.NoError(t, err)
		require.NoError(t, end(ctx, c))
		require.NoError(t, direct.Del(ctx, prefix+"warm-up").Err())
	}
	return srv, direct, prefix
}

// TestBeginRetriedAfterLostReply: Redis ran Begin's script but its reply was lost; go-redis
// retries the command with the same token. The retry must own the claim (DeliveryNew), not find
// it "in progress": otherwise nobody handles the delivery and every retry of Partner Center gets
// 503 until the lease runs out.
func TestBeginRetriedAfterLostReply(t *testing.T) {
	srv, direct, prefix := startWithScripts(t)

	s, dropper := droppingStore(t, srv, prefix, true)
	c, err := s.Begin(context.Background(), "k")
	require.NoError(t, err, "go-redis retries the lost reply")
	require.Equal(t, int32(1), dropper.dropped.Load(), "the reply was dropped")
	require.Equal(t, pcwebhook.DeliveryNew, c.State, "the retry owns its own claim")
	require.NoError(t, s.Done(context.Background(), c), "and can finish it")
	again, err := redisdedupe.New(direct, redisdedupe.WithKeyPrefix(prefix)).Begin(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryDone, again.State)
}

// TestHandlerQuietAfterLostReply: Redis ran Done's or Release's script but its reply was lost;
// go-redis retries the command, and the retry finds the key done by the same claim, or free. The
// store answers nil, not ErrClaimLost (the claim was never lost), so the Handler logs nothing at
// WARN, and the outcome stands: the handled delivery is a duplicate, the released one runs again.
func TestHandlerQuietAfterLostReply(t *testing.T) {
	srv, _, prefix := startWithScripts(t)
	sender, err := pcwebhooktest.NewSender()
	require.NoError(t, err)
	t.Cleanup(sender.Close)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	for i, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"done", nil, http.StatusOK},
		{"release", errors.New("downstream unavailable"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, dropper := droppingStore(t, srv, prefix, false)
			logs := &testio.Buffer{}
			h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()), pcwebhook.WithDedupeStore(store),
				pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			var runs atomic.Int32
			h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error {
				if runs.Add(1) > 1 {
					return nil
				}
				dropper.arm() // Begin went through; the reply of Done or Release is lost
				return tc.err
			})
			d := newDelivery(sender, eventAt(base, i))
			serve := func() int {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(d.body))
				r.Header = d.header.Clone()
				h.ServeHTTP(w, r)
				return w.Code
			}
			require.Equal(t, tc.status, serve())
			require.Equal(t, int32(1), dropper.dropped.Load(), "the reply was dropped, so go-redis retried")
			assert.NotContains(t, logs.String(), `"level":"WARN"`)
			assert.NotContains(t, logs.String(), "dedupe claim lost")
			assert.Equal(t, http.StatusOK, serve(), "the retry of the delivery: a duplicate, or handled now")
			wantRuns := int32(1)
			if tc.err != nil {
				wantRuns = 2 // released: the retry ran the callback again
			}
			assert.Equal(t, wantRuns, runs.Load())
		})
	}
}
