// Package redisserver starts throwaway redis-server processes on loopback, for the tests and the
// example of redisdedupe: each on a free port, with its own temporary directory, no
// persistence, stopped by PID. It talks to them through go-redis, and only once they listen, so
// that go-redis has no failed dial to log.
package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/partnercenter-go/pcwebhook/internal/childproc"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
)

// SkipEnv is the environment variable that, set to 1, makes Start skip the test instead of
// failing it when redis-server is not installed, except under CI (CI set), where it fails.
const SkipEnv = "PCWEBHOOK_SKIP_REDIS"

// ErrNotInstalled is returned by Run when redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH: install it (Debian/Ubuntu: apt-get install -y redis-server)")

// Server is one redis-server process.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr     string
	port     int
	dir      string
	path     string
	args     []string // beyond the defaults, for every start
	sentinel string   // the configuration file of a Sentinel, given before the defaults, or ""

	mu   sync.Mutex
	proc *childproc.Process    // while running
	rdb  *redis.Client         // while running
	sc   *redis.SentinelClient // while running, for a Sentinel
}

// shutdown is how Stop ends the process (see Stop).
var shutdown = childproc.Shutdown{Steps: []childproc.Step{{Signal: syscall.SIGTERM, Wait: 5 * time.Second}}}

// Start runs a redis-server for the test and stops it on cleanup. When redis-server is not
// installed the test fails with the command that installs it, or is skipped when SkipEnv is 1
// and CI is not set.
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

// requireInstalled fails the test when redis-server is not on PATH, or skips it when SkipEnv is
// 1 and CI is not set.
func requireInstalled(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(SkipEnv) == "1" && os.Getenv("CI") == "" {
			tb.Skipf("redis-server not installed and %s=1", SkipEnv)
		}
		tb.Fatalf("%v; or set %s=1 (without CI) to skip the tests that need a real Redis", ErrNotInstalled, SkipEnv)
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
	rdb, err := s.client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := rdb.ClusterAddSlotsRange(ctx, 0, 16383).Err(); err != nil {
		return err
	}
	return waitFor(10*time.Second, func() error {
		info, err := rdb.ClusterInfo(ctx).Result()
		if err == nil && !strings.Contains(info, "cluster_state:ok") {
			err = fmt.Errorf("cluster on %s not ok: %s", s.Addr, info)
		}
		return err
	})
}

// Run starts a redis-server on a free loopback port with dir as its working directory and
// waits until it answers. args are added to the command line. Stop it with Stop.
func Run(dir string, args ...string) (*Server, error) {
	return run(dir, "", args...)
}

// run is Run for a Sentinel when sentinelConf is its configuration file.
func run(dir, sentinelConf string, args ...string) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	var s *Server
	if err := childproc.OnFreePort(func(port int) error {
		s = &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port, dir: dir, path: path,
			args: args, sentinel: sentinelConf}
		return s.start()
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// clientOptions are the options of the clients of the helper: each check has its own loop, so
// go-redis neither retries a command nor a dial.
func clientOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:          addr,
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		DialerRetries: 1,
		MaxRetries:    -1,
	}
}

// start runs the process on s.port and waits until it is the one that answers there.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("redis-server on %s is running", s.Addr)
	}
	var args []string
	if s.sentinel != "" { // a configuration file must come first
		args = append(args, s.sentinel)
	}
	args = append(args, []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
	}...)
	args = append(args, s.args...)
	cmd := exec.Command(s.path, args...)
	log := &testio.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	proc, err := childproc.Start(cmd, shutdown)
	if err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	rdb := redis.NewClient(clientOptions(s.Addr))
	if err := s.waitReady(rdb, proc); err != nil {
		_ = rdb.Close()
		proc.Kill()
		if out := strings.TrimSpace(log.String()); out != "" {
			err = fmt.Errorf("%w: %s", err, out)
		}
		return err
	}
	s.proc, s.rdb = proc, rdb
	if s.sentinel != "" {
		s.sc = redis.NewSentinelClient(clientOptions(s.Addr))
	}
	return nil
}

// waitReady waits up to 10 s until the process proc answers on s.Addr: first until the port
// accepts connections (go-redis would log every refused dial), then until INFO through rdb
// names its pid, so that another process that took the port is not mistaken for this one.
func (s *Server) waitReady(rdb *redis.Client, proc *childproc.Process) error {
	var other *otherProcessError
	err := proc.Await(10*time.Second, func() (bool, error) {
		err := s.answers(rdb, proc.PID())
		return err == nil || errors.As(err, &other), err
	})
	if err != nil && other == nil {
		err = fmt.Errorf("redis-server on %s did not answer: %w", s.Addr, err)
	}
	return err
}

// answers returns nil when the process pid answers INFO through rdb on s.Addr, and an
// *otherProcessError when another process does.
func (s *Server) answers(rdb *redis.Client, pid int) error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	_ = c.Close()
	info, err := rdb.InfoMap(context.Background(), "server").Result()
	if err != nil {
		return err
	}
	if got := info["Server"]["process_id"]; got != strconv.Itoa(pid) {
		return &otherProcessError{addr: s.Addr, pid: got}
	}
	return nil
}

// otherProcessError says that a process other than the one started answers on addr.
type otherProcessError struct{ addr, pid string }

func (e *otherProcessError) Error() string {
	return fmt.Sprintf("%s is served by another process (pid %q)", e.addr, e.pid)
}

// client returns the client of the running server.
func (s *Server) client() (*redis.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rdb == nil {
		return nil, fmt.Errorf("redis-server on %s is not running", s.Addr)
	}
	return s.rdb, nil
}

// PID returns the process id of the running server, or 0.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.PID()
}

// Stop ends the process by its PID (SIGTERM, then SIGKILL after 5 s) and waits for it. Without
// persistence everything it held is gone. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	proc := s.proc
	_ = s.rdb.Close()
	if s.sc != nil {
		_ = s.sc.Close()
	}
	s.proc, s.rdb, s.sc = nil, nil, nil
	_ = proc.Stop() // killed after 5 s: without persistence it loses nothing more than a stopped one
	return nil
}

// Restart starts the server again on the same port (empty: it has no persistence).
func (s *Server) Restart() error { return s.start() }

// waitFor calls check every 20 ms until it returns nil, or returns its last error after timeout.
func waitFor(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
