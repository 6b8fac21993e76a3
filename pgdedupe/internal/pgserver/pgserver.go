// Package pgserver starts throwaway PostgreSQL servers on loopback, for the tests and the examples
// of pgdedupe: each on a free port, in its own temporary directory, without durability (fsync
// off), stopped by PID. No Docker and no downloads: it runs the server binaries installed on the
// machine (Debian's postgresql package puts them in /usr/lib/postgresql/<version>/bin, not on
// PATH). When the process runs as root the server runs as the postgres user, as initdb and
// postgres refuse root.
//
// The cluster is made once per machine and server version (initdb takes seconds), kept as a
// template in the temporary directory, and copied for every server.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnercenter-go/pcwebhook/internal/childproc"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
)

// ErrNotInstalled is returned by Run when the PostgreSQL server binaries are not found.
var ErrNotInstalled = errors.New("pgserver: PostgreSQL server binaries (initdb, postgres) not found on PATH nor in /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: apt-get install -y postgresql)")

// Server is one PostgreSQL server process.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string
	port int
	dir  string // the server's own directory: data/ and the Unix socket
	bin  string
	cred *syscall.Credential // the postgres user when running as root, else nil

	running // the postmaster while it runs
}

// running is what a Server and a Bouncer share: the process while it runs, and what it printed.
type running struct {
	mu   sync.Mutex
	proc *childproc.Process // while it runs, else nil
	log  *testio.Buffer
}

// PID returns the process id of the running process (a Server's postmaster), or 0.
func (r *running) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc.PID()
}

// Log returns what the process printed.
func (r *running) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log == nil {
		return ""
	}
	return r.log.String()
}

// stop ends the process by its PID, if it runs, and waits for it; what names it in the error.
func (r *running) stop(what string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	proc := r.proc
	r.proc = nil
	if proc == nil {
		return nil
	}
	if err := proc.Stop(); err != nil {
		return fmt.Errorf("pgserver: %s did not shut down: %w", what, err)
	}
	return nil
}

// removeDir removes dir and returns err, or the removal's error when err is nil.
func removeDir(dir string, err error) error {
	if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
		return rerr
	}
	return err
}

// shutdown is how Stop ends the postmaster (see Stop); the SIGKILL goes to its process group, so
// that it ends the backends too.
var shutdown = childproc.Shutdown{
	Steps:     []childproc.Step{{Signal: syscall.SIGINT, Wait: 10 * time.Second}, {Signal: syscall.SIGQUIT, Wait: 5 * time.Second}},
	KillGroup: true,
}

// Start runs a PostgreSQL server for the test and stops and removes it on cleanup. When the server
// binaries are not installed the test is skipped, or fails when the environment variable CI is
// set (a CI run must not pass by skipping).
func Start(tb testing.TB) *Server {
	tb.Helper()
	RequireInstalled(tb)
	s, err := Run()
	return closedOnCleanup(tb, s, err)
}

// closedOnCleanup returns c, closed when the test ends, or fails the test with err.
func closedOnCleanup[C interface{ Close() error }](tb testing.TB, c C, err error) C {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Error(err)
		}
	})
	return c
}

// RequireInstalled skips the test when the server binaries are missing, or fails it when the
// environment variable CI is set.
func RequireInstalled(tb testing.TB) {
	tb.Helper()
	_, err := binDir()
	requireBinary(tb, err, "PostgreSQL")
}

// requireBinary does nothing when err (the lookup of what's binaries) is nil; otherwise it fails
// the test when the environment variable CI is set (a CI run must not pass by skipping), or skips
// it.
func requireBinary(tb testing.TB, err error, what string) {
	tb.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%v (CI is set: the tests that need a real %s must run)", err, what)
	}
	tb.Skipf("%v; skipped (set CI=1 to fail instead)", err)
}

