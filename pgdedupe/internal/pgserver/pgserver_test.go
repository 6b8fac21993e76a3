package pgserver

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server accepts connections, keeps what was committed across a restart, ends a backend on
// Terminate, and is gone (no process left) after Close.
func TestServerLifecycle(t *testing.T) {
	RequireInstalled(t)
	s, err := Run()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, s.DSN())
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
	require.NoError(t, err)
	var fsync string
	require.NoError(t, conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync))
	assert.Equal(t, "off", fsync)
	var pid uint32
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	require.NoError(t, s.Terminate(ctx, pid))
	assert.Error(t, conn.Ping(ctx), "the terminated backend's client sees its connection closed")
	assert.Error(t, s.Terminate(ctx, pid), "no such backend any more")

	postmaster := s.PID()
	require.NoError(t, s.Stop())
	assert.Equal(t, 0, s.PID())
	assert.ErrorIs(t, syscall.Kill(postmaster, 0), syscall.ESRCH, "the process is gone")
	require.NoError(t, s.Stop(), "stopping a stopped server does nothing")
	require.NoError(t, s.Restart())
	conn, err = pgx.Connect(ctx, s.DSN())
	require.NoError(t, err)
	var v int
	require.NoError(t, conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v))
	assert.Equal(t, 42, v, "committed data survives the restart")
	_ = conn.Close(ctx)

	postmaster = s.PID()
	require.NoError(t, s.Close())
	assert.ErrorIs(t, syscall.Kill(postmaster, 0), syscall.ESRCH)
	assert.NoDirExists(t, s.dir)
}

// Two servers run side by side, each on its own port and directory.
func TestServersApart(t *testing.T) {
	a, b := Start(t), Start(t)
	assert.NotEqual(t, a.Addr, b.Addr)
	assert.NotEqual(t, a.dir, b.dir)
}

// TestStartRefusesAnotherServersPort: a server whose port another server holds does not count
// the other one's answers as its own start.
func TestStartRefusesAnotherServersPort(t *testing.T) {
	a, b := Start(t), Start(t)
	require.NoError(t, b.Stop())
	b.port, b.Addr = a.port, a.Addr
	err := b.Restart()
	require.Error(t, err)
	assert.Zero(t, b.PID(), "no process left for the refused start")
	conn, cerr := pgx.Connect(context.Background(), a.DSN())
	require.NoError(t, cerr, "the server that holds the port still runs")
	_ = conn.Close(context.Background())
}

// A bouncer in front of a server hands every client a server connection of its small pool for
// one transaction: many client sessions, at most the pool's size of backends; nothing is left
// running after Close.
func TestBouncerSharesServerConnections(t *testing.T) {
	s := Start(t)
	const poolSize = 2
	b := StartBouncer(t, s, poolSize)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	backends := map[uint32]bool{}
	for i := 0; i < 3*poolSize; i++ {
		cfg, err := pgx.ParseConfig(b.DSN())
		require.NoError(t, err)
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cfg)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var pid uint32
		require.NoError(t, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
		backends[pid] = true
	}
	assert.LessOrEqual(t, len(backends), poolSize, "the clients share the server connections")

	pid := b.PID()
	require.NoError(t, b.Close())
	assert.Zero(t, b.PID())
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the process is gone")
	assert.NoDirExists(t, b.dir)
	require.NoError(t, b.Close(), "closing a closed bouncer does nothing")
}
