package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
	"github.com/partnercenter-go/pcwebhook/internal/testpki"
)

// run runs the command line args (without the program name) with the process environment, as
// main does, and returns the exit status; main passes a context that SIGINT and SIGTERM cancel.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr, processEnv())
}

// helperEnv makes the test binary act as a --token-cmd instead of running the tests.
const helperEnv = "PCWEBHOOK_TEST_HELPER"

// helperTokenEnv is the token the helper's "fail-with-token" mode quotes on its standard error.
const helperTokenEnv = "PCWEBHOOK_TEST_HELPER_TOKEN"

// sharedConfigDir holds a development CA created once for the tests that only use it.
var sharedConfigDir string

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
	case "token":
		if f := os.Getenv("PCWEBHOOK_TEST_COUNT"); f != "" {
			fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				fmt.Fprintln(fh, "ran")
				fh.Close()
			}
		}
		fmt.Println("  the-token  ")
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "ERROR: Please run 'az login' to setup account.")
		os.Exit(3)
	case "fail-with-token":
		fmt.Fprintln(os.Stderr, "DEBUG: request failed: Authorization: Bearer "+os.Getenv(helperTokenEnv))
		os.Exit(3)
	case "two-lines":
		fmt.Println("WARNING: something")
		fmt.Println("the-token")
		os.Exit(0)
	default:
		os.Exit(99)
	}

	testpki.SharePrimes() // the tests make a hundred certificate chains
	dir, err := os.MkdirTemp("", "pcwebhook-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, _, err := ensureDevCA(dir, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedConfigDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is an environment with only the given variables, and the shared development CA.
func testEnv(vars map[string]string) env {
	all := map[string]string{configDirEnv: sharedConfigDir}
	for k, v := range vars {
		all[k] = v
	}
	return env{getenv: func(k string) string { return all[k] }}
}

// runIn runs a command line in-process and returns its exit status and output.
func runIn(t *testing.T, e env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut testio.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = runContext(ctx, args, &out, &errOut, e)
	return code, out.String(), errOut.String()
}

// listening is a listen command running in the background.
type listening struct {
	url            string
	stdout, stderr *testio.Buffer
	cancel         context.CancelFunc
	done           chan struct{} // closed when the command returned
	code           int           // its exit status, once done is closed
}

// stop cancels the listen command and returns its exit status.
func (l *listening) stop(t *testing.T) int {
	t.Helper()
	l.cancel()
	select {
	case <-l.done:
		return l.code
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop")
		return -1
	}
}

var listeningOn = regexp.MustCompile(`Listening on (http://\S+)`)

// startListen runs "listen --addr 127.0.0.1:0 args..." and waits for the URL it prints.
func startListen(t *testing.T, e env, args ...string) *listening {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listening{stdout: &testio.Buffer{}, stderr: &testio.Buffer{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.code = runContext(ctx, append([]string{"listen", "--addr", "127.0.0.1:0"}, args...), l.stdout, l.stderr, e)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, out := range []*testio.Buffer{l.stdout, l.stderr} {
			if m := listeningOn.FindStringSubmatch(out.String()); m != nil {
				l.url = m[1]
				t.Cleanup(func() {
					cancel()
					<-l.done
				})
				return l
			}
		}
		select {
		case <-l.done:
			t.Fatalf("listen exited with %d: %s%s", l.code, l.stdout, l.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("listen printed no URL: %s%s", l.stdout, l.stderr)
	return nil
}

// waitFor polls until the listener's stdout has at least n matches of re.
func waitFor(t *testing.T, out *testio.Buffer, re *regexp.Regexp, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := out.String()
		if len(re.FindAllStringIndex(s, -1)) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("want %d matches of %s in:\n%s", n, re, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, c := range commands() {
		for _, h := range []string{"--help", "-h"} {
			var stdout, stderr bytes.Buffer
			code := run([]string{c.name, h}, &stdout, &stderr) // the entry point of main, as is
			assert.Equal(t, 0, code, "%s %s", c.name, h)
			assert.True(t, strings.HasPrefix(stdout.String(), "usage: pcwebhook "+c.name), "%s %s:\n%s", c.name, h, stdout.String())
			assert.Empty(t, stderr.String(), c.name)
		}
		code, stdout, _ := runIn(t, testEnv(nil), "help", c.name)
		assert.Equal(t, 0, code)
		assert.True(t, strings.HasPrefix(stdout, "usage: pcwebhook "+c.name), stdout)
	}
}

func TestTopLevelUsage(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := runIn(t, testEnv(nil), args...)
		assert.Equal(t, 0, code, args)
		assert.Empty(t, stderr)
		for _, c := range commands() {
			assert.Contains(t, stdout, "\n  "+c.name+" ", "usage lists %s", c.name)
		}
		assert.Contains(t, stdout, tokenEnv)
	}

	code, stdout, stderr := runIn(t, testEnv(nil))
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "usage: pcwebhook <command>")

	code, _, stderr = runIn(t, testEnv(nil), "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "frobnicate"`)

	code, _, stderr = runIn(t, testEnv(nil), "help", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "frobnicate"`)
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, _ := runIn(t, testEnv(nil), args...)
		assert.Equal(t, 0, code)
		assert.Equal(t, "pcwebhook "+pcwebhook.Version+"\n", stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"events", "extra"}, "unexpected arguments: extra"},
		{[]string{"register", "--all"}, "--url is required"},
		{[]string{"register", "--url", "https://x.example/"}, "give --events NAMES or --all"},
		{[]string{"register", "--url", "https://x.example/", "--all", "--events", "a"}, "not both"},
		{[]string{"update", "--url", "https://x.example/"}, "give --events NAMES or --all"},
		{[]string{"test", "--timeout", "0s"}, "must be positive"},
		{[]string{"listen", "--path", "hook"}, "--path must start with /"},
		{[]string{"listen", "--forward", "ftp://x"}, "not an absolute http or https URL"},
		{[]string{"trigger", "--url", "http://127.0.0.1:1/"}, "give exactly one EVENT"},
		{[]string{"trigger", "a", "b", "--url", "http://127.0.0.1:1/"}, "give exactly one EVENT"},
		{[]string{"trigger", "invoice-ready", "--url", ""}, "--url is required"},
		{[]string{"trigger", "invoice-redy", "--url", "http://127.0.0.1:1/"}, `did you mean "invoice-ready"?`},
		{[]string{"trigger", "invoice-ready", "--url", "127.0.0.1:1"}, "not an absolute http or https URL"},
		{[]string{"trigger", "invoice-ready", "--url", "http://127.0.0.1:1/", "--count", "0"}, "--count must be at least 1"},
		{[]string{"verify", "--headers", "h"}, "--headers and --body are required"},
		{[]string{"verify", "--headers", "h", "--body", "b", "--at", "yesterday"}, "not an RFC 3339 time"},
		{[]string{"version", "x"}, "takes no arguments"},
	} {
		code, stdout, stderr := runIn(t, testEnv(nil), tc.args...)
		assert.Equal(t, 2, code, "%q", tc.args)
		assert.Empty(t, stdout, "%q", tc.args)
		assert.Contains(t, stderr, tc.want, "%q", tc.args)
		assert.Contains(t, stderr, "usage: pcwebhook "+tc.args[0], "%q", tc.args)
	}
}

func TestPositionalArgumentsBetweenFlags(t *testing.T) {
	a := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, env: testEnv(nil)}
	var url string
	var count int
	cl, _, ok := a.parse(&usageSpec{name: "x", synopsis: "x"}, []string{"--count", "2", "one", "--url", "u", "two", "--", "--three"},
		func(fs *flag.FlagSet) {
			fs.StringVar(&url, "url", "", "")
			fs.IntVar(&count, "count", 1, "")
		})
	require.True(t, ok)
	assert.Equal(t, []string{"one", "two", "--three"}, cl.args)
	assert.Equal(t, "u", url)
	assert.Equal(t, 2, count)
}
