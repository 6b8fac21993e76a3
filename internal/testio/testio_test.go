package testio

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			fmt.Fprintf(&b, "line %d\n", i)
			_ = b.String()
		}(i)
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 50 {
		t.Fatalf("got %d lines, want 50", n)
	}
}

func TestDiscardWriter(t *testing.T) {
	w := DiscardWriter{Hdr: http.Header{}}
	w.Header().Set("Retry-After", "30")
	w.WriteHeader(http.StatusServiceUnavailable)
	n, err := w.Write([]byte("body"))
	if n != 4 || err != nil || w.Code != http.StatusServiceUnavailable || w.Hdr.Get("Retry-After") != "30" {
		t.Fatalf("n=%d err=%v code=%d header=%v", n, err, w.Code, w.Hdr)
	}
	implicit := DiscardWriter{}
	_, _ = implicit.Write([]byte("ok"))
	implicit.WriteHeader(http.StatusTeapot)
	if implicit.Code != http.StatusOK {
		t.Fatalf("a Write before WriteHeader writes 200, got %d", implicit.Code)
	}
	viaString := DiscardWriter{}
	if n, _ := io.WriteString(&viaString, "ok"); n != 2 || viaString.Code != http.StatusOK {
		t.Fatalf("WriteString: n=%d code=%d", n, viaString.Code)
	}
}

func TestCount(t *testing.T) {
	t.Setenv(StressEnv, "")
	if Stress() || Count(10, 1000) != 10 {
		t.Fatalf("without %s: Stress %v, Count %d", StressEnv, Stress(), Count(10, 1000))
	}
	t.Setenv(StressEnv, "1")
	if !Stress() || Count(10, 1000) != 1000 {
		t.Fatalf("with %s=1: Stress %v, Count %d", StressEnv, Stress(), Count(10, 1000))
	}
}
