package redisserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingLogger keeps go-redis's lines.
type recordingLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

func (l *recordingLogger) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Starting, restarting and querying servers, replicas, a Sentinel and a Cluster node gives
// go-redis nothing to log: the helper talks to a process only once it listens. (go-redis's logger
// is one for the process; this test binary sets it for itself.)
func TestHelperGivesGoRedisNothingToLog(t *testing.T) {
	rec := &recordingLogger{}
	redis.SetLogger(rec)

	master := Start(t)
	replica := StartReplica(t, master)
	sentinel := StartSentinel(t, master, replica)
	got, err := sentinel.Master()
	require.NoError(t, err)
	assert.Equal(t, master.Addr, got)
	replicas, err := sentinel.sentinelReplicas()
	require.NoError(t, err)
	assert.Equal(t, []string{replica.Addr}, replicas)

	StartCluster(t)

	require.NoError(t, master.Stop())
	assert.Zero(t, master.PID())
	require.NoError(t, master.Restart())
	assert.NotZero(t, master.PID())
	_, err = master.client()
	require.NoError(t, err)

	assert.Empty(t, rec.Lines(), "go-redis logged")
}

// A redis-server that cannot bind its port is not mistaken for the process already listening
// there: start fails (and Run would take another port) and the process that listens goes on.
func TestStartRefusesAnotherProcessOnThePort(t *testing.T) {
	first := Start(t)
	second := &Server{Addr: first.Addr, port: first.port, dir: t.TempDir(), path: first.path}
	t.Cleanup(func() { _ = second.Stop() })
	err := second.start()
	require.Error(t, err)
	t.Log(err)
	assert.Zero(t, second.PID())

	rdb, err := first.client()
	require.NoError(t, err)
	info, err := rdb.InfoMap(context.Background(), "server").Result()
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(first.PID()), info["Server"]["process_id"])
}

// missingChildEnv makes TestMissingRedisServer call Start in this process (the child), with no
// redis-server on PATH.
const missingChildEnv = "REDISSERVER_MISSING_CHILD"

// Without redis-server on PATH, Start fails the test with the install command; SkipEnv=1 skips
// it instead, but not under CI.
func TestMissingRedisServer(t *testing.T) {
	if os.Getenv(missingChildEnv) == "1" {
		Start(t)
		return
	}
	for _, tc := range []struct {
		name, skip, ci string
		skipped        bool
	}{
		{"fails", "", "", false},
		{"skips with SkipEnv", "1", "", true},
		{"fails with SkipEnv under CI", "1", "true", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestMissingRedisServer$", "-test.count", "1", "-test.v")
			cmd.Env = append(os.Environ(), missingChildEnv+"=1", "PATH="+t.TempDir(), SkipEnv+"="+tc.skip, "CI="+tc.ci)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if tc.skipped {
				require.NoError(t, err, out.String())
				assert.Contains(t, out.String(), "--- SKIP", out.String())
				return
			}
			require.Error(t, err, out.String())
			assert.Contains(t, out.String(), "apt-get install -y redis-server", out.String())
		})
	}
}
