package pgserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/partnercenter-go/pcwebhook/internal/childproc"
	"github.com/partnercenter-go/pcwebhook/internal/testio"
)

// ErrBouncerNotInstalled is returned by RunBouncer when the pgbouncer binary is not found.
var ErrBouncerNotInstalled = errors.New("pgserver: pgbouncer not found on PATH nor in /usr/sbin: install it (Debian/Ubuntu: apt-get install -y pgbouncer)")

// Bouncer is one PgBouncer process in front of a Server, in transaction pooling mode: a server
// connection is a client's for one transaction, then another client's. It opens at most its pool
// size of server connections; a client whose transaction needs one while all are in use waits in
// PgBouncer's queue.
type Bouncer struct {
	// Addr is "127.0.0.1:port".
	Addr string
	dir  string

	running
}

// bouncerShutdown is how Close ends PgBouncer: SIGTERM is its immediate shutdown (SIGINT would
// wait for the clients' transactions).
var bouncerShutdown = childproc.Shutdown{Steps: []childproc.Step{{Signal: syscall.SIGTERM, Wait: 10 * time.Second}}}

// StartBouncer runs a PgBouncer in front of s for the test and stops it on cleanup. When pgbouncer
// is not installed the test is skipped, or fails when the environment variable CI is set.
func StartBouncer(tb testing.TB, s *Server, poolSize int) *Bouncer {
	tb.Helper()
	_, err := bouncerBin()
	requireBinary(tb, err, "PgBouncer")
	b, err := RunBouncer(s, poolSize)
	return closedOnCleanup(tb, b, err)
}

// RunBouncer starts PgBouncer on a free loopback port in front of s (transaction pooling, trust
// authentication, at most poolSize server connections) and waits until it hands out connections
// to s. End it with Close.
func RunBouncer(s *Server, poolSize int) (*Bouncer, error) {
	bin, err := bouncerBin()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential() // pgbouncer refuses root too
	if err != nil {
		return nil, err
	}
	dir, err := ownedTempDir("pcwebhook-pgbouncer-*", cred)
	if err != nil {
		return nil, err
	}
	var b *Bouncer
	if err := childproc.OnFreePort(func(port int) error {
		b = &Bouncer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
		return b.start(bin, cred, port, s, poolSize)
	}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return b, nil
}

// DSN is the connection string of the server's postgres database through the bouncer.
func (b *Bouncer) DSN() string { return dsn(b.Addr) }

// Close stops the bouncer by its PID (SIGTERM, SIGKILL after 10 s) and removes its directory.
// Closing a closed bouncer does nothing.
func (b *Bouncer) Close() error { return removeDir(b.dir, b.stop("pgbouncer on "+b.Addr)) }

// start writes the configuration for port, s and poolSize, runs pgbouncer on it, and waits until
// a connection through it reaches s.
func (b *Bouncer) start(bin string, cred *syscall.Credential, port int, s *Server, poolSize int) error {
	userlist := filepath.Join(b.dir, "userlist.txt")
	config := filepath.Join(b.dir, "pgbouncer.ini")
	ini := strings.Join([]string{
		"[databases]",
		fmt.Sprintf("postgres = host=127.0.0.1 port=%d user=postgres dbname=postgres", s.port),
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		fmt.Sprintf("listen_port = %d", port),
		"unix_socket_dir =",
		"auth_type = trust",
		"auth_file = " + userlist, // trust still needs the user listed
		"pool_mode = transaction",
		fmt.Sprintf("default_pool_size = %d", poolSize),
		"min_pool_size = 0",
		"reserve_pool_size = 0",
		fmt.Sprintf("max_db_connections = %d", poolSize),
		"max_client_conn = 1000",
		"ignore_startup_parameters = extra_float_digits",
		"pidfile = " + filepath.Join(b.dir, "pgbouncer.pid"),
		"", // the log goes to stderr: it runs in the foreground
	}, "\n")
	for path, text := range map[string]string{userlist: `"postgres" ""` + "\n", config: ini} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	cmd := exec.Command(bin, config)
	log := &testio.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	// SIGTERM when this process dies without stopping it, so that no bouncer outlives its test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Credential: cred}
	proc, err := childproc.Start(cmd, bouncerShutdown)
	if err != nil {
		return fmt.Errorf("pgserver: starting pgbouncer: %w", err)
	}
	// The answer must come from s through this bouncer (pgbouncer exits when another process
	// holds its port).
	if err := proc.Await(30*time.Second, answers(b.DSN(), "SELECT inet_server_port()::text", strconv.Itoa(s.port))); err != nil {
		proc.Kill()
		return fmt.Errorf("pgserver: pgbouncer on %s did not hand out connections: %w; %s", b.Addr, err, strings.TrimSpace(log.String()))
	}
	b.mu.Lock()
	b.proc, b.log = proc, log
	b.mu.Unlock()
	return nil
}

// bouncerBin returns the path of pgbouncer: PATH first, then /usr/sbin (Debian's package puts it
// there, which is not on every user's PATH).
func bouncerBin() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if p := "/usr/sbin/pgbouncer"; isExecutable(p) {
		return p, nil
	}
	return "", ErrBouncerNotInstalled
}
