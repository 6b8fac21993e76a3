// Package redisserver starts throwaway redis-server processes on loopback, for the tests and the
// example of redisdedupe: each on a free port, with its own temporary directory, no
// persistence, stopped by PID.
package redisserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SkipEnv is the environment variable that, set to 1, makes Start skip the test instead of
// failing it when redis-server is not installed.
const SkipEnv = "PCWEBHOOK_SKIP_REDIS"

// ErrNotInstalled is returned by Run when redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH: install it (Debian/Ubuntu: apt-get install -y redis-server)")

// Server is one redis-server process.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string
	port int
	dir  string
	path string
	args []string // beyond the defaults, for every start
	conf string   // a configuration file given before the defaults, or ""

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
}

// Start runs a redis-server for the test and stops it on cleanup. When redis-server is not
// installed the test fails with the command that installs it, or is skipped when SkipEnv is 1.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	requireInstalled(tb)
	s, err := Run(tb.TempDir(), args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	return s
}

// requireInstalled fails the test, or skips it when SkipEnv is 1, when redis-server is not on
// PATH.
func requireInstalled(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(SkipEnv) == "1" {
			tb.Skipf("redis-server not installed and %s=1", SkipEnv)
		}
		tb.Fatalf("%v; or set %s=1 to skip the tests that need a real Redis", ErrNotInstalled, SkipEnv)
	}
}

// StartCluster is Start for a one-node Redis Cluster that serves all 16384 slots: what a
// ClusterClient needs, with the Cluster's rules (a script's keys must be declared and hash to one
// slot).
func StartCluster(tb testing.TB) *Server {
	tb.Helper()
	s := Start(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if err := s.assignAllSlots(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// assignAllSlots gives the node every slot and waits for cluster_state:ok.
func (s *Server) assignAllSlots() error {
	if _, err := command(s.Addr, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := command(s.Addr, "CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster on %s not ok after 10s: %v %s", s.Addr, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run starts a redis-server on a free loopback port with dir as its working directory and
// waits until it answers PING. args are added to the command line. Stop it with Stop.
func Run(dir string, args ...string) (*Server, error) {
	return run(dir, "", args...)
}

// run is Run with a configuration file (or "") given before the defaults.
func run(dir, conf string, args ...string) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ { // a free port can be taken before the server binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port, dir: dir, path: path, args: args, conf: conf}
		if last = s.start(); last == nil {
			return s, nil
		}
	}
	return nil, last
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the process on s.port and waits for PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("redis-server on %s is running", s.Addr)
	}
	var args []string
	if s.conf != "" { // a configuration file must come first
		args = append(args, s.conf)
	}
	args = append(args, []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
	}...)
	args = append(args, s.args...)
	cmd := exec.Command(s.path, args...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: &log}, &lockedWriter{w: &log}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exit := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exit) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.Addr) == nil {
			s.cmd, s.exit = cmd, exit
			return nil
		}
		select {
		case <-exit:
			return fmt.Errorf("redis-server on %s exited: %s", s.Addr, strings.TrimSpace(log.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exit
			return fmt.Errorf("redis-server on %s did not answer PING within 10s", s.Addr)
		}
	}
}

// lockedWriter lets the process's stdout and stderr share one builder.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ping sends PING and expects PONG.
func ping(addr string) error {
	answer, err := command(addr, "PING")
	if err == nil && answer != "PONG" {
		err = fmt.Errorf("PING answered %q", answer)
	}
	return err
}

// command sends one command on a new connection and returns a simple or bulk string answer.
func command(addr string, args ...string) (string, error) {
	answer, err := do(addr, args...)
	if err != nil {
		return "", err
	}
	s, ok := answer.(string)
	if !ok {
		return "", fmt.Errorf("%s answered %v, not a string", args[0], answer)
	}
	return s, nil
}

// do sends one command on a new connection (RESP2) and returns its answer: a string (simple or
// bulk), an int64, nil (null bulk or array), or a []any of those.
func do(addr string, args ...string) (any, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, req.String()); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(c), 0)
}

// readReply reads one RESP2 reply; depth bounds the nesting of arrays.
func readReply(r *bufio.Reader, depth int) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" || depth > 4 {
		return nil, fmt.Errorf("unexpected answer %q", line)
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, fmt.Errorf("redis: %s", line[1:])
	case ':':
		n, err := strconv.ParseInt(line[1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected answer %q", line)
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("unexpected answer %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 || n > 1<<16 {
			return nil, fmt.Errorf("unexpected answer %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		items := make([]any, n)
		for i := range items {
			if items[i], err = readReply(r, depth+1); err != nil {
				return nil, err
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("unexpected answer %q", line)
}

// PID returns the process id of the running server, or 0.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop ends the process by its PID (SIGTERM, then SIGKILL after 5 s) and waits for it. Without
// persistence everything it held is gone. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, exit := s.cmd, s.exit
	s.cmd, s.exit = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exit
	}
	return nil
}

// Restart starts the server again on the same port (empty: it has no persistence).
func (s *Server) Restart() error { return s.start() }
