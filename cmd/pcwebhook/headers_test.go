package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHeaderFile(t *testing.T) {
	for name, tc := range map[string]struct {
		in    string
		want  http.Header
		notes []string
	}{
		"plain lines": {
			in:   "authorization: Signature abc\nx-ms-certificate-url:https://h/cert/a.cer\nX-MS-Signature-Algorithm:  rsa-sha256  \n",
			want: http.Header{"Authorization": {"Signature abc"}, "X-Ms-Certificate-Url": {"https://h/cert/a.cer"}, "X-Ms-Signature-Algorithm": {"rsa-sha256"}},
		},
		"request line, CRLF, byte order mark, body after a blank line": {
			in:    "\xef\xbb\xbfPOST /webhooks?x=1 HTTP/1.1\r\nHost: partner.example\r\nAuthorization: Signature abc\r\n\r\n{\"EventName\":\"x\"}\r\n",
			want:  http.Header{"Host": {"partner.example"}, "Authorization": {"Signature abc"}},
			notes: []string{`skipped the first line "POST /webhooks?x=1 HTTP/1.1"`, "ignored what follows the blank line 4 (a body? pass it with --body)"},
		},
		"curl -D": {
			in:    "\r\nHTTP/2 200 \r\ncontent-type: application/json\r\n\r\n",
			want:  http.Header{"Content-Type": {"application/json"}},
			notes: []string{`skipped the first line "HTTP/2 200"`},
		},
		"curl -v": {
			in: "*   Trying 127.0.0.1:8080...\n* Connected to 127.0.0.1\n> POST / HTTP/1.1\n> Host: 127.0.0.1:8080\n" +
				"> Authorization: Signature abc\n> \n< HTTP/1.1 200 OK\n",
			want:  http.Header{"Host": {"127.0.0.1:8080"}, "Authorization": {"Signature abc"}},
			notes: []string{`skipped the first line "POST / HTTP/1.1"`, "ignored what follows the blank line 6 (a body? pass it with --body)"},
		},
		"continuation lines and repeated headers": {
			in:   "Authorization: Signature\n  abc\nX-A: 1\nx-a: 2\n",
			want: http.Header{"Authorization": {"Signature abc"}, "X-A": {"1", "2"}},
		},
	} {
		got, notes, err := parseHeaderFile([]byte(tc.in))
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, got, name)
		assert.Equal(t, tc.notes, notes, name)
	}
}

func TestParseHeaderFileErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "no headers found",
		"\r\n\r\n":                      "no headers found",
		"Authorization Signature abc\n": `line 1 is not a "Name: value" header`,
		"A: 1\nbad line\n":              `line 2 is not a "Name: value" header`,
		" continued: x\n":               "line 1: a continuation line with no header before it",
		"Bad Name: x\n":                 `line 1: "Bad Name" is not a valid header name`,
	} {
		_, _, err := parseHeaderFile([]byte(in))
		if assert.Error(t, err, "%q", in) {
			assert.Contains(t, err.Error(), want, "%q", in)
		}
	}
}
