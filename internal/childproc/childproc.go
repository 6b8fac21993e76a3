// Package childproc runs the server processes that the tests and examples of the nested modules
// start on loopback (PostgreSQL for pgdedupe, redis-server for redisdedupe): a started command
// with the channel that closes when it exits, a wait until it is ready, and a stop by PID that
// sends a sequence of signals, waits after each, and kills it (or its process group) when it
// outlives them all; and the free loopback port to start it on.
package childproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrKilled is wrapped by the error of Stop when the process outlived every signal of its
// Shutdown and was killed.
var ErrKilled = errors.New("killed")

// ErrExited is wrapped by the error of Await when the process exited before it was ready.
var ErrExited = errors.New("exited")

// Step is one signal of a Shutdown and how long to wait for the process to exit after it.
type Step struct {
	Signal os.Signal
	Wait   time.Duration
}

// Shutdown is how Stop ends a process: each step's signal in turn, then SIGKILL when the process
// is still running after the last step's wait.
type Shutdown struct {
	Steps []Step
	// KillGroup sends the SIGKILL (of Stop and of Kill) to the process group whose id is the
	// process's PID, so that its children end too: the command must have been started in a
	// group of its own (SysProcAttr.Setpgid). Otherwise the SIGKILL goes to the process alone.
	KillGroup bool
}

// Process is a started command.
type Process struct {
	cmd      *exec.Cmd
	exit     chan struct{} // closed when the process has exited and its output is copied
	shutdown Shutdown
}

// Start starts cmd and a goroutine that waits for it; shutdown is how Stop will end it.
func Start(cmd *exec.Cmd, shutdown Shutdown) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exit: make(chan struct{}), shutdown: shutdown}
	go func() { _ = cmd.Wait(); close(p.exit) }()
	return p, nil
}

// PID returns the process id, or 0 when p is nil (no process).
func (p *Process) PID() int {
	if p == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop sends the signals of the process's Shutdown in turn, each followed by its wait, and
// returns nil as soon as the process exits. When it is still running after the last wait, Stop
// kills it (see Kill), waits for it, and returns an error that wraps ErrKilled. Stopping a
// process that has exited does nothing.
func (p *Process) Stop() error {
	names := make([]string, len(p.shutdown.Steps))
	for i, step := range p.shutdown.Steps {
		names[i] = step.Signal.String()
		_ = p.cmd.Process.Signal(step.Signal) // os.Process signals no process once it is waited for
		select {
		case <-p.exit:
			return nil
		case <-time.After(step.Wait):
		}
	}
	p.Kill()
	return fmt.Errorf("pid %d did not exit on %s: %w", p.PID(), strings.Join(names, ", "), ErrKilled)
}

// Kill sends SIGKILL to the process, or to its process group when its Shutdown says KillGroup,
// and waits for it to exit. Killing a process that has exited does nothing.
func (p *Process) Kill() {
	select {
	case <-p.exit:
		return
	default:
	}
	if p.shutdown.KillGroup {
		_ = killGroup(p.cmd.Process.Pid)
	} else {
		_ = p.cmd.Process.Kill()
	}
	<-p.exit
}

// Await calls ready every 20 ms until it says done, and returns ready's error then (nil: the
// process is ready; an error: a reason not to wait any longer). It returns an error that wraps
// ErrExited when the process exits first, and one that wraps ready's last error when timeout
// passes first. The process keeps running when Await fails: Kill it.
func (p *Process) Await(timeout time.Duration, ready func() (done bool, err error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := ready()
		if done {
			return err
		}
		select {
		case <-p.exit:
			return fmt.Errorf("%w (%v)", ErrExited, p.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %v: %w", timeout, err)
		}
	}
}

// portAttempts is how many free ports OnFreePort tries.
const portAttempts = 5

// OnFreePort calls start with a loopback TCP port that was free a moment ago, and again with
// another one while start fails (another process can take the port before the child binds it),
// at most 5 times. It returns start's last error.
func OnFreePort(start func(port int) error) error {
	var last error
	for attempt := 0; attempt < portAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		if last = start(port); last == nil {
			return nil
		}
	}
	return last
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
