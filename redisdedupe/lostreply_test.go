package redisdedupe_test

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/redisdedupe"
	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// dropFirstScriptReply is a loopback proxy to upstream that forwards the first EVAL/EVALSHA it
// sees (so Redis runs the script) and then drops the connection before the reply, as a network
// blip or a read timeout would. Later connections pass through.
func dropFirstScriptReply(t *testing.T, upstream string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	var armed atomic.Bool
	armed.Store(true)
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
						if bytes.Contains(bytes.ToLower(buf[:n]), []byte("eval")) && armed.CompareAndSwap(true, false) {
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
	return l.Addr().String()
}

// TestBeginRetriedAfterLostReply: Redis ran Begin's script but its reply was lost; go-redis
// retries the command with the same token. The retry must own the claim (DeliveryNew), not find
// it "in progress": otherwise nobody handles the delivery and every retry of Partner Center gets
// 503 until the lease runs out.
func TestBeginRetriedAfterLostReply(t *testing.T) {
	srv := redisserver.Start(t)
	direct := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = direct.Close() })
	prefix := uniquePrefix(t)
	_, err := redisdedupe.New(direct, redisdedupe.WithKeyPrefix(prefix)).Begin(context.Background(), "warm-up") // loads the script
	require.NoError(t, err)

	rdb := redis.NewClient(&redis.Options{Addr: dropFirstScriptReply(t, srv.Addr)})
	t.Cleanup(func() { _ = rdb.Close() })
	s := redisdedupe.New(rdb, redisdedupe.WithKeyPrefix(prefix))
	c, err := s.Begin(context.Background(), "k")
	require.NoError(t, err, "go-redis retries the lost reply")
	require.Equal(t, pcwebhook.DeliveryNew, c.State, "the retry owns its own claim")
	require.NoError(t, s.Done(context.Background(), c), "and can finish it")
	again, err := redisdedupe.New(direct, redisdedupe.WithKeyPrefix(prefix)).Begin(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, pcwebhook.DeliveryDone, again.State)
}
