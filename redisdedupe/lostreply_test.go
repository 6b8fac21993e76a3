package redisdedupe_test

import (
	"bytes"
	"context"
	"errors"
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

// replyDropper is a loopback proxy to a Redis server. Once armed, it forwards the next
// EVAL/EVALSHA it sees (so Redis runs the script) and then drops the connection before the reply,
// as a network blip or a read timeout would; everything else passes through.
type replyDropper struct {
	addr    string
	armed   atomic.Bool
	dropped atomic.Int32 // replies dropped so far
}

// dropScriptReply starts a replyDropper to upstream, stopped on cleanup. With armed it drops the
// first script reply; otherwise call arm when the time comes.
func dropScriptReply(t *testing.T, upstream string, armed bool) *replyDropper {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	p := &replyDropper{addr: l.Addr().String()}
	p.armed.Store(armed)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = c.Close()
				return
			}
			var cut atomic.Bool
			go func() { // server -> client, until the cut
				buf := make([]byte, 4096)
				for {
					n, err := u.Read(buf)
					if n > 0 && !cut.Load() {
						_, _ = c.Write(buf[:n])
					}
					if err != nil || cut.Load() {
						_ = c.Close()
						return
					}
				}
			}()
			go func() { // client -> server
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if bytes.Contains(bytes.ToLower(buf[:n]), []byte("eval")) && p.armed.CompareAndSwap(true, false) {
							p.dropped.Add(1)
							cut.Store(true)
							_, _ = u.Write(buf[:n])
							time.Sleep(50 * time.Millisecond) // Redis runs the script; its reply is lost
							_ = c.Close()
							_ = u.Close()
							return
						}
						_, _ = u.Write(buf[:n])
					}
					if err != nil {
						_ = u.Close()
						return
					}
				}
			}()
		}
	}()
	return p
}

// arm makes p drop the reply of the next script.
func (p *replyDropper) arm() { p.armed.Store(true) }

// proxiedStore returns a store under prefix whose client talks to srv through a replyDropper.
func proxiedStore(t *testing.T, srv *redisserver.Server, prefix string, armed bool) (*redisdedupe.Store, *replyDropper) {
	t.Helper()
	proxy := dropScriptReply(t, srv.Addr, armed)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(prefix)), proxy
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

	s, proxy := proxiedStore(t, srv, prefix, true)
	c, err := s.Begin(context.Background(), "k")
	require.NoError(t, err, "go-redis retries the lost reply")
	require.Equal(t, int32(1), proxy.dropped.Load(), "the reply was dropped")
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
			store, proxy := proxiedStore(t, srv, prefix, false)
			logs := &testio.Buffer{}
			h := pcwebhook.NewHandler(pcwebhook.WithVerifier(sender.Verifier()), pcwebhook.WithDedupeStore(store),
				pcwebhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			var runs atomic.Int32
			h.OnSubscriptionUpdated(func(context.Context, *pcwebhook.SubscriptionEvent) error {
				if runs.Add(1) > 1 {
					return nil
				}
				proxy.arm() // Begin went through; the reply of Done or Release is lost
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
			require.Equal(t, int32(1), proxy.dropped.Load(), "the reply was dropped, so go-redis retried")
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
