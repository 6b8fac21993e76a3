package pgdedupe_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// tripCounter is a loopback TCP proxy in front of a PostgreSQL server that counts the round trips
// its clients make: every message that makes the server answer and wait for the next request, a
// simple Query ('Q') or the Sync ('S') that ends an extended-protocol exchange (however many
// Parse, Bind and Execute messages it carries). The startup of a connection and cancel requests
// are not counted.
type tripCounter struct {
	ln     net.Listener
	target string
	trips  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// newTripCounter starts a proxy to target ("host:port"), closed on cleanup.
func newTripCounter(tb testing.TB, target string) *tripCounter {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &tripCounter{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's "127.0.0.1:port".
func (p *tripCounter) Addr() string { return p.ln.Addr().String() }

// Trips returns the round trips counted so far.
func (p *tripCounter) Trips() int64 { return p.trips.Load() }

func (p *tripCounter) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, s); _ = c.Close() }()
		go func() { defer p.wg.Done(); p.forward(s, c); _ = s.Close() }()
	}
}

// forward copies the client's messages to the server, counting the round trips.
func (p *tripCounter) forward(dst io.Writer, src io.Reader) {
	// The first message has no type byte: a startup message or a cancel request.
	var n [4]byte
	if _, err := io.ReadFull(src, n[:]); err != nil {
		return
	}
	size := binary.BigEndian.Uint32(n[:])
	if size < 4 {
		return
	}
	if _, err := dst.Write(n[:]); err != nil {
		return
	}
	if _, err := io.CopyN(dst, src, int64(size-4)); err != nil {
		return
	}
	var head [5]byte
	for {
		if _, err := io.ReadFull(src, head[:]); err != nil {
			return
		}
		if t := head[0]; t == 'Q' || t == 'S' {
			p.trips.Add(1)
		}
		size := binary.BigEndian.Uint32(head[1:])
		if size < 4 {
			return
		}
		if _, err := dst.Write(head[:]); err != nil {
			return
		}
		if _, err := io.CopyN(dst, src, int64(size-4)); err != nil && !errors.Is(err, io.EOF) {
			return
		}
	}
}

func (p *tripCounter) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
