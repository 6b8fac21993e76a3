//go:build unix

package childproc

import (
	"errors"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnercenter-go/pcwebhook/internal/testio"
)

// start starts the shell script script and kills what is left of it on cleanup.
func start(t *testing.T, shutdown Shutdown, script string, setpgid bool) (*Process, *testio.Buffer) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	out := &testio.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: setpgid}
	p, err := Start(cmd, shutdown)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	return p, out
}

// ignoringTERM is a script that ignores SIGTERM (so does the sleep it becomes) and says when it
// does, for awaitOutput.
const ignoringTERM = `trap "" TERM; echo ready; exec sleep 30`

// awaitOutput waits until p has printed something: a script that traps a signal says so once the
// trap is set, before which the signal would end it.
func awaitOutput(t *testing.T, p *Process, out *testio.Buffer) {
	t.Helper()
	require.NoError(t, p.Await(5*time.Second, func() (bool, error) {
		if out.String() == "" {
			return false, errors.New("no output yet")
		}
		return true, nil
	}))
}

func exited(p *Process) bool {
	select {
	case <-p.exit:
		return true
	default:
		return false
	}
}

// A process that exits on the first signal is stopped without waiting that step out, and is gone.
func TestStopEndsOnFirstSignal(t *testing.T) {
	p, _ := start(t, Shutdown{Steps: []Step{{syscall.SIGTERM, 10 * time.Second}}}, "exec sleep 30", false)
	pid := p.PID()
	require.NotZero(t, pid)
	began := time.Now()
	require.NoError(t, p.Stop())
	assert.Less(t, time.Since(began), 5*time.Second, "Stop returned when the process exited, not after the step's wait")
	assert.True(t, exited(p))
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the process is gone")
	require.NoError(t, p.Stop(), "stopping a stopped process does nothing")
	p.Kill() // does nothing either
}

// A process that ignores the first signal gets the next one after the first step's wait.
func TestStopSendsTheNextSignal(t *testing.T) {
	p, out := start(t, Shutdown{Steps: []Step{{syscall.SIGTERM, 100 * time.Millisecond}, {syscall.SIGINT, 10 * time.Second}}},
		ignoringTERM, false)
	awaitOutput(t, p, out)
	pid := p.PID()
	began := time.Now()
	require.NoError(t, p.Stop(), "SIGINT ends it")
	assert.GreaterOrEqual(t, time.Since(began), 100*time.Millisecond, "SIGTERM was ignored, its step waited out")
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH)
}

// A process that ignores every signal of its Shutdown is killed, and Stop says so.
func TestStopKillsWhatOutlivesItsSignals(t *testing.T) {
	p, out := start(t, Shutdown{Steps: []Step{{syscall.SIGTERM, 100 * time.Millisecond}}}, ignoringTERM, false)
	awaitOutput(t, p, out)
	pid := p.PID()
	err := p.Stop()
	require.ErrorIs(t, err, ErrKilled)
	assert.Contains(t, err.Error(), "pid "+strconv.Itoa(pid))
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH)
}

// With KillGroup the SIGKILL ends the other processes of the group too (as Postgres's backends).
func TestStopKillsTheProcessGroup(t *testing.T) {
	p, out := start(t, Shutdown{Steps: []Step{{syscall.SIGTERM, 100 * time.Millisecond}}, KillGroup: true}, ignoringTERM, true)
	awaitOutput(t, p, out)
	// A member of the group that is this process's child too, so that the test reaps it.
	member := exec.Command("sleep", "30")
	member.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: p.PID()}
	require.NoError(t, member.Start())
	t.Cleanup(func() { _ = member.Process.Kill() })
	memberExit := make(chan error, 1)
	go func() { memberExit <- member.Wait() }()

	require.ErrorIs(t, p.Stop(), ErrKilled)
	assert.ErrorIs(t, syscall.Kill(p.PID(), 0), syscall.ESRCH)
	select {
	case err := <-memberExit:
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "killed with the group")
	case <-time.After(time.Second):
		t.Fatal("the other member of the group still runs")
	}
}

// Kill ends a running process at once, whatever its Shutdown.
func TestKill(t *testing.T) {
	p, out := start(t, Shutdown{Steps: []Step{{syscall.SIGTERM, 10 * time.Second}}}, ignoringTERM, false)
	awaitOutput(t, p, out)
	p.Kill()
	assert.True(t, exited(p))
	assert.ErrorIs(t, syscall.Kill(p.PID(), 0), syscall.ESRCH)
}

func TestPIDOfNoProcess(t *testing.T) {
	var p *Process
	assert.Zero(t, p.PID())
}

func TestAwait(t *testing.T) {
	notYet := errors.New("not yet")
	t.Run("ready", func(t *testing.T) {
		p, _ := start(t, Shutdown{}, "exec sleep 30", false)
		calls := 0
		require.NoError(t, p.Await(5*time.Second, func() (bool, error) {
			calls++
			if calls < 3 {
				return false, notYet
			}
			return true, nil
		}))
		assert.Equal(t, 3, calls)
	})
	t.Run("gives up on ready's word", func(t *testing.T) {
		p, _ := start(t, Shutdown{}, "exec sleep 30", false)
		fatal := errors.New("another process answers")
		assert.Same(t, fatal, p.Await(5*time.Second, func() (bool, error) { return true, fatal }))
	})
	t.Run("exited", func(t *testing.T) {
		p, _ := start(t, Shutdown{}, "exit 3", false)
		err := p.Await(5*time.Second, func() (bool, error) { return false, notYet })
		require.ErrorIs(t, err, ErrExited)
		assert.Contains(t, err.Error(), "exit status 3")
	})
	t.Run("timeout", func(t *testing.T) {
		p, _ := start(t, Shutdown{}, "exec sleep 30", false)
		err := p.Await(50*time.Millisecond, func() (bool, error) { return false, notYet })
		require.ErrorIs(t, err, notYet)
		assert.Contains(t, err.Error(), "not ready within 50ms")
		assert.False(t, exited(p), "Await leaves the process running")
	})
}

func TestOnFreePort(t *testing.T) {
	var ports []int
	require.NoError(t, OnFreePort(func(port int) error {
		ports = append(ports, port)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			err = l.Close()
		}
		return err
	}))
	assert.Len(t, ports, 1, "the first port was free")

	ports = nil
	taken := errors.New("taken")
	assert.Same(t, taken, OnFreePort(func(port int) error {
		ports = append(ports, port)
		return taken
	}))
	assert.Len(t, ports, portAttempts, "a port is tried again up to the limit")
	for _, port := range ports {
		assert.Positive(t, port)
	}
}
