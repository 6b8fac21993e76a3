package main

import (
	"bytes"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPrintPost(t *testing.T) {
	target := &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Path: "/"}
	answer := postAnswer{status: 503, reply: "busy\x1b[2J", elapsed: 1234567 * time.Nanosecond}
	for _, tc := range []struct {
		name    string
		ans     postAnswer
		explain bool
		want    string
	}{
		{"answer", answer, false, "POST http://127.0.0.1:8080/  copy 1/1  -> 503 Service Unavailable  \"busy\\x1b[2J\"  (1.2ms)\n"},
		{"explained", answer, true, "POST http://127.0.0.1:8080/  copy 1/1  -> 503 Service Unavailable  failed, Partner Center retries  \"busy\\x1b[2J\"  (1.2ms)\n"},
		{"failed", postAnswer{err: errors.New("dial tcp: refused")}, true, "POST http://127.0.0.1:8080/  copy 1/1  -> failed: dial tcp: refused\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			a := &app{stdout: &out}
			a.printPost(target, "copy 1/1", tc.ans, tc.explain)
			assert.Equal(t, tc.want, out.String())
		})
	}
}