// Run starts a PostgreSQL server on a free loopback port and waits until it accepts connections.
// End it with Close.
func Run() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	tmpl, err := template(bin, cred)
	if err != nil {
		return nil, err
	}
	dir, err := ownedTempDir("pcwebhook-pgserver-*", cred)
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(tmpl, "data"), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgserver: copying the template cluster: %v: %s", err, out)
	}
	var s *Server
	if err := childproc.OnFreePort(func(port int) error {
		s = &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port, dir: dir, bin: bin, cred: cred}
		return s.start()
	}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Open is what the examples do with a DATABASE_URL: when dsn is set it returns dsn (stop does
// nothing); otherwise it starts a server (Run) and returns its DSN, and stop ends and removes it.
func Open(dsn string) (_ string, stop func() error, _ error) {
	if dsn != "" {
		return dsn, func() error { return nil }, nil
	}
	s, err := Run()
	if err != nil {
		return "", nil, err
	}
	return s.DSN(), s.Close, nil
}

// DSN is the connection string of the server's postgres database as the postgres superuser
// (trust authentication, no TLS).
func (s *Server) DSN() string { return dsn(s.Addr) }

// dsn is the connection string of the postgres database at addr as the postgres superuser.
func dsn(addr string) string {
	return "postgres://postgres@" + addr + "/postgres?sslmode=disable"
}

// Stop shuts the server down by its PID (SIGINT: fast shutdown, which ends every session and
// writes everything committed to disk; SIGQUIT, then SIGKILL of its process group when that
// takes longer than 10 s) and waits for it. Stopping a stopped server does nothing.
func (s *Server) Stop() error { return s.stop("the server on " + s.Addr) }

// Restart starts the stopped server again on the same port, with the data it had.
func (s *Server) Restart() error { return s.start() }

// Close stops the server and removes its directory.
func (s *Server) Close() error { return removeDir(s.dir, s.Stop()) }

// Terminate ends the backend process pid (pg_terminate_backend, from a connection of its own), as
// an administrator or a failover does: the session's transaction is rolled back and its client
// sees its connection closed.
func (s *Server) Terminate(ctx context.Context, pid uint32) error {
	conn, err := pgx.Connect(ctx, s.DSN())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("pgserver: no backend with pid %d", pid)
	}
	return nil
}

// start runs the postmaster on s.port and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("pgserver: the server on %s is running", s.Addr)
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "logging_collector=off")
	log := &testio.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that Stop can end the backends too; SIGQUIT (immediate shutdown)
	// when this process dies without stopping it, so that no server outlives its test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT, Credential: s.cred}
	proc, err := childproc.Start(cmd, shutdown)
	if err != nil {
		return fmt.Errorf("pgserver: starting postgres: %w", err)
	}
	s.log = log
	// The server that answers must be this one, not another that holds the port.
	if err := proc.Await(30*time.Second, answers(s.DSN(), "SHOW data_directory", filepath.Join(s.dir, "data"))); err != nil {
		proc.Kill() // the postmaster and its backends, if it still runs
		return fmt.Errorf("pgserver: postgres on %s did not accept connections: %w; %s", s.Addr, err, strings.TrimSpace(log.String()))
	}
	s.proc = proc
	return nil
}

// answers is the readiness check of a process that hands out connections to dsn: ready when a
// connection (simple protocol, nothing prepared) gets want as the answer to query; another answer
// means another server holds the port, and ends the wait with an error.
func answers(dsn, query, want string) func() (bool, error) {
	return func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return true, err
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return false, err
		}
		defer conn.Close(ctx)
		var got string
		if err := conn.QueryRow(ctx, query).Scan(&got); err != nil {
			return false, err
		}
		if got != want {
			return true, fmt.Errorf("another server answers (%s gives %q, not %q)", query, got, want)
		}
		return true, nil
	}
}

// binDir returns the directory of initdb and postgres: PATH first, then the newest
// /usr/lib/postgresql/<version>/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

// versionOf reads the major version out of /usr/lib/postgresql/<version>/bin.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// serverCredential is the postgres OS user when this process runs as root (initdb and postgres
// refuse to run as root), else nil: the server runs as the current user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgserver: running as root needs the postgres OS user (the postgresql package creates it): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgserver: the postgres user has uid %q, gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// ownedTempDir makes a temporary directory that the server's user owns.
func ownedTempDir(pattern string, cred *syscall.Credential) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

var versionPattern = regexp.MustCompile(`[^A-Za-z0-9.]+`)

// template returns the directory whose data/ is a fresh cluster made by initdb for the server
// binaries in bin and the user cred: made once per machine, server version and user, in the
// temporary directory, and renamed into place only when complete (so concurrent test processes
// never see half a cluster).
func template(bin string, cred *syscall.Credential) (string, error) {
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("pgserver: %s --version: %w", filepath.Join(bin, "postgres"), err)
	}
	version := strings.Trim(versionPattern.ReplaceAllString(strings.TrimSpace(string(out)), "-"), "-")
	final := filepath.Join(os.TempDir(), fmt.Sprintf("pcwebhook-pgserver-template-%s-uid%d", version, os.Geteuid()))
	if _, err := os.Stat(filepath.Join(final, "data", "PG_VERSION")); err == nil {
		return final, nil
	}
	tmp, err := ownedTempDir("pcwebhook-pgserver-initdb-*", cred)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(tmp, "data"), "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("pgserver: initdb: %v: %s", err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.RemoveAll(tmp) // another process made it first
		if _, serr := os.Stat(filepath.Join(final, "data", "PG_VERSION")); serr != nil {
			return "", fmt.Errorf("pgserver: keeping the template cluster: %w", err)
		}
	}
	return final, nil
}
