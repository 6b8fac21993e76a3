package redisdedupe_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/partnercenter-go/pcwebhook/redisdedupe/internal/redisserver"
)

// commandCounter is a go-redis hook that counts the commands sent: each one is a round trip.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1) // one round trip for the whole pipeline
		return next(ctx, cmds)
	}
}

// newClient returns a client of srv, closed on cleanup, and the counter of its round trips.
func newClient(tb testing.TB, srv *redisserver.Server) (*redis.Client, *commandCounter) {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	tb.Cleanup(func() { _ = rdb.Close() })
	counter := &commandCounter{}
	rdb.AddHook(counter)
	return rdb, counter
}

// uniquePrefix is a key prefix no other store of the run uses.
func uniquePrefix(tb testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "pcwebhooktest:" + hex.EncodeToString(b[:]) + ":"
}

// hangingListener accepts connections on loopback and never answers, as a stuck Redis does; it
// returns its address.
func hangingListener(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}
