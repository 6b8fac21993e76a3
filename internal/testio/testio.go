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
	Code int         // the status passed to WriteHeader, or 200 when Write came first
}

// Header returns d.Hdr.
func (d *DiscardWriter) Header() http.Header { return d.Hdr }

// WriteHeader records code, unless a status was already written.
func (d *DiscardWriter) WriteHeader(code int) {
	if d.Code == 0 {
		d.Code = code
	}
}

// Write drops p; like any ResponseWriter, it writes the status 200 first when none was written.
func (d *DiscardWriter) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(p), nil
}

// WriteString is Write for a string, as net/http's ResponseWriter has it (io.WriteString then
// copies nothing).
func (d *DiscardWriter) WriteString(s string) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(s), nil
}
