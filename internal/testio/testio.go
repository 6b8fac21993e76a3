// Package testio holds the small I/O helpers that the project's tests and benchmarks share (in
// every package and nested module): a buffer safe to write from other goroutines, a response
// writer that keeps only the status, and the switch for the long stress loops ([Stress]).
package testio

import (
	"bytes"
	"net/http"
	"sync"
)

// Buffer is a bytes.Buffer that a logger or a command may write from its own goroutines while the
// test reads it. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// DiscardWriter is a minimal http.ResponseWriter for benchmarks, so that they measure the handler
// and not a recorder: it keeps the status and the header map it is given, and drops the body.
type DiscardWriter struct {
	Hdr  http.Header // returned by Header; set it (http.Header{}) before use
	Code int         // the status passed to WriteHeader
}

// Header returns d.Hdr.
func (d *DiscardWriter) Header() http.Header { return d.Hdr }

// WriteHeader records code.
func (d *DiscardWriter) WriteHeader(code int) { d.Code = code }

// Write drops p.
func (d *DiscardWriter) Write(p []byte) (int, error) { return len(p), nil }
